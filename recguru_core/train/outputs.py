"""Checks on an output path made before any work starts, so nothing the user saved is lost and a
path that cannot be written fails in the first second, not after the first unit of training.

    check_writable(out, what)      the path is a file path whose folder can be created/written
    check_train_output(out, ...)   + not an input data file, not a checkpoint we would replace
                                   without --force; orphaned temp files of killed saves removed
    resume_mismatch(ckpt, ...)     what a --resume command line asks for that the saved run is not
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..common.errors import RecGuruError


def _one_line(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def check_writable(out: str | Path, what: str = "--out") -> Path:
    """Refuse (RecGuruError) an output path that is a folder, sits under a file, or cannot be
    written; create its missing parent folders. Returns the path."""
    path = Path(out)
    if str(out).strip() == "" or path.name in ("", ".", ".."):
        raise RecGuruError(f"{what} {str(out)!r}: expected a file path, e.g. runs/model.pt")
    if path.is_dir():
        raise RecGuruError(
            f"{what} {out}: is a directory; expected a file path inside it, e.g. {path / 'model.pt'}"
        )
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise RecGuruError(f"{what} {out}: {parent} is a file, not a directory")
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=path.name + ".", suffix=".probe", dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise RecGuruError(f"{what} {out}: cannot write in {path.parent} ({_one_line(exc)})") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise RecGuruError(f"{what} {out}: the file is read-only")
    return path


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def input_files(source: str) -> list[Path]:
    """The data files a source spec reads (a movielens folder: every file in it)."""
    from ..data.sources import parse_source

    spec = parse_source(source)
    files: list[Path] = []
    for text in spec.paths:
        path = Path(text)
        files.extend(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else files.append(path)
    return files


def remove_orphaned_temps(out: Path) -> list[Path]:
    """Temp files `<name>.recguru-<random>.tmp` beside `out` are what a save killed mid-write
    leaves (atomic.TEMP_RE); the next run of the same output removes them (only one run writes
    one output at a time). Nothing else is touched: not `<name>.notes.tmp`, not a link, not a
    folder, not a temp file of an older version's naming."""
    import re

    from ..common.atomic import TEMP_RE

    pattern = re.compile(re.escape(out.name) + TEMP_RE)
    removed = []
    for tmp in out.parent.glob(out.name + ".*.tmp"):
        if not pattern.fullmatch(tmp.name) or tmp.is_symlink() or not tmp.is_file():
            continue
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            pass
    return removed


def check_train_output(out: str | Path, *, source: str | None, force: bool, resume: bool) -> Path:
    """Everything `train` checks about --out before it loads data or builds a model."""
    path = check_writable(out)
    for data_file in input_files(source) if source else []:
        if _same_file(path, data_file):
            raise RecGuruError(
                f"--out {out}: is an input data file of the source; choose another "
                "path (it would be overwritten with a checkpoint)"
            )
    if path.is_file() and not resume and not force:
        from .checkpoints import checkpoint_status

        status = checkpoint_status(path)
        if status is None:
            raise RecGuruError(
                f"--out {out}: exists and is not a RecGURU checkpoint; refusing to "
                "overwrite it (choose another path, or pass --force)"
            )
        if status == "complete":
            raise RecGuruError(
                f"--out {out}: holds a complete checkpoint; pass --force to replace "
                "it, or choose another --out"
            )
        raise RecGuruError(
            f"--out {out}: holds an unfinished run; pass --resume to continue it or --force to start over"
        )
    remove_orphaned_temps(path)
    return path


def resume_mismatch(
    ckpt: dict, *, source: str | None, preset: str | None, seed: int | None, overrides: dict[str, str]
) -> list[str]:
    """The differences between a --resume command line and the run saved in `ckpt`, as
    'what: saved -> asked' phrases (empty: the command asks for nothing the run is not)."""
    config = ckpt.get("config") or {}
    extra = config.get("extra") or {}
    diffs = []
    saved_source = extra.get("source")
    if source is not None and saved_source is not None and source.strip() != str(saved_source).strip():
        diffs.append(f"source {saved_source} -> {source}")
    if preset is not None and extra.get("preset") not in (None, preset):
        diffs.append(f"preset {extra.get('preset')} -> {preset}")
    train = config.get("train") or {}
    if seed is not None and train.get("seed", seed) != seed:
        diffs.append(f"seed {train.get('seed')} -> {seed}")
    from ..common.config import convert

    sections = [config.get("model") or {}, train]
    for key, text in overrides.items():
        key = key.replace("-", "_")
        for section in sections:
            if key in section:
                saved = section[key]
                asked = convert(key, text, saved, "override")
                if asked != saved:
                    diffs.append(f"{key} {saved} -> {asked}")
                break
        else:
            diffs.append(f"{key}: not a setting of the saved run")
    return diffs
