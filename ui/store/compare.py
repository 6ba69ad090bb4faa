"""The Compare page: data fingerprints, comparison tables and layouts."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from .. import jobs
from .runs import RunRef, load_run, run_ref

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
    return comparison_tables(
        labels,
        [r.ckpt for r in runs],
        [r.metrics() for r in runs],
        fingerprints=[_fingerprint(run_ref(p)) for p in paths],
        **kw,
    )


@st.cache_data(max_entries=8, show_spinner=False)
def _comparison_layouts(refs: tuple, method: str, n_users: int, seed: int) -> dict:
    from recguru_core.analysis.compare import comparison_layouts

    runs = [load_run(ref) for ref in refs]
    return comparison_layouts(
        [r.snapshots() for r in runs],
        [r.projections() for r in runs],
        method=method,
        n_users=n_users,
        seed=seed,
    )


def start_comparison_layouts(paths: Sequence[str], method: str, n_users: int, seed: int) -> jobs.Job:
    """The runs' 'after' GURs of the same users in the first run's frame, as a job."""
    refs = tuple(run_ref(p) for p in paths)
    return jobs.submit(
        ("compare-layouts", refs, method, int(n_users), int(seed)),
        _comparison_layouts,
        refs,
        method,
        int(n_users),
        int(seed),
    )
