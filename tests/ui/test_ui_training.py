"""ui/training.py: the runner maths (progress rows, names) and the subprocess runner."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ui import store, text, training

ROOT = Path(__file__).resolve().parents[2]


def test_progress_rows_eta_and_states():
    records = [{"phase": "pretrain", "step": 0, "event": "phase_start", "total": 10}]
    records += [{"phase": "pretrain", "step": i, "phase_step": i, "seconds": 2.0} for i in range(1, 5)]
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


# --------------------------------------------------------------------------- the subprocess


@pytest.mark.slow  # a real training subprocess killed and resumed: ~35 s
def test_killed_training_process_is_reported_and_resumable(tmp_path, monkeypatch, tiny):
    """kill -9 of the training subprocess leaves the app running, shows a clear message on the
    Train page, and the run resumes from its last saved unit to a complete checkpoint."""
    import os
    import signal
    import time

    from helpers.app import APP, TINY_OVERRIDES, TINY_SOURCE, point_app_at
    from streamlit.testing.v1 import AppTest

    from recguru_core.train.checkpoints import load_checkpoint

    point_app_at(monkeypatch, tmp_path, tiny)
    slow = {**TINY_OVERRIDES, "pretrain_epochs": 40}
    job = training.start_training(TINY_SOURCE, preset="quick", overrides=slow, owner="me", threads=1)
    try:
        deadline = time.monotonic() + 240
        while not job.out.is_file() and job.active and time.monotonic() < deadline:
            time.sleep(0.2)  # until the first unit is saved
        assert job.out.is_file(), (job.state, job.error)
        assert job.records(), "progress records arrive through the JSON-lines file"
        os.kill(job.pid, signal.SIGKILL)
        job.join(30)
        assert job.state == "failed"
        assert "ended unexpectedly" in job.error and "signal 9" in job.error, job.error
        assert job.resumable
        assert load_checkpoint(job.out)["status"] == "in_progress"
        at = AppTest.from_file(APP, default_timeout=180).run()
        at.switch_page("pages/1_Train.py").run()
        assert not at.exception
        assert "ended unexpectedly" in " ".join(str(e.value) for e in at.error)
        assert any(b.key == "train.resume" for b in at.button)
        resumed = training.resume_training(job, owner="me")
        resumed.join(300)
        assert resumed.state == "done", resumed.error
        assert load_checkpoint(resumed.out)["status"] == "complete"
    finally:
        if training.current_job() is not None:
            training.current_job().cancel()
            training.current_job().join(60)


def test_cancel_stops_the_subprocess_cleanly(tmp_path, monkeypatch, tiny):
    import time

    from helpers.app import TINY_OVERRIDES, TINY_SOURCE, point_app_at

    point_app_at(monkeypatch, tmp_path, tiny)
    job = training.start_training(
        TINY_SOURCE,
        preset="quick",
        overrides={**TINY_OVERRIDES, "pretrain_epochs": 40},
        owner="me",
        threads=1,
    )
    deadline = time.monotonic() + 240
    while not job.records() and job.active and time.monotonic() < deadline:
        time.sleep(0.2)
    job.cancel()
    assert job.cancel_requested
    job.join(120)
    assert job.state == "cancelled", (job.state, job.error)
    assert job.error is None
