"""Metrics by user group with bootstrap intervals (recguru_core/analysis/groups.py), evaluate --groups."""

from __future__ import annotations

import json

import numpy as np

from recguru_core.metrics.ranking import paired_bootstrap


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_more_users():
    rng = np.random.default_rng(0)
    small, large = rng.random((50, 1)), rng.random((5000, 1))
    _, lo_s, hi_s = paired_bootstrap(small, n_boot=400)
    _, lo_l, hi_l = paired_bootstrap(large, n_boot=400)
    assert lo_s[0] < small.mean() < hi_s[0] and lo_l[0] < large.mean() < hi_l[0]
    assert hi_l[0] - lo_l[0] < (hi_s[0] - lo_s[0]) / 5  # ~ 1/sqrt(n): 10x more precise
    assert np.isnan(paired_bootstrap(np.zeros((0, 2)))[1]).all()


def test_group_table_partitions_users_and_matches_the_overall_metrics(tiny, capsys):
    from recguru_core import cli
    from recguru_core.analysis.inference import LoadedRun

    run = LoadedRun.load(tiny)
    rows = run.evaluate_groups(n_boot=200)
    overall = run.evaluate("test")
    full = run.evaluate("test", full_ranking=True)
    for r in rows:
        if r["group"] == "all users":
            reference = overall if r["ranking"] == "sampled" else full
            assert abs(r["value"] - reference[r["domain"]][r["metric"]]) < 1e-9
        assert r["low"] <= r["value"] + 1e-12 and r["value"] <= r["high"] + 1e-12
    for domain in "AB":
        users = {r["group"]: r["users"] for r in rows if r["domain"] == domain}
        everyone = users.pop("all users")
        assert users["overlapped"] + users["not overlapped"] == everyone
        history = [n for g, n in users.items() if "history" in g]
        assert sum(history) == everyone
    assert cli.main(["evaluate", str(tiny), "--groups", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == len(rows)
