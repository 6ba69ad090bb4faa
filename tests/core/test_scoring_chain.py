"""One scoring chain (issue 20): the explanations' leave-one-out variants are scored by
scoring.scores_for_inputs, and on the user's real history it gives the scores every other
reader gets from scoring.score_rows, with a GUR and for the SeqRec ablation (no GUR)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from recguru_core.analysis.inference import LoadedRun
from recguru_core.train.checkpoints import load_checkpoint
from recguru_core.train.scoring import score_rows

DEMO = Path(__file__).resolve().parents[2] / "checkpoints" / "demo.pt"


@pytest.mark.parametrize("use_gur", [True, False])
def test_variant_scores_equal_row_scores_on_the_real_history(use_gur, one_thread):
    ckpt = load_checkpoint(DEMO)
    ckpt["config"]["model"]["use_gur"] = use_gur
    run = LoadedRun(ckpt, "demo")
    for d in (0, 1):
        for row in (0, 7, 31):
            hist = run._history_items(d, row, "test").astype(np.int64)
            other = run.batcher.other_gur(run.model, d, np.array([row]))
            variant = run._score_variants(d, hist[None], other)[0]
            direct = score_rows(run.model, run.batcher, d, np.array([row]), "test", None)[0].float().cpu()
            finite = torch.isfinite(direct)
            assert torch.equal(finite, torch.isfinite(variant))
            assert torch.allclose(variant[finite], direct[finite], atol=1e-5), (use_gur, d, row)
