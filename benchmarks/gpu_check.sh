#!/usr/bin/env bash
# One prepared GPU session: CUDA tests, throughput at the paper configuration, adversarial sweep.
export PYTHONUNBUFFERED=1
set -o pipefail
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__)"
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_model.py tests/test_losses.py 2>&1 | tail -4
timeout 120 python3 benchmarks/train_throughput.py --device cuda --steps 20 2>&1 | tee $OUT/throughput.txt
timeout 120 python3 benchmarks/train_throughput.py --device cuda --batch 1024 --steps 10 2>&1 | tail -1 | tee -a $OUT/throughput.txt
timeout ${SWEEP_S:-300} python3 benchmarks/adversarial_sweep.py --device cuda 2>&1 | tee $OUT/sweep.txt
