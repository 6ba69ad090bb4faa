"""The ONLY module of the app that imports recguru_core: loaded runs and every cache.

Every cache is keyed by one `RunRef` (real path + modification time of the checkpoint), so a
retrained or re-uploaded file is never served stale and two links to one file share entries.
`st.cache_resource` holds loaded runs (models); `st.cache_data` holds frames, figures,
projections, metrics, recommendations and explanations. recguru_core (and through it torch)
is imported lazily, so importing the app costs no torch start-up; umap only when a user asks
for a fresh projection. Slow values are computed by `jobs` workers, never by the page.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from . import access, jobs
from .figures.alignment import (
    AlignmentView,
    PointFilter,
    alignment_figure,
    alignment_view,
    filter_mask,
    snapshot_title,
)
from .figures.curves import curves_dashboard, history_frame
from .state import (
    ALIGNMENT_N_MAX,
    DEFAULT_K,
    DEFAULT_SMOOTHING,
    K_PROJECTIONS,
    data_upload_dir,
    file_mtime,
)
from .text import is_user_error, name_uploads, one_line, plain


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
    print(f"recguru: loaded checkpoint {ref.path} in {time.perf_counter() - started:.2f} s",
          file=sys.stderr, flush=True)
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
    """"complete", "unfinished run (phase N of 3, resumable)", or None when the file cannot be
    loaded (the page that uses it says why)."""
    try:
        return load_run(path).status_text() if path else None
    except Exception:  # noqa: BLE001  (the sidebar stays quiet; current_run reports)
        return None


def check_loadable(ckpt: dict, name: str) -> None:
    """Rebuild data and model from a checkpoint dict that passed the format checks, and refuse
    NaN weights, so that a broken upload is refused before it is stored."""
    from recguru_core.train.checkpoints import check_finite_weights
    from recguru_core.common.errors import CheckpointError, RecGuruError
    from recguru_core.analysis.inference import LoadedRun

    try:
        LoadedRun(ckpt, name)
    except RecGuruError as exc:
        raise CheckpointError(f"{name}: {one_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001  (malformed sections surface as anything)
        raise CheckpointError(f"{name}: inconsistent checkpoint ({type(exc).__name__}: {one_line(exc)})") from None
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


# ----------------------------------------------------------------------------- data sources


def source_paths(spec: str) -> list[str]:
    """Every file or folder a source spec would read: its paths and its file options
    (meta_a=, item_b=, …). Raises the core's one-line DataError for a malformed spec."""
    from recguru_core.data.sources import FILE_KEYS, parse_source

    parsed = parse_source(spec)
    return list(parsed.paths) + [parsed.options[k] for k in FILE_KEYS.get(parsed.kind, ())
                                 if parsed.options.get(k)]


def _source_mtimes(paths: list[str]) -> tuple:
    return tuple(file_mtime(p) for p in paths)


@st.cache_data(max_entries=16, show_spinner=False)
def _source_stats(spec: str, mtimes: tuple) -> dict:
    from recguru_core.data.sources import load_source

    # The app reads files on behalf of its users: errors never quote the file's content.
    return load_source(spec, quote_content=False).stats()


def check_source(spec: str) -> dict:
    """Table-1 statistics of a source spec, or a one-line error: malformed spec, a path outside
    the data roots (ui.access), or the reader's message (without file content). Cached per
    spec + mtimes."""
    spec = (spec or "").strip()
    if not spec:
        raise user_error("enter a source spec, e.g. csv:data/Books.csv,data/Movies.csv")
    paths = source_paths(spec)
    access.check_paths_allowed(paths)
    try:
        with spinner("Reading the data…"):
            return _source_stats(spec, _source_mtimes(paths))
    except Exception as exc:  # noqa: BLE001  (user errors re-worded, bugs re-raised)
        if not is_user_error(exc):
            raise
        raise type(exc)(name_uploads(one_line(exc), paths, data_upload_dir())) from None


@st.cache_data(show_spinner="Generating the synthetic default…")
def default_data_stats() -> dict:
    from recguru_core.data.sources import load_source

    return load_source("synthetic").stats()


def synthetic_spec(users: int, overlap: float, seed: int) -> str:
    return f"synthetic:users={int(users)},overlap={float(overlap):g},seed={int(seed)}"


PRESET_FIELDS = ("pretrain_epochs", "adv_steps", "finetune_epochs", "gp_weight", "w_l2", "critic")


def preset_values(preset: str) -> dict:
    """Default values of the Train page's hyper-parameters under a preset (config.PRESETS over
    the TrainConfig defaults): the page has no literals of its own."""
    from recguru_core.common.config import PRESETS, TrainConfig

    if preset not in PRESETS:
        raise user_error(f"unknown preset {preset!r}: expected one of {', '.join(PRESETS)}")
    base = TrainConfig()
    values = {k: getattr(base, k) for k in PRESET_FIELDS}
    values.update({k: v for k, v in PRESETS[preset].items() if k in values})
    return values


def training_choices(default: str | None = None) -> dict:
    """{"presets": {name: note}, "default": preset, "critics": [...], "devices": [...]} for the
    Train page (`default` when it is a preset, else the first)."""
    from recguru_core.common.config import CRITICS, PRESET_NOTES, PRESETS

    return {"presets": {name: PRESET_NOTES.get(name, "") for name in PRESETS},
            "default": default if default in PRESETS else next(iter(PRESETS)),
            "critics": list(CRITICS), "devices": ["auto", "cpu", "cuda", "mps"]}


def synthetic_world(preset: str | None = None) -> dict | None:
    """{"users", "overlap", "seed"} of a synthetic world for the Train page's fields: the one
    config.PRESET_SOURCES names for `preset` (None when it names no synthetic one), or with no
    preset the generator's defaults."""
    from recguru_core.common.config import PRESET_SOURCES
    from recguru_core.data.sources import parse_source
    from recguru_core.data.synthetic import SyntheticConfig

    spec = "synthetic" if preset is None else PRESET_SOURCES.get(preset)
    if not spec or parse_source(spec).kind != "synthetic":
        return None
    options, base = parse_source(spec).options, SyntheticConfig()
    return {"users": int(options.get("users", base.users)),
            "overlap": float(options.get("overlap", base.overlap)),
            "seed": int(options.get("seed", base.seed))}


# ----------------------------------------------------------------------------- curves


@st.cache_data(max_entries=16, show_spinner=False)
def _history_frame(ref: RunRef) -> pd.DataFrame:
    return history_frame(load_run(ref).history())


def run_history_frame(path: str) -> pd.DataFrame:
    return _history_frame(run_ref(path))


@st.cache_data(max_entries=32, show_spinner=False)
def _dashboard(ref: RunRef, smoothing: float, log_y: bool, marks: tuple = (),
               selected: str | None = None) -> go.Figure:
    return curves_dashboard(_history_frame(ref), smoothing=smoothing, log_y=log_y,
                            marks=marks, selected=selected)


def training_curves_figure(path: str, smoothing: float, log_y: bool, marks: Sequence = (),
                           selected: str | None = None) -> go.Figure:
    """The curves dashboard of a checkpoint, cached per (checkpoint, smoothing, log, snapshot
    marks [(name, step, label)] and the selected one)."""
    return _dashboard(run_ref(path), round(float(smoothing), 3), bool(log_y),
                      tuple(tuple(m) for m in marks), selected)


def history_csv(path: str) -> bytes:
    return run_history_frame(path).to_csv(index=False).encode()


# ----------------------------------------------------------------------------- projections


def _projection_to_plain(result: dict) -> dict:
    from recguru_core.train.snapshots import to_numpy

    out = {}
    for key, value in (result or {}).items():
        if key == "during":
            out[key] = [to_numpy(v) for v in (value or [])]
        elif hasattr(value, "detach"):
            out[key] = to_numpy(value)
        else:
            out[key] = value
    return out


@st.cache_data(max_entries=8, show_spinner=False)
def _projection(ref: RunRef, method: str, n_users: int, seed: int,
                _progress: Callable | None = None) -> dict:
    from recguru_core.analysis.projection import project_snapshots

    result = project_snapshots(load_run(ref).snapshots(), n_users=int(n_users), seed=int(seed),
                               method=method, progress=_progress)
    return _projection_to_plain(result)


def _project_job(ref: RunRef, method: str, n_users: int, seed: int, *, progress, cancelled):
    return _projection(ref, method, n_users, seed, _progress=progress)


def compute_projection(
    path: str, method: str, n_users: int, seed: int, *,
    on_progress: Callable[[float, str], None] | None = None,
) -> dict:
    """Run (or fetch from cache) a fresh projection. The work runs as a job; this (script)
    thread polls its progress and calls `on_progress`, because a cached function must not
    touch Streamlit elements made outside it."""
    ref = run_ref(path)
    job = jobs.submit(("projection", ref, method, int(n_users), int(seed)), _project_job,
                      ref, method, int(n_users), int(seed), progress=True)
    while not job.wait(0.25):
        if on_progress is not None:
            on_progress(job.fraction, job.message)
    if job.state != "done":
        raise user_error(job.error or "the projection was cancelled")
    # Kept in this session too, so an eviction from the shared cache never silently
    # recomputes a minute-long layout on a later rerun.
    remember = st.session_state.setdefault(K_PROJECTIONS, {})
    remember[ref.path] = {"mtime": ref.mtime, "result": job.result}
    return job.result


def projection_for(path: str, run) -> tuple[dict | None, str]:
    """(projection, origin) for the page: a fresh one computed in this session for this
    checkpoint, else the one stored in the checkpoint, else (None, "none")."""
    ref = run_ref(path)
    remembered = (st.session_state.get(K_PROJECTIONS) or {}).get(ref.path)
    if remembered and remembered.get("mtime") == ref.mtime and remembered.get("result"):
        return remembered["result"], "computed"
    stored = run.projections()
    if stored:
        return _projection_to_plain(stored), "stored"
    return None, "none"


def forget_projection(path: str) -> None:
    """Back to the checkpoint's stored layout (button callback)."""
    (st.session_state.get(K_PROJECTIONS) or {}).pop(run_ref(path).path, None)


# ----------------------------------------------------------------------------- alignment view


@st.cache_data(max_entries=8, show_spinner=False)
def _alignment_view(ref: RunRef, origin: str, method: str, seed: int, n_rows: int,
                    _projection: dict) -> AlignmentView:
    from recguru_core.analysis.alignment import partner_rows
    from recguru_core.train.snapshots import plain_snapshots

    run = load_run(ref)
    view = alignment_view(plain_snapshots(run.snapshots()), _projection,
                          (run.stats() or {}).get("names"))
    meta = view.meta
    view.meta["partner"] = partner_rows((meta["domain"] == "B").to_numpy().astype(np.int64),
                                        meta["user"].tolist(), meta["overlap"].to_numpy())
    return view


def alignment_data(path: str, run, projection: dict, origin: str) -> AlignmentView:
    rows = projection.get("rows")
    n_rows = len(rows) if rows is not None else -1
    ref = run_ref(path)
    method, seed = str(projection.get("method")), int(projection.get("seed", 0) or 0)
    view = _alignment_view(ref, origin, method, seed, n_rows, _projection=projection)
    view.ident = f"{ref.path}|{ref.mtime}|{origin}|{method}|{seed}|{n_rows}"
    return view


@st.cache_data(max_entries=32, show_spinner=False)
def _alignment_figure(ident: str, left: str, right: str, color_by: str, links: bool,
                      selected: tuple, contours: bool, flt: PointFilter | None,
                      _view: AlignmentView) -> go.Figure:
    panels = [(snapshot_title(n, _view.steps), _view.layouts[n]) for n in (left, right)
              if n in _view.layouts]
    return alignment_figure(_view.meta, panels, color_by=color_by, links=links, selected=selected,
                            names=_view.names, contours=contours,
                            shown=filter_mask(_view.meta, flt))


def alignment_chart(path: str, view: AlignmentView, left: str, right: str, color_by: str,
                    links: bool, selected: Sequence[int], contours: bool = False,
                    flt: PointFilter | None = None) -> go.Figure:
    """The two-panel figure for a view (cached per view, panels, colouring, selection, contour
    overlay and point filter: a frozen dataclass, hashed by value)."""
    if left == right:
        right = None
    return _alignment_figure(view.ident or str(path), left, str(right), color_by, bool(links),
                             tuple(sorted(selected)), bool(contours), flt, _view=view)


@st.cache_data(max_entries=16, show_spinner=False)
def _health(ref: RunRef) -> list[dict]:
    from recguru_core.train.health import diagnose

    return diagnose(load_run(ref).history(), load_run(ref).snapshots())


def health_rows(path: str) -> list[dict]:
    """The adversarial phase's health verdicts (recguru_core.train.health) from the step records."""
    return _health(run_ref(path))


@st.cache_data(max_entries=8, show_spinner=False)
def _group_evaluation(ref: RunRef, n_boot: int) -> list[dict]:
    return load_run(ref).evaluate_groups("test", n_boot=n_boot)


def start_group_evaluation(path: str, n_boot: int = 1000) -> jobs.Job:
    """Metrics by user group with bootstrap intervals (full ranking of every user: seconds)."""
    ref = run_ref(path)
    return jobs.submit(("groups", ref, int(n_boot)), _group_evaluation, ref, int(n_boot))


# ----------------------------------------------------------------------------- alignment metrics


@st.cache_data(max_entries=8, show_spinner=False)
def _alignment_metrics(ref: RunRef, n_max: int) -> dict:
    from recguru_core.analysis.alignment import compare_snapshots

    return compare_snapshots(load_run(ref).snapshots() or {}, seed=0, n_max=n_max)


def start_alignment_metrics(path: str, n_max: int = ALIGNMENT_N_MAX) -> jobs.Job:
    """The job measuring alignment of every snapshot (done at once when the checkpoint stores
    them all, as `project` writes them)."""
    run = load_run(path)
    stored = run.alignment()
    if stored and all("spectrum" in (stored.get(n) or {}) for n in snapshot_names(run)):
        return jobs.finished(stored)
    ref = run_ref(path)
    return jobs.submit(("alignment", ref, int(n_max)), _alignment_metrics, ref, int(n_max))


# ----------------------------------------------------------------------------- compare runs


@st.cache_data(max_entries=32, show_spinner=False)
def _fingerprint(ref: RunRef) -> str:
    from recguru_core.analysis.compare import data_fingerprint

    return data_fingerprint(load_run(ref).ckpt)


def comparison_tables(paths: Sequence[str], labels: Sequence[str], **kw) -> dict:
    """recguru_core.analysis.compare.comparison_tables of these runs, the rows the CLI's `compare`
    prints (kw: alignments, metric_keys); a one-line error names a run of other data."""
    from recguru_core.analysis.compare import comparison_tables

    runs = [load_run(p) for p in paths]
    return comparison_tables(labels, [r.ckpt for r in runs], [r.metrics() for r in runs],
                             fingerprints=[_fingerprint(run_ref(p)) for p in paths], **kw)


@st.cache_data(max_entries=8, show_spinner=False)
def _comparison_layouts(refs: tuple, method: str, n_users: int, seed: int) -> dict:
    from recguru_core.analysis.compare import comparison_layouts

    runs = [load_run(ref) for ref in refs]
    return comparison_layouts([r.snapshots() for r in runs], [r.projections() for r in runs],
                              method=method, n_users=n_users, seed=seed)


def start_comparison_layouts(paths: Sequence[str], method: str, n_users: int,
                             seed: int) -> jobs.Job:
    """The runs' 'after' GURs of the same users in the first run's frame, as a job."""
    refs = tuple(run_ref(p) for p in paths)
    return jobs.submit(("compare-layouts", refs, method, int(n_users), int(seed)),
                       _comparison_layouts, refs, method, int(n_users), int(seed))


# ----------------------------------------------------------------------------- recommendations


@st.cache_data(max_entries=64, show_spinner=False)
def _recommend(ref: RunRef, user: str, domain: str, k: int) -> dict:
    return plain(load_run(ref).recommend(user, domain, k=k))


@st.cache_data(max_entries=64, show_spinner=False)
def _explain(ref: RunRef, user: str, domain: str, k: int) -> dict:
    return plain(load_run(ref).explain(user, domain, k=k))


def unseen_items(run, user: str, domain: str) -> int:
    """How many items of `domain` the user has not seen before the held-out one: the most a
    top-k can hold (the rest would be items the user already has)."""
    return run.unseen_count(user, domain)


def clamp_k(run, user: str, domain: str, k: int) -> int:
    """k limited to the user's unseen items of the domain; a user error when there are none."""
    unseen = unseen_items(run, user, domain)
    if unseen <= 0:
        raise user_error(f"user {user!r} has seen every item of domain {domain}: "
                         "nothing left to recommend")
    return max(1, min(int(k), unseen))


def recommend(path: str, user: str, domain: str, k: int) -> dict:
    return _recommend(run_ref(path), str(user), domain, int(k))


def start_explanation(path: str, user: str, domain: str, k: int) -> jobs.Job:
    ref = run_ref(path)
    return jobs.submit(("explain", ref, str(user), domain, int(k)), _explain, ref, str(user),
                       domain, int(k))


def find_user(run, raw: str) -> dict:
    raw = (raw or "").strip()
    if not raw:
        raise user_error("enter a user id")
    found = run.find_user(raw)
    if not any(found.values()):
        raise user_error(f"user {raw!r} is in neither domain of this checkpoint")
    return found


def random_user(run, domain: str, seed: int) -> str:
    users = run.users(domain)
    if not users:
        raise user_error(f"domain {domain} has no users")
    return str(users[np.random.default_rng(seed).integers(len(users))])


def default_user(run) -> str:
    """A user present in both domains (the most interesting one to show first)."""
    try:
        users_b = set(run.users("B"))
        for u in run.users("A"):
            if u in users_b:
                return str(u)
        return str((run.users("A") or run.users("B") or [""])[0])
    except Exception:  # noqa: BLE001  (an empty box is a fine default)
        return ""


# ----------------------------------------------------------------------------- prefetch


def _warm(ref: RunRef) -> None:
    """Fill the caches the pages open with, one heavy thing at a time (a 2-core machine also
    serves the page): history frame + curves, then the alignment metrics, then the default
    user's recommendations and explanation. Each heavy step is its own job, so a page asking
    for it meanwhile finds the running job instead of starting a second one."""
    try:
        _dashboard(ref, DEFAULT_SMOOTHING, False)  # also fills the history frame
        if jobs.shutting_down():  # the process exits: no more torch work
            return
        run = load_run(ref)
        user = default_user(run)  # what Recommendations opens with

        def recommendations() -> None:
            if jobs.shutting_down():
                return
            if user and user in set(run.users("A")):
                _recommend(ref, user, "A", DEFAULT_K)
                start_explanation(ref.path, user, "A", DEFAULT_K)

        if snapshot_names(run):
            start_alignment_metrics(ref.path).then(recommendations)
        else:
            recommendations()
    except Exception:  # noqa: BLE001  (the page computes it again and reports the error)
        pass


def prefetch(path: str | None) -> None:
    """Warm the slow caches of a checkpoint in the background, once per checkpoint version
    per server. Only fills caches; no Streamlit calls."""
    if path:
        ref = run_ref(path)
        jobs.submit(("prefetch", ref), _warm, ref)
