"""Metrics split by user group, with bootstrap 95 % intervals, so a 0.5-point difference is not
mistaken for a win and the users cross-domain help is for (cold, overlapped) are seen apart.

    user_groups(data, domain)      {group name: (U,) bool mask}: all users; overlapped / not
                                   overlapped (in both domains or only this one); short / long
                                   training histories (at most / more than the domain's median)
    group_table(data, ranks, ...)  one row per (domain, group, ranking, metric): users, value,
                                   95 % percentile-bootstrap interval over the group's users

Pure numpy over per-user ranks (`scoring.user_ranks`, or a benchmark's saved ranks), so the
same table is made for any model that has per-user ranks.
"""

from __future__ import annotations

import numpy as np

from ..metrics.ranking import METRIC_NAMES, N_BOOT, metric_contributions, paired_bootstrap

GROUP_METRICS = ("HR@10", "NDCG@10", "MRR")


def user_groups(data, domain: int) -> dict[str, np.ndarray]:
    dom = data.domain(domain)
    overlapped = np.zeros(dom.n_users, dtype=bool)
    overlapped[data.overlap_a if domain == 0 else data.overlap_b] = True
    history = dom.lengths - 2  # training items: the last two are validation and test targets
    median = int(np.median(history)) if len(history) else 0
    return {
        "all users": np.ones(dom.n_users, dtype=bool),
        "overlapped": overlapped,
        "not overlapped": ~overlapped,
        f"short history (≤ {median} items)": history <= median,
        f"long history (> {median} items)": history > median,
    }


def group_table(
    data,
    ranks: dict[str, dict[str, np.ndarray]],
    *,
    metrics=GROUP_METRICS,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> list[dict]:
    """ranks: {ranking ('sampled'/'full'): {'A': (U_A,), 'B': (U_B,)} 1-based ranks}."""
    columns = [METRIC_NAMES.index(m) for m in metrics]
    rows = []
    for domain, key in ((0, "A"), (1, "B")):
        groups = user_groups(data, domain)
        for ranking, per_domain in ranks.items():
            contributions = metric_contributions(per_domain[key])[:, columns]  # (U, m)
            for g, (group, mask) in enumerate(groups.items()):
                part = contributions[mask]
                if len(part):
                    values, low, high = paired_bootstrap(part, n_boot=n_boot, seed=seed + 17 * g + domain)
                else:
                    values = low = high = np.full(len(columns), np.nan)
                for j, metric in enumerate(metrics):
                    rows.append(
                        {
                            "domain": key,
                            "group": group,
                            "users": int(mask.sum()),
                            "ranking": ranking,
                            "metric": metric,
                            "value": float(values[j]),
                            "low": float(low[j]),
                            "high": float(high[j]),
                        }
                    )
    return rows
