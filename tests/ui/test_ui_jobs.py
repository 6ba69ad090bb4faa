"""ui/jobs.py: background jobs never abort the process at exit. Each check runs in a fresh
interpreter, because shutting the job pool down is for good (one per process)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, timeout: float = 300, env: dict | None = None):
    import os

    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )
    return out, time.monotonic() - started


def test_shutdown_cancels_queued_jobs_and_stops_running_ones():
    out, _ = _python("""
        import sys, threading, time
        from ui import jobs
        ran = []
        def work(name, *, progress, cancelled):
            ran.append(name)
            while not cancelled.wait(0.05):
                pass
            return name
        running = [jobs.submit(("w", i), work, i, progress=True) for i in range(2)]
        queued = [jobs.submit(("q", i), work, 10 + i, progress=True) for i in range(3)]
        while len(ran) < 2:
            time.sleep(0.01)
        t0 = time.monotonic()
        assert jobs.shutdown(timeout=5)
        assert time.monotonic() - t0 < 2, time.monotonic() - t0
        assert [j.state for j in running] == ["cancelled"] * 2, [j.state for j in running]
        assert [j.state for j in queued] == ["cancelled"] * 3, [j.state for j in queued]
        assert sorted(ran) == [0, 1], ran
        late = jobs.submit(("late",), work, 99, progress=True)
        assert late.state == "cancelled" and "shutting down" in late.error
        print("ok")
    """)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-3000:]


def test_a_job_running_at_exit_does_not_hold_the_process_or_abort_it():
    out, elapsed = _python("""
        import sys
        from ui import jobs
        def work(*, progress, cancelled):
            while not cancelled.wait(0.05):
                pass
        jobs.submit(("forever",), work, progress=True)
        print("exiting", flush=True)
    """)
    assert out.returncode == 0 and "exiting" in out.stdout, out.stderr[-3000:]
    assert elapsed < 30, elapsed


def test_home_page_exits_cleanly_while_its_prefetch_runs(tmp_path, tiny):
    """Seen before: 'terminate called' when the process exited while Home's prefetch thread
    ran inside torch. The tiny checkpoint stores no alignment, so the prefetch has heavy work
    (alignment metrics, recommendations, an explanation) still queued at exit."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "demo.pt").symlink_to(tiny)
    out, elapsed = _python(
        f"""
        import sys
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file({str(ROOT / "app.py")!r}, default_timeout=180).run()
        assert not at.exception, [e.message for e in at.exception]
        from ui import jobs
        print("jobs at exit:", sorted(k[0] for k, j in jobs._REGISTRY.jobs.items() if j.running),
              flush=True)
    """,
        env={"RECGURU_CHECKPOINT_DIR": str(folder), "RECGURU_RUNS_DIR": str(tmp_path / "runs")},
    )
    assert out.returncode == 0, (out.returncode, out.stderr[-3000:])
    assert "terminate called" not in out.stderr and "Fatal Python error" not in out.stderr
    assert "jobs at exit" in out.stdout
    assert elapsed < 120, elapsed


def test_the_private_exit_hook_jobs_relies_on_is_still_there():
    """ui/jobs.py registers its shutdown with threading._register_atexit (private: the only
    hook that runs before concurrent.futures joins its workers at exit). If a Python drops or
    changes it, this fails here instead of the app hanging at exit."""
    import inspect
    import threading

    register = getattr(threading, "_register_atexit", None)
    assert callable(register), "threading._register_atexit is gone: rework ui/jobs._register_exit_hook"
    assert list(inspect.signature(register).parameters)[:1] == ["func"], inspect.signature(register)
