"""Plain-text helpers of the UI: escaping, one-line errors, number and time formatting.

Pure Python (no Streamlit; of recguru_core only the torch-free ground floor), so figures,
panels and the runner share them.
"""

from __future__ import annotations

import html
import math
import os
import re
from pathlib import Path

import numpy as np

from recguru_core.common.errors import RecGuruError


class ViewError(Exception):
    """Bad input or state the user can fix, raised by the UI itself (shown as one line)."""


def is_user_error(exc: BaseException) -> bool:
    """True for errors whose message is meant for the user: the core's RecGuruError family
    and ViewError."""
    return isinstance(exc, (ViewError, RecGuruError))


def describe_error(exc: BaseException) -> str:
    """The one line a user sees: the message of a user error, else type + message (a bug)."""
    return one_line(exc) if is_user_error(exc) else f"{type(exc).__name__}: {one_line(exc)}"


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~$:])")


def md(text) -> str:
    """Escape data-borne text (titles, user ids) for Streamlit markdown: no accidental
    emphasis, links, LaTeX ($) or :material/...: shortcodes."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def figure_text(text) -> str:
    """Escape data-borne text for plotly, whose labels and hover text render a subset of HTML
    (<b>, <br>, <a href>): `<`, `>` and `&` become entities, which plotly shows literally."""
    return html.escape(str(text), quote=False)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def format_seconds(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {(seconds % 3600) // 60:02d}m"


def is_nan(value) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def fmt_number(value, digits: int = 3) -> str:
    return "–" if value is None or is_nan(value) else f"{float(value):.{digits}f}"


def plain(value):
    """numpy scalars (np.str_, np.float32) -> Python ones, recursively, for tables and JSON."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def safe_name(text: str, limit: int = 60) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return name[:limit] or "file"


def name_uploads(message: str, paths, folder) -> str:
    """An uploaded file is named by its file name, not by its folder on the server."""
    uploads = os.path.realpath(folder)
    for path in paths:
        if os.path.realpath(path).startswith(uploads + os.sep):
            message = message.replace(str(path), f"uploaded {Path(path).name}")
    return message
