"""ui/uploads.py: uploads are validated before they are stored, one folder per session,
limited in size and count, and removed after a configurable age."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from helpers.hostile import hostile_checkpoints

from ui import state, uploads

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def folders(tmp_path, monkeypatch):
    monkeypatch.setenv("RECGURU_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("RECGURU_RUNS_DIR", str(tmp_path / "runs"))
    for name in ("RECGURU_UPLOAD_MAX_MB", "RECGURU_UPLOAD_MAX_FILES", "RECGURU_UPLOAD_MAX_AGE_H"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_uploaded_checkpoint_is_validated_before_it_is_stored(folders):
    from recguru_core.common.errors import CheckpointError

    with pytest.raises(CheckpointError, match="garbage.pt: not a loadable RecGURU checkpoint"):
        uploads.save_uploaded_checkpoint("garbage.pt", b"\x00\x01 not a zip", session="s1")
    with pytest.raises(CheckpointError, match=r"expected a \.pt"):
        uploads.save_uploaded_checkpoint("notes.txt", b"hello", session="s1")
    with pytest.raises(CheckpointError, match="empty"):
        uploads.save_uploaded_checkpoint("empty.pt", b"", session="s1")
    import torch

    foreign = folders / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a RecGURU Explorer checkpoint"):
        uploads.save_uploaded_checkpoint("foreign.pt", foreign.read_bytes(), session="s1")
    assert not [p for p in state.upload_root().rglob("*") if p.is_file()], "nothing left behind"


def test_hostile_checkpoints_are_refused_and_payloads_never_run(folders):
    from recguru_core.common.errors import CheckpointError

    marker = folders / "PWNED"
    for name, data in hostile_checkpoints(folders).items():
        with pytest.raises(CheckpointError) as err:
            uploads.save_uploaded_checkpoint(name, data, session="s1")
        message = str(err.value)
        assert name in message and "\n" not in message and ".tmp" not in message, message
        assert not marker.exists(), f"{name}: the pickled payload ran"
    assert not [p for p in state.upload_root().rglob("*") if p.is_file()]


def test_valid_upload_is_stored_once_per_session(folders, tmp_path_factory):
    from helpers.app import tiny_checkpoint_file

    data = tiny_checkpoint_file(tmp_path_factory).read_bytes()
    first = uploads.save_uploaded_checkpoint("my run,1.pt", data, session="sessionone")
    assert first.parent == state.upload_root() / "sessionone"
    assert first.suffix == ".pt" and "," not in first.name
    assert uploads.save_uploaded_checkpoint("my run,1.pt", data, session="sessionone") == first
    other = uploads.save_uploaded_checkpoint("my run,1.pt", data, session="sessiontwo")
    assert other.parent == state.upload_root() / "sessiontwo"
    import streamlit as st

    st.session_state[state.K_OWNER] = "sessionone"
    try:
        entries = state.available_checkpoints()
    finally:
        del st.session_state[state.K_OWNER]
    assert [(e.kind, e.path) for e in entries] == [("uploaded", str(first))]  # not sessiontwo's
    assert not list(state.upload_root().rglob("*.tmp"))


def test_upload_size_and_count_limits(folders, monkeypatch):
    from recguru_core.common.errors import CheckpointError, DataError

    monkeypatch.setenv("RECGURU_UPLOAD_MAX_MB", "0.001")  # ~1 kB
    with pytest.raises(CheckpointError, match="over the upload limit"):
        uploads.save_uploaded_checkpoint("big.pt", b"x" * 5000, session="s1")
    with pytest.raises(DataError, match="over the upload limit"):
        uploads.save_uploaded_tables(("a.csv", b"x" * 5000), ("b.csv", b"x"), session="s1")
    monkeypatch.delenv("RECGURU_UPLOAD_MAX_MB")
    monkeypatch.setenv("RECGURU_UPLOAD_MAX_FILES", "3")
    table = b"user_id,item_id,timestamp\n"
    uploads.save_uploaded_tables(("a.csv", table), ("b.csv", table), session="s1")
    with pytest.raises(DataError, match="already holds 2 uploaded files, the limit is 3"):
        uploads.save_uploaded_tables(("a.csv", table), ("b.csv", table), session="s1")
    uploads.save_uploaded_tables(("a.csv", table), ("b.csv", table), session="s2")  # own count
    with pytest.raises(DataError, match=r"expected a \.csv"):
        uploads.save_uploaded_tables(("a.exe", table), ("b.csv", table), session="s3")


def test_expired_uploads_are_removed(folders, monkeypatch):
    monkeypatch.setenv("RECGURU_UPLOAD_MAX_AGE_H", "1")
    table = b"user_id,item_id,timestamp\n"
    spec = uploads.save_uploaded_tables(("a.csv", table), ("b.csv", table), session="old")
    old = [Path(p) for p in spec.partition(":")[2].split(",")]
    stale = state.upload_root() / "old" / "run.pt"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    for path in (*old, stale):
        os.utime(path, (two_hours_ago, two_hours_ago))
    fresh = uploads.save_uploaded_tables(("a.csv", table), ("b.csv", table), session="new")
    assert not any(p.exists() for p in (*old, stale)), "the next upload removed expired files"
    assert not (state.data_upload_dir() / "old").exists() and not stale.parent.exists()
    assert all(Path(p).is_file() for p in fresh.partition(":")[2].split(","))
    assert uploads.remove_expired_uploads(now=time.time() + 7200) == 2


def test_save_uploaded_tables_keeps_names_for_domains(folders):
    spec = uploads.save_uploaded_tables(
        ("Books.csv", b"user_id,item_id,timestamp\n"),
        ("Movies, new.csv", b"user_id,item_id,timestamp\n"),
        token="t1",
        session="s1",
    )
    kind, _, paths = spec.partition(":")
    a, b = paths.split(",")
    assert kind == "csv" and Path(a).name == "Books.csv" and Path(b).name == "Movies-new.csv"
    assert Path(a).parent.parent == state.data_upload_dir() / "s1" / "t1"
    assert Path(a).is_file() and Path(b).is_file()
    from recguru_core.common.errors import DataError

    with pytest.raises(DataError, match="empty"):
        uploads.save_uploaded_tables(("a.csv", b""), ("b.csv", b"x"), session="s1")
