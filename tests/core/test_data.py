import numpy as np
import pytest

from recguru_core.common.errors import DataError
from recguru_core.data.domains import CrossDomainData, DataConfig, left_padded, sample_negatives
from recguru_core.data.preprocess import PreprocessConfig

LOOSE = PreprocessConfig(k_core=1, min_user_len=3)


def test_left_padded_layout_exact():
    offsets = np.array([0, 5, 8])
    items = np.array([1, 2, 3, 4, 5, 6, 7, 8])
    rows = np.array([0, 1])
    out = left_padded(offsets, items, rows, offsets[rows + 1] - 2, max_len=100, eos=9)
    assert out.tolist() == [[1, 2, 3, 9], [0, 0, 6, 9]]  # trimmed to the longest row (3)
    out = left_padded(offsets, items, rows, offsets[rows + 1] - 1, max_len=2, eos=None)
    assert out.tolist() == [[3, 4], [6, 7]]  # most recent max_len only


def test_splits_and_inputs_exact(make_raw):
    rows_a = [("u", f"i{k}", k) for k in range(1, 6)] + [("v", f"i{k}", k) for k in (1, 2, 3)]
    rows_b = [("u", "p", 1), ("u", "q", 2), ("u", "r", 3)]
    data = CrossDomainData.build(make_raw(rows_a, rows_b), LOOSE, DataConfig(n_negatives=1))
    a = data.a
    u, v = a.user_index["u"], a.user_index["v"]
    code = {raw: k + 1 for k, raw in enumerate(a.item_raw)}
    eos = a.n_items + 1
    train = a.inputs(np.array([u, v]), "train")
    assert train.tolist() == [[code["i1"], code["i2"], code["i3"], eos], [0, 0, code["i1"], eos]]
    test = a.inputs(np.array([u, v]), "test")
    assert test.tolist() == [
        [code["i1"], code["i2"], code["i3"], code["i4"], eos],
        [0, 0, code["i1"], code["i2"], eos],
    ]
    assert a.targets("valid", np.array([u, v])).tolist() == [code["i4"], code["i2"]]
    assert a.targets("test", np.array([u, v])).tolist() == [code["i5"], code["i3"]]
    assert data.n_overlap == 1
    assert a.user_raw[data.overlap_a[0]] == data.b.user_raw[data.overlap_b[0]] == "u"


def _random_csr(n_users, n_items, seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 30, n_users)
    seqs = [rng.choice(np.arange(1, n_items + 1), size=n, replace=False) for n in lengths]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return offsets, np.concatenate(seqs)


def test_negatives_never_in_history_unique_and_reproducible():
    offsets, items = _random_csr(300, 120, 0)
    neg = sample_negatives(offsets, items, 120, 60, np.arange(1, 121, dtype=float), seed=1)
    assert neg.shape == (300, 60)
    for r in range(300):
        row = set(neg[r].tolist())
        assert len(row) == 60  # without replacement
        assert not row & set(items[offsets[r] : offsets[r + 1]].tolist())
        assert min(row) >= 1 and max(row) <= 120
    again = sample_negatives(offsets, items, 120, 60, np.arange(1, 121, dtype=float), seed=1)
    assert (neg == again).all()
    other = sample_negatives(offsets, items, 120, 60, np.arange(1, 121, dtype=float), seed=2)
    assert (neg != other).any()


def test_negatives_follow_popularity():
    offsets = np.arange(0, 3 * 2001, 3)
    items = np.tile([1, 2, 3], 2000)
    weights = np.ones(1000)
    weights[500:] = 10.0  # items 501..1000 are ten times as popular
    neg = sample_negatives(offsets, items, 1000, 5, weights, seed=0)
    share_popular = (neg > 500).mean()
    assert 0.85 < share_popular < 0.95  # 10/11 = 0.909
    uniform = sample_negatives(offsets, items, 1000, 5, None, seed=0)
    assert 0.45 < (uniform > 500).mean() < 0.55


def test_candidates_exclude_valid_and_test_items(make_raw):
    rng = np.random.default_rng(0)
    rows = [
        (f"u{u}", f"i{k}", t) for u in range(50) for t, k in enumerate(rng.choice(60, size=8, replace=False))
    ]
    data = CrossDomainData.build(make_raw(rows, rows), LOOSE, DataConfig(n_negatives=40))
    a = data.a
    for split in ("valid", "test"):
        cand = a.candidates(split)
        assert cand.shape == (a.n_users, 41)
        assert (cand[:, 0] == a.targets(split)).all()
        for r in range(a.n_users):
            assert not set(cand[r, 1:].tolist()) & set(a.sequence(r).tolist())


def test_impossible_negative_count_is_clear():
    offsets, items = _random_csr(10, 40, 0)
    with pytest.raises(DataError, match="negatives"):
        sample_negatives(offsets, items, 40, 39, None, seed=0)


def test_stats(make_raw):
    rows_a = [("u", f"i{k}", k) for k in range(1, 6)] + [("v", f"i{k}", k) for k in (1, 2, 3)]
    rows_b = [("u", "p", 1), ("u", "q", 2), ("u", "r", 3)]
    stats = CrossDomainData.build(make_raw(rows_a, rows_b), LOOSE, DataConfig(n_negatives=1)).stats()
    assert stats["A"] == {"users": 2, "items": 5, "interactions": 8, "avg_len": 4.0}
    assert stats["B"] == {"users": 1, "items": 3, "interactions": 3, "avg_len": 3.0}
    assert stats["overlap_users"] == 1


def _negatives_column_loop(offsets, items, n_items, n, weights, seed):
    """The previous sampler (one draw column at a time), kept as the reference the vectorised
    rounds of `sample_negatives` must reproduce bit for bit (same stream, same chunks)."""
    from recguru_core.data.domains import _alias_table

    n_users, lengths = len(offsets) - 1, np.diff(offsets)
    p = np.ones(n_items) if weights is None else np.asarray(weights, dtype=np.float64)
    prob, alias = _alias_table(p)
    rng = np.random.default_rng(seed)
    out = np.zeros((n_users, n), dtype=np.int32)
    chunk = int(max(64, min(8192, 2**26 // (n_items + 2))))
    for lo in range(0, n_users, chunk):
        hi = min(lo + chunk, n_users)
        m = hi - lo
        taken = np.zeros((m, n_items + 2), dtype=bool)
        taken[np.repeat(np.arange(m), lengths[lo:hi]), items[offsets[lo] : offsets[hi]]] = True
        count, pending, pool = np.zeros(m, dtype=np.int64), np.arange(m), n + n // 4 + 8
        while len(pending):
            k = rng.integers(0, n_items, (len(pending), pool))
            draws = np.where(rng.random(k.shape) < prob[k], k, alias[k]) + 1
            for j in range(pool):
                cand = draws[:, j]
                ok = ~taken[pending, cand] & (count[pending] < n)
                rows_ok = pending[ok]
                taken[rows_ok, cand[ok]] = True
                out[lo + rows_ok, count[rows_ok]] = cand[ok]
                count[rows_ok] += 1
            pending = pending[count[pending] < n]
    return out


@pytest.mark.parametrize(
    "n_users,n_items,n,skewed",
    [
        (300, 120, 60, True),
        (300, 120, 90, False),  # many rows need a second round
        (2000, 500, 30, True),
        (150, 300_000, 20, True),  # several chunks; 64-user chunks
    ],
)
def test_negatives_match_the_column_loop(n_users, n_items, n, skewed):
    offsets, items = _random_csr(n_users, min(n_items, 400), 3)
    weights = (np.arange(1, n_items + 1, dtype=float) ** -0.8) if skewed else None
    new = sample_negatives(offsets, items, n_items, n, weights, seed=5)
    assert (new == _negatives_column_loop(offsets, items, n_items, n, weights, seed=5)).all()
