import numpy as np
import pytest

from recguru_core.common.errors import DataError
from recguru_core.data.preprocess import PreprocessConfig, k_core, preprocess


def test_k_core_iterates_to_fixed_point():
    # Item 9 has 2 interactions; removing it leaves user "b" with 1, which must cascade.
    users = np.array([0, 0, 1, 1, 2, 2, 2, 0, 1])
    items = np.array([0, 1, 0, 9, 0, 1, 2, 2, 1])
    # k=2: item 9 (count 1) goes first, then user 1 keeps 0,1 (2 items) -> stable.
    keep = k_core(users, items, 2)
    u, i = users[keep], items[keep]
    assert (np.bincount(u)[np.unique(u)] >= 2).all() and (np.bincount(i)[np.unique(i)] >= 2).all()
    assert 9 not in i
    # A single pass would not be a 3-core here; the iteration must reach it (or empty).
    keep3 = k_core(users, items, 3)
    u3, i3 = users[keep3], items[keep3]
    assert (np.bincount(u3)[np.unique(u3)] >= 3).all() and (np.bincount(i3)[np.unique(i3)] >= 3).all()


def test_k_core_cascade_needs_several_rounds():
    # chain: user 0 has items {0,1}; item 1 is only held by users 0 and 1; user 1 has {1,2}...
    users = np.array([0, 0, 1, 1, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5])
    items = np.array([0, 1, 1, 2, 2, 3, 4, 5, 6, 4, 5, 6, 4, 5, 6])
    keep = k_core(users, items, 3)
    assert set(users[keep]) == {3, 4, 5}
    assert set(items[keep]) == {4, 5, 6}


def test_rating_filter_window_repeats_and_reindex(make_raw):
    rows_a = [
        ("u1", "x", 1, 5.0),
        ("u1", "x", 2, 5.0),
        ("u1", "y", 3, 1.0),
        ("u1", "z", 4, 4.0),
        ("u1", "w", 5, 3.0),
        ("u1", "v", 99, 5.0),
    ]
    rows_b = [("u1", "p", 1), ("u1", "q", 2), ("u1", "r", 3)]
    cfg = PreprocessConfig(k_core=1, min_user_len=3, end=50)
    a, b = preprocess(make_raw(rows_a, rows_b), cfg)
    # rating 1.0 dropped (not > 2), repeat x dropped, ts 99 outside the window
    assert list(a.item_raw[a.items - 1]) == ["x", "z", "w"]
    assert a.items.min() == 1 and a.items.max() == 3  # 1..V, 0 = pad
    assert list(a.offsets) == [0, 3]
    assert list(b.item_raw[b.items - 1]) == ["p", "q", "r"]  # NaN ratings are kept


def test_non_immediate_repeats_kept(make_raw):
    rows = [("u", "x", 1), ("u", "y", 2), ("u", "x", 3)]
    a, _ = preprocess(make_raw(rows, rows), PreprocessConfig(k_core=1, min_user_len=3))
    assert len(a.items) == 3


def test_time_order_with_unsorted_input(make_raw):
    rows = [("u", "c", 30), ("u", "a", 10), ("v", "a", 5), ("u", "b", 20), ("v", "b", 6), ("v", "c", 4)]
    a, _ = preprocess(make_raw(rows, rows), PreprocessConfig(k_core=1, min_user_len=3))
    seqs = {
        a.user_raw[r]: list(a.item_raw[a.items[a.offsets[r] : a.offsets[r + 1]] - 1])
        for r in range(len(a.user_raw))
    }
    assert seqs == {"u": ["a", "b", "c"], "v": ["c", "a", "b"]}


@pytest.mark.parametrize("n", [0, 1, 2])
def test_min_user_len_below_three_is_refused(n):
    # 1- and 2-item users would get validation/test targets from the neighbouring user's row
    with pytest.raises(DataError, match="min_user_len"):
        PreprocessConfig(min_user_len=n)


def test_min_user_len_below_three_from_a_source_is_one_line():
    from recguru_core.data.sources import load_source

    with pytest.raises(DataError, match="min_user_len=2: must be >= 3"):
        load_source("synthetic:users=50,min_user_len=2")


def test_empty_domain_after_filtering_is_clear(make_raw):
    rows = [("u", "x", 1), ("u", "y", 2)]
    with pytest.raises(DataError, match="domain A"):
        preprocess(make_raw(rows, rows), PreprocessConfig(k_core=5))


def _world(n_users, seed=0):
    rng = np.random.default_rng(seed)
    rows = [(f"u{u}", f"i{rng.integers(30)}", t, 5.0) for u in range(n_users) for t in range(6)]
    return rows


def test_overlap_control_hits_ratio(make_raw):
    rows = _world(4000)
    for r in (0.1, 0.5, 0.9):
        a, b = preprocess(make_raw(rows, rows), PreprocessConfig(k_core=1, min_user_len=3, overlap=r, seed=3))
        both = len(np.intersect1d(a.user_raw, b.user_raw))
        assert abs(both / 4000 - r) < 0.03
        # nobody lost entirely: every user is in at least one domain
        assert len(np.union1d(a.user_raw, b.user_raw)) == 4000
        only_a = len(a.user_raw) - both
        only_b = len(b.user_raw) - both
        assert abs(only_a - only_b) < 0.1 * (4000 - both) + 30


def test_overlap_control_seeded(make_raw):
    rows = _world(500)
    cfg = PreprocessConfig(k_core=1, overlap=0.3, seed=7)
    a1, _ = preprocess(make_raw(rows, rows), cfg)
    a2, _ = preprocess(make_raw(rows, rows), cfg)
    assert list(a1.user_raw) == list(a2.user_raw)


def test_overlap_requested_without_shared_users(make_raw):
    a = [(f"a{u}", f"i{t}", t) for u in range(3) for t in range(4)]
    b = [(f"b{u}", f"i{t}", t) for u in range(3) for t in range(4)]
    with pytest.raises(DataError, match="share no user"):
        preprocess(make_raw(a, b), PreprocessConfig(k_core=1, overlap=0.5))
