import math

import numpy as np
import pytest
import torch

from recguru_core.metrics.ranking import (
    full_exclusion_mask,
    metrics_from_ranks,
    ranks_from_candidate_scores,
    ranks_full,
)


def test_ranks_from_candidates_hand_computed():
    scores = torch.tensor(
        [
            [0.9, 0.1, 0.5],  # true item best -> rank 1
            [0.2, 0.9, 0.5],  # two above -> rank 3
            [0.5, 0.5, 0.1],  # tie counts against the model -> rank 2
            [1.0, 1.0, 1.0],
        ]
    )  # constant scorer -> worst rank
    assert ranks_from_candidate_scores(scores).tolist() == [1, 3, 2, 3]


def test_metrics_hand_computed():
    m = metrics_from_ranks(np.array([1, 3, 12, 30]))
    assert m["HR@5"] == pytest.approx(0.5)
    assert m["HR@10"] == pytest.approx(0.5)
    assert m["HR@20"] == pytest.approx(0.75)
    assert m["NDCG@5"] == pytest.approx((1 + 1 / math.log2(4)) / 4)
    assert m["NDCG@20"] == pytest.approx((1 + 1 / math.log2(4) + 1 / math.log2(13)) / 4)
    assert m["MRR"] == pytest.approx((1 + 1 / 3 + 1 / 12 + 1 / 30) / 4)


def test_full_ranking_excludes_known_items_but_not_target():
    # one user, items 1..5 (ids 0 pad, 6 eos); history [2, 4], target 3
    offsets, items = np.array([0, 3]), np.array([2, 4, 3])
    mask = full_exclusion_mask(offsets, items, np.array([0]), 5, np.array([3]))
    assert mask[0].tolist() == [True, False, True, False, True, False, True]
    scores = torch.tensor([[9.0, 1.0, 8.0, 2.0, 7.0, 3.0, 9.0]])
    # item 3 scores 2.0; candidates 1 (1.0), 3 (2.0), 5 (3.0): only item 5 beats it
    assert ranks_full(scores, torch.tensor([3]), mask).tolist() == [2]


def test_empty_ranks_give_nan():
    assert all(math.isnan(v) for v in metrics_from_ranks(np.array([])).values())


def test_nan_scores_rank_last_sampled():
    nan = float("nan")
    scores = torch.tensor(
        [
            [nan, nan, nan],  # diverged model: worst rank, not 1
            [nan, 0.1, 0.2],  # NaN true item: worst rank
            [0.5, nan, 0.9],  # NaN candidate never beats a finite true item
            [0.5, nan, 0.1],
        ]
    )
    assert ranks_from_candidate_scores(scores).tolist() == [3, 3, 2, 1]


def test_nan_scores_rank_last_full():
    offsets, items = np.array([0, 3]), np.array([2, 4, 3])
    mask = full_exclusion_mask(offsets, items, np.array([0]), 5, np.array([3]))
    nan = float("nan")
    all_nan = torch.full((1, 7), nan)
    # candidates 1, 3, 5: a NaN target ranks below the other two candidates
    assert ranks_full(all_nan, torch.tensor([3]), mask).tolist() == [3]
    some_nan = torch.tensor([[9.0, nan, 8.0, 2.0, 7.0, nan, 9.0]])
    assert ranks_full(some_nan, torch.tensor([3]), mask).tolist() == [1]
    m = metrics_from_ranks(ranks_full(all_nan, torch.tensor([3]), mask))
    assert m["HR@1" if "HR@1" in m else "MRR"] < 1.0


def test_domain_ranks_score_by_length_but_return_row_order():
    """Users are scored shortest history first (less padding); the ranks must come back in row
    order, for any batch size, since the paired bootstrap pairs users by position."""
    from types import SimpleNamespace

    import torch

    from recguru_core.metrics.ranking import domain_ranks

    rng = np.random.default_rng(0)
    n = 37
    lengths = rng.integers(3, 60, n)
    seen = []

    def score_fn(rows, split, candidates):  # the true item (column 0) ranks (row % 5) + 1
        seen.append(np.asarray(rows).copy())
        scores = torch.zeros(len(rows), candidates.shape[1])
        scores[:, 0] = 0.5  # ties count against the model: keep the true item off the zeros
        for i, r in enumerate(rows):
            scores[i, 1 : 1 + r % 5] = 1.0
        return scores

    dom = SimpleNamespace(
        lengths=lengths, n_users=n, candidates=lambda split, rows: np.zeros((len(rows), 8), dtype=np.int64)
    )
    expected = np.arange(n) % 5 + 1
    for batch_size in (1, 4, 64):
        seen.clear()
        np.testing.assert_array_equal(domain_ranks(dom, "valid", score_fn, batch_size=batch_size), expected)
        order = np.concatenate(seen)
        assert sorted(order) == list(range(n))
        assert (np.diff(lengths[order]) >= 0).all()  # shortest first
    rows = np.array([5, 2, 30])
    np.testing.assert_array_equal(domain_ranks(dom, "valid", score_fn, rows=rows), rows % 5 + 1)
