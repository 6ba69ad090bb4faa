"""ui/uploads.py: uploads are validated before they are stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from ui import state, uploads

ROOT = Path(__file__).resolve().parents[2]


def test_uploaded_checkpoint_is_validated_before_it_is_stored(tmp_path, monkeypatch):
    from recguru_core.errors import CheckpointError

    monkeypatch.setenv("RECGURU_CHECKPOINT_DIR", str(tmp_path))
    with pytest.raises(CheckpointError, match="garbage.pt: not a loadable RecGURU checkpoint"):
        uploads.save_uploaded_checkpoint("garbage.pt", b"\x00\x01 not a zip")
    with pytest.raises(CheckpointError, match="expected a .pt"):
        uploads.save_uploaded_checkpoint("notes.txt", b"hello")
    with pytest.raises(CheckpointError, match="empty"):
        uploads.save_uploaded_checkpoint("empty.pt", b"")
    import torch

    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a RecGURU Explorer checkpoint"):
        uploads.save_uploaded_checkpoint("foreign.pt", foreign.read_bytes())
    stored = tmp_path / "uploads"
    assert not list(stored.glob("*")), "nothing is left behind by refused uploads"


def test_valid_upload_is_stored_once(tmp_path, monkeypatch, tmp_path_factory):
    from test_app import tiny_checkpoint_file

    data = tiny_checkpoint_file(tmp_path_factory).read_bytes()
    monkeypatch.setenv("RECGURU_CHECKPOINT_DIR", str(tmp_path))
    first = uploads.save_uploaded_checkpoint("my run,1.pt", data)
    assert first.parent == tmp_path / "uploads" and first.suffix == ".pt" and "," not in first.name
    assert uploads.save_uploaded_checkpoint("my run,1.pt", data) == first  # same bytes: reused
    assert [e.kind for e in state.available_checkpoints()] == ["uploaded"]
    assert not list((tmp_path / "uploads").glob("*.tmp"))


def test_save_uploaded_tables_keeps_names_for_domains(tmp_path, monkeypatch):
    monkeypatch.setenv("RECGURU_RUNS_DIR", str(tmp_path))
    spec = uploads.save_uploaded_tables(
        ("Books.csv", b"user_id,item_id,timestamp\n"),
        ("Movies, new.csv", b"user_id,item_id,timestamp\n"),
        token="t1",
    )
    kind, _, paths = spec.partition(":")
    a, b = paths.split(",")
    assert kind == "csv" and Path(a).name == "Books.csv" and Path(b).name == "Movies-new.csv"
    assert Path(a).is_file() and Path(b).is_file()
    from recguru_core.errors import DataError

    with pytest.raises(DataError, match="empty"):
        uploads.save_uploaded_tables(("a.csv", b""), ("b.csv", b"x"))
