"""Readers: exact contents from tiny files in every real format; a clear DataError per bad input."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers.formats import (
    AMAZON_EXPECTED,
    AMAZON_META,
    AMAZON_REVIEWS,
    AMAZON_TITLES,
    ML_A_MOVIES,
    ML_MOVIES,
    RECBOLE_EXPECTED,
    RECBOLE_INTER,
    TABLE_EXPECTED,
    TABLE_TITLES,
    ml_expected,
    write_delimited,
    write_json_lines,
    write_ml1m_dat,
    write_ml100k,
    write_ml_recbole,
    write_parquet,
    write_recbole,
)

from recguru_core.common.errors import DataError
from recguru_core.data.raw import INTERACTION_COLUMNS, RawCrossDomain, RawDomain
from recguru_core.data.readers import (
    ACTION_THRILLS_GENRES,
    MOVIELENS_DOMAIN_A,
    MOVIELENS_DOMAIN_B,
    read_amazon_domain,
    read_movielens,
    read_recbole_domain,
    read_table_domain,
)


def assert_interactions(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same values and the contract's dtypes (ids by value: str or int, as the source has them)."""
    assert list(actual.columns) == list(INTERACTION_COLUMNS)
    assert actual["timestamp"].dtype == np.int64
    assert actual["rating"].dtype == np.float64
    assert actual["user_id"].tolist() == expected["user_id"].tolist()
    assert actual["item_id"].tolist() == expected["item_id"].tolist()
    assert actual["timestamp"].tolist() == expected["timestamp"].tolist()
    np.testing.assert_array_equal(actual["rating"].to_numpy(), expected["rating"].to_numpy())
    assert actual.index.equals(pd.RangeIndex(len(expected)))


def assert_data_error(call: Callable[[], object], file_name: str, *fragments: str) -> DataError:
    """The call raises DataError with one line naming `file_name` and each fragment."""
    with pytest.raises(DataError) as caught:
        call()
    message = str(caught.value)
    assert file_name in message, message
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    return caught.value


# --------------------------------------------------------------------------------------------
# read_table_domain
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("file_name", ["d.csv", "d.tsv", "d.txt", "d.tab", "d.csv.gz", "d.tsv.gz", "D.CSV"])
def test_table_text_formats(tmp_path: Path, file_name: str) -> None:
    path = write_delimited(tmp_path / file_name, sep="," if file_name.lower().startswith("d.csv") else "\t")
    domain = read_table_domain(path, name="Books")
    assert isinstance(domain, RawDomain)
    assert domain.name == "Books"
    assert_interactions(domain.interactions, TABLE_EXPECTED)
    assert domain.titles.to_dict() == TABLE_TITLES
    assert domain.genres.empty


def test_table_parquet(tmp_path: Path) -> None:
    domain = read_table_domain(write_parquet(tmp_path / "d.parquet"), name="Movies")
    assert_interactions(domain.interactions, TABLE_EXPECTED)
    assert domain.titles.to_dict() == TABLE_TITLES


def test_table_parquet_keeps_integer_ids_and_converts_datetimes(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pd.DataFrame(
        {
            "user_id": [1, 2],
            "item_id": pd.Categorical(["x", "y"]),
            "timestamp": pd.to_datetime(["2020-01-01 00:00:00", "2020-01-01 00:00:10"]).tz_localize(
                "Europe/Paris"
            ),
        }
    ).to_parquet(path)
    interactions = read_table_domain(path, name="d").interactions
    assert interactions["user_id"].dtype == np.int64
    assert interactions["item_id"].tolist() == ["x", "y"]
    assert interactions["timestamp"].tolist() == [1577833200, 1577833210]
    assert interactions["rating"].isna().all()


def test_table_without_optional_columns_and_column_order(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("timestamp,extra,item_id,user_id\n5,z,10,001\n6,z,11,002\n")
    domain = read_table_domain(path, name="d")
    assert domain.interactions["user_id"].tolist() == ["001", "002"]
    assert domain.interactions["item_id"].tolist() == ["10", "11"]
    assert domain.interactions["timestamp"].tolist() == [5, 6]
    assert domain.interactions["rating"].isna().all()
    assert domain.titles.empty


@pytest.mark.parametrize(
    ("stamps", "expected"),
    [
        (["1600000000.0", "1600000001.0"], [1600000000, 1600000001]),
        (["2020-01-01", "2020-01-02"], [1577836800, 1577923200]),
        (["2020-01-01T00:00:10Z", "2020-01-01 01:00:20+01:00"], [1577836810, 1577836820]),
        (["2020-01-01T00:00:00", "2020-01-01"], [1577836800, 1577836800]),
    ],
)
def test_table_timestamp_forms(tmp_path: Path, stamps: list[str], expected: list[int]) -> None:
    rows = [("u", f"i{k}", stamp) for k, stamp in enumerate(stamps)]
    path = write_delimited(tmp_path / "d.csv", rows=rows, header=("user_id", "item_id", "timestamp"))
    assert read_table_domain(path, name="d").interactions["timestamp"].tolist() == expected


def test_table_quoted_csv_fields(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('user_id,item_id,timestamp,title\nu,i,1,"Hello, ""World"""\n')
    assert read_table_domain(path, name="d").titles.to_dict() == {"i": 'Hello, "World"'}


# --- bad tables -----------------------------------------------------------------------------


def test_table_missing_file(tmp_path: Path) -> None:
    assert_data_error(lambda: read_table_domain(tmp_path / "nope.csv", name="d"), "nope.csv", "not found")


def test_table_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    assert_data_error(lambda: read_table_domain(tmp_path / "empty.csv", name="d"), "empty.csv", "empty")


def test_table_empty_gzip(tmp_path: Path) -> None:
    (tmp_path / "empty.csv.gz").write_bytes(gzip.compress(b""))
    assert_data_error(lambda: read_table_domain(tmp_path / "empty.csv.gz", name="d"), "empty.csv.gz", "empty")


def test_table_header_only(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("user_id,item_id,timestamp\n")
    assert_data_error(lambda: read_table_domain(tmp_path / "h.csv", name="d"), "h.csv", "no data rows")


def test_table_missing_columns(tmp_path: Path) -> None:
    path = write_delimited(tmp_path / "cols.csv", rows=[("u", "i")], header=("user", "item_id"))
    assert_data_error(lambda: read_table_domain(path, name="d"), "cols.csv", "user_id", "timestamp", "'user'")


def test_table_non_numeric_timestamp(tmp_path: Path) -> None:
    rows = [("u", "i", "1600000000"), ("u", "j", "yesterday")]
    path = write_delimited(tmp_path / "ts.csv", rows=rows, header=("user_id", "item_id", "timestamp"))
    assert_data_error(lambda: read_table_domain(path, name="d"), "ts.csv", "line 3", "timestamp", "yesterday")


def test_table_fractional_timestamp(tmp_path: Path) -> None:
    rows = [("u", "i", "1.0"), ("u", "j", "1.5")]
    path = write_delimited(tmp_path / "ts.tsv", rows=rows, header=("user_id", "item_id", "timestamp"))
    assert_data_error(lambda: read_table_domain(path, name="d"), "ts.tsv", "line 3", "whole number")


def test_table_missing_timestamp_value(tmp_path: Path) -> None:
    rows = [("u", "i", "1"), ("u", "j", "")]
    path = write_delimited(tmp_path / "ts.csv", rows=rows, header=("user_id", "item_id", "timestamp"))
    assert_data_error(lambda: read_table_domain(path, name="d"), "ts.csv", "line 3", "missing timestamp")


def test_table_non_numeric_rating(tmp_path: Path) -> None:
    rows = [("u", "i", "1", "4"), ("u", "j", "2", "good")]
    path = write_delimited(
        tmp_path / "r.csv", rows=rows, header=("user_id", "item_id", "timestamp", "rating")
    )
    assert_data_error(lambda: read_table_domain(path, name="d"), "r.csv", "line 3", "rating", "good")


def test_table_missing_id(tmp_path: Path) -> None:
    rows = [("u", "i", "1"), ("", "j", "2")]
    path = write_delimited(tmp_path / "ids.csv", rows=rows, header=("user_id", "item_id", "timestamp"))
    assert_data_error(lambda: read_table_domain(path, name="d"), "ids.csv", "line 3", "user_id")


def test_table_ragged_row(tmp_path: Path) -> None:
    (tmp_path / "rag.csv").write_text("user_id,item_id,timestamp\nu,i,1\nu,j\n")
    assert_data_error(lambda: read_table_domain(tmp_path / "rag.csv", name="d"), "rag.csv", "cannot parse")


def test_table_gz_that_is_not_gzip(tmp_path: Path) -> None:
    path = tmp_path / "fake.csv.gz"
    path.write_text("user_id,item_id,timestamp\nu,i,1\n")
    assert_data_error(lambda: read_table_domain(path, name="d"), "fake.csv.gz", "not gzip")


def test_table_truncated_gzip(tmp_path: Path) -> None:
    data = gzip.compress(("user_id,item_id,timestamp\n" + "u,i,1\n" * 1000).encode())
    (tmp_path / "cut.csv.gz").write_bytes(data[: len(data) // 2])
    assert_data_error(lambda: read_table_domain(tmp_path / "cut.csv.gz", name="d"), "cut.csv.gz")


def test_table_unknown_extension(tmp_path: Path) -> None:
    (tmp_path / "d.xlsx").write_bytes(b"PK\x03\x04")
    assert_data_error(lambda: read_table_domain(tmp_path / "d.xlsx", name="d"), "d.xlsx", ".csv", ".parquet")


def test_table_unreadable_parquet(tmp_path: Path) -> None:
    (tmp_path / "bad.parquet").write_bytes(b"this is not parquet at all")
    assert_data_error(lambda: read_table_domain(tmp_path / "bad.parquet", name="d"), "bad.parquet", "Parquet")


def test_table_parquet_missing_columns(tmp_path: Path) -> None:
    pd.DataFrame({"user_id": ["u"], "item": ["i"], "timestamp": [1]}).to_parquet(tmp_path / "c.parquet")
    assert_data_error(lambda: read_table_domain(tmp_path / "c.parquet", name="d"), "c.parquet", "item_id")


def test_table_parquet_bad_timestamp_names_row(tmp_path: Path) -> None:
    frame = pd.DataFrame({"user_id": ["u", "v"], "item_id": ["i", "j"], "timestamp": ["2020-01-01", "soon"]})
    frame.to_parquet(tmp_path / "t.parquet")
    assert_data_error(
        lambda: read_table_domain(tmp_path / "t.parquet", name="d"), "t.parquet", "row 2", "soon"
    )


def test_table_directory_instead_of_file(tmp_path: Path) -> None:
    (tmp_path / "dir.csv").mkdir()
    assert_data_error(lambda: read_table_domain(tmp_path / "dir.csv", name="d"), "dir.csv", "not a file")


# --------------------------------------------------------------------------------------------
# read_amazon_domain
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_amazon_reviews_with_metadata(tmp_path: Path, suffix: str) -> None:
    reviews = write_json_lines(tmp_path / f"Books{suffix}", AMAZON_REVIEWS, blank_line=True)
    meta = write_json_lines(tmp_path / f"meta_Books{suffix}", AMAZON_META)
    domain = read_amazon_domain(reviews, name="Books", meta_path=meta)
    assert domain.name == "Books"
    assert_interactions(domain.interactions, AMAZON_EXPECTED)
    assert domain.titles.to_dict() == AMAZON_TITLES


def test_amazon_without_metadata(tmp_path: Path) -> None:
    domain = read_amazon_domain(write_json_lines(tmp_path / "r.json", AMAZON_REVIEWS), name="B")
    assert_interactions(domain.interactions, AMAZON_EXPECTED)
    assert domain.titles.empty


def test_amazon_gzip_detected_by_magic_not_name(tmp_path: Path) -> None:
    path = tmp_path / "reviews.json"
    path.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in AMAZON_REVIEWS).encode()))
    assert_interactions(read_amazon_domain(path, name="B").interactions, AMAZON_EXPECTED)


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_amazon_loose_2014_metadata(tmp_path: Path, suffix: str) -> None:
    reviews = write_json_lines(tmp_path / "r.json", AMAZON_REVIEWS)
    meta = write_json_lines(tmp_path / f"meta{suffix}", AMAZON_META, loose=True)
    assert (
        "'asin'" in gzip.decompress(meta.read_bytes()).decode()
        if suffix.endswith(".gz")
        else meta.read_text()
    )
    domain = read_amazon_domain(reviews, name="B", meta_path=meta)
    assert domain.titles.to_dict() == AMAZON_TITLES


def test_amazon_irregular_types_use_exact_path(tmp_path: Path) -> None:
    """A string timestamp defeats the fast reader; the line-by-line path still gets it right."""
    records = [dict(AMAZON_REVIEWS[0]), dict(AMAZON_REVIEWS[1])]
    records[1]["unixReviewTime"] = "1600000100"
    path = write_json_lines(tmp_path / "r.json", records)
    interactions = read_amazon_domain(path, name="B").interactions
    assert interactions["timestamp"].tolist() == [1600000000, 1600000100]
    assert interactions["user_id"].tolist() == ["A1", "A2"]


def test_amazon_line_not_json(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(AMAZON_REVIEWS[0]) + "\n" + json.dumps(AMAZON_REVIEWS[1]) + "\n{oops\n")
    assert_data_error(lambda: read_amazon_domain(path, name="B"), "r.json", "line 3", "JSON")


def test_amazon_bad_line_in_gzip_metadata(tmp_path: Path) -> None:
    reviews = write_json_lines(tmp_path / "r.json", AMAZON_REVIEWS)
    meta = tmp_path / "meta.json.gz"
    meta.write_bytes(gzip.compress(b'{"asin": "0001", "title": "x"}\nnot json at all\n'))
    assert_data_error(lambda: read_amazon_domain(reviews, name="B", meta_path=meta), "meta.json.gz", "line 2")


def test_amazon_line_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(AMAZON_REVIEWS[0]) + "\n[1, 2]\n")
    assert_data_error(lambda: read_amazon_domain(path, name="B"), "r.json", "line 2", "object")


def test_amazon_missing_field(tmp_path: Path) -> None:
    broken = {k: v for k, v in AMAZON_REVIEWS[1].items() if k != "unixReviewTime"}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(AMAZON_REVIEWS[0]) + "\n\n" + json.dumps(broken) + "\n")
    assert_data_error(lambda: read_amazon_domain(path, name="B"), "r.json", "line 3", "unixReviewTime")


def test_amazon_non_numeric_rating(tmp_path: Path) -> None:
    records = [dict(AMAZON_REVIEWS[0]), dict(AMAZON_REVIEWS[1])]
    records[1]["overall"] = "five"
    path = write_json_lines(tmp_path / "r.json", records)
    assert_data_error(lambda: read_amazon_domain(path, name="B"), "r.json", "line 2", "rating", "five")


def test_amazon_gz_that_is_not_gzip(tmp_path: Path) -> None:
    path = tmp_path / "r.json.gz"
    path.write_text(json.dumps(AMAZON_REVIEWS[0]) + "\n")
    assert_data_error(lambda: read_amazon_domain(path, name="B"), "r.json.gz", "not gzip")


def test_amazon_metadata_gz_that_is_not_gzip(tmp_path: Path) -> None:
    reviews = write_json_lines(tmp_path / "r.json", AMAZON_REVIEWS)
    (tmp_path / "m.json.gz").write_text('{"asin": "0001"}\n')
    assert_data_error(
        lambda: read_amazon_domain(reviews, name="B", meta_path=tmp_path / "m.json.gz"),
        "m.json.gz",
        "not gzip",
    )


@pytest.mark.parametrize("content", [b"", b"\n\n"])
def test_amazon_empty(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "r.json").write_bytes(content)
    assert_data_error(lambda: read_amazon_domain(tmp_path / "r.json", name="B"), "r.json")


def test_amazon_missing_files(tmp_path: Path) -> None:
    assert_data_error(lambda: read_amazon_domain(tmp_path / "r.json", name="B"), "r.json", "not found")
    reviews = write_json_lines(tmp_path / "r.json", AMAZON_REVIEWS)
    assert_data_error(
        lambda: read_amazon_domain(reviews, name="B", meta_path=tmp_path / "m.json"),
        "m.json",
        "not found",
    )


# --------------------------------------------------------------------------------------------
# read_recbole_domain
# --------------------------------------------------------------------------------------------


def test_recbole_inter_and_item(tmp_path: Path) -> None:
    inter, item = write_recbole(tmp_path)
    domain = read_recbole_domain(inter, name="Movies", item_path=item)
    assert domain.name == "Movies"
    assert_interactions(domain.interactions, RECBOLE_EXPECTED)
    # Titles from movie_title (a token_seq, kept as text); the unrated movie is dropped.
    assert domain.titles.to_dict() == {
        '"Great" Movie (1990)': '"Great" Movie',
        "Plain (1991)": "Plain",
    }
    assert domain.genres.to_dict() == {
        '"Great" Movie (1990)': "Action|Comedy",
        "Plain (1991)": "Drama",
    }


def test_recbole_without_item_file(tmp_path: Path) -> None:
    inter, _ = write_recbole(tmp_path, item=None)
    domain = read_recbole_domain(inter, name="Movies")
    assert_interactions(domain.interactions, RECBOLE_EXPECTED)
    assert domain.titles.empty and domain.genres.empty


def test_recbole_class_field_and_untyped_header(tmp_path: Path) -> None:
    inter, item = write_recbole(
        tmp_path,
        inter="item_id\tuser_id\ttimestamp\n7\t1\t10\n8\t1\t11\n",
        item="item_id:token\tclass:token\n7\tSci-Fi Thriller\n8\tDrama\n",
    )
    domain = read_recbole_domain(inter, name="d", item_path=item)
    assert domain.interactions["user_id"].tolist() == ["1", "1"]
    assert domain.interactions["item_id"].tolist() == ["7", "8"]
    assert domain.interactions["rating"].isna().all()
    # a plain token is one genre name, kept as written
    assert domain.genres.to_dict() == {"7": "Sci-Fi Thriller", "8": "Drama"}
    assert domain.titles.empty


def test_recbole_missing_timestamp_field(tmp_path: Path) -> None:
    inter, _ = write_recbole(tmp_path, stem="nots", inter="user_id:token\titem_id:token\n1\t2\n", item=None)
    assert_data_error(lambda: read_recbole_domain(inter, name="d"), "nots.inter", "timestamp")


def test_recbole_non_numeric_timestamp(tmp_path: Path) -> None:
    text = RECBOLE_INTER.replace("881250950.0", "later")
    inter, _ = write_recbole(tmp_path, stem="bad", inter=text, item=None)
    assert_data_error(lambda: read_recbole_domain(inter, name="d"), "bad.inter", "line 3", "later")


def test_recbole_non_numeric_rating(tmp_path: Path) -> None:
    text = RECBOLE_INTER.replace("\t3.5\t", "\tmeh\t")
    inter, _ = write_recbole(tmp_path, stem="bad", inter=text, item=None)
    assert_data_error(lambda: read_recbole_domain(inter, name="d"), "bad.inter", "rating")


def test_recbole_item_without_item_id(tmp_path: Path) -> None:
    inter, item = write_recbole(tmp_path, stem="x", item="movie_id:token\ttitle:token\n1\tA\n")
    assert_data_error(lambda: read_recbole_domain(inter, name="d", item_path=item), "x.item", "item_id")


def test_recbole_missing_and_empty_files(tmp_path: Path) -> None:
    assert_data_error(lambda: read_recbole_domain(tmp_path / "a.inter", name="d"), "a.inter", "not found")
    (tmp_path / "e.inter").write_bytes(b"")
    assert_data_error(lambda: read_recbole_domain(tmp_path / "e.inter", name="d"), "e.inter", "empty")
    inter, _ = write_recbole(tmp_path, item=None)
    assert_data_error(
        lambda: read_recbole_domain(inter, name="d", item_path=tmp_path / "gone.item"),
        "gone.item",
        "not found",
    )


# --------------------------------------------------------------------------------------------
# read_movielens
# --------------------------------------------------------------------------------------------

ML_TITLES = {movie: title for movie, title, _ in ML_MOVIES}
ML_GENRES = {movie: "|".join(genres) for movie, _, genres in ML_MOVIES if genres}


def assert_movielens_split(
    data: RawCrossDomain, *, ids_as_titles: bool = False, users_prefix: str = ""
) -> None:
    def key(movie: int) -> object:
        return ML_TITLES[movie] if ids_as_titles else movie

    assert data.a.name == MOVIELENS_DOMAIN_A == "Action & Thrills"
    assert data.b.name == MOVIELENS_DOMAIN_B == "Drama & Comedy"
    for domain, is_a in ((data.a, True), (data.b, False)):
        assert_interactions(
            domain.interactions,
            ml_expected(is_a, ids_as_titles=ids_as_titles, users_prefix=users_prefix),
        )
        movies = [m for m, _, _ in ML_MOVIES if (m in ML_A_MOVIES) == is_a]
        assert domain.titles.to_dict() == {key(m): ML_TITLES[m] for m in movies}
        assert domain.genres.to_dict() == {key(m): ML_GENRES[m] for m in movies if m in ML_GENRES}
    assert data.user_cluster is None


def test_movielens_ml1m_dat(tmp_path: Path) -> None:
    data = read_movielens(write_ml1m_dat(tmp_path / "ml-1m"))
    assert_movielens_split(data)
    assert data.a.interactions["user_id"].dtype == np.int64
    assert "ml-1m" in data.source


def test_movielens_ml100k(tmp_path: Path) -> None:
    data = read_movielens(write_ml100k(tmp_path))
    assert_movielens_split(data)
    assert "ml-100k" in data.source


@pytest.mark.parametrize("dataset", ["ml-100k", "ml-1m"])
def test_movielens_recbole_one_level_down(tmp_path: Path, dataset: str) -> None:
    """As tools/get_movielens.sh leaves it: DIR/ml-100k/ml-100k.inter."""
    write_ml_recbole(tmp_path / dataset, dataset)
    data = read_movielens(tmp_path)
    prefix = dataset.removeprefix("ml-") + "_"
    assert_movielens_split(data, ids_as_titles=True, users_prefix=prefix)
    assert dataset in data.source


def test_movielens_prefers_ml1m(tmp_path: Path) -> None:
    write_ml100k(tmp_path)  # at the top ...
    write_ml_recbole(tmp_path / "ml-1m", "ml-1m")  # ... but ml-1m one level down wins
    data = read_movielens(tmp_path)
    assert "ml-1m" in data.source
    assert data.a.interactions["user_id"].iloc[0].startswith("1m_")


def test_movielens_rule_matches_whole_genre_names() -> None:
    assert ACTION_THRILLS_GENRES == {
        "Action",
        "Adventure",
        "Sci-Fi",
        "Thriller",
        "War",
        "Western",
        "Fantasy",
        "Horror",
    }


def test_movielens_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    assert_data_error(lambda: read_movielens(tmp_path), tmp_path.name, "ratings.dat", "u.data", "ml-1m.inter")


def test_movielens_not_a_directory(tmp_path: Path) -> None:
    assert_data_error(lambda: read_movielens(tmp_path / "missing"), "missing", "folder")


def test_movielens_ratings_without_movies(tmp_path: Path) -> None:
    write_ml1m_dat(tmp_path)
    (tmp_path / "movies.dat").unlink()
    assert_data_error(lambda: read_movielens(tmp_path), tmp_path.name, "movies.dat")


def test_movielens_bad_ratings_line(tmp_path: Path) -> None:
    write_ml1m_dat(tmp_path)
    with (tmp_path / "ratings.dat").open("a") as handle:
        handle.write("9::1::5\n")
    assert_data_error(lambda: read_movielens(tmp_path), "ratings.dat")


def test_movielens_bad_movies_line(tmp_path: Path) -> None:
    write_ml1m_dat(tmp_path)
    with (tmp_path / "movies.dat").open("a") as handle:
        handle.write("x::Title (2000)::Drama\n")
    assert_data_error(lambda: read_movielens(tmp_path), "movies.dat", f"line {len(ML_MOVIES) + 1}")


def test_movielens_bad_u_item(tmp_path: Path) -> None:
    write_ml100k(tmp_path)
    (tmp_path / "u.item").write_text("1|Toy Story (1995)|only a few fields\n")
    assert_data_error(lambda: read_movielens(tmp_path), "u.item")


def test_table_missing_rating_spellings(tmp_path: Path) -> None:
    rows = [("u", "i", "1", "NA"), ("u", "j", "2", "4"), ("u", "k", "3", "null")]
    path = write_delimited(
        tmp_path / "r.csv", rows=rows, header=("user_id", "item_id", "timestamp", "rating")
    )
    ratings = read_table_domain(path, name="d").interactions["rating"].to_numpy()
    np.testing.assert_array_equal(ratings, [np.nan, 4.0, np.nan])


def test_table_mixed_numbers_and_dates(tmp_path: Path) -> None:
    rows = [("u", "i", "1600000000"), ("u", "j", "2020-01-01")]
    path = write_delimited(tmp_path / "mix.csv", rows=rows, header=("user_id", "item_id", "timestamp"))
    assert_data_error(lambda: read_table_domain(path, name="d"), "mix.csv", "line 3", "2020-01-01")


def test_amazon_clean_files_take_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Big dumps must not go through the per-line python parser when nothing is wrong."""
    import recguru_core.data.readers.amazon as readers

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("slow JSON path used on a clean file")

    monkeypatch.setattr(readers, "_read_json_lines_slowly", refuse)
    reviews = write_json_lines(tmp_path / "r.json.gz", AMAZON_REVIEWS, blank_line=True)
    meta = write_json_lines(tmp_path / "m.json.gz", AMAZON_META)
    domain = read_amazon_domain(reviews, name="B", meta_path=meta)
    assert_interactions(domain.interactions, AMAZON_EXPECTED)
    assert domain.titles.to_dict() == AMAZON_TITLES
