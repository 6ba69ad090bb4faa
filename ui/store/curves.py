"""Training curves: the history frame and the dashboard figure."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ..figures.curves import curves_dashboard, history_frame
from .runs import RunRef, load_run, run_ref

# ----------------------------------------------------------------------------- curves


@st.cache_data(max_entries=16, show_spinner=False)
def _history_frame(ref: RunRef) -> pd.DataFrame:
    return history_frame(load_run(ref).history())


def run_history_frame(path: str) -> pd.DataFrame:
    return _history_frame(run_ref(path))


@st.cache_data(max_entries=32, show_spinner=False)
def _dashboard(
    ref: RunRef, smoothing: float, log_y: bool, marks: tuple = (), selected: str | None = None
) -> go.Figure:
    return curves_dashboard(
        _history_frame(ref), smoothing=smoothing, log_y=log_y, marks=marks, selected=selected
    )


def training_curves_figure(
    path: str, smoothing: float, log_y: bool, marks: Sequence = (), selected: str | None = None
) -> go.Figure:
    """The curves dashboard of a checkpoint, cached per (checkpoint, smoothing, log, snapshot
    marks [(name, step, label)] and the selected one)."""
    return _dashboard(
        run_ref(path), round(float(smoothing), 3), bool(log_y), tuple(tuple(m) for m in marks), selected
    )


def history_csv(path: str) -> bytes:
    return run_history_frame(path).to_csv(index=False).encode()
