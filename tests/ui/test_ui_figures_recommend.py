"""ui/figures/recommend.py and the recommendation tables."""

from __future__ import annotations

from pathlib import Path

from ui.figures import recommend as recommend_fig
from ui.figures import style, tables

ROOT = Path(__file__).resolve().parents[2]


def test_recommendation_frames_and_figures():
    rec = {
        "items": [
            {"rank": 1, "item_id": "x", "title": "X", "genre": "g", "score": 2.0},
            {"rank": 2, "item_id": "y", "title": "Y", "genre": "g", "score": 1.0},
        ],
        "test_item": {"item_id": "y", "title": "Y", "genre": "g", "rank": 2, "score": 1.0},
        "uses_other_domain": True,
    }
    table = tables.recommendation_table(rec)
    assert table["held-out"].tolist() == [False, True]
    fig = recommend_fig.scores_figure(rec, "B")
    assert list(fig.data[0].marker.color) == [style.DOMAIN_COLORS["B"], "#2F9E44"]
    influence = [
        {"position": 0, "item_id": "a", "title": "A", "delta_score": 0.2, "delta_rank": 3},
        {"position": 1, "item_id": "b", "title": "B", "delta_score": -0.1, "delta_rank": -1},
    ]
    fig = recommend_fig.influence_figure(influence)
    assert list(fig.data[0].marker.color) == ["#2F9E44", "#C92A2A"]
    assert tables.influence_table(influence)["Δrank"].tolist() == [3, -1]
    assert recommend_fig.attention_figure([{"position": 0, "title": "A", "weight": 0.7}], "A").data[0].x == (
        0.7,
    )
    neighbours = tables.neighbours_table([{"user": "u", "distance": 1.5, "titles": ["a", "b"]}])
    assert neighbours.iloc[0]["recent titles"] == "a, b"
    history = tables.history_table(
        [{"item_id": "1", "title": "T", "genre": "G", "timestamp": 0, "split": "test"}]
    )
    assert history.iloc[0]["when"] == "1970-01-01" and history.iloc[0]["split"] == "test"
    assert tables.recommendation_table({"items": []}).empty and tables.history_table([]).empty
