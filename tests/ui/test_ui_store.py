"""ui/store.py: source checks and cached views."""

from __future__ import annotations

from pathlib import Path

import pytest

from ui import store

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
