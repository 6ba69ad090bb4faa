"""Paired significance tests over per-user values, and Holm's correction for many of them.

A benchmark compares RecGURU with every other model on the same test users. Per user u the
paired difference is d_u = contribution of RecGURU minus that of the other model (HR@k: 0 or 1;
NDCG@k: 1/log2(rank+1) inside the top k, else 0), each averaged over the seeds first, so a user
counts once whatever the number of seeds. On d:

    wilcoxon   Wilcoxon signed-rank test (two-sided; zero differences dropped, scipy's
               "wilcox" rule, normal approximation with tie correction where n is large)
    paired_t   one-sample t-test of mean(d) = 0, i.e. the paired t-test (two-sided)

`holm` adjusts a family of p-values (Holm-Bonferroni step-down: controls the family-wise error
rate without assuming independence). The benchmark applies it per test over all comparisons of
one table (one overlap: every baseline x domain x family x metric).

Degenerate inputs give a defined answer instead of a NaN: no users -> p = NaN (nothing to test,
reported as such); every difference zero -> statistic 0, p = 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

TESTS = ("wilcoxon", "paired_t")
TEST_METRICS = ("HR@10", "NDCG@10")  # the metrics a benchmark tests
ALPHA = 0.05


def paired_test(diff: np.ndarray, test: str) -> tuple[float, float]:
    """(statistic, two-sided p) of `test` on paired differences `diff` (n,)."""
    from scipy import stats

    d = np.asarray(diff, dtype=np.float64)
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; expected one of {', '.join(TESTS)}")
    if len(d) == 0:
        return math.nan, math.nan
    if not np.any(d):
        return 0.0, 1.0
    if test == "wilcoxon":
        res = stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided")
    else:
        if np.all(d == d[0]):  # no spread: the t statistic is infinite, the difference certain
            return math.copysign(math.inf, float(d[0])), 0.0
        res = stats.ttest_1samp(d, 0.0, alternative="two-sided")
    return float(res.statistic), float(res.pvalue)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order. NaN entries (nothing tested) stay
    NaN and do not count towards the family size."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(len(p), np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    order = valid[np.argsort(p[valid], kind="stable")]
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[idx]))  # step-down, kept monotone
        out[idx] = running
    return out.tolist()


def significant(entry: dict | None, alpha: float = ALPHA) -> int:
    """+1 / -1 where the model (RecGURU) is significantly better / worse than the entry's
    baseline after Holm's correction (`p_holm` of the entry's own test; direction: the sign of
    the mean difference `diff`), 0 otherwise."""
    if not entry or entry.get("p_holm") is None or entry["p_holm"] >= alpha or not entry.get("diff"):
        return 0
    return 1 if entry["diff"] > 0 else -1
