"""`python -m recguru_core stats` end to end: good sources and every bad-input case
(non-zero exit, one line on stderr naming the file/field, never a traceback)."""

import gzip
import json
import subprocess
import sys

import numpy as np
import pytest

from recguru_core.common.errors import DataError
from recguru_core.data.sources import parse_source


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "recguru_core", *args], capture_output=True, text=True, timeout=120
    )


def write_world(path, users, items, prefix, n=8, seed=0, header="user_id,item_id,timestamp,rating"):
    rng = np.random.default_rng(seed)
    lines = [header]
    for u in users:
        for t, i in enumerate(rng.choice(items, size=n, replace=False)):
            lines.append(f"{u},{prefix}{i},{1600000000 + t * 60},5")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def world(tmp_path):
    a = write_world(tmp_path / "books.csv", [f"u{k}" for k in range(40)], range(12), "b")
    b = write_world(tmp_path / "movies.csv", [f"u{k}" for k in range(20, 60)], range(12), "m", seed=1)
    return a, b


def test_stats_json_on_csv(world):
    a, b = world
    out = cli("stats", f"csv:{a},{b}", "--json")
    assert out.returncode == 0, out.stderr
    stats = json.loads(out.stdout)
    assert stats == {
        "A": {"users": 40, "items": 12, "interactions": 320, "avg_len": 8.0},
        "B": {"users": 40, "items": 12, "interactions": 320, "avg_len": 8.0},
        "overlap_users": 20,
    }


def test_stats_table_and_synthetic():
    out = cli("stats", "synthetic:users=600,seed=2")
    assert out.returncode == 0, out.stderr
    assert "overlapped users:" in out.stdout and "Books" in out.stdout


def test_overlap_option_is_applied(world):
    a, b = world
    out = cli("stats", f"csv:{a},{b},overlap=0", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["overlap_users"] == 0


def assert_one_line_error(out, *needles):
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert "Traceback" not in out.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_bad_inputs(tmp_path, world):
    a, b = world
    missing = tmp_path / "nope.csv"
    assert_one_line_error(cli("stats", f"csv:{missing},{b}"), "nope.csv")

    wrong = tmp_path / "wrong.csv"
    wrong.write_text("user,item,time\nu1,i1,1\n")
    assert_one_line_error(cli("stats", f"csv:{wrong},{b}"), "wrong.csv", "user_id")

    text_ts = tmp_path / "textts.csv"
    text_ts.write_text("user_id,item_id,timestamp\nu1,i1,yesterday\nu2,i2,soon\n")
    assert_one_line_error(cli("stats", f"csv:{text_ts},{b}"), "textts.csv", "timestamp")

    tiny = write_world(tmp_path / "tiny.csv", ["x1", "x2"], range(3), "t", n=3)
    assert_one_line_error(cli("stats", f"csv:{tiny},{b}"), "empty")

    other = write_world(tmp_path / "other.csv", [f"z{k}" for k in range(40)], range(12), "b")
    assert_one_line_error(cli("stats", f"csv:{other},{b},overlap=0.5"), "share no user")

    fake_gz = tmp_path / "reviews.json.gz"
    fake_gz.write_text('{"reviewerID": "u", "asin": "a", "overall": 5, "unixReviewTime": 1}\n')
    assert_one_line_error(cli("stats", f"amazon:{fake_gz},{fake_gz}"), "reviews.json.gz", "gzip")

    empty_dir = tmp_path / "ml"
    empty_dir.mkdir()
    assert_one_line_error(cli("stats", f"movielens:{empty_dir}"), str(empty_dir))

    assert_one_line_error(cli("stats", "parquet:x"), "unknown source")
    assert_one_line_error(cli("stats", f"csv:{a}"), "two paths")
    assert_one_line_error(cli("stats", f"csv:{a},{b},k_core=five"), "k_core")
    assert_one_line_error(cli("stats", f"csv:{a},{b},colour=red"), "unknown option")
    assert_one_line_error(cli("stats", "synthetic:users=many"), "users")
    assert_one_line_error(cli("stats", "synthetic:overlap=2"), "overlap")


def test_amazon_gzip_source(tmp_path):
    records = []
    for u in range(30):
        for t in range(6):
            records.append(
                json.dumps(
                    {
                        "reviewerID": f"r{u}",
                        "asin": f"B{(u + t) % 10}",
                        "overall": 5.0,
                        "unixReviewTime": 1500000000 + t,
                    }
                )
            )
    for name in ("sports", "cloth"):
        with gzip.open(tmp_path / f"{name}.json.gz", "wt") as f:
            f.write("\n".join(records) + "\n")
    out = cli("stats", f"amazon:{tmp_path / 'sports.json.gz'},{tmp_path / 'cloth.json.gz'}", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["overlap_users"] == 30


def test_parse_source_grammar():
    spec = parse_source("csv:/a b/x.csv,/y.tsv,min_rating=3,overlap=0.3")
    assert spec.kind == "csv" and spec.paths == ["/a b/x.csv", "/y.tsv"]
    assert spec.options == {"min_rating": "3", "overlap": "0.3"}
    assert parse_source("synthetic").paths == []
    with pytest.raises(DataError, match="one directory"):
        parse_source("movielens:a,b")
