"""`train --progress FILE`: the run's step records as JSON lines, for a reader in another
process (the app's training runner) and for a reload that follows the same run.

    check_progress_path(path, out=..., source=...)   refuse, before any data is loaded, a path
                                                     that cannot be written or whose bytes are
                                                     not ours to append to
    ProgressFile(path)                               append + flush one JSON line per record

A progress file is appended to, never truncated: a resumed run (the app resumes with the same
file) continues the same log. So the one thing it may append to is an empty file or a file that
already is a progress log (its first line a JSON object with an "event"); an input CSV, a
checkpoint (even the run's own --out) or anyone's notes are refused with one line and keep
their bytes.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from ..common.errors import RecGuruError
from .outputs import _same_file, check_writable, input_files

_FIRST_LINE_BYTES = 1 << 16  # a record is a few hundred bytes; a longer "first line" is not ours


def _same_path(a: Path, b: Path) -> bool:
    """The same file, or (before either exists) the same absolute path."""
    return _same_file(a, b) or os.path.abspath(a) == os.path.abspath(b)


def is_progress_log(path: Path) -> bool:
    """An empty file, or one whose first line is a JSON object with an "event" key."""
    try:
        with open(path, "rb") as f:
            head = f.read(_FIRST_LINE_BYTES)
    except OSError:
        return False
    if not head:
        return True
    first = head.split(b"\n", 1)[0]
    try:
        record = json.loads(first.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(record, dict) and isinstance(record.get("event"), str)


def check_progress_path(
    path: str | Path, *, out: str | Path | None = None, source: str | None = None
) -> Path:
    """Everything `train` checks about --progress before it loads data (RecGuruError, one line).
    Missing parent folders are created, as for --out."""
    what = "--progress"
    target = Path(path)
    if out is not None and str(out).strip() and _same_path(target, Path(out)):
        raise RecGuruError(
            f"{what} {path}: is the --out checkpoint itself; give the progress "
            "log its own file, e.g. run.progress.jsonl"
        )
    for data_file in input_files(source) if source else []:
        if _same_path(target, data_file):
            raise RecGuruError(
                f"{what} {path}: is an input data file of the source; choose "
                "another path (the log would be appended to it)"
            )
    if target.exists() and not target.is_dir():
        mode = target.stat().st_mode
        if not stat.S_ISREG(mode) and os.path.abspath(target) != os.devnull:
            raise RecGuruError(
                f"{what} {path}: is not a regular file (a pipe or device); expected a file path"
            )
        if stat.S_ISREG(mode) and not is_progress_log(target):
            raise RecGuruError(
                f"{what} {path}: exists and is not a progress log of train; "
                "refusing to append to it (choose another path, or delete it)"
            )
    return check_writable(target, what)


def open_if_safe(path: str | Path | None, *, out: str | Path | None = None) -> ProgressFile:
    """For the last record of a run stopped before its checks ran (a SIGTERM during start-up,
    possibly mid-import): the log when appending to it is safe without loading anything (a new
    file, or already a progress log; never --out), else no log. Imports nothing heavy."""
    if not path:
        return ProgressFile(None)
    target = Path(path)
    if (out is not None and str(out).strip() and _same_path(target, Path(out))) or (
        target.exists() and (not target.is_file() or not is_progress_log(target))
    ):
        return ProgressFile(None)
    try:
        return ProgressFile(target)
    except OSError:
        return ProgressFile(None)


class ProgressFile:
    """Every step record as one JSON line, appended and flushed, so a reader can follow the run
    from another process and a reload finds it. A line is written with one write() of a short
    text on an O_APPEND file, so a reader sees whole lines (it ignores a trailing partial one)."""

    def __init__(self, path: str | Path | None):
        self.file = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115

    def write(self, record: dict) -> None:
        if self.file is not None:
            self.file.write(json.dumps(record, default=float) + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
