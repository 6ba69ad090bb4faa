"""Checkpoint and table uploads: validated before they are stored, stored atomically."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import streamlit as st

from . import store
from .state import (
    K_UPLOADED,
    data_upload_dir,
    select_checkpoint,
    session_token,
    upload_dir,
)
from .text import is_user_error, one_line, safe_name


def handle_checkpoint_upload(file) -> None:
    """Validate + store an uploaded checkpoint once per upload, then select it."""
    if file is None:
        return
    handled = st.session_state.setdefault(K_UPLOADED, {})
    file_id = getattr(file, "file_id", None) or f"{file.name}:{getattr(file, 'size', 0)}"
    if file_id not in handled:
        try:
            path = save_uploaded_checkpoint(file.name, file.getvalue())
        except Exception as exc:  # noqa: BLE001  (shown as one line below)
            handled[file_id] = ("error", one_line(exc))
        else:
            handled[file_id] = ("ok", str(path))
            select_checkpoint(str(path))
            st.toast(f"Uploaded and selected {Path(path).stem}", icon=":material/check_circle:")
            st.rerun()
    kind, value = handled[file_id]
    if kind == "error":
        st.error(value, icon=":material/error:")


def save_uploaded_checkpoint(name: str, data: bytes) -> Path:
    """Validate an uploaded .pt (torch.load with weights_only=True + format checks) and only
    then place it atomically under checkpoints/uploads/. Raises a one-line user error."""
    if not name.lower().endswith(".pt"):
        raise store.checkpoint_error(f"{name}: expected a .pt checkpoint file")
    if not data:
        raise store.checkpoint_error(f"{name}: the file is empty")
    folder = upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            ckpt = store.read_checkpoint_file(tmp)
        except Exception as exc:  # noqa: BLE001  (a user error naming the temp file)
            if not is_user_error(exc):
                raise
            raise store.checkpoint_error(one_line(exc).replace(tmp, name)) from None
        store.check_loadable(ckpt, name)
        stem = safe_name(Path(name).stem)
        target = folder / f"{stem}.pt"
        n = 2
        while target.exists():
            if target.stat().st_size == len(data) and target.read_bytes() == data:
                break  # the same file uploaded again: reuse it
            target = folder / f"{stem}-{n}.pt"
            n += 1
        os.replace(tmp, target)
        return target
    finally:
        Path(tmp).unlink(missing_ok=True)


def save_uploaded_tables(
    file_a: tuple[str, bytes], file_b: tuple[str, bytes], token: str | None = None
) -> str:
    """Write two uploaded tables (name, bytes) under runs/uploads/<token>/{a,b}/ keeping their
    (sanitised) names, which become the domain names; return the csv:… source spec."""
    token = safe_name(token or uuid.uuid4().hex[:12])
    paths = []
    for sub, (name, data) in (("a", file_a), ("b", file_b)):
        if not data:
            raise store.data_error(f"{name}: the uploaded file is empty")
        folder = data_upload_dir() / token / sub
        folder.mkdir(parents=True, exist_ok=True)
        base = safe_name(Path(name).name) or f"{sub}.csv"
        target = folder / base
        store.atomic_write(target, data)
        paths.append(str(target))
    return f"csv:{paths[0]},{paths[1]}"


def uploaded_tables_spec(file_a, file_b) -> str | None:
    """Source spec for two st.file_uploader files (saved once per upload pair), or None."""
    if file_a is None or file_b is None:
        return None
    key = (getattr(file_a, "file_id", file_a.name), getattr(file_b, "file_id", file_b.name))
    saved = st.session_state.setdefault("recguru.uploaded_tables", {})
    if key not in saved:
        saved[key] = save_uploaded_tables(
            (file_a.name, file_a.getvalue()),
            (file_b.name, file_b.getvalue()),
            token=f"{session_token()[:8]}-{uuid.uuid4().hex[:6]}",
        )
    return saved[key]
