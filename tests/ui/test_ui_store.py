"""ui/store.py: source checks and cached views."""

from __future__ import annotations

from pathlib import Path

import pytest

from ui import store, text

ROOT = Path(__file__).resolve().parents[2]


def test_check_source_reports_bad_csv_in_one_line(tmp_path):
    from recguru_core.errors import RecGuruError

    bad = tmp_path / "Books.csv"
    bad.write_text("foo,bar\n1,2\n")
    with pytest.raises(RecGuruError, match="missing column") as info:
        store.check_source(f"csv:{bad},{bad}")
    assert "\n" not in str(info.value)
    with pytest.raises(RecGuruError, match="file not found"):
        store.check_source("csv:/nonexistent/a.csv,/nonexistent/b.csv")
    with pytest.raises(RecGuruError, match="enter a source spec"):
        store.check_source("   ")
    with pytest.raises(RecGuruError, match="unknown source"):
        store.check_source("bogus:x")


def test_two_explanations_at_once_need_no_lock(tiny):
    """Two users explained concurrently (the job pool runs two workers) give exactly what they
    give one after the other: attention weights come back from the layer, no module hook."""
    from recguru_core.inference import LoadedRun
    from ui import jobs

    alone = LoadedRun.load(tiny)
    users = [u for u in alone.users("A")][-2:]
    expected = [text.plain(alone.explain(u, "A", k=5)) for u in users]
    started = [store.start_explanation(str(tiny), u, "A", 5) for u in users]
    assert all(job.wait(120) for job in started)
    assert [job.state for job in started] == ["done", "done"], [job.error for job in started]
    assert [job.result for job in started] == expected
    assert jobs.MAX_WORKERS >= 2
