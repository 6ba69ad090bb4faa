"""ui/figures/alignment.py: the alignment picture from plain data."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from recguru_core.analysis.alignment import partner_rows
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


def _decode(value) -> np.ndarray:
    """A marker array as the browser gets it: plotly's typed-array spec decoded, or as is."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value)


def _colours(trace) -> list[str]:
    """Each marker's colour: its code through the trace's stepwise colour scale."""
    scale = trace.marker.colorscale  # ((0, c0), (1/k, c0), (1/k, c1), ...)
    return [scale[2 * int(code)][1] for code in _decode(trace.marker.color)]


def _symbols(trace) -> set:
    return {{0: "circle", 2: "diamond"}[int(s)] for s in _decode(trace.marker.symbol)}


def _legend(fig) -> dict:
    return {t.name: t.marker.color for t in fig.data if t.showlegend is not False and t.x == (None,)}


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
        by_position = {int(c): colour for c, colour in zip(t.customdata, _colours(t))}
        assert all(by_position[p] == style.DOMAIN_COLORS[meta.at[p, "domain"]] for p in by_position)
        domains = [meta.at[int(c), "domain"] for c in t.customdata]
        assert domains != sorted(domains)  # drawn in a mixed order, not A then B
    # Both panels share one frame: identical explicit ranges and linked axes.
    assert fig.layout.xaxis.range == fig.layout.xaxis2.range
    assert fig.layout.yaxis.range == fig.layout.yaxis2.range
    assert fig.layout.xaxis2.matches == "x" and fig.layout.yaxis2.matches == "y"
    # Every marker carries its sample position, in both panels, at that position's point.
    for t, xy in zip(points, (_xy(100), _xy(100, 1) * 3)):
        assert sorted(int(c) for c in t.customdata) == list(range(100))
        first = int(t.customdata[0])
        assert (t.x[0], t.y[0]) == pytest.approx(tuple(xy[first]))


@pytest.mark.parametrize("mode", ["overlap", "cluster"])
def test_alignment_figure_other_colour_modes_keep_domain_as_symbol(mode):
    fig = alignment_fig.alignment_figure(_meta(), [("Before", _xy(100)), ("After", _xy(100))], color_by=mode)
    points = _points(fig)
    assert set().union(*(_symbols(t) for t in points)) == {"circle", "diamond"}
    for t in points:  # each marker's shape is its own domain's
        shapes = [{0: "A", 2: "B"}[int(s)] for s in _decode(t.marker.symbol)]
        assert shapes == [_meta().at[int(c), "domain"] for c in t.customdata]
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
    assert len(overlay) == 2 and [int(c) for c in overlay[0].customdata] == [3, 60]
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
    assert 7 in positions and int(fig.data[0].customdata[5]) in positions
    # what the browser sends for this figure: the position itself as the point's customdata
    assert alignment_fig.selected_positions({"selection": {"points": [{"customdata": 12}]}}) == [12]

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


# --------------------------------------------------------------------------- filter, search


def _filter_meta() -> pd.DataFrame:
    meta = _meta()
    meta["length"] = np.arange(len(meta)) % 20 + 3  # 3..22
    return meta


def test_filter_mask_counts():
    meta = _filter_meta()
    mask = alignment_fig.filter_mask
    PF = alignment_fig.PointFilter
    assert mask(meta, None).all() and mask(meta, PF()).all()
    overlapped = int(meta["overlap"].sum())
    assert mask(meta, PF("overlapped")).sum() == overlapped == 50  # 25 users, in A and in B
    assert mask(meta, PF("single")).sum() == len(meta) - overlapped
    lengths = meta["length"].to_numpy()
    assert mask(meta, PF(length=(5, 9))).sum() == ((lengths >= 5) & (lengths <= 9)).sum()
    assert mask(meta, PF(clusters=(1, 3))).sum() == meta["cluster"].isin([1, 3]).sum()
    both = mask(meta, PF("overlapped", (5, 9), (1,)))
    expected = meta["overlap"] & meta["length"].between(5, 9) & (meta["cluster"] == 1)
    assert np.array_equal(both, expected.to_numpy())
    choices = alignment_fig.filter_choices(meta)
    assert choices.length == (3, 22) and choices.clusters == (0, 1, 2, 3)
    assert choices.fits_length((3, 22)) and not choices.fits_length((2, 22))
    assert not choices.fits_length((9, 5)) and not choices.fits_length("3-9")
    assert choices.fits_clusters([0, 3]) and not choices.fits_clusters([7])
    # no lengths recorded (older checkpoints), no clusters: nothing to offer
    bare = alignment_fig.filter_choices(_meta(clusters=False).assign(length=-1))
    assert bare.length is None and bare.clusters == ()


def test_filtered_figure_keeps_sample_positions():
    meta = _filter_meta()
    xy = [_xy(100), _xy(100, 1)]
    shown = alignment_fig.filter_mask(meta, alignment_fig.PointFilter("overlapped", (5, 15)))
    fig = alignment_fig.alignment_figure(
        meta,
        [("Before", xy[0]), ("After", xy[1])],
        shown=shown,
        links=True,
        selected=[int(np.flatnonzero(shown)[0]), int(np.flatnonzero(~shown)[0])],
    )
    kept = set(np.flatnonzero(shown).tolist())
    for t, panel in zip(_points(fig), xy):  # the shown points only, still named by position
        positions = [int(c) for c in t.customdata]
        assert set(positions) == kept and len(positions) == len(kept)
        assert np.allclose(np.c_[t.x, t.y], panel[positions])
    overlay = [t for t in fig.data if t.name == "selected"]  # a hidden selected point: no ring
    assert [list(t.customdata) for t in overlay] == [[min(kept)], [min(kept)]]
    lines = [t for t in fig.data if t.mode == "lines" and t.name == "same user in A and B"]
    ends = [(float(x), float(y)) for x, y in zip(lines[0].x, lines[0].y) if np.isfinite(x)]
    shown_xy = {(float(x), float(y)) for x, y in xy[0][sorted(kept)]}
    assert ends and set(ends) <= shown_xy  # links only between two shown points
    # the frame is the unfiltered one: filtering never moves the axes
    full = alignment_fig.alignment_figure(meta, [("Before", xy[0]), ("After", xy[1])])
    assert fig.layout.xaxis.range == full.layout.xaxis.range
    # the search helper finds a user's points in both domains, by exact id
    both = alignment_fig.find_user(meta, " 30 ")
    assert [meta.at[p, "domain"] for p in both] == ["A", "B"]
    assert alignment_fig.find_user(meta, "3") == [3] and alignment_fig.find_user(meta, "") == []
    assert alignment_fig.find_user(meta, "nobody") == []


def _density_traces(fig) -> list:
    return [t for t in fig.data if (t.name or "").startswith("density")]


def test_contours_over_the_points_take_no_hover_and_follow_the_filter():
    meta = _filter_meta()
    panels = [("Before", _xy(100)), ("After", _xy(100, 1) + 0.5)]
    assert not _density_traces(alignment_fig.alignment_figure(meta, panels))  # off by default
    fig = alignment_fig.alignment_figure(meta, panels, contours=True, names={"A": "Books"})
    lines = _density_traces(fig)
    assert len(lines) == 4  # per panel, one set per domain
    assert [t.line.color for t in lines] == [style.DOMAIN_COLORS[d] for d in "ABAB"]
    assert all(t.mode == "lines" and t.hoverinfo == "skip" and t.customdata is None for t in lines)
    assert all(isinstance(t, go.Scattergl) for t in lines)  # in the WebGL layer with the points
    order = [t.name for t in fig.data]
    assert order.index("users") < order.index(lines[0].name)  # drawn after (over) the markers
    assert [t.showlegend for t in lines] == [True, True, False, False]
    assert lines[0].name == "density: A · Books"
    # the filter removes every B point: B's lines go with them, A's are drawn from A's shown
    only_a = (meta["domain"] == "A").to_numpy() & (meta["length"] < 15).to_numpy()
    filtered = _density_traces(alignment_fig.alignment_figure(meta, panels, contours=True, shown=only_a))
    assert [t.line.color for t in filtered] == [style.DOMAIN_COLORS["A"]] * 2
    assert not np.array_equal(np.asarray(filtered[0].x), np.asarray(lines[0].x), equal_nan=True)
    again = _density_traces(alignment_fig.alignment_figure(meta, panels, contours=True, names={"A": "Books"}))
    assert all(
        np.array_equal(np.asarray(a.x), np.asarray(b.x), equal_nan=True) for a, b in zip(lines, again)
    )  # deterministic


def _big(n_per_domain: int = 20_000):
    rng = np.random.default_rng(0)
    meta = _meta(n_per_domain)
    meta["length"] = rng.integers(3, 60, len(meta))
    return meta, [("Before", _xy(len(meta))), ("After", _xy(len(meta), 1))]


def test_a_40000_point_figure_avoids_per_point_validation():
    """Marker arrays plotly would check point by point in Python (colour strings, symbol
    names, object customdata: ~4 s at 40,000 points) are numeric or typed-array specs."""
    meta, panels = _big()
    t0 = time.perf_counter()
    fig = alignment_fig.alignment_figure(meta, panels, color_by="cluster", contours=True)
    print(f"40,000-point figure with contours: {time.perf_counter() - t0:.2f} s")
    for t in _points(fig):
        assert len(t.customdata) == 40_000 and np.asarray(t.customdata).dtype.kind == "i"
        assert np.asarray(t.marker.color).dtype.kind == "i"
        assert isinstance(t.marker.symbol, dict) and set(t.marker.symbol) == {"dtype", "bdata"}
        assert np.asarray(t.hovertext).dtype.kind == "U"
    spec = alignment_fig.typed_array([0, 2, 2, 0])
    assert list(_decode(spec)) == [0, 2, 2, 0]
    assert list(_decode(alignment_fig.typed_array([1.5, -2], "float32"))) == [1.5, -2.0]


def test_hover_text_is_escaped():
    meta = _meta(10)
    meta.loc[0, "user"] = "<b>x</b>&"
    fig = alignment_fig.alignment_figure(meta, [("Only", _xy(20))])
    texts = {int(c): h for c, h in zip(_points(fig)[0].customdata, _points(fig)[0].hovertext)}
    assert texts[0].startswith("&lt;b&gt;x&lt;/b&gt;&amp;<br>A · single-domain")
    assert "<b>" not in "".join(texts.values())
