#!/usr/bin/env bash
# Rebuild the shipped demo and control checkpoints with the current default recipe, through the
# project's own CLI: the benchmark trains RecGURU, its w_adv=0 control and the baselines the
# Evaluation page compares with (POP, SASRec, SeqRec, +Auto) on the synthetic default, seed 0,
# and stores them (with paired intervals) in RecGURU's checkpoint; then both get projections and
# are slimmed. The control keeps only its before/after snapshots (smaller file).
# usage: bash tools/build_demo.sh [WORKDIR]   (about 20 minutes on 2 idle CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-runs/demo_build}
mkdir -p "$work"
python -m recguru_core benchmark synthetic --models pop,sasrec,seqrec,autorec,recguru_noadv,recguru \
    --seeds 1 --preset quick --device cpu --out "$work/results.json"
cp "$work/results.d/recguru_onatural_s0.pt" "$work/demo.pt"
cp "$work/results.d/recguru_noadv_onatural_s0.pt" "$work/control_no_adv.pt"
python - "$work/control_no_adv.pt" <<'PY'
import sys
from recguru_core.train.checkpoints import load_checkpoint, save_checkpoint
ckpt = load_checkpoint(sys.argv[1])
ckpt["snapshots"]["during"] = []  # what is recorded, not how it trained
save_checkpoint(sys.argv[1], ckpt)
PY
for name in demo control_no_adv; do
    python -m recguru_core project "$work/$name.pt"
    python -m recguru_core slim "$work/$name.pt"
done
cp "$work/demo.pt" "$work/control_no_adv.pt" checkpoints/
ls -l checkpoints/
