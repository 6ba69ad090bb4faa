"""Checkpoint and table uploads: validated before they are stored, stored atomically, one
folder per browser session, limited in size and count, removed after a configurable age.

Checkpoints go to checkpoints/uploads/<session>/ (listed for that session only), tables to
runs/uploads/<session>/<pair>/{a,b}/. The file uploaders take any file (no `type=` filter:
Streamlit would raise its own exception for a wrong extension); the extension is checked here
and a wrong one is one st.error line like every other refusal.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path

import streamlit as st

from . import store
from .state import (
    K_UPLOADED,
    data_upload_dir,
    select_checkpoint,
    session_folder_name,
    session_token,
    upload_dir,
    upload_max_age_s,
    upload_max_bytes,
    upload_max_files,
    upload_root,
)
from .text import is_user_error, md, one_line, safe_name

CHECKPOINT_SUFFIXES = (".pt",)
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".tab", ".parquet", ".csv.gz", ".tsv.gz", ".txt.gz", ".tab.gz")
SWEEP_EVERY_S = 600.0  # a page render removes expired uploads at most this often
_last_sweep = 0.0


# ----------------------------------------------------------------------------- limits, expiry


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _session_files(session: str | None) -> list[Path]:
    name = session_folder_name(session)
    files: list[Path] = []
    for folder in (upload_root() / name, data_upload_dir() / name):
        if folder.is_dir():
            files += [p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".tmp")]
    return files


def check_upload_allowed(
    name: str, size: int, *, session: str | None = None, new_files: int = 1, kind: str = "checkpoint"
) -> None:
    """One-line error when `name` (size bytes) is over the size limit or the session already
    holds the most uploaded files it may."""
    suffixes = CHECKPOINT_SUFFIXES if kind == "checkpoint" else TABLE_SUFFIXES
    error = store.checkpoint_error if kind == "checkpoint" else store.data_error
    if not name.lower().endswith(suffixes):
        raise error(f"{name}: expected a {' or '.join(suffixes)} file")
    if size <= 0:
        raise error(f"{name}: the file is empty")
    if size > upload_max_bytes():
        raise error(
            f"{name}: {_megabytes(size)} is over the upload limit of "
            f"{_megabytes(upload_max_bytes())} (RECGURU_UPLOAD_MAX_MB)"
        )
    held = len(_session_files(session))
    if held + new_files > upload_max_files():
        raise error(
            f"{name}: this session already holds {held} uploaded files, the limit is "
            f"{upload_max_files()} (RECGURU_UPLOAD_MAX_FILES); uploads expire after "
            f"{upload_max_age_s() / 3600:g} h"
        )


def remove_expired_uploads(now: float | None = None) -> int:
    """Remove uploaded files (of every session) older than upload_max_age_s(), then empty
    folders; return how many files went. Never raises (a file in use elsewhere stays)."""
    cutoff = (time.time() if now is None else now) - upload_max_age_s()
    removed = 0
    for root in (upload_root(), data_upload_dir()):
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
                elif path.is_dir() and not any(path.iterdir()):
                    path.rmdir()
            except OSError:
                continue
    return removed


def sweep_expired_uploads() -> None:
    """Called on every page render: remove expired uploads at most every SWEEP_EVERY_S."""
    global _last_sweep
    if time.time() - _last_sweep >= SWEEP_EVERY_S:
        _last_sweep = time.time()
        remove_expired_uploads()


# ----------------------------------------------------------------------------- checkpoints


def handle_checkpoint_upload(file) -> None:
    """Validate + store an uploaded checkpoint once per upload, then select it. Any refusal
    is one st.error line; the page goes on."""
    if file is None:
        return
    handled = st.session_state.setdefault(K_UPLOADED, {})
    file_id = getattr(file, "file_id", None) or f"{file.name}:{getattr(file, 'size', 0)}"
    if file_id not in handled:
        try:
            check_upload_allowed(file.name, int(getattr(file, "size", 0) or 0))
            path = save_uploaded_checkpoint(file.name, file.getvalue())
        except Exception as exc:  # noqa: BLE001  (shown as one line below)
            handled[file_id] = ("error", one_line(exc))
        else:
            handled[file_id] = ("ok", str(path))
            select_checkpoint(str(path))
            st.toast(f"Uploaded and selected {md(Path(path).stem)}", icon=":material/check_circle:")
            st.rerun()
    kind, value = handled[file_id]
    if kind == "error":
        st.error(md(value), icon=":material/error:")


def save_uploaded_checkpoint(name: str, data: bytes, *, session: str | None = None) -> Path:
    """Validate an uploaded .pt with the core's full checkpoint validation
    (recguru_core.train.checkpoints.load_checkpoint: torch.load(weights_only=True), so a pickled
    object is refused and never executed, then every section's check) and a rebuild of data
    and model; only then place it atomically under checkpoints/uploads/<session>/. Raises a
    one-line user error."""
    remove_expired_uploads()
    check_upload_allowed(name, len(data), session=session)
    folder = upload_dir(session)
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
                raise store.checkpoint_error(
                    f"{name}: not a loadable RecGURU checkpoint ({type(exc).__name__})"
                ) from None
            raise store.checkpoint_error(one_line(exc).replace(tmp, name)) from None
        store.check_loadable(ckpt, name)
        stem = safe_name(Path(name).stem)
        target = folder / f"{stem}.pt"
        n = 2
        while target.exists():
            if target.stat().st_size == len(data) and target.read_bytes() == data:
                os.utime(target)  # the same file uploaded again: reuse it (and keep it longer)
                return target
            target = folder / f"{stem}-{n}.pt"
            n += 1
        os.replace(tmp, target)
        return target
    finally:
        Path(tmp).unlink(missing_ok=True)


# ----------------------------------------------------------------------------- tables


def save_uploaded_tables(
    file_a: tuple[str, bytes],
    file_b: tuple[str, bytes],
    token: str | None = None,
    *,
    session: str | None = None,
) -> str:
    """Write two uploaded tables (name, bytes) under runs/uploads/<session>/<token>/{a,b}/
    keeping their (sanitised) names, which become the domain names; return the csv:… spec."""
    remove_expired_uploads()
    for name, data in (file_a, file_b):
        check_upload_allowed(name, len(data), session=session, new_files=2, kind="table")
    token = safe_name(token or uuid.uuid4().hex[:12])
    paths = []
    for sub, (name, data) in (("a", file_a), ("b", file_b)):
        folder = data_upload_dir() / session_folder_name(session) / token / sub
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
            token=uuid.uuid4().hex[:8],
            session=session_token(),
        )
    return saved[key]
