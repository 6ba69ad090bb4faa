"""What the server may read on a user's behalf: the data roots of server-side sources, and
whether server-side sources are offered at all (not when the server listens beyond loopback,
unless explicitly allowed). Pure checks plus `st.get_option`; no recguru_core.

Configuration (environment, read on every check, so tests and a restarted server see changes):
- `RECGURU_DATA_ROOTS`: folders (os.pathsep-separated) a server-side source may read from;
  default: the project's `data/` folder. The app's own upload folder is always allowed.
- `RECGURU_ALLOW_SERVER_SOURCES=1`: offer server-side sources even when the server listens on
  a non-loopback address (`server.address` unset or e.g. 0.0.0.0).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path

import streamlit as st

from .state import ROOT, data_upload_dir
from .text import ViewError

ENV_DATA_ROOTS = "RECGURU_DATA_ROOTS"
ENV_ALLOW_SERVER_SOURCES = "RECGURU_ALLOW_SERVER_SOURCES"
MAX_DIRECTORY_ENTRIES = 1000  # entries of a source directory checked for escaping symlinks


def data_roots() -> list[Path]:
    """The resolved folders server-side sources may read (configured ones, then uploads)."""
    configured = os.environ.get(ENV_DATA_ROOTS)
    roots = [Path(p) for p in configured.split(os.pathsep) if p.strip()] if configured else []
    roots = roots or [ROOT / "data"]
    roots.append(data_upload_dir())
    out: list[Path] = []
    for root in roots:
        real = Path(os.path.abspath(root)).resolve()
        if real not in out:
            out.append(real)
    return out


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def check_paths_allowed(paths: Iterable[str], roots: list[Path] | None = None) -> None:
    """Raise a one-line ViewError naming the first path (after resolving `..` and symlinks)
    outside the data roots, and the roots. A directory's direct entries are checked as well,
    so a symlink inside an allowed folder cannot lead out of it."""
    roots = data_roots() if roots is None else roots
    allowed = ", ".join(str(r) for r in roots)
    for raw in paths:
        real = Path(os.path.abspath(raw)).resolve()
        escaped = None if _inside(real, roots) else raw
        if escaped is None and real.is_dir():
            escaped = _escaping_entry(real, roots, depth=2)
        if escaped is not None:
            raise ViewError(
                f"{escaped}: outside the allowed data folders ({allowed}); "
                f"set {ENV_DATA_ROOTS} to allow another folder"
            )


def _escaping_entry(folder: Path, roots: list[Path], depth: int) -> str | None:
    """The first entry of `folder` (and of its subfolders, `depth` levels: MovieLens looks one
    folder down) whose real path lies outside the roots, or None."""
    try:
        entries = sorted(folder.iterdir())[:MAX_DIRECTORY_ENTRIES]
    except OSError:
        return None
    for entry in entries:
        real = entry.resolve()
        if not _inside(real, roots):
            return str(entry)
        if depth > 1 and real.is_dir():
            found = _escaping_entry(real, roots, depth - 1)
            if found:
                return found
    return None


def _is_loopback(address: str | None) -> bool:
    address = (address or "").strip().strip("[]")
    if not address:
        return False  # Streamlit listens on every interface
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable from elsewhere


def server_sources_allowed() -> tuple[bool, str]:
    """(allowed, why not) for the Train page's server-side source."""
    if os.environ.get(ENV_ALLOW_SERVER_SOURCES, "").strip().lower() in ("1", "true", "yes"):
        return True, ""
    address = st.get_option("server.address")
    if _is_loopback(address):
        return True, ""
    where = f"address {address}" if address else "all network interfaces"
    return False, (
        f"Server-side sources are off: this server listens on {where}, so other machines could "
        f"read its files. Run it on 127.0.0.1, or set {ENV_ALLOW_SERVER_SOURCES}=1 to allow them."
    )
