"""Generic tables: CSV, TSV, Parquet (user_id, item_id, timestamp[, rating, title])."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pa_parquet

from ...common.errors import DataError
from ..raw import RawDomain
from ._common import (
    _READ_ERRORS,
    Locate,
    PathLike,
    _existing_file,
    _first_line,
    _first_per_item,
    _interactions,
    _line_after_header,
    _missing_columns_error,
    _one_line,
    _read_delimited,
    _row,
)

_DELIMITERS = {".csv": ",", ".tsv": "\t", ".txt": "\t", ".tab": "\t"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_TABLE_REQUIRED = ("user_id", "item_id", "timestamp")
_TABLE_OPTIONAL = ("rating", "title")
_TABLE_EXPECTED = "user_id, item_id, timestamp (optional: rating, title)"


def _table_format(path: Path) -> str:
    """'parquet' or the delimiter, from the suffix (a trailing .gz allowed for text formats)."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    kind = suffixes[-2] if compressed and len(suffixes) >= 2 else (suffixes[-1] if suffixes else "")
    if kind in _PARQUET_SUFFIXES:
        if compressed:
            raise DataError(
                f"{path}: a Parquet file cannot be gzipped (Parquet compresses internally)"
            )
        return "parquet"
    if kind in _DELIMITERS:
        return _DELIMITERS[kind]
    raise DataError(
        f"{path}: unknown table format; expected .csv, .tsv, .txt, .tab (each optionally .gz) "
        "or .parquet"
    )


def _read_parquet_columns(path: Path) -> pd.DataFrame:
    """Read only the interaction columns of a Parquet file (the schema is checked first)."""
    try:
        names = pa_parquet.read_schema(path).names
    except _READ_ERRORS as exc:
        raise DataError(f"{path}: not a readable Parquet file ({_one_line(exc)})") from None
    missing = [name for name in _TABLE_REQUIRED if name not in names]
    if missing:
        raise _missing_columns_error(str(path), missing, _TABLE_EXPECTED, names)
    wanted = [name for name in (*_TABLE_REQUIRED, *_TABLE_OPTIONAL) if name in names]
    try:
        frame = pa_parquet.read_table(path, columns=wanted).to_pandas()
    except _READ_ERRORS as exc:
        raise DataError(f"{path}: not a readable Parquet file ({_one_line(exc)})") from None
    return frame.reset_index(drop=True)


def read_table_domain(path: PathLike, *, name: str) -> RawDomain:
    """Read one domain from a CSV, TSV (.tsv/.txt/.tab, either optionally .gz) or Parquet file.

    Required columns: user_id, item_id, timestamp; optional: rating, title (the first title seen
    for an item becomes its entry in `RawDomain.titles`). Ids in text files are kept as text, so
    "007" stays "007"; in Parquet they keep their stored type. Timestamps may be integers,
    integral floats or ISO dates (naive dates are UTC); they become int64 unix seconds.
    Line numbers in messages count the header as line 1.
    """
    path = _existing_file(path)
    where = str(path)
    kind = _table_format(path)
    if kind == "parquet":
        frame = _read_parquet_columns(path)
        locate: Locate = _row
    else:
        try:
            header = next(csv.reader([_first_line(path)], delimiter=kind), [])
        except csv.Error as exc:
            raise DataError(f"{path}: line 1: cannot parse the header ({_one_line(exc)})") from None
        missing = [column for column in _TABLE_REQUIRED if column not in header]
        if missing:
            raise _missing_columns_error(where, missing, _TABLE_EXPECTED, header)
        wanted = [column for column in (*_TABLE_REQUIRED, *_TABLE_OPTIONAL) if column in header]
        frame = _read_delimited(
            path,
            delimiter=kind,
            columns=wanted,
            string_columns=[c for c in ("user_id", "item_id", "title") if c in wanted],
            what="CSV" if kind == "," else "TSV",
        )
        locate = _line_after_header
    interactions = _interactions(frame, where, locate)
    domain = RawDomain(name=name, interactions=interactions)
    if "title" in frame.columns:
        domain.titles = _first_per_item(interactions["item_id"], frame["title"], None, "title")
    return domain


