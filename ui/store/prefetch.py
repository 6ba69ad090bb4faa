"""Warming the slow caches of a checkpoint in the background."""

from __future__ import annotations

from .. import jobs
from ..state import (
    DEFAULT_K,
    DEFAULT_SMOOTHING,
)
from .alignment import start_alignment_metrics
from .curves import _dashboard
from .recommend import _recommend, default_user, start_explanation
from .runs import RunRef, load_run, run_ref, snapshot_names

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
                start_explanation(ref.path, user, "A")

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
