"""What every reader shares: opening (gzip or not), delimited parsing with line numbers in
errors, and the vectorised column conversions to the interaction schema."""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from ...common.errors import DataError
from ..raw import INTERACTION_COLUMNS

PathLike = str | Path

# Turns a row position (0-based, after the header) into "line 7" / "row 6" for messages.
Locate = Callable[[int], str]

# Errors that decompressing or parsing can raise; each is wrapped into a one-line DataError.
_READ_ERRORS = (pa.ArrowException, OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError)

_GZIP_MAGIC = b"\x1f\x8b"
_HEADER_LIMIT = 1 << 20  # bytes read for a header line
_MISSING_SPELLINGS = ("na", "n/a", "nan", "null", "none")


# Whether error messages may quote the file's content (a value, a header, a parser's row).
# True for the CLI (the user owns the files and wants to find the bad value); a server that
# reads files on behalf of others turns it off with `content_in_errors(False)`: messages then
# still name the file, the line/row and the field, and say what was expected.
_QUOTE_CONTENT: ContextVar[bool] = ContextVar("recguru_quote_content", default=True)

# Parser messages that append the offending row ("Expected 3 columns, got 1: <row>").
_TRAILING_ROW = re.compile(r"(got \d+)\s*:.*$")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


@contextmanager
def content_in_errors(allowed: bool) -> Iterator[None]:
    """Within the block, reader errors quote file content only if `allowed`."""
    token = _QUOTE_CONTENT.set(bool(allowed))
    try:
        yield
    finally:
        _QUOTE_CONTENT.reset(token)


def quoting_content() -> bool:
    return _QUOTE_CONTENT.get()


# --------------------------------------------------------------------------------------------
# Small shared helpers
# --------------------------------------------------------------------------------------------


def _one_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception message, shortened: parser messages can quote whole rows.
    Without content quoting, a trailing row and every quoted snippet are cut out."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if not quoting_content():
        text = _QUOTED.sub("'…'", _TRAILING_ROW.sub(r"\1", text))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _existing_file(path: PathLike) -> Path:
    """Fail early, with a clear message, on the mistakes users make most: wrong path, empty file."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if not path.is_file():
        raise DataError(f"{path}: is not a file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    return path


def _is_gzip(path: Path) -> bool:
    """Decide compression by the magic bytes, not the name, and reject a `.gz` that is not gzip.

    A renamed or half-downloaded `.gz` would otherwise surface as a confusing parse error.
    """
    with path.open("rb") as handle:
        compressed = handle.read(2) == _GZIP_MAGIC
    if path.suffix.lower() == ".gz" and not compressed:
        raise DataError(f"{path}: named .gz but is not gzip-compressed (does not start with 1f 8b)")
    return compressed


def _open_binary(path: Path) -> IO[bytes]:
    """Open a possibly gzip-compressed file for reading decompressed bytes."""
    return gzip.open(path, "rb") if _is_gzip(path) else path.open("rb")


def _first_line(path: Path) -> str:
    """The decompressed first line (header) of a text file, BOM stripped."""
    try:
        with _open_binary(path) as handle:
            raw = handle.readline(_HEADER_LIMIT)  # bounded: a file without \n is one "line"
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot decompress ({_one_line(exc)})") from None
    if not raw.strip():
        raise DataError(f"{path}: file is empty (no header line)")
    line = raw.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    # readline() splits at \n only: a classic-Mac file (\r line endings) arrives whole, and a
    # bare \r inside the header line ends the header for the CSV parser too.
    return line.split("\r", 1)[0]


def _read_delimited(
    path: Path,
    *,
    delimiter: str,
    columns: Sequence[str],
    string_columns: Sequence[str] = (),
    column_names: Sequence[str] | None = None,
    quoted: bool = True,
    encoding: str = "utf8",
    what: str = "delimited text",
) -> pd.DataFrame:
    """Parse a delimited file with pyarrow (multithreaded) and return only `columns`.

    `column_names` is for header-less files. `string_columns` are read as text whatever they look
    like, so ids such as "007" survive. Empty fields become missing values; nothing else does (an
    id spelled "NA" stays "NA").
    """
    read_options = pa_csv.ReadOptions(
        column_names=list(column_names) if column_names is not None else None,
        encoding=encoding,
        block_size=1 << 24,
    )
    parse_options = pa_csv.ParseOptions(delimiter=delimiter, quote_char='"' if quoted else False)
    convert_options = pa_csv.ConvertOptions(
        include_columns=list(columns),
        column_types={name: pa.string() for name in string_columns},
        null_values=[""],
        strings_can_be_null=True,
    )
    try:
        with pa.input_stream(str(path), compression="gzip" if _is_gzip(path) else None) as stream:
            table = pa_csv.read_csv(
                stream,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
    except _READ_ERRORS as exc:
        hint = " (expected UTF-8 text)" if "UTF8" in str(exc) else ""
        raise DataError(f"{path}: cannot parse as {what}: {_one_line(exc)}{hint}") from None
    return table.to_pandas()


def _line_after_header(position: int) -> str:
    return f"line {position + 2}"


def _row(position: int) -> str:
    return f"row {position + 1}"


# --------------------------------------------------------------------------------------------
# Column conversions shared by all readers (vectorised)
# --------------------------------------------------------------------------------------------


def _shown(value: object) -> str:
    """A value as a user would write it: numpy scalars shown as plain python values. Without
    content quoting, only its kind ("a text value")."""
    value = value.item() if isinstance(value, np.generic) else value
    if not quoting_content():
        return f"(a {'text' if isinstance(value, str) else type(value).__name__} value)"
    return repr(value)


def _first_true(mask: pd.Series | np.ndarray) -> int:
    return int(np.flatnonzero(np.asarray(mask))[0])


def _plain_ids(values: pd.Series, field: str, where: str, locate: Locate) -> pd.Series:
    """Ids as read, but never missing; categoricals (from Parquet) become their plain values."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(values.cat.categories.dtype)
    missing = values.isna()
    if missing.any():
        raise DataError(f"{where}: {locate(_first_true(missing))}: missing {field}")
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=False) not in (
            "string", "integer", "bytes"):
        # Parquet can store lists or structs in a column; an id must be one text or number.
        nested = values.map(lambda v: isinstance(v, (list, tuple, dict, set, np.ndarray)))
        if nested.any():
            position = _first_true(nested)
            raise DataError(f"{where}: {locate(position)}: {field} is a "
                            f"{type(values.iloc[position]).__name__.replace('ndarray', 'list')}, "
                            "expected one text or integer id per row")
    return values.reset_index(drop=True)


def _datetimes_to_seconds(values: pd.Series) -> np.ndarray:
    """Datetimes (naive taken as UTC) -> int64 seconds since 1970-01-01 UTC, whatever the unit."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return ((values - pd.Timestamp(0)) // pd.Timedelta(seconds=1)).to_numpy(dtype=np.int64)


def _to_unix_seconds(values: pd.Series, where: str, locate: Locate) -> np.ndarray:
    """Integers, integral floats, datetimes or ISO-8601 strings -> int64 seconds; else DataError.

    Naive date strings are taken as UTC, so the same file gives the same clock on every machine.
    Fractional numbers are rejected rather than truncated: they usually mean the column is not a
    timestamp at all (e.g. rating and timestamp swapped).
    """
    missing = values.isna()
    if missing.any():
        raise DataError(f"{where}: {locate(_first_true(missing))}: missing timestamp")
    dtype = values.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        return _datetimes_to_seconds(values)
    if pd.api.types.is_bool_dtype(dtype):
        raise DataError(f"{where}: timestamp column holds true/false, expected integers or dates")
    if pd.api.types.is_integer_dtype(dtype):
        return values.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(dtype):
        numbers = values.to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            fractional = ~np.isfinite(numbers) | (numbers != np.floor(numbers))
            too_large = np.abs(numbers) >= 2.0**63
        for bad, problem in ((fractional, "is not a whole number"), (too_large, "is out of range")):
            if bad.any():
                position = _first_true(bad)
                raise DataError(
                    f"{where}: {locate(position)}: timestamp {_shown(values.iloc[position])} "
                    f"{problem} (expected integer seconds or an ISO date)"
                )
        return numbers.astype(np.int64)
    # Text (or mixed objects): all numbers, or else all ISO-8601 dates. A column that holds any
    # number is taken as numeric, so the value reported is the odd one out.
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all():
        return _to_unix_seconds(numbers, where, locate)
    if numbers.notna().any():
        position = _first_true(numbers.isna())
        raise DataError(
            f"{where}: {locate(position)}: timestamp {_shown(values.iloc[position])} is not a "
            "number (expected integer seconds throughout, or ISO dates throughout)"
        )
    dates = pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce")
    bad = dates.isna()
    if bad.any():
        position = _first_true(bad)
        raise DataError(
            f"{where}: {locate(position)}: timestamp {_shown(values.iloc[position])} is neither an "
            "integer nor an ISO date"
        )
    return _datetimes_to_seconds(pd.Series(dates))


def _to_ratings(values: pd.Series | None, length: int, where: str, locate: Locate) -> np.ndarray:
    """Ratings -> float64, NaN where missing or absent; text that is not a number -> DataError."""
    if values is None:
        return np.full(length, np.nan)
    if pd.api.types.is_bool_dtype(values.dtype):
        raise DataError(f"{where}: rating column holds true/false, expected numbers")
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        # Spellings of "no rating" that other tools write (R's NA, SQL's NULL) are not errors.
        bad &= ~values.astype(object).astype(str).str.strip().str.lower().isin(_MISSING_SPELLINGS)
    if bad.any():
        position = _first_true(bad)
        raise DataError(
            f"{where}: {locate(position)}: rating {_shown(values.iloc[position])} is not a number"
        )
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def _interactions(frame: pd.DataFrame, where: str, locate: Locate) -> pd.DataFrame:
    """Validate and normalise a frame with user_id, item_id, timestamp[, rating] columns."""
    if frame.empty:
        raise DataError(f"{where}: no interactions (the file has no data rows)")
    return pd.DataFrame(
        {
            "user_id": _plain_ids(frame["user_id"], "user_id", where, locate),
            "item_id": _plain_ids(frame["item_id"], "item_id", where, locate),
            "timestamp": _to_unix_seconds(frame["timestamp"], where, locate),
            "rating": _to_ratings(frame.get("rating"), len(frame), where, locate),
        },
        columns=list(INTERACTION_COLUMNS),
        copy=False,  # no consolidation copy: ~2 s per 10M rows; copy-on-write keeps this safe
    )


def _first_per_item(
    item_ids: pd.Series, values: pd.Series, keep: pd.Series | None, name: str
) -> pd.Series:
    """One value per item (the first non-missing one seen), restricted to items in `keep`.

    Catalogue files list items nobody interacted with (Amazon metadata lists millions); those are
    dropped so a domain's titles/genres describe that domain's items. `keep=None` keeps all.
    """
    frame = pd.DataFrame(
        {"item_id": item_ids.reset_index(drop=True), name: values.reset_index(drop=True)}
    )
    mask = frame[name].notna()
    if keep is not None:
        mask &= frame["item_id"].isin(keep.unique())
    first = frame[mask].drop_duplicates("item_id")
    return first.set_index("item_id")[name]


def _missing_columns_error(
    where: str, missing: Sequence[str], expected: str, found: Sequence[str]
) -> DataError:
    if not quoting_content():
        shown = f"{len(found)} other column(s) (names not shown)"
    else:
        shown = ", ".join(repr(name) for name in found[:20]) + (", ..." if len(found) > 20 else "")
    return DataError(
        f"{where}: missing column(s) {', '.join(missing)}; expected {expected}; found {shown}"
    )


