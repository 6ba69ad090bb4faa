#!/usr/bin/env bash
# The runs behind docs/results.md, one after another (never two torch jobs side
# by side on a 2-core machine). Each `benchmark` resumes where it stopped if killed.
#   bash benchmarks/results.sh [OUT_DIR]        (default results/)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results}
ML=${ML:-/tmp/ml}
[ -d "$ML/ml-100k" ] || bash ../shared/tools/get_movielens.sh "$ML"
ALL=pop,bprmf,sasrec,bert4rec,emcdr,seqrec,autorec,recguru_noadv,recguru
FAMILY=seqrec,autorec,recguru_noadv,recguru
# MovieLens-100k: smaller batches and a longer fine-tuning budget than the quick preset (with
# the preset's 15 fine-tune epochs SeqRec stopped undertrained, below POP on domain B)
ML_OVERRIDES="batch_size=64 finetune_epochs=100 patience=5"

# The next six commands made the tables of results/{ml100k_o30,ml100k_full,synthetic,ml1m_o30,
# ml100k_o30_whiten,ml100k_o30_zca} before 2026-12-02, when the phase-2 default was
# adv_norm=standardize and adv_shrink=0.1: to reproduce those RecGURU rows in a fresh OUT, add
# adv_shrink=0.1 to each, and adv_norm=standardize where the command names no adv_norm.
# Table 2 on ml-100k at 30 % overlap (the accuracy and alignment targets), then at full overlap.
python -m recguru_core benchmark "movielens:$ML/ml-100k" --models $ALL --overlap 0.3 --seeds 1 \
    --device cpu --out "$OUT/ml100k_o30/results.json" $ML_OVERRIDES
python -m recguru_core benchmark "movielens:$ML/ml-100k" --models $ALL --seeds 1 \
    --device cpu --out "$OUT/ml100k_full/results.json" $ML_OVERRIDES
# Table 2 on the synthetic default (the SeqRec < +Auto < +GURU ordering of Table 3).
python -m recguru_core benchmark synthetic --models $ALL --seeds 1 --device cpu \
    --out "$OUT/synthetic/results.json"
# Table 3: the overlap ablation of the RecGURU family on ml-100k, in the same results file as the
# 30 % run (same settings: the 0.3 rows are reused, not retrained).
python -m recguru_core benchmark "movielens:$ML/ml-100k" --models $FAMILY \
    --overlap 0.1,0.3,0.75 --seeds 1 --device cpu --out "$OUT/ml100k_o30/results.json" $ML_OVERRIDES
# The MovieLens alignment recipe (adv_norm=whiten: AUC 0.637 vs 0.719, docs/design.md): does the
# better alignment change accuracy?
python -m recguru_core benchmark "movielens:$ML/ml-100k" --models recguru --overlap 0.3 --seeds 1 \
    --device cpu --out "$OUT/ml100k_o30_whiten/results.json" $ML_OVERRIDES adv_norm=whiten
# ml-1m (hours on 2 CPU cores; minutes on a GPU: add --device cuda). results/ml1m_o30 holds POP,
# BPRMF and SASRec from the plain preset; the family needs the ml-100k overrides there too (under
# the plain preset SeqRec stopped at its 15-epoch cap near POP), so the full run is a new file.
python -m recguru_core benchmark "movielens:$ML/ml-1m" --models pop,bprmf,sasrec --overlap 0.3 \
    --seeds 1 --device "${DEVICE:-cpu}" --out "$OUT/ml1m_o30/results.json"
python -m recguru_core benchmark "movielens:$ML/ml-1m" --models $ALL --overlap 0.3 --seeds 1 \
    --device "${DEVICE:-cpu}" --out "$OUT/ml1m_o30_family/results.json" $ML_OVERRIDES
# ml-1m at its natural overlap (2026-12-02: POP, BPRMF, SASRec, SeqRec and RecGURU, the models
# that answer "does the GUR beat SeqRec and SASRec"; $ALL for the rest).
python -m recguru_core benchmark "movielens:$ML/ml-1m" --models pop,bprmf,seqrec,recguru,sasrec \
    --seeds 1 --device "${DEVICE:-cpu}" --out "$OUT/ml1m_full/results.json" $ML_OVERRIDES

# The current default (adv_norm=zca, adv_shrink=0.6, from 2026-12-02) on ml-100k at 30 % overlap,
# two seeds, beside the strongest baselines of the tables above (so that the file's Δ column
# compares RecGURU with them; POP, BPRMF and EMCDR were far behind).
python -m recguru_core benchmark "movielens:$ML/ml-100k" \
    --models sasrec,bert4rec,seqrec,autorec,recguru_noadv,recguru --overlap 0.3 --seeds 2 \
    --device cpu --out "$OUT/ml100k_o30_default/results.json" $ML_OVERRIDES

# Issue 22 (2026-12-08): the whole ladder with today's cross-domain baselines (SASRec on the merged
# timeline, C2DSR), three seeds, both metric families, with the paired Wilcoxon / t tests and
# Holm's correction in results.json "tests" and results.md.
LADDER=pop,bprmf,sasrec,sasrec_merged,bert4rec,emcdr,c2dsr,seqrec,autorec,recguru_noadv,recguru
python -m recguru_core benchmark "movielens:$ML/ml-100k" --models $LADDER --overlap 0.3 --seeds 3 \
    --device cpu --out "$OUT/ml100k_o30_ladder/results.json" $ML_OVERRIDES
python -m recguru_core benchmark synthetic --models $LADDER --seeds 3 --device cpu \
    --out "$OUT/synthetic_ladder/results.json"
