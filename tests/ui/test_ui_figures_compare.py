"""ui/figures/compare.py and the overlaid curves: plain data in, frames and figures out. The
tables' rows come from recguru_core.analysis.compare (as the store hands them to the page)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from recguru_core.analysis.compare import alignment_rows, metric_rows
from ui.figures import compare
from ui.figures.curves import overlay_curves_figure
from ui.figures.style import METRIC_KEYS


def _metrics(hr10_a: float, ndcg10_b: float, full: bool = True) -> dict:
    test = {"A": {"HR@10": hr10_a, "NDCG@10": 0.2}, "B": {"HR@10": 0.3, "NDCG@10": ndcg10_b}}
    out = {"test": test}
    if full:
        out["test_full"] = {"A": {"HR@10": hr10_a / 4}, "B": {"HR@10": 0.05}}
    return out


def _differences(metrics: dict, **kw):
    labels = list(metrics)
    rows = metric_rows(labels, list(metrics.values()), METRIC_KEYS)
    return compare.difference_frame(rows, labels, **kw)


def test_difference_frame_is_later_minus_first_in_points():
    frame = _differences(
        {"demo": _metrics(0.5, 0.2), "ctrl": _metrics(0.45, 0.25)}, names={"A": "Books", "B": "Movies"}
    )
    row = frame[
        (frame["Ranking"] == "sampled") & (frame["Metric"] == "HR@10") & (frame["Domain"] == "A · Books")
    ].iloc[0]
    assert math.isclose(row["demo"], 50.0) and math.isclose(row["ctrl − demo"], -5.0)
    row = frame[
        (frame["Ranking"] == "sampled") & (frame["Metric"] == "NDCG@10") & (frame["Domain"] == "B · Movies")
    ].iloc[0]
    assert math.isclose(row["ctrl − demo"], 5.0)
    full = frame[frame["Ranking"] == "full ranking"]
    assert set(full["Metric"]) == {"HR@10"}  # rows no run has are left out
    assert math.isclose(full[full["Domain"] == "A · Books"]["ctrl − demo"].iloc[0], -1.25)
    compare.style_differences(frame).to_html()  # renders


def test_difference_frame_three_runs_and_missing_values():
    frame = _differences(
        {"a": _metrics(0.5, 0.2), "b": _metrics(0.4, 0.2, full=False), "c": _metrics(0.6, 0.1)}
    )
    assert {"b − a", "c − a"} <= set(frame.columns)
    full = frame[frame["Ranking"] == "full ranking"]
    assert full["b"].isna().all() and full["b − a"].isna().all()
    assert _differences({"only": _metrics(0.5, 0.2)}).empty


def test_alignment_frame_side_by_side():
    def result(auc, ratio):
        return {
            "after": {
                "auc": {"value": auc, "null": 0.5},
                "pair_distance": {"value": 2.0, "null": 4.0, "ratio": ratio},
            }
        }

    labels = ["demo", "ctrl"]
    frame = compare.alignment_frame(alignment_rows(labels, [result(0.55, 0.4), result(0.8, 0.6)]), labels)
    assert math.isclose(frame.at["Domain-classifier AUC", "ctrl − demo"], 0.25)
    assert math.isclose(frame.at["Pair distance ratio", "demo null"], 1.0)
    assert np.isnan(frame.at["Proxy A-distance", "demo"])  # not measured: empty, no error


def test_overlay_curves_one_colour_per_run():
    def history(offset):
        return pd.DataFrame(
            {
                "step": [1, 2, 3, 4],
                "phase": ["pretrain", "pretrain", "adversarial", "adversarial"],
                "rec_A": [3.0, 2.5, 2.4, 2.3],
                "rec_B": [3.1, 2.6, 2.5, 2.4],
                "wasserstein": [np.nan, np.nan, 0.1 + offset, 0.2],
            }
        )

    fig = overlay_curves_figure({"demo <b>": history(0), "ctrl": history(1)}, smoothing=0.0)
    names = {t.name for t in fig.data}
    assert names == {"demo &lt;b&gt;", "ctrl"}  # escaped for plotly
    colours = {t.name: t.line.color for t in fig.data}
    assert colours["ctrl"] != colours["demo &lt;b&gt;"]
    titles = [a.text for a in fig.layout.annotations]
    assert "Wasserstein estimate" in titles and any(t.startswith("Reconstruction") for t in titles)
    assert sum(bool(t.showlegend) for t in fig.data) == 2  # one legend entry per run
