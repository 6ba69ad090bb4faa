#!/usr/bin/env bash
# The runs behind the README's "Results" section, one after another (never two torch jobs side
# by side on a 2-core machine). Each `benchmark` resumes where it stopped if killed.
#   bash benchmarks/results.sh [OUT_DIR]        (default results/)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results}
ML=${ML:-/tmp/ml}
[ -d "$ML/ml-100k" ] || bash ../shared/tools/get_movielens.sh "$ML"
ALL=pop,bprmf,sasrec,emcdr,seqrec,autorec,recguru_noadv,recguru
FAMILY=seqrec,autorec,recguru_noadv,recguru

# Table 2 on ml-100k at 30 % overlap (the accuracy and alignment targets), then at full overlap.
python -m recguru_core benchmark "movielens:$ML/ml-100k" --models $ALL --overlap 0.3 --seeds 1 \
    --device cpu --out "$OUT/ml100k_o30/results.json"
python -m recguru_core benchmark "movielens:$ML/ml-100k" --models $ALL --seeds 1 \
    --device cpu --out "$OUT/ml100k_full/results.json"
# Table 2 on the synthetic default (the SeqRec < +Auto < +GURU ordering of Table 3).
python -m recguru_core benchmark synthetic --models $ALL --seeds 1 --device cpu \
    --out "$OUT/synthetic/results.json"
# Table 3: the overlap ablation of the RecGURU family on ml-100k.
python -m recguru_core benchmark "movielens:$ML/ml-100k" --models $FAMILY \
    --overlap 0.1,0.3,0.5,0.75 --seeds 1 --device cpu --out "$OUT/ml100k_overlap/results.json"
# ml-1m (hours on 2 CPU cores; minutes on a GPU: add --device cuda).
python -m recguru_core benchmark "movielens:$ML/ml-1m" --models $ALL --overlap 0.3 --seeds 1 \
    --device "${DEVICE:-cpu}" --out "$OUT/ml1m_o30/results.json"
