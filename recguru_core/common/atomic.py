"""Atomic file writes: a temporary file in the target's directory, fsynced, renamed over the
target. A crash at any moment leaves either the old file or the new one, never half of one.
Checkpoints, benchmark results and their side files are all written through `atomic_write`."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import RecGuruError

# A save in progress is `<name>.recguru-<8 random>.tmp` beside its target: a name no user picks,
# so the clean-up of killed saves (outputs.remove_orphaned_temps) can match exactly these.
TEMP_INFIX = ".recguru-"
TEMP_RE = r"\.recguru-[a-z0-9_]{8}\.tmp"  # after re.escape(<name>); mkstemp's random part


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Call `write(f)` on a binary temp file beside `path`, then rename it over `path`.

    The file keeps the mode of the file it replaces (a new one gets 0644, not mkstemp's 0600).
    An OSError (disk full, permissions) becomes one RecGuruError line saying the previous file
    is unchanged, which the rename-last design guarantees."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + TEMP_INFIX, suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        reason = (
            "no space left on the device"
            if exc.errno == errno.ENOSPC
            else (exc.strerror or type(exc).__name__)
        )
        raise RecGuruError(f"{path}: cannot save ({reason}); the previous file is unchanged") from None
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise
