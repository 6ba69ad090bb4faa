"""ui/figures/alignment.py: the alignment picture from plain data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from recguru_core.analysis import partner_rows
from ui.figures import alignment as alignment_fig
from ui.figures import style

ROOT = Path(__file__).resolve().parents[2]


def _meta(n_per_domain: int = 50, clusters: bool = True) -> pd.DataFrame:
    users = [str(i) for i in range(n_per_domain)] + [
        str(i) for i in range(n_per_domain // 2, n_per_domain // 2 + n_per_domain)
    ]
    domain = ["A"] * n_per_domain + ["B"] * n_per_domain
    shared = set(users[:n_per_domain]) & set(users[n_per_domain:])
    overlap = [u in shared for u in users]
    return pd.DataFrame(
        {
            "row": np.arange(2 * n_per_domain),
            "user": users,
            "domain": domain,
            "overlap": overlap,
            "cluster": (np.arange(2 * n_per_domain) % 4) if clusters else -1,
            # what ui/store.py adds: the core's pairing of one person's A and B rows
            "partner": partner_rows(np.array([d == "B" for d in domain], np.int64), users, overlap),
        }
    )


def _xy(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 2)).astype(np.float32)


def _points(fig) -> list:
    return [t for t in fig.data if t.name == "users"]


def _legend(fig) -> dict:
    return {
        t.name: t.marker.color for t in fig.data if t.showlegend is not False and t.x == (None,)
    }


def test_alignment_figure_domain_colours_and_one_frame():
    meta = _meta()
    fig = alignment_fig.alignment_figure(
        meta,
        [("Before", _xy(100)), ("After", _xy(100, 1) * 3)],
        names={"A": "Books", "B": "Movies"},
    )
    assert isinstance(fig, go.Figure)
    points = _points(fig)
    assert len(points) == 2 and all(isinstance(t, go.Scattergl) for t in points)
    assert _legend(fig) == {"A · Books": "#E8590C", "B · Movies": "#1C7ED6"}
    for t in points:  # every point coloured by its own domain, A and B interleaved
        by_position = {int(c[0]): colour for c, colour in zip(t.customdata, t.marker.color)}
        assert all(by_position[p] == style.DOMAIN_COLORS[meta.at[p, "domain"]] for p in by_position)
        domains = [meta.at[int(c[0]), "domain"] for c in t.customdata]
        assert domains != sorted(domains)  # drawn in a mixed order, not A then B
    # Both panels share one frame: identical explicit ranges and linked axes.
    assert fig.layout.xaxis.range == fig.layout.xaxis2.range
    assert fig.layout.yaxis.range == fig.layout.yaxis2.range
    assert fig.layout.xaxis2.matches == "x" and fig.layout.yaxis2.matches == "y"
    # Every marker carries its sample position, in both panels, at that position's point.
    for t, xy in zip(points, (_xy(100), _xy(100, 1) * 3)):
        assert sorted(int(c[0]) for c in t.customdata) == list(range(100))
        first = int(t.customdata[0][0])
        assert (t.x[0], t.y[0]) == pytest.approx(tuple(xy[first]))


@pytest.mark.parametrize("mode", ["overlap", "cluster"])
def test_alignment_figure_other_colour_modes_keep_domain_as_symbol(mode):
    fig = alignment_fig.alignment_figure(_meta(), [("Before", _xy(100)), ("After", _xy(100))], color_by=mode)
    points = _points(fig)
    assert {s for t in points for s in t.marker.symbol} == {"circle", "diamond"}
    legend = {n: c for n, c in _legend(fig).items() if not n.startswith("shape:")}
    if mode == "overlap":
        assert set(legend.values()) == set(style.OVERLAP_COLORS.values())
    else:
        assert len(legend) == 4
    # the shapes' key is in the legend under the panels, not over the right panel's title
    shapes = {t.name: t.marker.symbol for t in fig.data if (t.name or "").startswith("shape:")}
    assert sorted(shapes.values()) == ["circle", "diamond"]
    assert not [a for a in fig.layout.annotations if "◆" in (a.text or "")]


def test_snapshot_short_titles_label_every_position():
    steps = {"before": 300, "during_0": 450, "during_1": 520, "after": 600}
    titles = [alignment_fig.snapshot_short_title(n, steps) for n in steps]
    assert titles == ["Before · step 300", "Step 450", "Step 520", "After · step 600"]
    assert alignment_fig.snapshot_short_title("during_2", {}) == "During (2)"


def test_cluster_mode_without_clusters_falls_back_to_domain():
    fig = alignment_fig.alignment_figure(_meta(clusters=False), [("Only", _xy(100))], color_by="cluster")
    assert set(_legend(fig).values()) == set(style.DOMAIN_COLORS.values())


def test_alignment_links_and_selection_overlay():
    meta = _meta()
    pairs = alignment_fig.link_pairs(meta)
    assert len(pairs) == 25  # users 25..49 are in both domains
    assert all(meta.at[a, "user"] == meta.at[b, "user"] for a, b in pairs)
    assert all(meta.at[a, "domain"] == "A" and meta.at[b, "domain"] == "B" for a, b in pairs)
    fig = alignment_fig.alignment_figure(
        meta, [("Before", _xy(100)), ("After", _xy(100))], links=True, selected=[3, 60, 999]
    )
    lines = [t for t in fig.data if t.mode == "lines"]
    assert len(lines) == 2 and len(lines[0].x) == 3 * 25
    overlay = [t for t in fig.data if t.name == "selected"]
    assert len(overlay) == 2 and [int(c[0]) for c in overlay[0].customdata] == [3, 60]
    assert len(alignment_fig.link_pairs(meta, max_links=5)) == 5


def test_selected_positions_from_event_shapes():
    fig = alignment_fig.alignment_figure(_meta(), [("Before", _xy(100))])
    event = {
        "selection": {
            "points": [
                {"customdata": [7, "u", "d", "o"], "curve_number": 0},
                {"curve_number": 0, "point_index": 5},
            ],
            "point_indices": [],
            "box": [],
            "lasso": [],
        }
    }
    positions = alignment_fig.selected_positions(event, fig)
    assert 7 in positions and int(fig.data[0].customdata[5][0]) in positions

    class Obj:  # the attribute-style object st.plotly_chart returns
        selection = type("S", (), {"points": [{"customdata": [5]}]})()

    assert alignment_fig.selected_positions(Obj()) == [5]
    assert alignment_fig.selected_positions(None) == []
    assert alignment_fig.selected_positions({"selection": {"points": []}}) == []


def test_alignment_view_from_projection_and_snapshots():
    n = 40
    snap = {
        "gur": np.zeros((n, 4)),
        "domain": np.array([0] * 20 + [1] * 20),
        "user": [str(i % 25) for i in range(n)],
        "overlap": np.ones(n, bool),
        "cluster": np.arange(n) % 3,
        "step": 10,
    }
    snapshots = {"before": snap, "during": [{**snap, "step": 15}], "after": {**snap, "step": 20}}
    rows = np.arange(0, n, 2)
    projection = {
        "method": "pca",
        "rows": rows,
        "before": _xy(len(rows)),
        "after": _xy(len(rows), 1),
        "during": [_xy(len(rows), 2)],
        "during_steps": [15],
        "seed": 0,
        "seconds": 0.1,
    }
    view = alignment_fig.alignment_view(snapshots, projection, {"A": "Books", "B": "Movies"})
    assert list(view.layouts) == ["before", "during_0", "after"]
    assert view.steps == {"before": 10, "during_0": 15, "after": 20}
    assert view.meta["user"].tolist() == [str(int(r) % 25) for r in rows]
    assert view.has_cluster
    assert "step 20" in alignment_fig.snapshot_title("after", view.steps)
    with pytest.raises(Exception, match="does not match"):
        alignment_fig.alignment_view(snapshots, {**projection, "rows": np.array([0, 999])})
    with pytest.raises(Exception, match="no GUR snapshots"):
        alignment_fig.alignment_view({}, projection)
