"""Compare runs: the comparison's rows as tables, the shared layout's points (pure; the rows
come from recguru_core.analysis.compare through the store, the same rows the CLI's `compare` prints;
the overlaid curves are in curves.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .style import domain_label


def _percent(value: float | None) -> float:
    return np.nan if value is None else 100 * float(value)


def _number(value: float | None) -> float:
    return np.nan if value is None else float(value)


def difference_frame(
    rows: Sequence[dict], labels: Sequence[str], *, names: dict | None = None
) -> pd.DataFrame:
    """The metric rows (recguru_core.analysis.compare.metric_rows) as a table in percent points: one
    row per (ranking, domain, metric), every run's test value and each later run minus the
    first ("B − A"); a value a run lacks is NaN."""
    labels = list(labels)
    if len(labels) < 2:
        return pd.DataFrame()
    first = labels[0]
    out = []
    for r in rows:
        row = {"Ranking": r["ranking"], "Domain": domain_label(r["domain"], names), "Metric": r["metric"]}
        row.update({label: _percent(r["values"].get(label)) for label in labels})
        row.update({f"{label} − {first}": _percent(r["diff"].get(label)) for label in labels[1:]})
        out.append(row)
    return pd.DataFrame(out)


def style_differences(frame: pd.DataFrame):
    """Two decimals; differences green when the later run is better, red when worse."""
    deltas = [c for c in frame.columns if " − " in str(c)]
    values = [c for c in frame.columns if c not in ("Ranking", "Domain", "Metric")]

    def colour(v):
        if not isinstance(v, (int, float)) or np.isnan(v) or abs(v) < 0.005:
            return ""
        return "color: #2F9E44; font-weight: 600" if v > 0 else "color: #C92A2A; font-weight: 600"

    return (
        frame.style.format("{:.2f}", subset=values, na_rep="–")
        .format("{:+.2f}", subset=deltas, na_rep="–")
        .map(colour, subset=deltas)
    )


def alignment_frame(rows: Sequence[dict], labels: Sequence[str]) -> pd.DataFrame:
    """The alignment rows (recguru_core.analysis.compare.alignment_rows) as a table indexed by metric:
    each run's value and its shuffled-label null, each later run minus the first, and how to
    read the metric."""
    labels = list(labels)
    out = []
    for r in rows:
        row: dict = {"Metric": r["title"]}
        for label in labels:
            row[label] = _number(r["values"].get(label))
            row[f"{label} null"] = _number(r["null"].get(label))
        for label in labels[1:]:
            row[f"{label} − {labels[0]}"] = _number(r["diff"].get(label))
        row["Reading"] = r["reading"]
        out.append(row)
    return pd.DataFrame(out).set_index("Metric")


def layouts_meta(result: dict) -> pd.DataFrame:
    """The shared sample of a comparison layout as the alignment figure's meta frame."""
    n = len(result["user"])
    cluster = result.get("cluster")
    return pd.DataFrame(
        {
            "row": np.arange(n),
            "user": [str(u) for u in result["user"]],
            "domain": np.where(np.asarray(result["domain"]) == 0, "A", "B"),
            "overlap": np.asarray(result["overlap"]).astype(bool),
            "cluster": np.full(n, -1) if cluster is None else np.asarray(cluster).astype(np.int64),
        }
    )
