"""The one model contract that evaluation and the benchmark harness call, and the model registry.

Every model the benchmark compares -- POP, BPRMF, SASRec, BERT4Rec, the EMCDR-style mapping baseline and
the RecGURU family (SeqRec, AutoRec, RecGURU, RecGURU without the adversarial term) -- is a
`Recommender`:

    model.fit(data, device=..., seed=..., progress=...)   train on the training histories only;
                                                          any model selection on 'valid' only
    model.score(domain, rows, split, candidates)          (B, C) scores of candidate ids, or
                                                          (B, V+2) over all ids when None

and is measured by the same code (`evaluation.domain_ranks`), so there is exactly one place
where metrics are computed. `split` says which history the user has at scoring time: 'valid'
sees seq[:-2], 'test' sees seq[:-1] (the validation item is known history at test time).
Scores over all ids must put -inf (or any value below every real item) at pad (0) and eos (V+1).

Baselines live in `baselines.py` (and `sasrec.py`, `bert4rec.py`), the RecGURU family in `family.py`; the
registry of names (`models.py`) builds them. This module depends on none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from ..data.domains import CrossDomainData
from ..metrics.ranking import domain_ranks, metrics_from_ranks

# progress(done, total, message): called by fit as it goes (epochs, steps: the model's own unit)
FitProgress = Callable[[int, int, str], None]


@runtime_checkable
class Recommender(Protocol):
    name: str  # registry name, e.g. "sasrec"

    def fit(
        self, data: CrossDomainData, *, device: torch.device, seed: int, progress: FitProgress | None = None
    ) -> None: ...

    def score(
        self, domain: int, rows: np.ndarray, split: str, candidates: torch.Tensor | None
    ) -> torch.Tensor: ...


def model_ranks(
    model: Recommender,
    data: CrossDomainData,
    domain: int,
    split: str,
    *,
    full_ranking: bool,
    batch_size: int = 1024,
) -> np.ndarray:
    """(U,) per-user ranks of `model` on one domain (see `evaluation.domain_ranks`)."""
    dom = data.domain(domain)
    return domain_ranks(
        dom,
        split,
        lambda rows, s, cand: model.score(domain, rows, s, cand),
        full_ranking=full_ranking,
        batch_size=batch_size,
    )


def evaluate_model(
    model: Recommender,
    data: CrossDomainData,
    split: str,
    *,
    full_ranking: bool = False,
    batch_size: int = 1024,
) -> dict[str, dict[str, float]]:
    """{'A': metrics, 'B': metrics} of a fitted model over all users of each domain."""
    return {
        key: metrics_from_ranks(
            model_ranks(model, data, d, split, full_ranking=full_ranking, batch_size=batch_size)
        )
        for d, key in ((0, "A"), (1, "B"))
    }
