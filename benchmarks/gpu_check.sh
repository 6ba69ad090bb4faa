#!/usr/bin/env bash
# The one short script for a lent GPU (issue 9), about 8 minutes in all; every command has its
# own timeout and writes under $OUT:
#   CUDA tests; phase-1/2/3 throughput at batch 256 and 1024 (target: >= 100 k seq/s in phase 1
#   at batch 1024); the paper-scale benchmark on cuda at 100 k and 1 M users (1 M items per
#   domain); 2-process DDP on a tiny synthetic set when the machine has >= 2 GPUs.
export PYTHONUNBUFFERED=1
# the device machine gets the working tree, not an install: the project root on the path
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
set -o pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$OUT/gpu.txt"
timeout 90 python3 -m pytest -q -p no:cacheprovider tests/e2e/test_cuda.py tests/core/test_model.py \
    tests/core/test_losses.py 2>&1 | tail -4 | tee "$OUT/tests.txt"
for batch in 256 1024; do
    timeout 60 python3 benchmarks/train_throughput.py --device cuda --batch $batch --steps 20 \
        2>&1 | tee "$OUT/throughput_$batch.txt" | tail -2
done
timeout 210 python3 benchmarks/scale.py --device cuda --users 100000,1000000 --timeout 100 \
    --steps 10 --adv-steps 3 --eval-users 5000 --eval-batch 1024 \
    > "$OUT/scale.jsonl" 2> "$OUT/scale.txt"; tail -4 "$OUT/scale.txt"
if [ "$(nvidia-smi -L | wc -l)" -ge 2 ]; then
    rm -f "$OUT/ddp.pt"
    timeout 90 torchrun --standalone --nproc_per_node=2 -m recguru_core train \
        synthetic:users=2000 pretrain_epochs=1 adv_steps=10 finetune_epochs=1 \
        --out "$OUT/ddp.pt" --device cuda --quiet 2>&1 | tail -5 | tee "$OUT/ddp.txt"
else
    echo "one GPU: 2-process DDP skipped" | tee "$OUT/ddp.txt"
fi
