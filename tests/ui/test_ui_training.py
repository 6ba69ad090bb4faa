"""ui/training.py: the runner maths (progress rows, names) and the subprocess runner."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ui import store, text, training

ROOT = Path(__file__).resolve().parents[2]


def test_progress_rows_eta_and_states():
    records = [{"phase": "pretrain", "step": 0, "event": "phase_start", "total": 10}]
    records += [
        {"phase": "pretrain", "step": i, "phase_step": i, "seconds": 2.0} for i in range(1, 5)
    ]
    rows = training.progress_rows(records, {1: 10, 2: 6, 3: 8})
    assert [r["state"] for r in rows] == ["running", "waiting", "waiting"]
    assert rows[0]["fraction"] == pytest.approx(0.4) and rows[0]["eta_s"] == pytest.approx(12.0)
    records.append({"phase": "adversarial", "step": 5, "phase_step": 1, "seconds": 1.0})
    rows = training.progress_rows(records, {1: 10, 2: 6, 3: 8})
    assert [r["state"] for r in rows] == ["done", "running", "waiting"]
    assert rows[0]["fraction"] == 1.0  # a phase ended early still shows complete
    records.append({"phase": "done", "step": 5, "event": "done"})
    assert all(r["state"] == "done" for r in training.progress_rows(records, {1: 10, 2: 6, 3: 8}))
    assert training.progress_rows([], {})[0]["fraction"] == 0.0


def test_format_seconds_and_checkpoint_names():
    assert text.format_seconds(None) == "–" and text.format_seconds(5) == "5s"
    assert text.format_seconds(125) == "2m 05s" and text.format_seconds(3725) == "1h 02m"
    when = dt.datetime(2026, 1, 2, 3, 4, 5)
    assert (
        training.checkpoint_name_for("synthetic:users=5000,overlap=0.5", when)
        == "20260102-030405-synthetic-users5000-overlap0.5"
    )
    assert (
        training.checkpoint_name_for("csv:/d/Books.csv,/d/Movies.csv,k_core=3", when)
        == "20260102-030405-csv-Books-Movies"
    )
    assert "," not in training.checkpoint_name_for("csv:/a b/x,y.csv,/c/d.csv", when)
    assert store.synthetic_spec(3000, 0.5, 1) == "synthetic:users=3000,overlap=0.5,seed=1"
