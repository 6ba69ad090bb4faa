"""Trainer, checkpoints, resume, leakage and the CLI on a tiny synthetic world."""
import json
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

from recguru_core.checkpoints import load_checkpoint, model_from_checkpoint, save_checkpoint, trainer_from_checkpoint
from recguru_core.errors import CheckpointError, RecGuruError
from recguru_core.runs import build_trainer, split_overrides
from recguru_core.training import noam_lr, score_rows

TINY_SOURCE = "synthetic:users=240,items_a=80,items_b=60,clusters=3,mean_len_a=12,mean_len_b=6,max_len=30"
TINY = dict(pretrain_epochs=2, adv_steps=4, adv_chunk=2, finetune_epochs=2, batch_size=32,
            d_model=16, d_ff=32, n_layers=1, cdsrec_layers=1, max_len=20, short_len=10,
            neg_softmax=5, snapshot_users=50, warmup_steps=10, device="cpu", disc_hidden=16)


def tiny_trainer(out=None, **extra):
    return build_trainer(TINY_SOURCE + ",negatives=20", preset="quick", overrides={**TINY, **extra},
                         out=out, seed=3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    path = tmp_path_factory.mktemp("run") / "tiny.pt"
    trainer = tiny_trainer(path)
    records = list(trainer.run())
    return path, records, trainer


def test_records_cover_all_phases(trained):
    _, records, _ = trained
    phases = {r["phase"] for r in records if "event" not in r}
    assert phases == {"pretrain", "adversarial", "finetune"}
    adv = [r for r in records if r["phase"] == "adversarial" and "event" not in r]
    for key in ("critic", "gp", "wasserstein", "gen_adv", "l2", "rec_A", "rec_B", "lr", "seconds"):
        assert all(np.isfinite(r[key]) for r in adv), key
    assert any(r.get("event") == "eval" for r in records)
    assert records[-1]["event"] == "done"


def test_checkpoint_loads_weights_only_and_rebuilds(trained):
    path, _, trainer = trained
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["format"] == "recguru-explorer" and ckpt["status"] == "complete"
    snaps = ckpt["snapshots"]
    for key in ("before", "after"):
        s = snaps[key]
        n = s["gur"].shape[0]
        assert s["gur"].shape == (n, 16) and s["domain"].shape == (n,) and len(s["user"]) == n
        assert s["overlap"].dtype == torch.bool and s["cluster"].shape == (n,)
        assert set(s["domain"].tolist()) == {0, 1}
    assert len(snaps["during"]) >= 1
    assert snaps["before"]["user"] == snaps["after"]["user"]
    for split in ("valid", "test", "test_full"):
        for dom in ("A", "B"):
            m = ckpt["metrics"][split][dom]
            assert set(m) == {"HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20", "MRR"}
            assert all(0.0 <= v <= 1.0 for v in m.values())
    model = model_from_checkpoint(load_checkpoint(path))
    for name, tensor in trainer.model.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor.cpu()), name


def test_foreign_and_newer_checkpoints_are_refused(tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save({"hello": 1}, bad)
    with pytest.raises(CheckpointError, match="not a RecGURU"):
        load_checkpoint(bad)
    newer = tmp_path / "newer.pt"
    torch.save({"format": "recguru-explorer", "version": 99}, newer)
    with pytest.raises(CheckpointError, match="newer"):
        load_checkpoint(newer)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_checkpoint(junk)
    with pytest.raises(CheckpointError, match="no such"):
        load_checkpoint(tmp_path / "missing.pt")


def test_atomic_save_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"a": torch.ones(2)})

    class Boom:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(Exception):
        save_checkpoint(path, {"a": Boom()})
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temp file left


def test_resume_equals_uninterrupted_run(tmp_path):
    full = tiny_trainer(tmp_path / "full.pt")
    list(full.run())

    stop = threading.Event()
    part = tiny_trainer(tmp_path / "part.pt")
    part.stop = stop
    seen = 0
    for rec in part.run():  # kill mid-way through the adversarial phase
        if rec["phase"] == "adversarial" and "event" not in rec:
            seen += 1
            if seen == 3:
                stop.set()
    assert part.phase == 2
    resumed = trainer_from_checkpoint(load_checkpoint(tmp_path / "part.pt"), out=tmp_path / "part.pt")
    list(resumed.run())
    for name, tensor in full.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], tensor), name
    assert full.metrics == resumed.metrics


def test_deterministic_under_seed():
    a, b = tiny_trainer(), tiny_trainer()
    for t in (a, b):
        t.cfg = t.cfg.__class__(**{**t.cfg.to_dict(), "finetune_epochs": 1, "adv_steps": 2})
        list(t.run())
    for name, tensor in a.model.state_dict().items():
        assert torch.equal(b.model.state_dict()[name], tensor), name


def test_no_leakage_changing_test_item_keeps_other_scores(trained):
    """Scores at test time depend on the history only: replacing the held-out test item by
    another item leaves the scores of every item unchanged."""
    _, _, trainer = trained
    data = trainer.data
    dom = data.a
    row = int(np.argmax(dom.lengths))
    rows = np.array([row])
    trainer.model.eval()
    before = score_rows(trainer.model, trainer.batcher, 0, rows, "test", None)
    last = dom.offsets[row + 1] - 1
    original = dom.items[last]
    dom.items[last] = 1 if original != 1 else 2
    try:
        after = score_rows(trainer.model, trainer.batcher, 0, rows, "test", None)
        # validation scores must not depend on the test item either
        valid_after = score_rows(trainer.model, trainer.batcher, 0, rows, "valid", None)
    finally:
        dom.items[last] = original
    valid_before = score_rows(trainer.model, trainer.batcher, 0, rows, "valid", None)
    assert torch.equal(before, after)
    assert torch.equal(valid_before, valid_after)


def test_finetune_batch_targets_never_inside_gur_prefix():
    trainer = tiny_trainer(max_len=64)  # long enough that the GUR input is the whole prefix
    rng = np.random.default_rng(0)
    for domain in (0, 1):
        rows = trainer._ft_rows(domain)[:64]
        dom = trainer.data.domain(domain)
        gur_in, hist, target, train_on = trainer.batcher.finetune_batch(domain, rows, rng)
        for b, r in enumerate(rows):
            prefix = [x for x in gur_in[b].tolist()[:-1] if x]  # items the GUR saw
            seq = dom.sequence(r).tolist()
            train_hist = seq[:-2]
            assert prefix == train_hist[:len(prefix)]  # GUR reads a prefix of training history
            cut = len(prefix)
            # targets: every training item after the cut that the short-term window reaches
            first = max(cut, len(train_hist) - hist.shape[1])
            assert target[b][train_on[b]].tolist() == train_hist[first:]
            assert cut >= 1 and first > cut - 1


def test_noam_schedule_shape():
    peak = noam_lr(100, d_model=64, warmup=100, factor=1.0)
    assert noam_lr(50, d_model=64, warmup=100, factor=1.0) < peak
    assert noam_lr(400, d_model=64, warmup=100, factor=1.0) == pytest.approx(peak / 2)


def test_override_errors_are_clear():
    with pytest.raises(RecGuruError, match="unknown override 'bogus'"):
        split_overrides("quick", {"bogus": "1"})
    with pytest.raises(RecGuruError, match="adv_steps='many': expected int"):
        split_overrides("quick", {"adv_steps": "many"})
    with pytest.raises(RecGuruError, match="unknown preset"):
        split_overrides("fast", {})
    model, train = split_overrides("paper", {"d_model": "32", "critic": "bce", "amp": "false"})
    assert model == {"d_model": 32} and train["critic"] == "bce" and train["amp"] is False


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "recguru_core", *args], capture_output=True,
                          text=True, timeout=300)


def test_cli_evaluate_recommend_and_errors(trained):
    path, _, trainer = trained
    out = run_cli("evaluate", str(path), "--json")
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)
    assert set(metrics) == {"A", "B"} and 0 <= metrics["B"]["NDCG@10"] <= 1
    user = trainer.data.b.user_raw[0]
    out = run_cli("recommend", str(path), "--user", user, "--domain", "B", "--k", "5", "--json")
    assert out.returncode == 0, out.stderr
    rec = json.loads(out.stdout)
    assert len(rec["items"]) == 5 and rec["test_item"]["rank"] >= 1
    history = set(trainer.data.b.item_raw[trainer.data.b.sequence(0)[:-1] - 1].tolist())
    assert not history & {i["item_id"] for i in rec["items"]}  # no already-seen items
    for args, needle in [(("recommend", str(path), "--user", "nobody", "--domain", "A"), "unknown user"),
                         (("evaluate", "/nonexistent.pt"), "no such checkpoint"),
                         (("train", "nosuch:x", "--out", "/tmp/never.pt"), "unknown source")]:
        out = run_cli(*args)
        assert out.returncode == 2
        assert needle in out.stderr and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
