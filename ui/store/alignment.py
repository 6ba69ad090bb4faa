"""The Alignment page: projections, the alignment view and figure, health verdicts, group evaluation, alignment metrics."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from .. import jobs
from ..figures.alignment import (
    AlignmentView,
    PointFilter,
    alignment_figure,
    alignment_view,
    filter_mask,
    snapshot_title,
)
from ..state import (
    ALIGNMENT_N_MAX,
    K_PROJECTIONS,
)
from .runs import RunRef, load_run, run_ref, snapshot_names, user_error

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
def _projection(ref: RunRef, method: str, n_users: int, seed: int, _progress: Callable | None = None) -> dict:
    from recguru_core.analysis.projection import project_snapshots

    result = project_snapshots(
        load_run(ref).snapshots(), n_users=int(n_users), seed=int(seed), method=method, progress=_progress
    )
    return _projection_to_plain(result)


def _project_job(ref: RunRef, method: str, n_users: int, seed: int, *, progress, cancelled):
    return _projection(ref, method, n_users, seed, _progress=progress)


def compute_projection(
    path: str,
    method: str,
    n_users: int,
    seed: int,
    *,
    on_progress: Callable[[float, str], None] | None = None,
) -> dict:
    """Run (or fetch from cache) a fresh projection. The work runs as a job; this (script)
    thread polls its progress and calls `on_progress`, because a cached function must not
    touch Streamlit elements made outside it."""
    ref = run_ref(path)
    job = jobs.submit(
        ("projection", ref, method, int(n_users), int(seed)),
        _project_job,
        ref,
        method,
        int(n_users),
        int(seed),
        progress=True,
    )
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
def _alignment_view(
    ref: RunRef, origin: str, method: str, seed: int, n_rows: int, _projection: dict
) -> AlignmentView:
    from recguru_core.analysis.alignment import partner_rows
    from recguru_core.train.snapshots import plain_snapshots

    run = load_run(ref)
    view = alignment_view(plain_snapshots(run.snapshots()), _projection, (run.stats() or {}).get("names"))
    meta = view.meta
    view.meta["partner"] = partner_rows(
        (meta["domain"] == "B").to_numpy().astype(np.int64), meta["user"].tolist(), meta["overlap"].to_numpy()
    )
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
def _alignment_figure(
    ident: str,
    left: str,
    right: str,
    color_by: str,
    links: bool,
    selected: tuple,
    contours: bool,
    flt: PointFilter | None,
    _view: AlignmentView,
) -> go.Figure:
    panels = [(snapshot_title(n, _view.steps), _view.layouts[n]) for n in (left, right) if n in _view.layouts]
    return alignment_figure(
        _view.meta,
        panels,
        color_by=color_by,
        links=links,
        selected=selected,
        names=_view.names,
        contours=contours,
        shown=filter_mask(_view.meta, flt),
    )


def alignment_chart(
    path: str,
    view: AlignmentView,
    left: str,
    right: str,
    color_by: str,
    links: bool,
    selected: Sequence[int],
    contours: bool = False,
    flt: PointFilter | None = None,
) -> go.Figure:
    """The two-panel figure for a view (cached per view, panels, colouring, selection, contour
    overlay and point filter: a frozen dataclass, hashed by value)."""
    if left == right:
        right = None
    return _alignment_figure(
        view.ident or str(path),
        left,
        str(right),
        color_by,
        bool(links),
        tuple(sorted(selected)),
        bool(contours),
        flt,
        _view=view,
    )


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
