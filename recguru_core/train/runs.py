"""Presets and the one entry point that turns (source, preset, overrides) into a Trainer.

The CLI and the app both call `build_trainer` (or `trainer_from_checkpoint` to resume); every
value of `ModelConfig` and `TrainConfig` can be overridden by name (`d_model=32`,
`adv_steps=500`, `critic=bce`, ...). The presets themselves live in config.py.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

from ..common.config import PRESETS, TrainConfig, convert
from ..common.errors import RecGuruError
from ..nn.model import ModelConfig
from . import distributed
from .checkpoints import checkpoint_writer
from .trainer import Trainer

MODEL_KEYS = {f.name: f for f in dataclasses.fields(ModelConfig)}
TRAIN_KEYS = {f.name: f for f in dataclasses.fields(TrainConfig)}
DERIVED = {"n_items_a", "n_items_b"}


def split_overrides(preset: str, overrides: dict | None) -> tuple[dict, dict]:
    """-> (model overrides, train overrides) with preset values applied and types converted."""
    if preset not in PRESETS:
        raise RecGuruError(f"unknown preset {preset!r}: expected one of {', '.join(PRESETS)}")
    model_over: dict = {}
    train_over: dict = {}
    defaults_model = ModelConfig(n_items_a=2, n_items_b=2)
    defaults_train = TrainConfig()
    # the preset's values first (model and train keys alike), then the overrides over them
    for key, value in [*PRESETS[preset].items(), *(overrides or {}).items()]:
        key = key.replace("-", "_")
        if key in MODEL_KEYS and key not in DERIVED:
            model_over[key] = convert(key, value, getattr(defaults_model, key), "override")
        elif key in TRAIN_KEYS:
            train_over[key] = convert(key, value, getattr(defaults_train, key), "override")
        else:
            valid = sorted((set(MODEL_KEYS) - DERIVED) | set(TRAIN_KEYS))
            raise RecGuruError(f"unknown override {key!r}; valid: {', '.join(valid)}")
    return model_over, train_over


def check_overrides(preset: str, overrides: dict | None) -> dict:
    """Every check a run's settings get before data is loaded (unknown key, wrong type, a value
    out of range, a model shape that cannot be built), as one RecGuruError line; returns the
    overrides. The Train page calls it before starting a job."""
    model_over, train_over = split_overrides(preset, overrides)
    if "world_size" in {k.replace("-", "_") for k in (overrides or {})}:
        raise RecGuruError(
            "world_size is set by the launch: run under torchrun --nproc_per_node=N instead of overriding it"
        )
    ModelConfig(n_items_a=2, n_items_b=2, **model_over)  # __post_init__ validates
    TrainConfig(**train_over)
    return dict(overrides or {})


def build_trainer(
    source: str,
    *,
    preset: str = "quick",
    overrides: dict | None = None,
    out: str | Path | None = None,
    seed: int = 0,
    device: str = "auto",
    stop: threading.Event | None = None,
) -> Trainer:
    """Load the data source and build a Trainer ready to `run()`. Raises RecGuruError."""
    from ..data.sources import load_source

    model_over, train_over = split_overrides(preset, overrides)
    if "world_size" in {k.replace("-", "_") for k in (overrides or {})}:
        raise RecGuruError(
            "world_size is set by the launch: run under torchrun --nproc_per_node=N instead of overriding it"
        )
    train_over["world_size"] = distributed.world_size()
    data = load_source(source)
    model_cfg = ModelConfig(n_items_a=data.a.n_items, n_items_b=data.b.n_items, **model_over)
    train_over.setdefault("seed", seed)
    train_over.setdefault("device", device)
    train_cfg = TrainConfig(**train_over)
    extra = {
        "source": source,
        "preset": preset,
        "overrides": {k: str(v) for k, v in (overrides or {}).items()},
    }
    return Trainer(data, model_cfg, train_cfg, save=checkpoint_writer(out), stop=stop, extra=extra)


def trainer_from_checkpoint(
    ckpt: dict,
    *,
    out: str | Path | None = None,
    device: str | None = None,
    stop: threading.Event | None = None,
) -> Trainer:
    """A Trainer positioned exactly where the checkpoint left off (for --resume), writing
    its further checkpoints to `out`."""
    return Trainer.from_state(ckpt, device=device, save=checkpoint_writer(out), stop=stop)
