"""The checkpoint format: one self-describing file per run, safe to load with weights_only=True.

    {"format": "recguru-explorer", "version": 1, "status": "in_progress" | "complete",
     "created": ISO time, "config": {"model": {...}, "train": {...}, "data": {...}, "extra": {...}},
     "model": state_dict, "discriminator": state_dict,
     "data": sequences, id maps, titles, genres, clusters, evaluation negatives (data_to_state),
     "history": [step records], "snapshots": {"before": S, "during": [S...], "after": S},
     "metrics": {"valid"|"test"|"test_full": {"A": {...}, "B": {...}}},
     "projections": {...} (optional, precomputed 2-d layouts for the app),
     "baselines": {display name: {"test"|"test_full": {"A", "B"}}} (optional; benchmark's other models),
     "resume": {"phase", "unit", "global_step", "elapsed", optimiser states, fine-tune state}}

Only tensors, numbers, strings, lists, dicts, None and bools appear, so
`torch.load(path, weights_only=True)` accepts it. Writes go to a temporary file in the same
directory, are fsynced and renamed over the target, so a crash never leaves a half-written
checkpoint.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

import torch

from .atomic import atomic_write
from .errors import CheckpointError

FORMAT = "recguru-explorer"
VERSION = 1


def build_checkpoint(trainer) -> dict:
    from .data import data_to_state

    t = trainer
    return {
        "format": FORMAT,
        "version": VERSION,
        "status": "complete" if t.phase > 3 else "in_progress",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": {"model": t.model_cfg.to_dict(), "train": t.cfg.to_dict(),
                   "data": t.data.a.cfg.to_dict(), "extra": dict(t.extra)},
        "model": {k: v.detach().cpu() for k, v in t.model.state_dict().items()},
        "discriminator": {k: v.detach().cpu() for k, v in t.critic.state_dict().items()},
        "data": data_to_state(t.data),
        "history": list(t.history),
        "snapshots": t.snapshots,
        "metrics": t.metrics,
        # A finished run needs no optimiser state (that halves the file); an unfinished one
        # carries everything --resume needs.
        "resume": None if t.phase > 3 else {
            "phase": t.phase, "unit": t.unit, "global_step": t.global_step, "elapsed": t.elapsed,
            "optimizers": {"pre": t.opt_pre.state_dict(), "gen": t.opt_gen.state_dict(),
                           "dis": t.opt_dis.state_dict(),
                           "ft_A": t.opt_ft[0].state_dict(), "ft_B": t.opt_ft[1].state_dict()},
            "finetune": t.ft_state,
        },
    }


def save_checkpoint(path: str | Path, payload: dict) -> None:
    """Atomic write: temp file in the target directory, fsync, rename."""
    atomic_write(path, lambda f: torch.save(payload, f))


def load_checkpoint(path: str | Path) -> dict:
    """Load and validate. Raises CheckpointError with one line naming the file on any problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle refusals, truncated zip, not a torch file at all
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a loadable RecGURU checkpoint ({reason})") from None
    return validate_checkpoint(ckpt, str(path))


def validate_checkpoint(ckpt, name: str = "checkpoint") -> dict:
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{name}: not a RecGURU Explorer checkpoint (missing format {FORMAT!r})")
    version = ckpt.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(f"{name}: checkpoint version {version} is newer than this program "
                              f"understands ({VERSION}); upgrade recguru_core")
    for key in ("config", "model", "data"):
        if key not in ckpt:
            raise CheckpointError(f"{name}: checkpoint lacks the {key!r} section")
    for key in ("model", "train", "data"):
        if key not in ckpt["config"]:
            raise CheckpointError(f"{name}: checkpoint config lacks {key!r}")
    ckpt.setdefault("history", [])
    ckpt.setdefault("snapshots", {})
    ckpt.setdefault("metrics", {})
    return ckpt


def model_from_checkpoint(ckpt: dict, device: str | torch.device = "cpu"):
    """Rebuild the RecGURU model (eval mode) from the checkpoint alone."""
    from .model import ModelConfig, RecGURU

    cfg = ModelConfig.from_dict(ckpt["config"]["model"])
    model = RecGURU(config=cfg)
    expected, found = set(model.state_dict()), set(ckpt["model"])
    if expected != found:
        missing, unexpected = sorted(expected - found), sorted(found - expected)
        raise CheckpointError(
            "checkpoint weights do not match this version of the model "
            f"(missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
            f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}); retrain it")
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as exc:
        reason = " ".join(str(exc).split())[:200]
        raise CheckpointError(f"checkpoint model weights do not match its config: {reason}") from None
    return model.to(device).eval()


def trainer_from_checkpoint(ckpt: dict, *, out=None, device: str | None = None, stop=None):
    """A Trainer positioned exactly where the checkpoint left off (for --resume)."""
    from .data import data_from_state
    from .model import ModelConfig
    from .training import Trainer, TrainConfig

    train_cfg = TrainConfig.from_dict({**ckpt["config"]["train"], **({"device": device} if device else {})})
    trainer = Trainer(data_from_state(ckpt["data"]), ModelConfig.from_dict(ckpt["config"]["model"]),
                      train_cfg, out=out, stop=stop, extra=ckpt["config"].get("extra", {}))
    trainer.model.load_state_dict(ckpt["model"])
    trainer.critic.load_state_dict(ckpt["discriminator"])
    r = ckpt.get("resume") or {}
    if r:
        opts = r["optimizers"]
        trainer.opt_pre.load_state_dict(opts["pre"])
        trainer.opt_gen.load_state_dict(opts["gen"])
        trainer.opt_dis.load_state_dict(opts["dis"])
        trainer.opt_ft[0].load_state_dict(opts["ft_A"])
        trainer.opt_ft[1].load_state_dict(opts["ft_B"])
        trainer.phase, trainer.unit = int(r["phase"]), int(r["unit"])
        trainer.global_step, trainer.elapsed = int(r["global_step"]), float(r["elapsed"])
        trainer.ft_state = r["finetune"]
    elif ckpt.get("status") == "complete":
        trainer.phase = 4  # nothing left to run
    trainer.history = list(ckpt.get("history", []))
    trainer.snapshots = ckpt.get("snapshots") or {"during": []}
    trainer.snapshots.setdefault("during", [])
    trainer.metrics = ckpt.get("metrics", {})
    return trainer
