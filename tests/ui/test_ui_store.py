"""ui/store.py: source checks and cached views."""

from __future__ import annotations

from pathlib import Path

import pytest

from ui import store, text

ROOT = Path(__file__).resolve().parents[2]


def test_check_source_reports_bad_csv_in_one_line(tmp_path, monkeypatch):
    from recguru_core.common.errors import RecGuruError

    monkeypatch.setenv("RECGURU_DATA_ROOTS", str(tmp_path))
    bad = tmp_path / "Books.csv"
    bad.write_text("foo,bar\n1,2\n")
    with pytest.raises(RecGuruError, match="missing column") as info:
        store.check_source(f"csv:{bad},{bad}")
    assert "\n" not in str(info.value)
    with pytest.raises(RecGuruError, match="file not found"):
        store.check_source(f"csv:{tmp_path}/nonexistent/a.csv,{tmp_path}/nonexistent/b.csv")
    with pytest.raises(RecGuruError, match="enter a source spec"):
        store.check_source("   ")
    with pytest.raises(RecGuruError, match="unknown source"):
        store.check_source("bogus:x")


def _same(a, b, path="") -> str | None:
    """Where two explanation dicts differ (floats up to rounding), or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(a)} vs {sorted(b)}"
        return next((d for k in a if (d := _same(a[k], b[k], f"{path}.{k}"))), None)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} vs {len(b)} entries"
        return next((d for i, (x, y) in enumerate(zip(a, b)) if (d := _same(x, y, f"{path}[{i}]"))), None)
    if isinstance(a, float) and isinstance(b, float):
        return None if a == pytest.approx(b, rel=1e-5, abs=1e-6) else f"{path}: {a} vs {b}"
    return None if a == b else f"{path}: {a!r} vs {b!r}"


def test_two_explanations_at_once_need_no_lock(tiny, tmp_path):
    """Two users explained concurrently (the job pool runs two workers) give what they give one
    after the other: attention weights come back from the layer, no module hook, no lock."""
    import shutil

    from recguru_core.analysis.inference import LoadedRun
    from ui import jobs

    path = tmp_path / "own-copy.pt"  # a checkpoint no earlier test has cached anything for
    shutil.copy(tiny, path)
    alone = LoadedRun.load(path)
    users = [u for u in alone.users("A")][-2:]
    expected = [text.plain(alone.explain(u, "A")) for u in users]
    started = [store.start_explanation(str(path), u, "A") for u in users]
    assert all(job.wait(120) for job in started)
    assert [job.state for job in started] == ["done", "done"], [job.error for job in started]
    for job, want in zip(started, expected):
        assert _same(job.result, want) is None, _same(job.result, want)
    assert jobs.MAX_WORKERS >= 2


def test_the_explanation_does_not_depend_on_k(tiny):
    """explain() explains the top item, whatever the list's length: the store keys it on
    (user, domain) only, so changing k never recomputes the leave-one-out explanation."""
    from recguru_core.analysis.inference import LoadedRun

    run = LoadedRun.load(tiny)
    user = run.users("A")[0]
    top = run.recommend(user, "A", k=1)["items"][0]["item_id"]
    assert run.recommend(user, "A", k=7)["items"][0]["item_id"] == top
    default, named = run.explain(user, "A"), run.explain(user, "A", item=top)
    assert default["top_item"] == named["top_item"] and default["influence"] == named["influence"]
    import inspect

    assert "k" not in inspect.signature(store.start_explanation).parameters
