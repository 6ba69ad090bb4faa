"""The synthetic world keeps its promises: deterministic, shaped as asked, and with a ground
truth (taste clusters) that the interactions really carry, in both domains."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recguru_core.common.errors import DataError
from recguru_core.data.raw import INTERACTION_COLUMNS, RawCrossDomain, RawDomain
from recguru_core.data.synthetic import SyntheticConfig, generate


@pytest.fixture(scope="module")
def world() -> RawCrossDomain:
    return generate(SyntheticConfig())


def _genre_histograms(domain: RawDomain) -> pd.DataFrame:
    """Users x genres, each row the user's share of interactions per genre."""
    frame = domain.interactions
    genre = domain.genres.reindex(frame["item_id"]).to_numpy()
    return pd.crosstab(frame["user_id"].to_numpy(), genre, normalize="index")


def _nearest_centroid(train: pd.DataFrame, labels: pd.Series, test: pd.DataFrame) -> pd.Series:
    """Predict each test row's label as that of the closest per-label mean of train rows."""
    centroids = train.groupby(labels.reindex(train.index).to_numpy()).mean()
    distance = ((test.to_numpy()[:, None, :] - centroids.to_numpy()[None]) ** 2).sum(axis=2)
    return pd.Series(centroids.index[distance.argmin(axis=1)], index=test.index)


# --- determinism -------------------------------------------------------------------------


def test_same_seed_same_world() -> None:
    cfg = SyntheticConfig(users=400, seed=3)
    first, second = generate(cfg), generate(cfg)
    for x, y in ((first.a, second.a), (first.b, second.b)):
        pd.testing.assert_frame_equal(x.interactions, y.interactions)
        pd.testing.assert_series_equal(x.titles, y.titles)
        pd.testing.assert_series_equal(x.genres, y.genres)
    pd.testing.assert_series_equal(first.user_cluster, second.user_cluster)


def test_different_seed_different_world() -> None:
    first = generate(SyntheticConfig(users=400, seed=0))
    second = generate(SyntheticConfig(users=400, seed=1))
    assert not first.a.interactions.equals(second.a.interactions)
    assert not first.b.interactions.equals(second.b.interactions)
    assert not first.user_cluster.equals(second.user_cluster)


# --- shape and schema --------------------------------------------------------------------


def test_schema(world: RawCrossDomain) -> None:
    assert (world.a.name, world.b.name) == ("Books", "Movies")
    assert world.source == "synthetic"
    for domain in (world.a, world.b):
        frame = domain.interactions
        assert tuple(frame.columns) == INTERACTION_COLUMNS
        for column in ("user_id", "item_id", "timestamp"):
            assert frame[column].dtype == np.int64
        assert frame["rating"].isna().all()
        gaps = frame.groupby("user_id")["timestamp"].diff().dropna()
        assert (gaps > 0).all(), "timestamps must increase within a user's sequence"
        repeats = frame["item_id"].diff().eq(0) & frame["user_id"].diff().eq(0)
        assert not repeats.any(), "no item directly repeats the one before it"


def test_every_item_has_title_and_genre(world: RawCrossDomain) -> None:
    cfg = SyntheticConfig()
    for domain, n_items in ((world.a, cfg.items_a), (world.b, cfg.items_b)):
        assert len(domain.titles) == len(domain.genres) == n_items
        assert domain.titles.index.equals(domain.genres.index)
        assert domain.titles.index.is_unique
        assert set(domain.interactions["item_id"]) <= set(domain.titles.index)
        assert domain.titles.str.len().gt(0).all() and domain.genres.str.len().gt(0).all()
        # "Space Opera #12": the title names the item's genre
        assert all(t.startswith(g + " #") for t, g in zip(domain.titles, domain.genres))
    assert world.a.genres.iloc[0] == "Space Opera"
    assert world.b.genres.iloc[0] == "Space Western"
    assert not set(world.a.titles.index) & set(world.b.titles.index), "item ids are disjoint"


def test_b_is_sparse_and_lengths_survive_filtering(world: RawCrossDomain) -> None:
    cfg = SyntheticConfig()
    length_a = world.a.interactions.groupby("user_id").size()
    length_b = world.b.interactions.groupby("user_id").size()
    assert length_b.mean() < 0.5 * length_a.mean()
    assert length_a.mean() == pytest.approx(cfg.mean_len_a, rel=0.15)
    assert length_b.mean() == pytest.approx(cfg.mean_len_b, rel=0.15)
    for lengths in (length_a, length_b):
        assert lengths.min() >= cfg.min_len and lengths.max() <= cfg.max_len
    for domain in (world.a, world.b):  # a 5-core item filter keeps almost every item
        counts = domain.interactions["item_id"].value_counts().reindex(domain.titles.index, fill_value=0)
        assert (counts >= 5).mean() > 0.95


def test_overlap_ratio() -> None:
    n = 20_000
    world = generate(SyntheticConfig(users=n, overlap=0.3, mean_len_a=6, mean_len_b=6))
    users_a = set(world.a.interactions["user_id"])
    users_b = set(world.b.interactions["user_id"])
    assert len(users_a | users_b) == n
    assert len(users_a & users_b) / n == pytest.approx(0.3, abs=0.01)
    assert len(users_a - users_b) == pytest.approx(len(users_b - users_a), abs=1)


@pytest.mark.parametrize("overlap", [0.0, 1.0])
def test_overlap_extremes(overlap: float) -> None:
    world = generate(SyntheticConfig(users=50, overlap=overlap))
    shared = set(world.a.interactions["user_id"]) & set(world.b.interactions["user_id"])
    assert len(shared) == (50 if overlap else 0)


def test_cluster_recorded_for_every_user(world: RawCrossDomain) -> None:
    cfg = SyntheticConfig()
    users = set(world.a.interactions["user_id"]) | set(world.b.interactions["user_id"])
    assert world.user_cluster is not None
    assert set(world.user_cluster.index) == users
    assert world.user_cluster.between(0, cfg.clusters - 1).all()
    assert world.user_cluster.nunique() == cfg.clusters


# --- the ground truth is meaningful ------------------------------------------------------


def test_clusters_concentrate_on_home_genres(world: RawCrossDomain) -> None:
    """Genre g is anchored to cluster g mod K: each cluster's users mostly read/watch it."""
    k = SyntheticConfig().clusters
    for domain in (world.a, world.b):
        frame = domain.interactions
        genre_index = {name: i for i, name in enumerate(pd.unique(domain.genres))}
        home = domain.genres.reindex(frame["item_id"]).map(genre_index).to_numpy() % k
        cluster = world.user_cluster.reindex(frame["user_id"]).to_numpy()
        share = pd.Series(home == cluster).groupby(cluster).mean()
        chance = 1 / k
        assert (share > 3 * chance).all(), share


def test_cluster_recoverable_from_each_domain(world: RawCrossDomain) -> None:
    """A nearest-centroid on genre histograms, fitted on half the users, recovers the other
    half's cluster far above chance (1/6) in dense A and in sparse B alike."""
    for domain, floor in ((world.a, 0.8), (world.b, 0.65)):
        hist = _genre_histograms(domain)
        train = hist.index % 2 == 0
        predicted = _nearest_centroid(hist[train], world.user_cluster, hist[~train])
        truth = world.user_cluster.reindex(predicted.index)
        assert (predicted == truth).mean() > floor


def test_taste_is_shared_across_domains(world: RawCrossDomain) -> None:
    """Centroids fitted on single-domain users only still place the overlapped users in the
    same cluster from their Books and from their Movies: one taste drives both domains."""
    hist_a, hist_b = _genre_histograms(world.a), _genre_histograms(world.b)
    both = hist_a.index.intersection(hist_b.index)
    from_a = _nearest_centroid(hist_a.drop(both), world.user_cluster, hist_a.loc[both])
    from_b = _nearest_centroid(hist_b.drop(both), world.user_cluster, hist_b.loc[both])
    truth = world.user_cluster.reindex(both)
    assert (from_a == truth).mean() > 0.8
    assert (from_b == truth).mean() > 0.65
    assert (from_a == from_b).mean() > 0.55  # chance agreement: about 1/6


# --- configuration -----------------------------------------------------------------------


def test_from_spec_converts_text() -> None:
    cfg = SyntheticConfig.from_spec({"users": "5000", "overlap": "0.25", "seed": " 1 "})
    assert cfg == SyntheticConfig(users=5000, overlap=0.25, seed=1)
    assert isinstance(cfg.users, int) and isinstance(cfg.overlap, float)
    assert SyntheticConfig.from_spec({}) == SyntheticConfig()


def test_spec_round_trips() -> None:
    cfg = SyntheticConfig(users=123, markov=0.2)
    assert cfg.spec() == "synthetic:users=123,markov=0.2"
    params = dict(item.split("=") for item in cfg.spec().split(":", 1)[1].split(","))
    assert SyntheticConfig.from_spec(params) == cfg


def test_from_spec_unknown_key_lists_valid_keys() -> None:
    with pytest.raises(DataError, match=r"unknown key 'userz'.*users.*overlap.*seed"):
        SyntheticConfig.from_spec({"userz": "10"})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"users": "many"}, r"users expects an integer, got 'many'"),
        ({"users": "5000.0"}, r"users expects an integer"),
        ({"overlap": "half"}, r"overlap expects a finite number, got 'half'"),
        ({"overlap": "nan"}, r"overlap expects a finite number"),
        ({"overlap": "1.5"}, r"overlap must be in \[0, 1\], got 1.5"),
        ({"overlap": "-0.1"}, r"overlap must be in \[0, 1\]"),
        ({"users": "0"}, r"users must be >= 1"),
        ({"seed": "-1"}, r"seed must be >= 0"),
        ({"items_b": "3", "genres_b": "6"}, r"items_b must be >= genres_b"),
        ({"mean_len_b": "2"}, r"mean_len_b must be between min_len"),
    ],
)
def test_from_spec_bad_values_name_the_key(params: dict[str, str], message: str) -> None:
    with pytest.raises(DataError, match=message):
        SyntheticConfig.from_spec(params)


def test_more_genres_than_names_get_numbered() -> None:
    world = generate(SyntheticConfig(users=50, items_a=300, genres_a=14))
    names = list(pd.unique(world.a.genres))
    assert len(names) == len(set(names)) == 14
    assert names[12:] == ["Space Opera 2", "Cozy Mystery 2"]
