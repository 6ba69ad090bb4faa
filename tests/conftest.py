import os

# Under pytest-xdist (`-n 2`), every worker (and every CLI subprocess it starts) keeps to one
# intra-op thread: two torch processes with all threads on 2 cores slow each other 10x or more.
# Set before anything imports torch, which reads it once.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path

import pandas as pd
import pytest
from helpers.app import DEMO, point_app_at

from recguru_core.data.raw import RawCrossDomain, RawDomain


@pytest.fixture(scope="session", autouse=True)
def _own_runs_folder(tmp_path_factory):
    """The app's working files (training jobs, uploads) go to this session's temp folder, never
    the checkout's runs/: a test run must not touch a user's files, and two xdist workers must
    not see each other's training job (the server-wide slot reads the jobs folder)."""
    before = os.environ.get("RECGURU_RUNS_DIR")
    os.environ["RECGURU_RUNS_DIR"] = str(tmp_path_factory.getbasetemp() / "runs")
    yield
    if before is None:
        os.environ.pop("RECGURU_RUNS_DIR", None)
    else:
        os.environ["RECGURU_RUNS_DIR"] = before


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors: intra-op threads only add barrier waits (badly so on a busy CPU)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_domain(name, rows, titles=None):
    """rows: list of (user, item, timestamp[, rating])."""
    df = pd.DataFrame(
        [(u, i, t, r[0] if r else float("nan")) for u, i, t, *r in rows],
        columns=["user_id", "item_id", "timestamp", "rating"],
    )
    df["timestamp"] = df["timestamp"].astype("int64")
    df["rating"] = df["rating"].astype("float64")
    return RawDomain(name=name, interactions=df, titles=pd.Series(titles or {}, dtype=object))


@pytest.fixture
def make_raw():
    def _make(rows_a, rows_b, cluster=None):
        return RawCrossDomain(
            make_domain("A", rows_a),
            make_domain("B", rows_b),
            user_cluster=None if cluster is None else pd.Series(cluster),
        )

    return _make


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A tiny run trained once per session through the app's training runner (test_app.py)."""
    from helpers.app import tiny_checkpoint_file

    return tiny_checkpoint_file(tmp_path_factory)


@pytest.fixture(params=["demo", "tiny"])
def app_checkpoint(request, monkeypatch, tmp_path) -> Path:
    if request.param == "demo":
        if not DEMO.is_file():
            pytest.skip("checkpoints/demo.pt is not there yet")
        source = DEMO
    else:
        source = request.getfixturevalue("tiny")
    point_app_at(monkeypatch, tmp_path, source)
    return source


@pytest.fixture
def tiny_app(monkeypatch, tmp_path, tiny) -> Path:
    point_app_at(monkeypatch, tmp_path, tiny)
    return tiny
