"""Compare runs: metric-difference and alignment tables, the shared layout's points (pure;
the overlaid curves are in curves.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .style import DOMAINS, METRIC_KEYS, domain_label

RANKINGS = (("test", "sampled"), ("test_full", "full ranking"))


def difference_frame(
    metrics: Mapping[str, dict],
    *,
    names: dict | None = None,
    metric_keys: Sequence[str] = METRIC_KEYS,
) -> pd.DataFrame:
    """One row per (ranking, domain, metric): every run's test value and each later run minus
    the first ("B − A"), in percent points. Rows where no run has a value are left out."""
    labels = list(metrics)
    if len(labels) < 2:
        return pd.DataFrame()
    first = labels[0]
    rows = []
    for split, ranking in RANKINGS:
        for d in DOMAINS:
            for key in metric_keys:
                values = {}
                for label in labels:
                    v = (((metrics[label] or {}).get(split) or {}).get(d) or {}).get(key)
                    values[label] = 100 * float(v) if v is not None else np.nan
                if all(np.isnan(v) for v in values.values()):
                    continue
                row = {"Ranking": ranking, "Domain": domain_label(d, names), "Metric": key}
                row.update(values)
                for label in labels[1:]:
                    row[f"{label} − {first}"] = values[label] - values[first]
                rows.append(row)
    return pd.DataFrame(rows)


def style_differences(frame: pd.DataFrame):
    """Two decimals; differences green when the later run is better, red when worse."""
    deltas = [c for c in frame.columns if " − " in str(c)]
    values = [c for c in frame.columns if c not in ("Ranking", "Domain", "Metric")]

    def colour(v):
        if not isinstance(v, (int, float)) or np.isnan(v) or abs(v) < 0.005:
            return ""
        return "color: #2F9E44; font-weight: 600" if v > 0 else "color: #C92A2A; font-weight: 600"

    return (frame.style.format("{:.2f}", subset=values, na_rep="–")
            .format("{:+.2f}", subset=deltas, na_rep="–").map(colour, subset=deltas))


ALIGNMENT_ROWS = (
    ("Domain-classifier AUC", "auc", "value", "0.5 = A and B indistinguishable"),
    ("Length-matched AUC", "auc_length_matched", "value", "history length cannot give it away"),
    ("Proxy A-distance", "proxy_a_distance", "value", "0 = indistinguishable, 2 = separable"),
    ("kNN domain entropy (bits)", "knn_entropy", "value", "higher = better mixed"),
    ("Pair distance ratio", "pair_distance", "ratio", "< 1: a user's A and B GURs are close"),
)


def alignment_frame(comparisons: Mapping[str, dict | None], snapshot: str = "after") -> pd.DataFrame:
    """One row per alignment metric: each run's value at `snapshot`, its shuffled-label null,
    and each later run minus the first."""
    labels = list(comparisons)
    rows = []
    for title, key, sub, reading in ALIGNMENT_ROWS:
        row: dict = {"Metric": title}
        for label in labels:
            entry = (((comparisons[label] or {}).get(snapshot) or {}).get(key)) or {}
            value = entry.get(sub)
            row[label] = float(value) if value is not None else np.nan
            null = 1.0 if key == "pair_distance" and value is not None else entry.get("null")
            row[f"{label} null"] = float(null) if null is not None else np.nan
        for label in labels[1:]:
            row[f"{label} − {labels[0]}"] = row[label] - row[labels[0]]
        row["Reading"] = reading
        rows.append(row)
    return pd.DataFrame(rows).set_index("Metric")


def layouts_meta(result: dict) -> pd.DataFrame:
    """The shared sample of a comparison layout as the alignment figure's meta frame."""
    n = len(result["user"])
    cluster = result.get("cluster")
    return pd.DataFrame({
        "row": np.arange(n),
        "user": [str(u) for u in result["user"]],
        "domain": np.where(np.asarray(result["domain"]) == 0, "A", "B"),
        "overlap": np.asarray(result["overlap"]).astype(bool),
        "cluster": np.full(n, -1) if cluster is None else np.asarray(cluster).astype(np.int64),
    })
