"""RecBole atomic files (.inter, with optional .item)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..raw import INTERACTION_COLUMNS, RawDomain
from ._common import (
    PathLike,
    _existing_file,
    _first_line,
    _first_per_item,
    _interactions,
    _line_after_header,
    _missing_columns_error,
    _read_delimited,
)
from .table import _TABLE_REQUIRED


@dataclass(frozen=True)
class _AtomicField:
    """One column of a RecBole header such as ``movie_title:token_seq``."""

    column: str  # the full header text, what pyarrow knows the column by
    name: str  # the part before the colon
    kind: str  # token, token_seq, float, float_seq ('' when untyped)


def _atomic_header(path: Path) -> dict[str, _AtomicField]:
    fields: dict[str, _AtomicField] = {}
    for column in _first_line(path).split("\t"):
        name, _, kind = column.partition(":")
        fields.setdefault(name.strip(), _AtomicField(column, name.strip(), kind.strip()))
    return fields


def _read_atomic(
    path: Path, fields: dict[str, _AtomicField], wanted: Sequence[str]
) -> pd.DataFrame:
    """Read the named fields of an atomic file; tokens as text, renamed to their bare names.

    RecBole files are never quoted, and MovieLens titles contain quote characters, so quoting is
    off.
    """
    chosen = [fields[name] for name in wanted]
    frame = _read_delimited(
        path,
        delimiter="\t",
        columns=[field.column for field in chosen],
        string_columns=[field.column for field in chosen if not field.kind.startswith("float")],
        quoted=False,
        what="a RecBole atomic file (tab-separated)",
    )
    return frame.rename(columns={field.column: field.name for field in chosen})


def _title_field(fields: dict[str, _AtomicField]) -> str | None:
    """A title-like field: one named like *title*, else one named 'name'."""
    titled = [name for name in fields if "title" in name.lower()]
    if titled:
        return titled[0]
    return next((name for name in fields if name.lower() in {"name", "item_name"}), None)


def _genre_field(fields: dict[str, _AtomicField]) -> str | None:
    """A genre-like field: named like *genre*, or class/category/categories (RecBole's names)."""
    return next(
        (
            name
            for name in fields
            if "genre" in name.lower() or name.lower() in {"class", "category", "categories"}
        ),
        None,
    )


def _read_atomic_items(item_path: PathLike) -> pd.DataFrame:
    """A RecBole .item file -> frame with item_id and, where present, title and genre columns.

    A token_seq genre (space-separated list, RecBole's convention) is re-joined with "|".
    """
    path = _existing_file(item_path)
    fields = _atomic_header(path)
    if "item_id" not in fields:
        raise _missing_columns_error(
            str(path),
            ["item_id"],
            "item_id:token (plus e.g. movie_title, genre)",
            [f.column for f in fields.values()],
        )
    title, genre = _title_field(fields), _genre_field(fields)
    wanted = ["item_id", *(name for name in (title, genre) if name is not None)]
    frame = _read_atomic(path, fields, wanted)
    items = pd.DataFrame({"item_id": frame["item_id"]})
    if title is not None:
        items["title"] = frame[title]
    if genre is not None:
        genres = frame[genre]
        if fields[genre].kind == "token_seq":
            genres = genres.str.split().str.join("|")
        items["genre"] = genres
    return items


def read_recbole_domain(
    inter_path: PathLike, *, name: str, item_path: PathLike | None = None
) -> RawDomain:
    """Read one domain from RecBole atomic files (tab-separated, typed header ``field:type``).

    The .inter file needs user_id, item_id and timestamp fields (rating optional); fields match by
    the part before the colon. The optional .item file gives titles (a field named like *title*)
    and genres (a field named like *genre*, or class/category), for the interacted items only.
    """
    path = _existing_file(inter_path)
    where = str(path)
    fields = _atomic_header(path)
    missing = [field for field in _TABLE_REQUIRED if field not in fields]
    if missing:
        raise _missing_columns_error(
            where,
            missing,
            "user_id:token, item_id:token, timestamp:float (optional rating:float)",
            [field.column for field in fields.values()],
        )
    wanted = [field for field in INTERACTION_COLUMNS if field in fields]
    interactions = _interactions(_read_atomic(path, fields, wanted), where, _line_after_header)
    domain = RawDomain(name=name, interactions=interactions)
    if item_path is not None:
        items = _read_atomic_items(item_path)
        keep = interactions["item_id"]
        if "title" in items:
            domain.titles = _first_per_item(items["item_id"], items["title"], keep, "title")
        if "genre" in items:
            domain.genres = _first_per_item(items["item_id"], items["genre"], keep, "genre")
    return domain


