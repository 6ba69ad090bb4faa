"""Amazon review dumps (JSON lines, 2014 and 2018 releases, optionally gzipped)."""

from __future__ import annotations

import ast
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json

from ...common.errors import DataError
from ..raw import RawDomain
from ._common import (
    _READ_ERRORS,
    PathLike,
    _existing_file,
    _first_per_item,
    _interactions,
    _is_gzip,
    _one_line,
    _open_binary,
)

_REVIEW_FIELDS = {
    "reviewerID": pa.string(),
    "asin": pa.string(),
    "overall": pa.float64(),
    "unixReviewTime": pa.int64(),
}
_REVIEW_REQUIRED = ("reviewerID", "asin", "unixReviewTime")
_META_FIELDS = {"asin": pa.string(), "title": pa.string()}
_META_REQUIRED = ("asin",)


@dataclass
class _JsonRecords:
    """Selected fields of a JSON-lines file; `lines` maps row position -> file line (or None)."""

    frame: pd.DataFrame
    lines: list[int] | None

    def locate(self, position: int) -> str:
        return (
            f"line {self.lines[position]}" if self.lines is not None else f"record {position + 1}"
        )


def _parse_json_line(raw: bytes, path: Path, number: int) -> dict[str, Any]:
    """One line as a dict: strict JSON, or the python-literal "loose JSON" of the 2014 metadata."""
    try:
        record = json.loads(raw)
    except RecursionError:  # json's C parser recurses per nesting level
        raise DataError(f"{path}: line {number}: JSON nested too deeply") from None
    except ValueError as json_error:
        try:
            record = ast.literal_eval(raw.decode("utf-8"))
        except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError):
            raise DataError(
                f"{path}: line {number}: not valid JSON ({_one_line(json_error)})"
            ) from None
    if not isinstance(record, dict):
        raise DataError(
            f"{path}: line {number}: expected a JSON object, got {type(record).__name__}"
        )
    return record


def _read_json_lines_slowly(
    path: Path, fields: Sequence[str], required: Sequence[str]
) -> _JsonRecords:
    """Line-by-line parse: tolerant of loose JSON and exact about the line of any problem."""
    columns: dict[str, list[Any]] = {field: [] for field in fields}
    lines: list[int] = []
    try:
        with _open_binary(path) as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                record = _parse_json_line(raw, path, number)
                for field in required:
                    if record.get(field) is None:
                        raise DataError(f"{path}: line {number}: missing field '{field}'")
                for field in fields:
                    columns[field].append(record.get(field))
                lines.append(number)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot decompress ({_one_line(exc)})") from None
    frame = pd.DataFrame(
        {field: pd.Series(values, dtype=object) for field, values in columns.items()}
    )
    return _JsonRecords(frame, lines)


def _read_json_lines(
    path: Path, fields: dict[str, pa.DataType], required: Sequence[str]
) -> _JsonRecords:
    """Fast pyarrow pass over only `fields`; on any irregularity, the exact slow pass instead."""
    schema = pa.schema(list(fields.items()))
    try:
        with pa.input_stream(str(path), compression="gzip" if _is_gzip(path) else None) as stream:
            table = pa_json.read_json(
                stream,
                read_options=pa_json.ReadOptions(block_size=1 << 24),
                parse_options=pa_json.ParseOptions(
                    explicit_schema=schema, unexpected_field_behavior="ignore"
                ),
            )
    except _READ_ERRORS:
        return _read_json_lines_slowly(path, list(fields), required)
    frame = table.to_pandas()
    if frame.empty or frame[list(required)].isna().any(axis=None):
        return _read_json_lines_slowly(path, list(fields), required)
    return _JsonRecords(frame, None)


def _as_text(values: pd.Series) -> pd.Series:
    """Amazon ids and titles are strings. The slow path yields python objects; a stray number in a
    loose-JSON line is spelled as text too, missing values stay missing."""
    if values.dtype != object:
        return values
    spelled = values.map(
        lambda value: value if value is None or isinstance(value, str) else str(value)
    )
    return spelled.astype("str")


def read_amazon_domain(
    path: PathLike, *, name: str, meta_path: PathLike | None = None
) -> RawDomain:
    """Read one domain from an Amazon review dump (JSON lines, plain or gzip, 2014 or 2018).

    Fields: reviewerID -> user_id, asin -> item_id, overall -> rating, unixReviewTime ->
    timestamp; every other field (review text, votes, images) is skipped without being kept in
    memory. `meta_path` is the matching metadata dump (asin, title; strict or 2014 loose JSON);
    titles are kept for the reviewed items only.
    """
    path = _existing_file(path)
    reviews = _read_json_lines(path, _REVIEW_FIELDS, _REVIEW_REQUIRED)
    if reviews.frame.empty:
        raise DataError(f"{path}: no reviews (only blank lines)")
    frame = reviews.frame.rename(
        columns={
            "reviewerID": "user_id",
            "asin": "item_id",
            "overall": "rating",
            "unixReviewTime": "timestamp",
        }
    )
    frame["user_id"] = _as_text(frame["user_id"])
    frame["item_id"] = _as_text(frame["item_id"])
    interactions = _interactions(frame, str(path), reviews.locate)
    domain = RawDomain(name=name, interactions=interactions)
    if meta_path is not None:
        meta_path = _existing_file(meta_path)
        meta = _read_json_lines(meta_path, _META_FIELDS, _META_REQUIRED).frame
        domain.titles = _first_per_item(
            _as_text(meta["asin"]), _as_text(meta["title"]), interactions["item_id"], "title"
        )
    return domain


