"""The tiny training setup shared by the core's training tests (CPU and CUDA)."""

TINY_SOURCE = "synthetic:users=240,items_a=80,items_b=60,clusters=3,mean_len_a=12,mean_len_b=6,max_len=30"
TINY = dict(
    pretrain_epochs=2,
    adv_steps=4,
    adv_chunk=2,
    finetune_epochs=2,
    batch_size=32,
    d_model=16,
    d_ff=32,
    n_layers=1,
    cdsrec_layers=1,
    max_len=20,
    short_len=10,
    neg_softmax=5,
    snapshot_users=50,
    warmup_steps=10,
    device="cpu",
    disc_hidden=16,
)
