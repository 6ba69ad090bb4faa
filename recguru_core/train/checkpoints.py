"""The checkpoint file format: one self-describing file per run, safe to load with
`torch.load(path, weights_only=True)` (only tensors, numbers, strings, lists, dicts, None and
bools appear). This module knows the file, not the trainer: `Trainer.state_dict()` builds
the run's state and `Trainer.from_state()` rebuilds it; here it gets a header, is written
atomically (temp file in the target directory, fsync, rename: a crash never leaves a
half-written checkpoint) and is validated section by section on load.

Sections (version 1; every reader - CLI, app, benchmarks - goes through `load_checkpoint`):

| key            | type                  | written by        | holds                                                   |
|----------------|-----------------------|-------------------|---------------------------------------------------------|
| format         | str                   | here              | "recguru-explorer"                                      |
| version        | int                   | here              | 1; a newer file is refused with a one-line message      |
| created        | str                   | here              | ISO time of the write                                   |
| status         | str                   | trainer           | "in_progress" (resumable) or "complete"                 |
| config         | dict                  | trainer           | model / train / data (ModelConfig, TrainConfig,         |
|                |                       |                   | DataConfig as dicts) and extra {source, preset, ...}    |
| model          | {name: tensor}        | trainer           | RecGURU state_dict                                      |
| discriminator  | {name: tensor}        | trainer           | domain critic state_dict                                |
| data           | dict                  | trainer           | data.data_to_state: sequences, id maps, titles, genres, |
|                |                       |                   | clusters, evaluation negatives                          |
| history        | [dict]                | trainer           | step records (phase, step, losses, seconds, events)     |
| snapshots      | {before, during, after} | trainer         | GUR snapshots (format: snapshots.py)                    |
| metrics        | {valid, test, test_full: {A, B: {metric: float}}} | trainer | final evaluation            |
| resume         | dict or None          | trainer           | phase, unit, global_step, elapsed, optimiser states,    |
|                |                       |                   | fine-tune state; None once complete                     |
| projections    | dict, optional        | cli `project`     | 2-d layouts: method, seed, rows, before, during, after, |
|                |                       |                   | during_steps, seconds, landmarks (project_snapshots)    |
| alignment      | dict, optional        | cli `project`     | analysis.compare_snapshots of before/after              |
| baselines      | dict, optional        | benchmark         | {display name: {test, test_full: {A, B: {metric}}}, paired, tests} |
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from pathlib import Path

import torch

from ..common.atomic import atomic_write
from ..common.errors import CheckpointError
from ..nn.model import ModelConfig, RecGURU

FORMAT = "recguru-explorer"
VERSION = 1
STATUSES = ("in_progress", "complete")
REQUIRED = ("config", "model", "data")
# key -> (accepted types, may be None)
SECTION_TYPES: dict[str, tuple[tuple[type, ...], bool]] = {
    "status": ((str,), False),
    "config": ((dict,), False),
    "model": ((dict,), False),
    "discriminator": ((dict,), True),
    "data": ((dict,), False),
    "history": ((list,), False),
    "snapshots": ((dict,), False),
    "metrics": ((dict,), False),
    "resume": ((dict,), True),
    "projections": ((dict,), True),
    "alignment": ((dict,), True),
    "baselines": ((dict,), True),
}


def to_payload(state: dict) -> dict:
    """A trainer state (or any checkpoint dict) with the file header."""
    return {
        **state,
        "format": FORMAT,
        "version": VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def save_checkpoint(path: str | Path, payload: dict) -> None:
    """Atomic write: temp file in the target directory, fsync, rename."""
    atomic_write(path, lambda f: torch.save(payload, f))


def checkpoint_writer(path: str | Path | None) -> Callable[[dict], None] | None:
    """The `save` callback of a Trainer writing its state to `path` (None: no file)."""
    if path is None:
        return None
    target = Path(path)
    return lambda state: save_checkpoint(target, to_payload(state))


def load_checkpoint(path: str | Path) -> dict:
    """Load and validate. Raises CheckpointError with one line naming the file on any problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle refusals, truncated zip, not a torch file at all
        raise CheckpointError(f"{path}: not a loadable RecGURU checkpoint ({_load_failure(exc)})") from None
    return validate_checkpoint(ckpt, str(path))


def compact_checkpoint(ckpt: dict) -> dict:
    """A checkpoint stored compactly for shipping (`python -m recguru_core slim`): GUR
    snapshots in float16 (readers upcast; a projection or probe does not need more digits)
    and evaluation candidates in int16 when the catalogue fits (lossless). Weights, metrics
    and every stored result are unchanged."""

    def half(x):
        if isinstance(x, torch.Tensor) and x.dtype == torch.float32:
            return x.half()
        if isinstance(x, dict):
            return {k: half(v) for k, v in x.items()}
        if isinstance(x, list):
            return [half(v) for v in x]
        return x

    ckpt = dict(ckpt)
    ckpt["snapshots"] = half(ckpt.get("snapshots") or {})
    for key in ("A", "B"):
        part = ckpt["data"][key]
        if len(part["item_raw"]) < 2**15:
            part["negatives"] = part["negatives"].to(torch.int16)
    return ckpt


def checkpoint_status(path: str | Path) -> str | None:
    """'complete' / 'in_progress' for a RecGURU checkpoint, None for any other file."""
    try:
        return load_checkpoint(path).get("status", "complete")
    except CheckpointError:
        return None


def status_text(ckpt: dict) -> str:
    """The run's status in words: "complete", or "unfinished run (phase N of 3, resumable)" for
    a checkpoint saved after some units (train --resume continues it)."""
    if ckpt.get("status", "complete") == "complete":
        return "complete"
    phase = (ckpt.get("resume") or {}).get("phase")
    if isinstance(phase, int) and 1 <= phase <= 3:
        return f"unfinished run (phase {phase} of 3, resumable)"
    return "unfinished run"


def _load_failure(exc: BaseException) -> str:
    """Why torch.load(weights_only=True) refused a file, in a few words (torch's own message
    is a paragraph about weights_only)."""
    text = str(exc)
    if "GLOBAL" in text or "Unsupported global" in text:
        return "it holds pickled Python objects; refused without running them"
    if "WeightsUnpickler" in text or "Weights only load failed" in text:
        return "not a torch checkpoint: its pickle data holds more than tensors and plain values"
    if "PytorchStreamReader" in text or "central directory" in text:
        return "not a complete torch zip archive (truncated or corrupted)"
    if "inline_container" in text:
        return "a zip archive, but not one torch.save wrote"
    if isinstance(exc, (IndexError, EOFError, KeyError)) or "load key" in text:
        return "not a torch checkpoint file"
    first = text.strip().splitlines()[0][:160] if text.strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


# History records: a few text fields, everything else a number (or null); entries are read by
# health, the curves and compare, so a wrong type is refused here rather than met there.
HISTORY_TEXT_FIELDS = ("phase", "event", "text", "status", "error", "out")
PHASES = ("pretrain", "adversarial", "finetune")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _history_problem(history: list) -> str | None:
    for i, rec in enumerate(history):
        if not isinstance(rec, dict):
            return f"history entry {i} is a {type(rec).__name__}, expected a record (dict)"
        for key, value in rec.items():
            if key in HISTORY_TEXT_FIELDS:
                ok = isinstance(value, str) and (key != "phase" or value in PHASES)
            else:
                ok = value is None or _is_number(value)
            if not ok or not isinstance(key, str):
                return f"history entry {i} field {key!r} is {value!r:.40}, expected " + (
                    "one of " + ", ".join(PHASES)
                    if key == "phase"
                    else "text"
                    if key in HISTORY_TEXT_FIELDS
                    else "a number"
                )
    return None


def _metrics_problem(section, what: str, triple: bool = False) -> str | None:
    """{split: {A, B: {metric: number}}}, as the trainer and the benchmark write it (triple:
    each value a [mean, low, high] list of numbers)."""
    if not isinstance(section, dict):
        return f"{what} is a {type(section).__name__}, expected {{split: {{A, B: {{metric: number}}}}}}"
    for split, domains in section.items():
        if not isinstance(domains, dict):
            return f"{what}[{split!r}] is a {type(domains).__name__}, expected {{A, B: {{metric: number}}}}"
        for domain, values in domains.items():
            if not isinstance(values, dict):
                return (
                    f"{what}[{split!r}][{domain!r}] is a {type(values).__name__}, expected {{metric: number}}"
                )
            for metric, value in values.items():
                ok = (
                    (isinstance(value, (list, tuple)) and len(value) == 3 and all(map(_is_number, value)))
                    if triple
                    else _is_number(value)
                )
                if not ok:
                    return f"{what}[{split!r}][{domain!r}][{metric!r}] is {value!r:.40}, expected " + (
                        "[mean, low, high]" if triple else "a number"
                    )
    return None


def _tests_problem(tests, where: str) -> str | None:
    """{split: {domain: {metric: {test: {"p", "p_holm", "seeds", "n_users"}}}}}, values numbers
    or None (bench/paired.tests_by_split)."""
    if not isinstance(tests, dict):
        return f"{where} is a {type(tests).__name__}, expected an object"
    for split, domains in tests.items():
        for domain, metrics in domains.items() if isinstance(domains, dict) else [(None, domains)]:
            for metric, by_test in metrics.items() if isinstance(metrics, dict) else [(None, metrics)]:
                for test, values in by_test.items() if isinstance(by_test, dict) else [(None, by_test)]:
                    ok = isinstance(values, dict) and all(
                        v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                        for v in values.values()
                    )
                    if not ok:
                        return f"{where}[{split!r}][{domain!r}][{metric!r}][{test!r}] is {values!r}, expected numbers"
    return None


def validate_checkpoint(ckpt, name: str = "checkpoint") -> dict:
    """The header and every section's type (see the table above); fills optional sections'
    defaults. Raises CheckpointError naming the file and the section at fault."""
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{name}: not a RecGURU Explorer checkpoint (missing format {FORMAT!r})")
    version = ckpt.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(
            f"{name}: checkpoint version {version} is newer than this program "
            f"understands ({VERSION}); upgrade recguru_core"
        )
    for key in REQUIRED:
        if key not in ckpt:
            raise CheckpointError(f"{name}: checkpoint lacks the {key!r} section")
    ckpt.setdefault("history", [])
    ckpt.setdefault("snapshots", {})
    ckpt.setdefault("metrics", {})
    for key, (types, nullable) in SECTION_TYPES.items():
        if key not in ckpt or (nullable and ckpt[key] is None):
            continue
        if not isinstance(ckpt[key], types):
            raise CheckpointError(
                f"{name}: section {key!r} is a {type(ckpt[key]).__name__}, "
                f"expected {' or '.join(t.__name__ for t in types)}"
            )
    if "status" in ckpt and ckpt["status"] not in STATUSES:
        raise CheckpointError(f"{name}: status {ckpt['status']!r}: expected one of {', '.join(STATUSES)}")
    for key in ("model", "train", "data"):
        if not isinstance(ckpt["config"].get(key), dict):
            raise CheckpointError(f"{name}: checkpoint config lacks {key!r}")
    bad = [k for k, v in ckpt["model"].items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{name}: model weight {bad[0]!r} is not a tensor")
    why = _history_problem(ckpt["history"]) or _metrics_problem(ckpt["metrics"], "metrics")
    for model, section in (ckpt.get("baselines") or {}).items():
        if isinstance(section, dict):  # + RecGURU minus this model: {split: {A, B: {metric:
            paired = section.get("paired") or {}  # [mean, low, high]}}} (benchmark.paired_intervals)
            tests = section.get("tests") or {}  # + paired tests: {split: {A, B: {metric: {test:
            section = {k: v for k, v in section.items() if k not in ("paired", "tests")}  # {p, ...}}}}}
            why = why or _metrics_problem(paired, f"baselines[{model!r}]['paired']", triple=True)
            why = why or _tests_problem(tests, f"baselines[{model!r}]['tests']")
        why = why or _metrics_problem(section, f"baselines[{model!r}]")
    if why:
        raise CheckpointError(f"{name}: {why}")
    from ..data.domains import check_data_state

    check_data_state(ckpt["data"], name, ckpt["config"]["model"])
    return ckpt


def check_finite_weights(ckpt: dict, name: str = "checkpoint") -> None:
    """Refuse (CheckpointError) a checkpoint whose model weights hold NaN or infinite values:
    a diverged run, whose every score and GUR is NaN. The CLI still evaluates one (it ranks NaN
    last, which says the same in numbers); the app refuses it at upload with this reason."""
    bad = {k: v for k, v in ckpt["model"].items() if v.is_floating_point() and not torch.isfinite(v).all()}
    if bad:
        first, tensor = next(iter(bad.items()))
        n_bad = int((~torch.isfinite(tensor)).sum())
        raise CheckpointError(
            f"{name}: {len(bad)} of {len(ckpt['model'])} weight tensors hold NaN "
            f"or infinite values (e.g. {first}: {n_bad} of {tensor.numel()}); the "
            "run diverged, so it has nothing to show"
        )


def model_from_checkpoint(ckpt: dict, device: str | torch.device = "cpu"):
    """Rebuild the RecGURU model (eval mode) from the checkpoint alone."""
    cfg = ModelConfig.from_dict(ckpt["config"]["model"])
    model = RecGURU(config=cfg)
    expected, found = set(model.state_dict()), set(ckpt["model"])
    if expected != found:
        missing, unexpected = sorted(expected - found), sorted(found - expected)
        raise CheckpointError(
            "checkpoint weights do not match this version of the model "
            f"(missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
            f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}); retrain it"
        )
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as exc:
        reason = " ".join(str(exc).split())[:200]
        raise CheckpointError(f"checkpoint model weights do not match its config: {reason}") from None
    return model.to(device).eval()
