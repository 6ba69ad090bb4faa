"""Paired significance tests of a benchmark's results: RecGURU against every other model of the
file, per overlap, family (sampled, full), domain, metric (HR@10, NDCG@10) and test (Wilcoxon
signed-rank, paired t), on per-user values averaged over the seeds both models ran, with Holm's
correction over all comparisons of one overlap's table, per test. The statistics themselves are
metrics/significance.py; this module pairs the per-user rank files of the harness.

    results.json "tests": [{"model", "baseline", "overlap", "domain", "family", "metric", "test",
                            "diff", "statistic", "p", "p_holm", "n_users", "seeds"}]
"""

from __future__ import annotations

import math

import numpy as np

from ..metrics.ranking import METRIC_NAMES, metric_contributions
from ..metrics.significance import TEST_METRICS, TESTS, holm, paired_test
from .registry import MODEL_NAMES
from .report import DOMAIN_KEYS, FAMILIES, RECGURU, RanksLookup


def seed_averaged_contributions(ranks: RanksLookup, model, overlap, seeds, family, domain) -> tuple:
    """(users, len(TEST_METRICS)) per-user contributions averaged over the seeds whose ranks exist
    (all of one length: the same users), and the seeds used; (None, []) where there are none."""
    cols = [METRIC_NAMES.index(m) for m in TEST_METRICS]
    parts, used = [], []
    for s in seeds:
        r = ranks(model, overlap, s)
        if r is None or r.get(family, {}).get(domain) is None:
            continue
        c = metric_contributions(r[family][domain])[:, cols]
        if parts and len(c) != len(parts[0]):
            continue  # other users: cannot be averaged per user
        parts.append(c)
        used.append(s)
    return (np.mean(parts, axis=0) if parts else None), used


def compute_tests(rows: list[dict], ranks: RanksLookup) -> list[dict]:
    """RecGURU against every other model of the file, per overlap, family, domain, metric of
    TEST_METRICS and test of significance.TESTS, on per-user values averaged over the seeds
    both models have (metrics/significance.py); `p_holm`: Holm's correction over all comparisons
    of one overlap's table, per test."""
    cache: dict[tuple, dict | None] = {}

    def once(model, overlap, seed):  # each rank file is read once, not once per comparison
        key = (model, overlap, seed)
        if key not in cache:
            cache[key] = ranks(model, overlap, seed)
        return cache[key]

    out: list[dict] = []
    overlaps = sorted({r["overlap"] for r in rows}, key=lambda o: (o is not None, o or 0.0))
    for overlap in overlaps:
        here = [r for r in rows if r["overlap"] == overlap]
        found = {r["model"] for r in here}
        if RECGURU not in found:
            continue
        others = [m for m in MODEL_NAMES if m in found and m != RECGURU] + sorted(found - set(MODEL_NAMES))
        table: list[dict] = []
        for baseline in others:
            common = sorted(
                {int(r["seed"]) for r in here if r["model"] == RECGURU}
                & {int(r["seed"]) for r in here if r["model"] == baseline}
            )
            for family in FAMILIES:
                for domain in DOMAIN_KEYS:
                    mine, s_me = seed_averaged_contributions(once, RECGURU, overlap, common, family, domain)
                    theirs, s_th = seed_averaged_contributions(
                        once, baseline, overlap, common, family, domain
                    )
                    if mine is None or theirs is None or s_me != s_th or len(mine) != len(theirs):
                        continue  # no per-user ranks on the same users and seeds: nothing to pair
                    for j, metric in enumerate(TEST_METRICS):
                        diff = mine[:, j] - theirs[:, j]
                        for test in TESTS:
                            statistic, p = paired_test(diff, test)
                            table.append(
                                {
                                    "model": RECGURU,
                                    "baseline": baseline,
                                    "overlap": overlap,
                                    "domain": domain,
                                    "family": family,
                                    "metric": metric,
                                    "test": test,
                                    "diff": float(diff.mean()) if len(diff) else None,
                                    "statistic": _finite_or_none(statistic),
                                    "p": _finite_or_none(p),
                                    "n_users": int(len(diff)),
                                    "seeds": len(s_me),
                                }
                            )
        for test in TESTS:
            family_of = [e for e in table if e["test"] == test]
            adjusted = holm([math.nan if e["p"] is None else e["p"] for e in family_of])
            for e, q in zip(family_of, adjusted):
                e["p_holm"] = _finite_or_none(q)
        out += table
    return out


def _finite_or_none(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def tests_by_split(tests: list[dict]) -> dict:
    """One baseline's paired tests as a checkpoint carries them: {"test"|"test_full": {"A"|"B":
    {metric: {test: {"p", "p_holm", "seeds", "n_users"}}}}}."""
    out: dict = {}
    for e in tests:
        split = "test" if e["family"] == "sampled" else "test_full"
        cell = out.setdefault(split, {}).setdefault(e["domain"], {}).setdefault(e["metric"], {})
        cell[e["test"]] = {k: e[k] for k in ("p", "p_holm", "seeds", "n_users")}
    return out
