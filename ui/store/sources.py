"""Data sources and the Train page's settings: source checks, presets, synthetic worlds."""

from __future__ import annotations

import streamlit as st

from .. import access
from ..state import (
    data_upload_dir,
    file_mtime,
)
from ..text import is_user_error, name_uploads, one_line
from .runs import spinner, user_error

# ----------------------------------------------------------------------------- data sources


def source_paths(spec: str) -> list[str]:
    """Every file or folder a source spec would read: its paths and its file options
    (meta_a=, item_b=, …). Raises the core's one-line DataError for a malformed spec."""
    from recguru_core.data.sources import FILE_KEYS, parse_source

    parsed = parse_source(spec)
    return list(parsed.paths) + [
        parsed.options[k] for k in FILE_KEYS.get(parsed.kind, ()) if parsed.options.get(k)
    ]


def _source_mtimes(paths: list[str]) -> tuple:
    return tuple(file_mtime(p) for p in paths)


@st.cache_data(max_entries=16, show_spinner=False)
def _source_stats(spec: str, mtimes: tuple) -> dict:
    from recguru_core.data.sources import load_source

    # The app reads files on behalf of its users: errors never quote the file's content.
    return load_source(spec, quote_content=False).stats()


def check_source(spec: str) -> dict:
    """Table-1 statistics of a source spec, or a one-line error: malformed spec, a path outside
    the data roots (ui.access), or the reader's message (without file content). Cached per
    spec + mtimes."""
    spec = (spec or "").strip()
    if not spec:
        raise user_error("enter a source spec, e.g. csv:data/Books.csv,data/Movies.csv")
    paths = source_paths(spec)
    access.check_paths_allowed(paths)
    try:
        with spinner("Reading the data…"):
            return _source_stats(spec, _source_mtimes(paths))
    except Exception as exc:  # noqa: BLE001  (user errors re-worded, bugs re-raised)
        if not is_user_error(exc):
            raise
        raise type(exc)(name_uploads(one_line(exc), paths, data_upload_dir())) from None


@st.cache_data(show_spinner="Generating the synthetic default…")
def default_data_stats() -> dict:
    from recguru_core.data.sources import load_source

    return load_source("synthetic").stats()


def synthetic_spec(users: int, overlap: float, seed: int) -> str:
    return f"synthetic:users={int(users)},overlap={float(overlap):g},seed={int(seed)}"


def preset_values(preset: str) -> dict:
    """Default values of the Train page's fields (config.FORM_FIELDS) under a preset: the
    preset's value, else the TrainConfig / ModelConfig default. The page has no literals."""
    from recguru_core.common.config import FORM_FIELDS, PRESETS, TrainConfig
    from recguru_core.nn.model import ModelConfig

    if preset not in PRESETS:
        raise user_error(f"unknown preset {preset!r}: expected one of {', '.join(PRESETS)}")
    train, model = TrainConfig(), ModelConfig(n_items_a=2, n_items_b=2)
    values = {
        f.name: getattr(train, f.name) if hasattr(train, f.name) else getattr(model, f.name)
        for f in FORM_FIELDS
    }
    values.update({k: v for k, v in PRESETS[preset].items() if k in values})
    return values


def form_fields() -> tuple:
    """The Train page's field table (recguru_core.common.config.FORM_FIELDS: name, label, kind,
    range, step, help), written once beside the presets."""
    from recguru_core.common.config import FORM_FIELDS

    return FORM_FIELDS


def check_train_settings(preset: str, fields: dict, advanced: str = "") -> dict:
    """The overrides a Train-page job starts with: the form's fields, then the "advanced"
    box's key=value settings over them, parsed by the core's one parser and validated like
    the CLI's (one-line user error naming the key)."""
    from recguru_core.common.config import parse_key_values
    from recguru_core.train.runs import check_overrides

    extra = parse_key_values(advanced.replace(",", " ").split(), "advanced setting (e.g. w_decor=0.2)")
    return check_overrides(preset, {**fields, **extra})


def training_choices(default: str | None = None) -> dict:
    """{"presets": {name: note}, "default": preset, "critics": [...], "devices": [...]} for the
    Train page (`default` when it is a preset, else the first)."""
    from recguru_core.common.config import CRITICS, PRESET_NOTES, PRESETS

    return {
        "presets": {name: PRESET_NOTES.get(name, "") for name in PRESETS},
        "default": default if default in PRESETS else next(iter(PRESETS)),
        "critics": list(CRITICS),
        "devices": ["auto", "cpu", "cuda", "mps"],
    }


def synthetic_world(preset: str | None = None) -> dict | None:
    """{"users", "overlap", "seed"} of a synthetic world for the Train page's fields: the one
    config.PRESET_SOURCES names for `preset` (None when it names no synthetic one), or with no
    preset the generator's defaults."""
    from recguru_core.common.config import PRESET_SOURCES
    from recguru_core.data.sources import parse_source
    from recguru_core.data.synthetic import SyntheticConfig

    spec = "synthetic" if preset is None else PRESET_SOURCES.get(preset)
    if not spec or parse_source(spec).kind != "synthetic":
        return None
    options, base = parse_source(spec).options, SyntheticConfig()
    return {
        "users": int(options.get("users", base.users)),
        "overlap": float(options.get("overlap", base.overlap)),
        "seed": int(options.get("seed", base.seed)),
    }
