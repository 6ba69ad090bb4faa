"""ui/state.py: the checkpoint listing and selection."""

from __future__ import annotations

from pathlib import Path

from ui import state

ROOT = Path(__file__).resolve().parents[2]


def test_checkpoint_listing_order(tmp_path, monkeypatch):
    monkeypatch.setenv("RECGURU_CHECKPOINT_DIR", str(tmp_path))
    assert state.available_checkpoints() == [] and state.default_checkpoint() is None
    import streamlit as st

    monkeypatch.setitem(st.session_state, state.K_OWNER, "mine")
    (tmp_path / "uploads" / "mine").mkdir(parents=True)
    (tmp_path / "uploads" / "theirs").mkdir()
    for name in (
        "uploads/mine/u.pt",
        "uploads/theirs/t.pt",
        "uploads/legacy.pt",
        "old.pt",
        "new.pt",
        "demo.pt",
        "partial.pt.tmp",
    ):
        (tmp_path / name).write_bytes(b"x")
    import os
    import time

    now = time.time()
    os.utime(tmp_path / "old.pt", (now - 100, now - 100))
    entries = state.available_checkpoints()
    assert [e.kind for e in entries] == ["demo", "trained", "trained", "uploaded"]
    assert [Path(e.path).name for e in entries] == ["demo.pt", "new.pt", "old.pt", "u.pt"]
    assert state.default_checkpoint().endswith("demo.pt")  # other sessions' uploads: not listed
