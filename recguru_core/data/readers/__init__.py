"""File formats -> `RawDomain` / `RawCrossDomain`: the only package that knows how data sits on disk.

Every reader returns interactions with the columns of `raw.INTERACTION_COLUMNS`:
``user_id`` and ``item_id`` as the source spells them, ``timestamp`` as int64 unix seconds (or the
source's own integer clock), ``rating`` as float64 (NaN where the source has none). Anything the
reader cannot make sense of raises `DataError` with one line naming the file and, where it can,
the line/row and field, so a user can open the file and fix it. No pandas, pyarrow, gzip or json
traceback escapes.

Speed: delimited files (CSV, TSV, RecBole atomic files, MovieLens ``ratings.dat``/``u.data``) are
parsed by pyarrow's multithreaded CSV reader, Parquet by pyarrow, and every check or conversion
afterwards is vectorised; ten million CSV rows take a few seconds. Amazon JSON lines go through
pyarrow's JSON reader asking only for the four fields we keep; only when that fast path fails
(malformed line, missing field, the 2014 metadata's python-literal "loose JSON") do we fall back
to a line-by-line pass, which is what gives the exact line number in the error.
"""

from .amazon import read_amazon_domain
from .c2dsr import read_c2dsr
from .movielens import (
                        ACTION_THRILLS_GENRES,
                        MOVIELENS_DOMAIN_A,
                        MOVIELENS_DOMAIN_B,
                        read_movielens,
)
from .recbole import read_recbole_domain
from .table import read_table_domain

__all__ = [
    "ACTION_THRILLS_GENRES",
    "MOVIELENS_DOMAIN_A",
    "MOVIELENS_DOMAIN_B",
    "read_amazon_domain",
    "read_c2dsr",
    "read_movielens",
    "read_recbole_domain",
    "read_table_domain",
]
