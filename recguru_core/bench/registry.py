"""The registry of every model the benchmark compares: names in table order, display names,
`parse_model_list` for --models and `build_model` for a fresh, unfitted model. Each model
implements the contract of recommender.py."""

from __future__ import annotations

from ..common.errors import RecGuruError
from . import baselines, bert4rec, c2dsr, family, sasrec, sasrec_merged
from .recommender import Recommender

# name -> (class, display name). Order = table order (baselines first, RecGURU last).
_REGISTRY: dict[str, tuple[type, str]] = {
    "pop": (baselines.Pop, "POP"),
    "bprmf": (baselines.BPRMF, "BPRMF"),
    "sasrec": (sasrec.SASRec, "SASRec"),
    "sasrec_merged": (sasrec_merged.SASRecMerged, "SASRec (A+B)"),
    "bert4rec": (bert4rec.BERT4Rec, "BERT4Rec"),
    "emcdr": (baselines.EMCDR, "EMCDR"),
    "c2dsr": (c2dsr.C2DSR, "C2DSR"),
    "seqrec": (family.SeqRec, "SeqRec"),
    "autorec": (family.AutoRec, "+Auto"),
    "recguru_noadv": (family.RecGURUNoAdv, "+GURU w_adv=0"),
    "recguru": (family.RecGURUModel, "+GURU"),
}
FAMILY = {"seqrec", "autorec", "recguru_noadv", "recguru"}
MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)
DISPLAY_NAMES: dict[str, str] = {k: v[1] for k, v in _REGISTRY.items()}


def parse_model_list(text: str) -> list[str]:
    """'pop,sasrec' -> ['pop', 'sasrec'] (also 'all'); one-line RecGuruError on a bad name."""
    names = [t.strip().lower() for t in str(text).split(",") if t.strip()]
    if not names:
        raise RecGuruError(
            f"--models {text!r}: expected a comma-separated list of {', '.join(MODEL_NAMES)} (or all)"
        )
    if names == ["all"]:
        return list(MODEL_NAMES)
    for name in names:
        if name not in _REGISTRY:
            raise RecGuruError(
                f"--models: unknown model {name!r}; expected any of {', '.join(MODEL_NAMES)} (or all)"
            )
    seen: list[str] = []
    for name in names:
        if name not in seen:
            seen.append(name)
    return seen


def build_model(
    name: str, *, preset: str = "quick", overrides: dict | None = None, out: str | None = None
) -> Recommender:
    """A fresh, unfitted model. `preset`/`overrides` configure the RecGURU family (the same
    presets and key=value overrides as `train`); `out` is where a RecGURU-family model writes
    its checkpoint (None: not written). Baselines take their own defaults (embedding size 64)."""
    if name not in _REGISTRY:
        raise RecGuruError(f"unknown model {name!r}; expected any of {', '.join(MODEL_NAMES)}")
    cls = _REGISTRY[name][0]
    if name in FAMILY:
        return cls(preset=preset, overrides=overrides, out=out)
    return cls()
