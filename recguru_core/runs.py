"""Presets and the one entry point that turns (source, preset, overrides) into a Trainer.

The CLI and the app both call `build_trainer`; every value of `ModelConfig` and `TrainConfig`
can be overridden by name (`d_model=32`, `adv_steps=500`, `critic=bce`, ...).
"""
from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

from .errors import RecGuruError
from .model import ModelConfig
from .training import TrainConfig, Trainer

# Model architecture is the paper's in both presets (d=64, 3 layers, 2 heads, ff 512); they
# differ in how long each phase runs.
PRESETS: dict[str, dict] = {
    # CPU demo: a few minutes on 2 cores for the synthetic default.
    "quick": dict(pretrain_epochs=15, warmup_steps=100, adv_steps=100, adv_chunk=20,
                  finetune_epochs=15, patience=3, batch_size=256),
    # The paper's optimisers and schedule (supplement 6.1.3), run to convergence with early stop.
    "paper": dict(pretrain_epochs=60, warmup_steps=2000, adv_steps=3000, adv_chunk=100,
                  finetune_epochs=200, patience=10, batch_size=256),
}

MODEL_KEYS = {f.name: f for f in dataclasses.fields(ModelConfig)} 
TRAIN_KEYS = {f.name: f for f in dataclasses.fields(TrainConfig)}
DERIVED = {"n_items_a", "n_items_b"}


def _convert(key: str, value, default):
    """Override values arrive as strings from the CLI; convert to the field's type."""
    if not isinstance(value, str):
        return value
    try:
        if isinstance(default, bool):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError:
        kind = type(default).__name__
        raise RecGuruError(f"override {key}={value!r}: expected {kind}") from None
    return value


def split_overrides(preset: str, overrides: dict | None) -> tuple[dict, dict]:
    """-> (model overrides, train overrides) with preset values applied and types converted."""
    if preset not in PRESETS:
        raise RecGuruError(f"unknown preset {preset!r}: expected one of {', '.join(PRESETS)}")
    model_over, train_over = {}, dict(PRESETS[preset])
    defaults_model = ModelConfig(n_items_a=2, n_items_b=2)
    defaults_train = TrainConfig()
    for key, value in (overrides or {}).items():
        key = key.replace("-", "_")
        if key in MODEL_KEYS and key not in DERIVED:
            model_over[key] = _convert(key, value, getattr(defaults_model, key))
        elif key in TRAIN_KEYS:
            train_over[key] = _convert(key, value, getattr(defaults_train, key))
        else:
            valid = sorted((set(MODEL_KEYS) - DERIVED) | set(TRAIN_KEYS))
            raise RecGuruError(f"unknown override {key!r}; valid: {', '.join(valid)}")
    return model_over, train_over


def build_trainer(source: str, *, preset: str = "quick", overrides: dict | None = None,
                  out: str | Path | None = None, seed: int = 0, device: str = "auto",
                  stop: threading.Event | None = None) -> Trainer:
    """Load the data source and build a Trainer ready to `run()`. Raises RecGuruError."""
    from .sources import load_source

    model_over, train_over = split_overrides(preset, overrides)
    data = load_source(source)
    model_cfg = ModelConfig(n_items_a=data.a.n_items, n_items_b=data.b.n_items, **model_over)
    train_over.setdefault("seed", seed)
    train_over.setdefault("device", device)
    train_cfg = TrainConfig(**train_over)
    extra = {"source": source, "preset": preset,
             "overrides": {k: str(v) for k, v in (overrides or {}).items()}}
    return Trainer(data, model_cfg, train_cfg, out=out, stop=stop, extra=extra)
