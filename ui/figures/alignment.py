"""The alignment picture: GUR snapshots + a 2-d projection -> one plotly frame (pure)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..text import ViewError, figure_text
from .density import MIN_DENSITY_POINTS, contour_lines, density_grid, density_levels, grid_centres
from .style import (
    CLUSTER_COLORS,
    DOMAIN_COLORS,
    DOMAINS,
    OVERLAP_COLORS,
    base_layout,
    domain_label,
)

COLOR_MODES = {"domain": "Domain", "overlap": "Overlap status", "cluster": "Taste cluster"}


def snapshot_meta(snap: dict) -> pd.DataFrame:
    """Per snapshot row: user, domain ('A'/'B'), overlap, cluster and history length (-1 when
    unknown)."""
    domain = np.asarray(snap.get("domain")).astype(np.int64).ravel()
    n = len(domain)
    users = [str(u) for u in (snap.get("user") or [str(i) for i in range(n)])]
    if len(users) != n:
        users = [str(i) for i in range(n)]
    overlap = snap.get("overlap")
    overlap = np.zeros(n, dtype=bool) if overlap is None else np.asarray(overlap).astype(bool).ravel()
    cluster, length = (
        np.full(n, -1, dtype=np.int64)
        if snap.get(k) is None
        else np.asarray(snap.get(k)).astype(np.int64).ravel()
        for k in ("cluster", "length")
    )
    return pd.DataFrame(
        {
            "row": np.arange(n),
            "user": users,
            "domain": np.where(domain == 0, "A", "B"),
            "overlap": overlap[:n] if len(overlap) >= n else np.zeros(n, bool),
            "cluster": cluster[:n] if len(cluster) >= n else np.full(n, -1),
            "length": length[:n] if len(length) >= n else np.full(n, -1),
        }
    )


@dataclass
class AlignmentView:
    """Everything the Alignment page draws, as plain data (cacheable)."""

    meta: pd.DataFrame  # sample positions 0..m-1: row, user, domain, overlap, cluster, length
    layouts: dict[str, np.ndarray]  # "before" / "during_i" / "after" -> (m, 2)
    steps: dict[str, int]
    method: str
    seed: int
    seconds: float
    has_cluster: bool
    names: dict = field(default_factory=dict)
    ident: str = ""


def alignment_view(snapshots: dict, projection: dict, names: dict | None = None) -> AlignmentView:
    """Combine a projection result (rows into the snapshots) with the snapshot metadata.
    `snapshots` holds plain arrays (recguru_core.train.snapshots.plain_snapshots)."""
    present = [
        s
        for s in (snapshots.get("before"), *(snapshots.get("during") or []), snapshots.get("after"))
        if s is not None
    ]
    if not present:
        raise ViewError(
            "this checkpoint has no GUR snapshots (they are recorded at the "
            "end of pre-training and of the adversarial phase)"
        )
    first = present[0]
    meta_all = snapshot_meta(first)
    rows = projection.get("rows")
    rows = None if rows is None else np.asarray(rows)
    rows = np.arange(len(meta_all)) if rows is None else rows.astype(np.int64).ravel()
    if len(rows) and (rows.min() < 0 or rows.max() >= len(meta_all)):
        raise ViewError("the projection does not match this checkpoint's snapshots")
    meta = meta_all.iloc[rows].reset_index(drop=True)
    layouts, steps = {}, {}
    for name in ("before", "after"):
        if projection.get(name) is not None:
            layouts[name] = np.asarray(projection[name]).astype(np.float32)
            snap = snapshots.get(name) or {}
            steps[name] = int(snap.get("step", -1)) if isinstance(snap, dict) else -1
    during_steps = list(projection.get("during_steps") or [])
    for i, xy in enumerate(projection.get("during") or []):
        if xy is None:
            continue
        layouts[f"during_{i}"] = np.asarray(xy).astype(np.float32)
        steps[f"during_{i}"] = int(during_steps[i]) if i < len(during_steps) else -1
    for name, xy in layouts.items():
        if xy.shape != (len(meta), 2):
            raise ViewError(f"projection '{name}' has shape {xy.shape}, expected ({len(meta)}, 2)")
    order = [
        n
        for n in [
            "before",
            *sorted((k for k in layouts if k.startswith("during_")), key=lambda k: int(k.split("_")[1])),
            "after",
        ]
        if n in layouts
    ]
    layouts = {k: layouts[k] for k in order}
    return AlignmentView(
        meta=meta,
        layouts=layouts,
        steps=steps,
        method=str(projection.get("method", "?")),
        seed=int(projection.get("seed", 0) or 0),
        seconds=float(projection.get("seconds", 0.0) or 0.0),
        has_cluster=bool((meta["cluster"] >= 0).any()),
        names=dict(names or {}),
    )


def snapshot_title(name: str, steps: dict) -> str:
    step = steps.get(name, -1)
    suffix = f" (step {step})" if step is not None and step >= 0 else ""
    if name == "before":
        return "Before adversarial training" + suffix
    if name == "after":
        return "After adversarial training" + suffix
    return f"During adversarial training{suffix}"


def snapshot_short_title(name: str, steps: dict) -> str:
    """A picker label: "Before · step 300", "Step 450", "After · step 600"."""
    step = steps.get(name, -1)
    at = f"step {step}" if step is not None and step >= 0 else ""
    if name in ("before", "after"):
        return f"{name.capitalize()} · {at}" if at else name.capitalize()
    return at.capitalize() if at else f"During ({name.rsplit('_', 1)[-1]})"


def _groups(meta: pd.DataFrame, color_by: str) -> tuple[np.ndarray, list[str], list[str]]:
    """(per-point group code, colour per group, group label) for a colour mode, vectorised:
    code i is label i (a per-point Python call costs ~0.1 s at 40,000 points)."""
    names = meta.attrs.get("names", {})
    if color_by == "overlap":
        order = ["overlapped", "single-domain"]
        return (np.where(meta["overlap"].to_numpy(), 0, 1), [OVERLAP_COLORS[o] for o in order], order)
    cluster = meta["cluster"].to_numpy().astype(np.int64)
    if color_by == "cluster" and (cluster >= 0).any():
        known = np.unique(cluster[cluster >= 0])
        codes = np.where(cluster >= 0, np.searchsorted(known, cluster), len(known))
        order = [f"cluster {int(c)}" for c in known] + (["unknown"] if (cluster < 0).any() else [])
        colours = [CLUSTER_COLORS[i % len(CLUSTER_COLORS)] for i in range(len(known))]
        return codes, colours + ["#CED4DA"] * (len(order) - len(known)), order
    return (
        (meta["domain"].to_numpy() == "B").astype(np.int64),
        [DOMAIN_COLORS[d] for d in DOMAINS],
        [domain_label(d, names) for d in DOMAINS],
    )


def link_pairs(meta: pd.DataFrame, max_links: int = 400, seed: int = 0) -> np.ndarray:
    """(p, 2) sample positions (A, B) of the same user in both domains, read from the meta's
    `partner` column (the core's analysis.partner_rows, filled in by ui/store.py: the one
    implementation of "which rows are one person"); at most `max_links`, a seeded sample."""
    if "partner" not in meta:
        return np.zeros((0, 2), dtype=np.int64)
    meta = meta.reset_index(drop=True)
    partner = meta["partner"].to_numpy(dtype=np.int64)
    pos_a = np.flatnonzero((meta["domain"].to_numpy() == "A") & (partner >= 0))
    pairs = np.stack([pos_a, partner[pos_a]], axis=1) if len(pos_a) else np.zeros((0, 2), np.int64)
    if len(pairs) > max_links:
        keep = np.sort(np.random.default_rng(seed).choice(len(pairs), max_links, replace=False))
        pairs = pairs[keep]
    return pairs.astype(np.int64)


def _panel_range(layouts: Iterable[np.ndarray]) -> tuple[list[float], list[float]]:
    pts = (
        np.concatenate([xy for xy in layouts if xy is not None and len(xy)], axis=0)
        if any(xy is not None and len(xy) for xy in layouts)
        else np.zeros((1, 2))
    )
    pts = pts[np.isfinite(pts).all(axis=1)] if len(pts) else pts
    if not len(pts):
        return [-1, 1], [-1, 1]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = np.maximum((hi - lo) * 0.05, 1e-3)
    return [float(lo[0] - pad[0]), float(hi[0] + pad[0])], [
        float(lo[1] - pad[1]),
        float(hi[1] + pad[1]),
    ]


# ----------------------------------------------------------------------------- filter, search

OVERLAP_FILTERS = {"all": "All", "overlapped": "Overlapped", "single": "Single-domain"}


@dataclass(frozen=True)
class PointFilter:
    """Which points the Alignment page draws (hashable: part of the figure's cache key)."""

    overlap: str = "all"  # a key of OVERLAP_FILTERS
    length: tuple[int, int] | None = None  # history-length range, both ends included
    clusters: tuple[int, ...] = ()  # taste clusters to keep; empty keeps every cluster


@dataclass(frozen=True)
class FilterChoices:
    """What a view's filter can offer: the history-length range (None when the snapshots
    carry no lengths, or all are equal) and its taste clusters."""

    length: tuple[int, int] | None
    clusters: tuple[int, ...]

    def fits_length(self, value: Any) -> bool:
        return (
            self.length is not None
            and isinstance(value, (tuple, list))
            and len(value) == 2
            and self.length[0] <= int(value[0]) <= int(value[1]) <= self.length[1]
        )

    def fits_clusters(self, value: Any) -> bool:
        return isinstance(value, (tuple, list)) and set(value) <= set(self.clusters)


def filter_choices(meta: pd.DataFrame) -> FilterChoices:
    lengths = meta["length"].to_numpy() if "length" in meta else np.zeros(0, np.int64)
    lengths = lengths[lengths >= 0]
    span = (int(lengths.min()), int(lengths.max())) if len(lengths) else None
    clusters = sorted(int(c) for c in np.unique(meta["cluster"].to_numpy()) if c >= 0)
    return FilterChoices(span if span and span[1] > span[0] else None, tuple(clusters))


def filter_mask(meta: pd.DataFrame, flt: PointFilter | None) -> np.ndarray:
    """(m,) bool over sample positions: True = drawn. The positions themselves never change
    (they are what the markers' customdata and a selection name), only which are shown."""
    if flt is None:
        return np.ones(len(meta), dtype=bool)
    overlap = meta["overlap"].to_numpy().astype(bool)
    keep = {"overlapped": overlap, "single": ~overlap}.get(flt.overlap, overlap | True).copy()
    if flt.length is not None and "length" in meta:
        length = meta["length"].to_numpy()
        keep &= (length >= flt.length[0]) & (length <= flt.length[1])
    if flt.clusters:
        keep &= np.isin(meta["cluster"].to_numpy(), np.asarray(flt.clusters, dtype=np.int64))
    return keep


def find_user(meta: pd.DataFrame, query: str) -> list[int]:
    """Sample positions of the user with this exact id (its A and/or B point)."""
    query = str(query or "").strip()
    return np.flatnonzero(meta["user"].astype(str).to_numpy() == query).tolist() if query else []


def typed_array(values: Any, dtype: str = "uint8") -> dict:
    """A numeric array as plotly's typed-array spec ({"dtype", "bdata"}: base64 of the raw
    little-endian bytes). plotly.py takes a spec as it is, where an array of marker symbols is
    checked element by element in Python (seconds for 80,000 markers); it is also what
    plotly.py itself sends the browser for any numeric array, so plotly.js reads it as usual."""
    arr = np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("<"))
    return {
        "dtype": f"{arr.dtype.kind}{arr.dtype.itemsize}",  # plotly.js names: u1, i4, f4...
        "bdata": base64.b64encode(arr.tobytes()).decode("ascii"),
    }


def _colour_scale(colours: Sequence[str]) -> list:
    """A stepwise colour scale giving code i (with cmin -0.5, cmax k - 0.5) colour i: a numeric
    marker colour and a scale are validated at once, where 80,000 colour strings are parsed
    one by one."""
    k = max(len(colours), 1)
    return [[edge / k, c] for i, c in enumerate(colours) for edge in (i, i + 1)] or [
        [0, "#868E96"],
        [1, "#868E96"],
    ]


def _hover_text(meta: pd.DataFrame, names: dict | None) -> np.ndarray:
    """Each point's hover text, indexed by sample position, built with vectorised string
    operations (user ids escaped only where they hold a character plotly reads as HTML)."""
    users = meta["user"].astype(str)
    risky = users.str.contains(r"[&<>]", regex=True).to_numpy(dtype=bool)
    users = users.to_numpy(dtype=object)
    users[risky] = [figure_text(u) for u in users[risky]]
    domain = np.where(
        meta["domain"].to_numpy() == "A", *(figure_text(domain_label(d, names)) for d in DOMAINS)
    )
    status = np.where(meta["overlap"].to_numpy(), " · overlapped", " · single-domain")
    # Short: it is 80,000 strings in every chart message ("user " is in the hovertemplate).
    text = users.astype(str) + "<br>" + domain + status
    cluster = meta["cluster"].to_numpy()
    if (cluster >= 0).any():
        text = text + np.where(cluster >= 0, " · cluster " + cluster.astype(str), "")
    return text


def _domain_grids(xy: np.ndarray, meta: pd.DataFrame, shown: np.ndarray, xr, yr) -> dict:
    """{domain: density grid of its shown points} for one panel (a domain with too few shown
    points gets none: its lines would trace single users)."""
    domain = meta["domain"].to_numpy()
    pts = {d: xy[shown & (domain == d)] for d in DOMAINS}
    return {d: density_grid(p, xr, yr) for d, p in pts.items() if len(p) >= MIN_DENSITY_POINTS}


def alignment_figure(
    meta: pd.DataFrame,
    panels: Sequence[tuple[str, np.ndarray]],
    *,
    color_by: str = "domain",
    links: bool = False,
    selected: Iterable[int] = (),
    names: dict | None = None,
    max_links: int = 400,
    height: int = 560,
    point_size: float | None = None,
    shown: np.ndarray | None = None,
    contours: bool = False,
) -> go.Figure:
    """Side-by-side scatter panels of the same user sample in ONE frame (shared axis ranges,
    linked zoom). `meta` rows are sample positions (0..m-1) and every marker carries its
    position in customdata, so a box/lasso selection in either panel names the same users.
    `shown` (bool per position, from filter_mask) leaves points out without renumbering them;
    `contours` draws each domain's density of the shown points, at levels shared by both
    domains and panels, over the points."""
    meta = meta.reset_index(drop=True)
    meta.attrs["names"] = dict(names or {})
    if color_by == "cluster" and not (meta["cluster"] >= 0).any():
        color_by = "domain"  # no taste clusters: coloured by domain, no shapes needed
    shown = np.ones(len(meta), dtype=bool) if shown is None else np.asarray(shown, dtype=bool).reshape(-1)
    codes, colours, order = _groups(meta, color_by)
    scale = _colour_scale(colours)
    n_panels = max(1, len(panels))
    fig = make_subplots(
        rows=1,
        cols=n_panels,
        subplot_titles=[t for t, _ in panels] or [""],
        horizontal_spacing=0.04,
    )
    size = point_size or float(np.clip(9 - np.log10(max(int(shown.sum()), 1)) * 1.4, 3, 8))
    symbols = np.where(meta["domain"].to_numpy() == "A", 0, 2)  # plotly: 0 circle, 2 diamond
    hover = _hover_text(meta, names)
    # All shown users in ONE trace, in a seeded random order: with one trace per domain the
    # domain drawn last would cover the other exactly where they mix, which is the point.
    draw = np.random.default_rng(0).permutation(len(meta))
    draw = draw[shown[draw]]
    pairs = link_pairs(meta, max_links=max_links) if links else np.zeros((0, 2), dtype=np.int64)
    pairs = pairs[shown[pairs[:, 0]] & shown[pairs[:, 1]]] if len(pairs) else pairs
    selected = np.array(
        sorted({int(s) for s in selected if 0 <= int(s) < len(meta) and shown[int(s)]}),
        dtype=np.int64,
    )
    xr, yr = _panel_range([xy for _, xy in panels])  # all points: a filter never moves the frame
    grids = [
        _domain_grids(xy, meta, shown, xr, yr) if contours and xy is not None else {} for _, xy in panels
    ]
    levels = density_levels(g for panel in grids for g in panel.values())
    gx, gy = grid_centres(xr), grid_centres(yr)
    for ci, (_, xy) in enumerate(panels, start=1):
        if xy is None:
            continue
        if len(pairs):
            lx = np.full(len(pairs) * 3, np.nan)
            ly = np.full(len(pairs) * 3, np.nan)
            lx[0::3], lx[1::3] = xy[pairs[:, 0], 0], xy[pairs[:, 1], 0]
            ly[0::3], ly[1::3] = xy[pairs[:, 0], 1], xy[pairs[:, 1], 1]
            fig.add_trace(
                go.Scattergl(
                    x=lx,
                    y=ly,
                    mode="lines",
                    name="same user in A and B",
                    line=dict(color="rgba(73,80,87,0.35)", width=0.8),
                    hoverinfo="skip",
                    showlegend=ci == 1,
                    legendgroup="links",
                ),
                row=1,
                col=ci,
            )
        marker = {
            "color": codes[draw].astype(np.int16),
            "colorscale": scale,
            "cmin": -0.5,
            "cmax": len(colours) - 0.5,
            "showscale": False,
            "size": size,
            "opacity": 0.4 if contours else 0.75,
            "line": {"width": 0},
        }
        if color_by != "domain":
            marker["symbol"] = typed_array(symbols[draw])
        fig.add_trace(
            go.Scattergl(
                x=xy[draw, 0],
                y=xy[draw, 1],
                mode="markers",
                name="users",
                showlegend=False,
                marker=marker,
                customdata=draw.astype(np.int32),
                hovertext=hover[draw],
                hovertemplate="user %{hovertext}<extra></extra>",
            ),
            row=1,
            col=ci,
        )
        # Density lines are WebGL lines after the markers: an SVG contour trace would sit
        # under the WebGL canvas, hidden by 40,000 points. Lines take no hover or selection.
        for d, grid in grids[ci - 1].items():
            cx, cy = contour_lines(grid, gx, gy, levels)
            fig.add_trace(
                go.Scattergl(
                    x=cx,
                    y=cy,
                    mode="lines",
                    name=figure_text(f"density: {domain_label(d, names)}"),
                    line=dict(color=DOMAIN_COLORS[d], width=1.6),
                    hoverinfo="skip",
                    showlegend=ci == 1,
                    legendgroup=f"density-{d}",
                ),
                row=1,
                col=ci,
            )
        if len(selected):
            ring = {
                "symbol": "circle-open",
                "size": size + 6,
                "color": "#212529",
                "line": {"width": 1.6, "color": "#212529"},
            }
            fig.add_trace(
                go.Scattergl(
                    x=xy[selected, 0],
                    y=xy[selected, 1],
                    mode="markers",
                    name="selected",
                    legendgroup="selected",
                    showlegend=ci == 1,
                    marker=ring,
                    customdata=selected.astype(np.int32),
                    hovertext=hover[selected],
                    hovertemplate="user %{hovertext}<extra></extra>",
                ),
                row=1,
                col=ci,
            )
    present = np.unique(codes[shown])
    for i in present:  # legend entries only (the points are in the shared trace above)
        fig.add_trace(
            go.Scattergl(
                x=[None],
                y=[None],
                mode="markers",
                name=figure_text(order[i]),
                marker={"color": colours[i], "size": 10},
                hoverinfo="skip",
            ),
            row=1,
            col=1,
        )
    frame = dict(
        showticklabels=False,
        zeroline=False,
        showgrid=True,
        gridcolor="#F1F3F5",
        showline=True,
        linecolor="#DEE2E6",
        mirror=True,
    )
    fig.update_xaxes(range=xr, matches="x", **frame)
    fig.update_yaxes(range=yr, matches="y", **frame)
    base_layout(fig, height=height)
    fig.update_layout(
        dragmode="lasso",
        uirevision="alignment",
        clickmode="event+select",
        legend=dict(orientation="h", yanchor="top", y=-0.02, xanchor="center", x=0.5, itemsizing="constant"),
        margin=dict(l=8, r=8, t=40, b=8),
    )
    if color_by != "domain":  # the marker shapes' key, in the legend under the panels
        for d, symbol in (("A", "circle"), ("B", "diamond")):
            fig.add_trace(
                go.Scattergl(
                    x=[None],
                    y=[None],
                    mode="markers",
                    name=figure_text(f"shape: {domain_label(d, names)}"),
                    marker={"color": "#868E96", "size": 9, "symbol": symbol},
                    hoverinfo="skip",
                ),
                row=1,
                col=1,
            )
    return fig


def selected_positions(event: Any, fig: go.Figure | None = None) -> list[int]:
    """Sample positions named by a plotly selection event (box, lasso or click)."""
    points = []
    try:
        selection = event["selection"] if isinstance(event, dict) else getattr(event, "selection", None)
        if selection is None:
            return []
        points = selection["points"] if isinstance(selection, dict) else getattr(selection, "points", [])
    except (KeyError, TypeError, AttributeError):
        return []
    out = set()
    for p in points or []:
        custom = p.get("customdata") if isinstance(p, dict) else None
        if isinstance(custom, (list, tuple)):  # older figures: [position, user, ...]
            custom = custom[0] if custom else None
        if custom is not None:
            try:
                out.add(int(custom))
                continue
            except (TypeError, ValueError):
                pass
        if fig is not None and isinstance(p, dict):
            try:
                trace = fig.data[int(p.get("curve_number"))]
                idx = int(p.get("point_index", p.get("point_number")))
                if trace.customdata is not None:
                    out.add(int(np.ravel(trace.customdata[idx])[0]))
            except (TypeError, ValueError, IndexError, KeyError):
                continue
    return sorted(out)
