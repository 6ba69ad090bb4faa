"""Paired tests and Holm's correction (metrics/significance.py), the benchmark's table of them
(bench/paired.py), its marks and protocol line in results.md, and the tests a checkpoint carries."""

import math

import numpy as np
import pytest

from recguru_core.bench import paired, report
from recguru_core.common.errors import RecGuruError
from recguru_core.metrics.ranking import metrics_from_ranks
from recguru_core.metrics.significance import holm, paired_test, significant


def test_paired_t_and_wilcoxon_on_hand_computed_cases():
    d = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    # t = mean / (sd / sqrt(n)) = 3 / (1.5811 / 2.2361) = 4.2426; two-sided p (df 4) = 0.01324
    t, p = paired_test(d, "paired_t")
    assert t == pytest.approx(4.2426, abs=1e-4) and p == pytest.approx(0.01324, abs=1e-4)
    # every difference positive, n = 5: W- = 0, exact two-sided p = 2 / 2**5
    w, p = paired_test(d, "wilcoxon")
    assert w == 0.0 and p == pytest.approx(2 / 32)
    assert paired_test(-d, "wilcoxon")[1] == pytest.approx(2 / 32)  # two-sided: symmetric
    assert paired_test(np.zeros(9), "wilcoxon") == (0.0, 1.0) == paired_test(np.zeros(9), "paired_t")
    assert all(math.isnan(v) for v in paired_test(np.array([]), "wilcoxon"))
    assert paired_test(np.full(4, 0.5), "paired_t") == (math.inf, 0.0)  # no spread, not zero
    with pytest.raises(ValueError, match="unknown test"):
        paired_test(d, "sign")


def test_holm_step_down_monotone_and_nan_aware():
    # sorted 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> kept at 0.06: monotone)
    out = holm([0.01, 0.04, 0.03, float("nan")])
    assert out[:3] == pytest.approx([0.03, 0.06, 0.06]) and math.isnan(out[3])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([]) == []


def _ranks(rng, low, n=300):
    r = rng.integers(low, low + 6, size=n)
    return {fam: {"A": r, "B": r.copy()} for fam in report.FAMILIES}


def _rows(ranks_by_model_seed):
    rows = []
    for (model, seed), ranks in ranks_by_model_seed.items():
        for d in ("A", "B"):
            met = metrics_from_ranks(ranks["sampled"][d])
            rows.append(
                {
                    "model": model,
                    "domain": d,
                    "overlap": 0.3,
                    "seed": seed,
                    "seconds": 1.0,
                    "sampled": met,
                    "full": met,
                }
            )
    return rows


def test_compute_tests_pairs_seed_averaged_users_and_marks_the_tables():
    rng = np.random.default_rng(0)
    # RecGURU ranks ~1..6 (inside the top 10), POP ~20..25 (outside), SASRec exactly RecGURU's
    ranks = {}
    for seed in (0, 1):
        ranks[("recguru", seed)] = _ranks(rng, 1)
        ranks[("pop", seed)] = _ranks(rng, 20)
        ranks[("sasrec", seed)] = ranks[("recguru", seed)]
    rows = _rows(ranks)
    lookup = lambda m, o, s: ranks.get((m, s))  # noqa: E731
    tests = paired.compute_tests(rows, lookup)
    # 2 baselines x 2 families x 2 domains x 2 metrics x 2 tests
    assert len(tests) == 32
    keys = {"model", "baseline", "overlap", "domain", "family", "metric", "test", "diff", "statistic"}
    assert all(keys | {"p", "p_holm", "n_users", "seeds"} <= set(e) for e in tests)
    assert all(e["n_users"] == 300 and e["seeds"] == 2 for e in tests)
    pop = [e for e in tests if e["baseline"] == "pop"]
    assert all(e["p"] < 1e-10 and e["p_holm"] >= e["p"] and significant(e) == 1 for e in pop)
    tie = [e for e in tests if e["baseline"] == "sasrec"]
    assert all(e["p"] == 1.0 and e["diff"] == 0.0 and significant(e) == 0 for e in tie)
    # Holm per test over the 16 comparisons of the table: p_holm = min(1, rank-scaled p)
    wil = [e for e in tests if e["test"] == "wilcoxon"]
    assert len(wil) == 16 and max(e["p_holm"] for e in wil if e["baseline"] == "pop") <= 16 * max(
        e["p"] for e in wil if e["baseline"] == "pop"
    )
    md = report.format_markdown(
        {"results": rows, "tests": tests, "settings": {"source": "synthetic"}, "negatives": 199}
    )
    assert "seeds 0, 1 (2)" in md and md.count("Protocol: leave-one-out") == 2  # one per table
    line = next(ln for ln in md.splitlines() if ln.startswith("| A | NDCG@10 |"))
    assert "▲" in line.split("|")[3] and "▲" not in line.split("|")[4]  # POP marked, SASRec not
    assert "Paired tests, +GURU vs each model" in md and "| POP | A | HR@10 |" in md


def test_unpaired_users_or_missing_ranks_are_not_tested():
    rng = np.random.default_rng(1)
    ranks = {("recguru", 0): _ranks(rng, 1, n=50), ("pop", 0): _ranks(rng, 20, n=40)}
    rows = _rows(ranks)
    assert paired.compute_tests(rows, lambda m, o, s: ranks.get((m, s))) == []
    assert paired.compute_tests(rows, lambda m, o, s: None) == []


def test_a_corrupt_tests_row_is_one_line_naming_it():
    payload = {
        "results": [],
        "tests": [
            {
                "family": "sampled",
                "domain": "A",
                "baseline": "pop",
                "metric": "HR@10",
                "test": "wilcoxon",
                "p": "small",
            }
        ],
    }
    with pytest.raises(RecGuruError, match=r"r.json: tests row 1 'p' is 'small', expected a number"):
        report.check_results(payload, "r.json")
