"""ui/figures/tables.py: Table-1/Table-2 frames, metric comparisons, stylers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ui.figures import style, tables

ROOT = Path(__file__).resolve().parents[2]


METRICS = {
    "test": {"A": {k: 0.1 for k in style.METRIC_KEYS}, "B": {k: 0.2 for k in style.METRIC_KEYS}},
    "test_full": {"A": {k: 0.01 for k in style.METRIC_KEYS}, "B": {k: 0.02 for k in style.METRIC_KEYS}},
}


def test_table2_layout_with_baselines_first():
    baselines = {"POP": {"test": {"A": {"HR@10": 0.05}, "B": {"HR@10": 0.06}}}}
    frame = tables.table2_frame(METRICS, baselines, names={"A": "Books", "B": "Movies"})
    assert list(frame.index) == list(style.METRIC_KEYS)
    assert list(frame.columns) == [
        ("A · Books", "POP"),
        ("A · Books", "RecGURU"),
        ("B · Movies", "POP"),
        ("B · Movies", "RecGURU"),
    ]
    assert frame.loc["HR@10", ("A · Books", "RecGURU")] == pytest.approx(10.0)
    assert frame.loc["HR@10", ("B · Movies", "POP")] == pytest.approx(6.0)
    assert np.isnan(frame.loc["HR@5", ("A · Books", "POP")])
    full = tables.table2_frame(METRICS, baselines, split="test_full")
    assert [m for _, m in full.columns] == ["RecGURU", "RecGURU"]  # POP has no full ranking
    html = tables.style_table2(frame).to_html()
    assert "font-weight: 700" in html
    assert tables.table2_frame({}, None).empty
    assert tables.metrics_bar_figure(frame.loc[["HR@10"]]).data


def test_headline_metrics_and_stats_frame():
    head = tables.headline_metrics(METRICS, {"A": "Books", "B": "Movies"})
    assert [h["label"] for h in head] == [
        "HR@10 · A · Books",
        "NDCG@10 · A · Books",
        "HR@10 · B · Movies",
        "NDCG@10 · B · Movies",
    ]
    assert head[0]["value"] == "10.00%"
    assert "1 + 199 sampled negatives" in head[0]["help"]  # the default
    assert "1 + 999 sampled" in tables.headline_metrics(METRICS, negatives=999)[0]["help"]
    assert tables.headline_metrics({}) == []
    stats = {
        "A": {"users": 10, "items": 5, "interactions": 40, "avg_len": 4.0},
        "B": {"users": 8, "items": 4, "interactions": 20, "avg_len": 2.5},
        "overlap_users": 3,
        "names": {"A": "Books", "B": "Movies"},
    }
    frame = tables.stats_frame(stats)
    assert list(frame.index) == ["A · Books", "B · Movies"]
    assert frame.loc["B · Movies", "#Users"] == 8 and frame.loc["A · Books", "#Overlap"] == 3


def test_metrics_comparison_frame():
    m = {
        "auc": {"value": 0.9, "null": 0.5},
        "proxy_a_distance": {"value": 1.6, "null": 0.0},
        "knn_entropy": {"value": 0.2, "null": 0.95, "max": 1.0},
        "pair_distance": {"value": 2.0, "null": 4.0, "ratio": 0.5, "n_pairs": 10},
        "n": 100,
    }
    after = {**m, "auc": {"value": 0.55, "null": 0.5}, "pair_distance": None}
    frame = tables.metrics_comparison_frame({"before": m, "after": after})
    assert frame.loc["Domain-classifier AUC", "Before"] == 0.9
    assert frame.loc["Domain-classifier AUC", "After"] == 0.55
    assert frame.loc["Domain-classifier AUC", "After null"] == 0.5
    assert pd.isna(frame.loc["Overlapped pair distance", "After"])


def test_collapse_rows_and_scree_figure():
    from ui.figures.spectrum import scree_figure
    from ui.figures.tables import metrics_comparison_frame

    comparison = {
        name: {
            "auc": {"value": v, "null": 0.5},
            "spectrum": {"effective_rank": r, "top3_share": t, "scree": [t, 0.01]},
            "uniformity": {"value": -3.0},
            "mmd": {"value": 0.01, "null": 0.0, "p_value": 0.005},
        }
        for name, v, r, t in (("before", 0.9, 10.7, 0.55), ("after", 0.65, 4.7, 0.99))
    }
    frame = metrics_comparison_frame(comparison, ["before", "after"])
    assert frame.loc["Effective rank", "Before"] == 10.7 and frame.loc["Effective rank", "After"] == 4.7
    assert frame.loc["Top-3 variance share", "After"] == 0.99
    assert "p = 0.005" in frame.loc["MMD² (A vs B)", "Reading"]
    fig = scree_figure(comparison, ["before", "after"], {"before": "Before", "after": "After"})
    assert [t.name for t in fig.data] == ["Before · eff. rank 10.7", "After · eff. rank 4.7"]


def test_csv_exports_state_the_protocol_on_their_first_line():
    import io

    import pandas as pd

    line = "Protocol: leave-one-out split by time; overlap 0.3; seeds 0, 1 (2)."
    frame = pd.DataFrame({"A": [1.5, 2.5]}, index=pd.Index(["HR@10", "NDCG@10"], name="Metric"))
    for table, index_col in ((frame, 0), ([{"group": "all users", "HR@10": 0.5}], None)):
        data = tables.csv_with_protocol(table, line).decode()
        assert data.splitlines()[0] == f"# {line}"
        back = pd.read_csv(io.StringIO(data), comment="#", index_col=index_col)
        expected = table if isinstance(table, pd.DataFrame) else pd.DataFrame(table)
        pd.testing.assert_frame_equal(back, expected)
