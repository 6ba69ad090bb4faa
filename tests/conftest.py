from pathlib import Path

import pandas as pd
import pytest
from helpers.app import DEMO, point_app_at

from recguru_core.data.raw import RawCrossDomain, RawDomain


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
