"""The one model contract that evaluation and the benchmark harness call, and the model registry.

Every model the benchmark compares -- POP, BPRMF, SASRec, the EMCDR-style mapping baseline and
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

Names: `MODEL_NAMES` in the order the result tables show them; `build_model(name, ...)` makes a
fresh, unfitted model. Baselines live in `baselines.py`, the RecGURU family in `family.py`.
"""
from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import numpy as np
import torch

from .data import CrossDomainData
from .errors import RecGuruError
from .evaluation import domain_ranks, metrics_from_ranks

# progress(done, total, message): called by fit as it goes (epochs, steps: the model's own unit)
FitProgress = Callable[[int, int, str], None]


@runtime_checkable
class Recommender(Protocol):
    name: str  # registry name, e.g. "sasrec"

    def fit(self, data: CrossDomainData, *, device: torch.device, seed: int,
            progress: FitProgress | None = None) -> None: ...

    def score(self, domain: int, rows: np.ndarray, split: str,
              candidates: torch.Tensor | None) -> torch.Tensor: ...


# name -> (module, class, display name). Order = table order (baselines first, RecGURU last).
_REGISTRY: dict[str, tuple[str, str, str]] = {
    "pop": ("baselines", "Pop", "POP"),
    "bprmf": ("baselines", "BPRMF", "BPRMF"),
    "sasrec": ("baselines", "SASRec", "SASRec"),
    "emcdr": ("baselines", "EMCDR", "EMCDR"),
    "seqrec": ("family", "SeqRec", "SeqRec"),
    "autorec": ("family", "AutoRec", "+Auto"),
    "recguru_noadv": ("family", "RecGURUNoAdv", "+GURU w_adv=0"),
    "recguru": ("family", "RecGURUModel", "+GURU"),
}
MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)
DISPLAY_NAMES: dict[str, str] = {k: v[2] for k, v in _REGISTRY.items()}


def parse_model_list(text: str) -> list[str]:
    """'pop,sasrec' -> ['pop', 'sasrec'] (also 'all'); one-line RecGuruError on a bad name."""
    names = [t.strip().lower() for t in str(text).split(",") if t.strip()]
    if not names:
        raise RecGuruError(f"--models {text!r}: expected a comma-separated list of "
                           f"{', '.join(MODEL_NAMES)} (or all)")
    if names == ["all"]:
        return list(MODEL_NAMES)
    for name in names:
        if name not in _REGISTRY:
            raise RecGuruError(f"--models: unknown model {name!r}; expected any of "
                               f"{', '.join(MODEL_NAMES)} (or all)")
    seen: list[str] = []
    for name in names:
        if name not in seen:
            seen.append(name)
    return seen


def build_model(name: str, *, preset: str = "quick", overrides: dict | None = None,
                out: str | None = None) -> Recommender:
    """A fresh, unfitted model. `preset`/`overrides` configure the RecGURU family (the same
    presets and key=value overrides as `train`); `out` is where a RecGURU-family model writes
    its checkpoint (None: not written). Baselines take their own defaults (embedding size 64)."""
    import importlib

    if name not in _REGISTRY:
        raise RecGuruError(f"unknown model {name!r}; expected any of {', '.join(MODEL_NAMES)}")
    module_name, class_name, _ = _REGISTRY[name]
    module = importlib.import_module(f"{__package__}.{module_name}")
    cls = getattr(module, class_name)
    if module_name == "family":
        return cls(preset=preset, overrides=overrides, out=out)
    return cls()


def model_ranks(model: Recommender, data: CrossDomainData, domain: int, split: str, *,
                full_ranking: bool, batch_size: int = 1024) -> np.ndarray:
    """(U,) per-user ranks of `model` on one domain (see `evaluation.domain_ranks`)."""
    dom = data.domain(domain)
    return domain_ranks(dom, split, lambda rows, s, cand: model.score(domain, rows, s, cand),
                        full_ranking=full_ranking, batch_size=batch_size)


def evaluate_model(model: Recommender, data: CrossDomainData, split: str, *,
                   full_ranking: bool = False, batch_size: int = 1024) -> dict[str, dict[str, float]]:
    """{'A': metrics, 'B': metrics} of a fitted model over all users of each domain."""
    return {key: metrics_from_ranks(model_ranks(model, data, d, split, full_ranking=full_ranking,
                                                batch_size=batch_size))
            for d, key in ((0, "A"), (1, "B"))}
