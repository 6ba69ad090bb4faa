"""Loaded runs, the cache key (`RunRef`), the error factories, checkpoint files."""

from __future__ import annotations

import os
from contextlib import nullcontext
from pathlib import Path
from typing import NamedTuple

import streamlit as st

from ..state import (
    file_mtime,
)
from ..text import one_line


class RunRef(NamedTuple):
    """What every cache of a checkpoint is keyed by: its real path and modification time."""

    path: str
    mtime: float


def run_ref(path: str | Path) -> RunRef:
    return RunRef(os.path.realpath(str(path)), file_mtime(path))


def spinner(message: str):
    """st.spinner on a script thread; nothing on a background thread (no script context)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    return st.spinner(message) if get_script_run_ctx(suppress_warning=True) else nullcontext()


# ----------------------------------------------------------------------------- errors
# The core's error types, for the UI modules that must not import recguru_core: a bad
# upload is a CheckpointError or DataError wherever it is detected.


def user_error(message: str) -> Exception:
    from recguru_core.common.errors import RecGuruError

    return RecGuruError(message)


def checkpoint_error(message: str) -> Exception:
    from recguru_core.common.errors import CheckpointError

    return CheckpointError(message)


def data_error(message: str) -> Exception:
    from recguru_core.common.errors import DataError

    return DataError(message)


# ----------------------------------------------------------------------------- runs


@st.cache_resource(max_entries=6, show_spinner=False)
def _load(ref: RunRef):
    import sys
    import time

    from recguru_core.analysis.inference import LoadedRun

    started = time.perf_counter()
    run = LoadedRun.load(ref.path)
    # one line per load in the server log: the load test counts them (each file loaded once,
    # however many sessions ask for it)
    print(
        f"recguru: loaded checkpoint {ref.path} in {time.perf_counter() - started:.2f} s",
        file=sys.stderr,
        flush=True,
    )
    return run


def load_run(path: str | Path | RunRef):
    """The loaded run (recguru_core.analysis.inference.LoadedRun) of a checkpoint file, cached per
    RunRef. Raises a one-line error for a missing or unreadable file."""
    ref = path if isinstance(path, RunRef) else run_ref(path)
    if not Path(ref.path).is_file():
        raise user_error(f"{path if not isinstance(path, RunRef) else ref.path}: no such checkpoint file")
    with spinner("Loading the checkpoint…"):
        return _load(ref)


def run_status(path: str | Path | None) -> str | None:
    """ "complete", "unfinished run (phase N of 3, resumable)", or None when the file cannot be
    loaded (the page that uses it says why)."""
    try:
        return load_run(path).status_text() if path else None
    except Exception:  # noqa: BLE001  (the sidebar stays quiet; current_run reports)
        return None


def check_loadable(ckpt: dict, name: str) -> None:
    """Rebuild data and model from a checkpoint dict that passed the format checks, and refuse
    NaN weights, so that a broken upload is refused before it is stored."""
    from recguru_core.analysis.inference import LoadedRun
    from recguru_core.common.errors import CheckpointError, RecGuruError
    from recguru_core.train.checkpoints import check_finite_weights

    try:
        LoadedRun(ckpt, name)
    except RecGuruError as exc:
        raise CheckpointError(f"{name}: {one_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001  (malformed sections surface as anything)
        raise CheckpointError(
            f"{name}: inconsistent checkpoint ({type(exc).__name__}: {one_line(exc)})"
        ) from None
    check_finite_weights(ckpt, name)  # a diverged run: nothing to show


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically (recguru_core.common.atomic: temp file beside it, fsync,
    rename), for the UI modules that must not import the core."""
    from recguru_core.common.atomic import atomic_write as write

    write(path, lambda f: f.write(data))


def read_checkpoint_file(path: str | Path) -> dict:
    """torch.load(weights_only=True) + the format checks of recguru_core.train.checkpoints."""
    from recguru_core.train.checkpoints import load_checkpoint

    return load_checkpoint(path)


def snapshot_names(run) -> list[str]:
    from recguru_core.train.snapshots import snapshot_names as names

    return names(run.snapshots())


def snapshot_steps(run) -> dict[str, int]:
    """{snapshot name: global step it was recorded at}, in training order."""
    from recguru_core.train.snapshots import ordered_snapshots

    return {name: int(snap.get("step", -1)) for name, snap in ordered_snapshots(run.snapshots())}
