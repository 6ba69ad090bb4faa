"""ui/access.py: server-side sources read only under the data roots, and not at all on a
non-loopback server unless allowed; ui/store.check_source never echoes file content."""

from __future__ import annotations

import os

import pytest

from ui import access, store
from ui.text import ViewError


@pytest.fixture
def roots(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv(access.ENV_DATA_ROOTS, str(data))
    monkeypatch.setenv("RECGURU_RUNS_DIR", str(tmp_path / "runs"))
    return data


def test_default_roots_are_data_and_uploads(monkeypatch, tmp_path):
    monkeypatch.delenv(access.ENV_DATA_ROOTS, raising=False)
    monkeypatch.setenv("RECGURU_RUNS_DIR", str(tmp_path / "runs"))
    from ui.state import ROOT

    assert access.data_roots() == [(ROOT / "data").resolve(), (tmp_path / "runs" / "uploads").resolve()]


def test_several_roots_from_the_environment(monkeypatch, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    monkeypatch.setenv(access.ENV_DATA_ROOTS, os.pathsep.join([str(a), str(b)]))
    assert access.data_roots()[:2] == [a.resolve(), b.resolve()]


def test_paths_outside_the_roots_are_refused(roots, tmp_path):
    inside = roots / "Books.csv"
    inside.write_text("user_id,item_id,timestamp\n")
    access.check_paths_allowed([str(inside)])
    access.check_paths_allowed([str(roots / "missing.csv")])  # the reader says "not found"
    outside = tmp_path / "secret.csv"
    outside.write_text("password\n")
    link = roots / "link.csv"
    link.symlink_to(outside)
    sub = roots / "ml"
    sub.mkdir()
    (sub / "ratings.dat").symlink_to(outside)
    deeper = roots / "ml2" / "ml-1m"
    deeper.mkdir(parents=True)
    (deeper / "movies.dat").symlink_to(outside)
    for bad in (
        "/etc/passwd",
        str(roots / ".." / "secret.csv"),
        str(link),
        str(sub),
        str(deeper.parent),
        os.path.relpath(outside),
    ):
        with pytest.raises(ViewError, match="outside the allowed data folders") as err:
            access.check_paths_allowed([bad])
        assert str(roots) in str(err.value) and access.ENV_DATA_ROOTS in str(err.value)


def test_check_source_refuses_every_path_of_a_spec(roots):
    (roots / "a.csv").write_text("user_id,item_id,timestamp\nu,i,1\n")
    ok = str(roots / "a.csv")
    for spec in (
        f"csv:{ok},/etc/passwd",
        f"amazon:{ok},{ok},meta_a=/etc/passwd",
        "movielens:/etc",
        f"recbole:{ok},{ok},item_b=../../../../etc/passwd",
    ):
        with pytest.raises(ViewError, match="outside the allowed data folders"):
            store.check_source(spec)


def test_reader_errors_never_quote_the_file(roots):
    secret = "root:x:0:0:SECRET"
    (roots / "a.csv").write_text(f"{secret}\nline two\n")
    (roots / "b.csv").write_text(f"user_id,item_id,timestamp\nu1,i1,{secret}\n")
    (roots / "c.csv").write_text(f"user_id,item_id,timestamp\nu1,i1,1,{secret}\n")
    for name, expected in (
        ("a", "missing column"),
        ("b", "line 2: timestamp"),
        ("c", "Expected 3 columns, got 4"),
    ):
        path = roots / f"{name}.csv"
        with pytest.raises(Exception, match=expected) as err:
            store.check_source(f"csv:{path},{path}")
        assert "SECRET" not in str(err.value) and str(path) in str(err.value)


def test_the_cli_still_quotes_the_bad_value(roots):
    from recguru_core.common.errors import DataError
    from recguru_core.data.sources import load_source

    path = roots / "b.csv"
    path.write_text("user_id,item_id,timestamp\nu1,i1,BADVALUE\n")
    with pytest.raises(DataError, match="BADVALUE"):
        load_source(f"csv:{path},{path}")


@pytest.mark.parametrize(
    "address, allowed",
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("", False),
        (None, False),
        ("192.168.1.5", False),
        ("myhost.example", False),
    ],
)
def test_server_sources_only_on_loopback(monkeypatch, address, allowed):
    monkeypatch.delenv(access.ENV_ALLOW_SERVER_SOURCES, raising=False)
    monkeypatch.setattr(access.st, "get_option", lambda name: address)
    ok, why = access.server_sources_allowed()
    assert ok is allowed and (ok or access.ENV_ALLOW_SERVER_SOURCES in why)
    monkeypatch.setenv(access.ENV_ALLOW_SERVER_SOURCES, "1")
    assert access.server_sources_allowed() == (True, "")
