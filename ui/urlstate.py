"""Shareable state: the part of every page a person would send a colleague lives in the URL.

One table, `PARAMS`, says per page which query parameter drives which widget (name in the
URL, widget key, parser, default, what a notice calls it). A page calls `apply(page, …)` before
drawing its widgets (values from the URL seed the widgets' session state, checked against
the run: a stale or malformed value gives one small toast and the default) and `publish(page)`
after them (the widgets' values written back to `st.query_params`, so the address bar always
holds the current view). Two parameters are lists, handled by their pages: the Alignment
page's selected users (`sel`) and the Compare page's runs, in order (`run`). The checkpoint
is named by its file name under the checkpoints folder (`ckpt=demo`; a compared run too),
never by a path; a session's uploads are private and never put in a link.

Why not the widgets' own `bind="query-params"`: its parameter name is the widget key, a value
it cannot use is dropped silently (the issue asks for a notice), and values such as a user id
or a snapshot name must be checked against the loaded run before the widget exists.

A value from the URL is applied once: the last raw value seen per parameter is kept in the
session, so after a widget change (the URL still holding the old value until `publish`) or a
page switch (Streamlit clears the query string) the session's own state wins.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from .state import (
    DEFAULT_K,
    DEFAULT_SMOOTHING,
    K_CHECKPOINT,
    K_RANGE,
    available_checkpoints,
    checkpoint_label,
    select_checkpoint,
)
from .text import md

K_SEEN = "recguru.url_seen"  # {param name: raw value already applied from the URL}
K_NOT_SHAREABLE = "recguru.url_private"  # why the current checkpoint is not in the link

CHECKPOINT = "ckpt"
SELECTION = "sel"  # repeated: sel=A:<user>&sel=B:<user>
RUNS = "run"  # repeated, in order: run=demo&run=control_no_adv (the first is the reference)
LISTS = (SELECTION, RUNS)  # parameters whose every value counts, not only the last
MAX_LINK_USERS = 100  # a link stays a few kB however large the lasso selection


def parse_bool(raw: str) -> bool:
    value = str(raw).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def fmt_bool(value: Any) -> str:
    return "1" if value else "0"


def parse_smoothing(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value) or not 0.0 <= value <= 0.99:
        raise ValueError(raw)
    return round(value, 2)


def parse_domain(raw: str) -> str:
    value = str(raw).strip().upper()
    if value not in ("A", "B"):
        raise ValueError(raw)
    return value


def parse_k(raw: str) -> int:
    value = int(str(raw).strip())
    if not K_RANGE[0] <= value <= K_RANGE[1]:
        raise ValueError(raw)
    return value


def parse_text(raw: str) -> str:
    value = str(raw).strip()
    if not value or len(value) > 200:
        raise ValueError(raw)
    return value


def parse_range(raw: str) -> tuple[int, int]:
    """ "3-40" -> (3, 40): a slider's two ends."""
    lo, sep, hi = str(raw).strip().partition("-")
    if not sep:
        raise ValueError(raw)
    lo, hi = int(lo), int(hi)
    if not 0 <= lo <= hi:
        raise ValueError(raw)
    return lo, hi


def fmt_range(value: Any) -> str:
    return f"{int(value[0])}-{int(value[1])}"


def parse_int_list(raw: str) -> list[int]:
    """ "2,5" -> [2, 5]; "all" -> [] (a multiselect with nothing picked keeps everything)."""
    value = str(raw).strip().lower()
    if value == "all":
        return []
    items = [int(v) for v in value.split(",")]
    if not items or len(items) > 100 or min(items) < 0:
        raise ValueError(raw)
    return sorted(set(items))


def fmt_int_list(value: Any) -> str:
    return ",".join(str(int(v)) for v in sorted(value)) if value else "all"


@dataclass(frozen=True)
class Param:
    """One query parameter bound to one widget."""

    name: str  # in the URL
    key: str  # the widget's key (session state)
    parse: Callable[[str], Any]  # raw text -> value; raises ValueError when malformed
    default: Any  # None: the page supplies it (`defaults=`) or fills the widget itself
    label: str  # what a notice calls it ("snapshot", "smoothing")
    fmt: Callable[[Any], str] = str
    recheck: bool = True  # a session value is checked too (False: a typed unknown user id
    # stays in its box, where the page says what is wrong with it)


PAGE_ALIGNMENT = "alignment"
PAGE_CURVES = "curves"
PAGE_RECOMMENDATIONS = "recommendations"
PAGE_COMPARE = "compare"
PAGE_OTHER = "other"  # Home, Train, Evaluation: the checkpoint only

PARAMS: dict[str, tuple[Param, ...]] = {
    PAGE_ALIGNMENT: (
        Param("snap", "align.right", parse_text, None, "snapshot"),
        Param("color", "align.color", parse_text, "domain", "colour mode"),
        Param("links", "align.links", parse_bool, False, "link toggle", fmt_bool),
        Param("contours", "align.contours", parse_bool, False, "density-contour toggle", fmt_bool),
        Param("search", "align.search", parse_text, None, "searched user", recheck=False),
        Param("overlap", "align.overlap", parse_text, "all", "overlap filter"),
        Param("len", "align.length", parse_range, None, "history-length range", fmt_range),
        Param("clusters", "align.clusters", parse_int_list, None, "cluster filter", fmt_int_list),
    ),
    PAGE_CURVES: (
        Param(
            "smooth",
            "curves.smoothing",
            parse_smoothing,
            DEFAULT_SMOOTHING,
            "smoothing",
            lambda v: f"{float(v):g}",
        ),
        Param("log", "curves.log", parse_bool, False, "log-scale setting", fmt_bool),
        Param("snap", "curves.snapshot", parse_text, None, "snapshot"),
    ),
    PAGE_RECOMMENDATIONS: (
        Param("user", "rec.user", parse_text, None, "user", recheck=False),
        Param("domain", "rec.domain", parse_domain, None, "domain"),
        Param("k", "rec.k", parse_k, DEFAULT_K, "top k", lambda v: str(int(v))),
    ),
    PAGE_COMPARE: (),
    PAGE_OTHER: (),
}
PAGE_EXTRA = {PAGE_ALIGNMENT: (SELECTION,), PAGE_COMPARE: (RUNS,)}  # handled by the page


def _seen() -> dict:
    return st.session_state.setdefault(K_SEEN, {})


def _fresh_from_url(name: str, raw: str | None) -> bool:
    """True the first time this raw value of `name` is met in this session."""
    if raw is None or _seen().get(name) == raw:
        return False
    _seen()[name] = raw
    return True


def notice(text: str) -> None:
    st.toast(text, icon=":material/link_off:", duration="long")


def _shown(raw: str, limit: int = 40) -> str:
    raw = str(raw)
    return md(raw if len(raw) <= limit else raw[: limit - 1] + "…")


def apply(
    page: str,
    *,
    valid: Mapping[str, Callable[[Any], bool]] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """Seed the page's widgets from the URL (before they are drawn). `valid[name]` checks a
    parsed value against the run (snapshot names, user ids, colour modes); a value that fails
    it, or fails to parse, gives one notice and the default. A session value the run no longer
    accepts (another checkpoint) is reset to the default too."""
    valid, defaults = dict(valid or {}), dict(defaults or {})
    for p in PARAMS[page]:
        default = defaults.get(p.name, p.default)
        check = valid.get(p.name, lambda _v: True)
        raw = st.query_params.get(p.name)
        if _fresh_from_url(p.name, raw):
            try:
                value = p.parse(raw)
                ok = bool(check(value))
            except (TypeError, ValueError):
                ok = False
            if ok:
                st.session_state[p.key] = value
                continue
            fallback = "the default" if default is None else f"“{md(str(_label(default)))}”"
            notice(f"The link's {p.label} “{_shown(raw)}” does not fit this run; showing {fallback} instead.")
            if default is None:
                st.session_state.pop(p.key, None)
            else:
                st.session_state[p.key] = default
            continue
        if p.key in st.session_state and not p.recheck:
            continue
        if p.key in st.session_state:
            try:
                still = bool(check(st.session_state[p.key]))
            except (TypeError, ValueError):
                still = False
            if still:
                continue
        if default is None:
            st.session_state.pop(p.key, None)
        else:
            st.session_state[p.key] = default


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _set(name: str, value: str | list[str] | None) -> None:
    """Write one parameter (None removes it), only when it changes (each write is a message
    to the browser), and remember it as seen so it is not applied back."""
    current = st.query_params.get_all(name)
    wanted = [] if value is None else ([value] if isinstance(value, str) else list(value))
    if current != wanted:
        if wanted:
            st.query_params[name] = wanted if len(wanted) > 1 else wanted[0]
        elif name in st.query_params:
            del st.query_params[name]
    if wanted:
        _seen()[name] = "\n".join(wanted) if name in LISTS else wanted[-1]


def publish(page: str) -> None:
    """The page's widget values into the URL (after the widgets are drawn); parameters of the
    other pages are removed, so a link carries only what its page uses."""
    mine = {p.name for p in PARAMS[page]} | set(PAGE_EXTRA.get(page, ()))
    for params in PARAMS.values():
        for p in params:
            if p.name not in mine:
                _set(p.name, None)
    for names in PAGE_EXTRA.values():
        for name in names:
            if name not in mine:
                _set(name, None)
    for p in PARAMS[page]:
        value = st.session_state.get(p.key)
        _set(p.name, None if value is None or value == "" else p.fmt(value))


# ----------------------------------------------------------------------------- checkpoint

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


def shareable_checkpoints() -> dict[str, str]:
    """{name in a link: path}: the shipped demo and control runs and the checkpoints trained
    into the checkpoints folder. Uploads are per session and have no name in a link."""
    return {
        Path(e.path).stem: e.path for e in available_checkpoints() if e.kind in ("demo", "control", "trained")
    }


def apply_checkpoint() -> None:
    """Select the checkpoint a link names (called by setup_page before the selection is read).
    Only names of shareable_checkpoints are accepted: never a path."""
    raw = st.query_params.get(CHECKPOINT)
    if not _fresh_from_url(CHECKPOINT, raw):
        return
    path = shareable_checkpoints().get(raw) if _NAME.match(raw or "") else None
    if path is None:
        notice(
            f"The link's checkpoint “{_shown(raw)}” is not on this server; showing the "
            "default checkpoint instead."
        )
        return
    if st.session_state.get(K_CHECKPOINT) != path:
        select_checkpoint(path)


def publish_checkpoint(path: str | None) -> None:
    """The selected checkpoint's name into the URL, or nothing for a session's upload."""
    name = next((n for n, p in shareable_checkpoints().items() if p == path), None)
    _set(CHECKPOINT, name)
    st.session_state[K_NOT_SHAREABLE] = (
        None
        if name or path is None
        else f"{checkpoint_label(path)} is an upload, private to this session: a link opens the "
        "server's default checkpoint instead."
    )


# ----------------------------------------------------------------------------- selection


def link_users() -> list[dict] | None:
    """[{"user", "domain"}] named by the link's `sel` parameters the first time they are met
    in this session; None when there are none (or they were applied already)."""
    values = st.query_params.get_all(SELECTION)
    if not _fresh_from_url(SELECTION, "\n".join(values) if values else None):
        return None
    out = []
    for value in values:
        domain, sep, user = str(value).partition(":")
        if sep and domain in ("A", "B") and user:
            out.append({"user": user, "domain": domain})
    return out


def publish_selection(users: Sequence[dict]) -> None:
    _set(SELECTION, [f"{u['domain']}:{u['user']}" for u in users[:MAX_LINK_USERS]] or None)


# ----------------------------------------------------------------------------- compared runs


def apply_runs(key: str, paths: Sequence[str], default: Sequence[str]) -> None:
    """Seed the Compare page's run picker (widget `key`, options `paths`) before it is drawn.
    The link's `run` names, the first time they are met, pick the runs in their order; they
    are names of shareable_checkpoints, never paths, and one that is not (a typo, a deleted
    or private run) gives one notice and the `default` runs: a comparison with a run quietly
    missing would show other numbers than the ones the link was sent for. Otherwise the
    session's pick stays, less any run no longer there (a multiselect refuses a value that is
    not among its options)."""
    values = st.query_params.get_all(RUNS)
    if _fresh_from_url(RUNS, "\n".join(values) if values else None):
        named = shareable_checkpoints()
        picked = [named.get(v) if _NAME.match(v) else None for v in values]
        unknown = [v for v, p in zip(values, picked) if p is None or p not in paths]
        if not unknown:
            st.session_state[key] = list(dict.fromkeys(picked))  # a name twice counts once
            return
        shown = ", ".join(f"“{_shown(v)}”" for v in unknown[:3])
        shown += ", …" if len(unknown) > 3 else ""
        notice(
            f"The link's run{'s' if len(unknown) > 1 else ''} {shown} "
            f"{'are' if len(unknown) > 1 else 'is'} not on this server; comparing the "
            "default runs instead."
        )
        st.session_state[key] = list(default)
        return
    current = st.session_state.get(key)
    st.session_state[key] = list(default) if current is None else [p for p in current if p in paths]


def publish_runs(paths: Sequence[str]) -> None:
    """The compared runs' names into the URL, in order. A session's upload has no name in a
    link: it is left out, and the share control says so."""
    names = {p: n for n, p in shareable_checkpoints().items()}
    _set(RUNS, [names[p] for p in paths if p in names] or None)
    private = [checkpoint_label(p) for p in paths if p not in names]
    if private:
        note = (
            f"{', '.join(private)} {'are uploads' if len(private) > 1 else 'is an upload'}, "
            "private to this session: the link's comparison leaves "
            f"{'them' if len(private) > 1 else 'it'} out."
        )
        st.session_state[K_NOT_SHAREABLE] = " ".join(
            t for t in (st.session_state.get(K_NOT_SHAREABLE), note) if t
        )


# ----------------------------------------------------------------------------- the link


def current_link() -> str:
    """The address of this view: the page's URL in the browser with the current parameters
    (the server's own address when the browser's is unknown, e.g. in tests)."""
    try:
        base = str(st.context.url or "")
    except Exception:  # noqa: BLE001  (no browser context)
        base = ""
    parts = urlsplit(base or "http://localhost:8501/")
    pairs = [(k, v) for k in st.query_params for v in st.query_params.get_all(k)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(pairs), ""))


def share_control(*, selected: int = 0) -> None:
    """A "Share this view" popover in the sidebar: the link in a code box (its copy button
    puts it on the clipboard: Streamlit has no clipboard API of its own)."""
    with st.sidebar.popover("Share this view", icon=":material/link:", width="stretch"):
        st.code(current_link(), language=None, wrap_lines=True)
        st.caption(
            "Copy it with the button in the box's corner. The link opens this page "
            "with the same checkpoint and settings in any browser that reaches this "
            "server."
        )
        if selected > MAX_LINK_USERS:
            st.caption(f"It carries the first {MAX_LINK_USERS} of the {selected:,} selected users.")
        private = st.session_state.get(K_NOT_SHAREABLE)
        if private:
            st.caption(md(private))
