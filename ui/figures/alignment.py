"""The alignment picture: GUR snapshots + a 2-d projection -> one plotly frame (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..text import ViewError, figure_text
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
    """Per snapshot row: user, domain ('A'/'B'), overlap, cluster (-1 when unknown)."""
    domain = np.asarray(snap.get("domain")).astype(np.int64).ravel()
    n = len(domain)
    users = [str(u) for u in (snap.get("user") or [str(i) for i in range(n)])]
    if len(users) != n:
        users = [str(i) for i in range(n)]
    overlap = snap.get("overlap")
    overlap = np.zeros(n, dtype=bool) if overlap is None else np.asarray(overlap).astype(bool).ravel()
    cluster = snap.get("cluster")
    cluster = (
        np.full(n, -1, dtype=np.int64) if cluster is None else np.asarray(cluster).astype(np.int64).ravel()
    )
    return pd.DataFrame(
        {
            "row": np.arange(n),
            "user": users,
            "domain": np.where(domain == 0, "A", "B"),
            "overlap": overlap[:n] if len(overlap) >= n else np.zeros(n, bool),
            "cluster": cluster[:n] if len(cluster) >= n else np.full(n, -1),
        }
    )


@dataclass
class AlignmentView:
    """Everything the Alignment page draws, as plain data (cacheable)."""

    meta: pd.DataFrame  # sample positions 0..m-1: row, user, domain, overlap, cluster
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
    `snapshots` holds plain arrays (recguru_core.snapshots.plain_snapshots)."""
    present = [s for s in (snapshots.get("before"), *(snapshots.get("during") or []),
                           snapshots.get("after")) if s is not None]
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
            raise ViewError(
                f"projection '{name}' has shape {xy.shape}, expected ({len(meta)}, 2)"
            )
    order = [
        n
        for n in [
            "before",
            *sorted(
                (k for k in layouts if k.startswith("during_")), key=lambda k: int(k.split("_")[1])
            ),
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


def _group_key(meta: pd.DataFrame, color_by: str) -> tuple[pd.Series, dict[str, str], list[str]]:
    """(per-point group label, colour per label, label order) for a colour mode."""
    names = meta.attrs.get("names", {})
    if color_by == "overlap":
        labels = np.where(meta["overlap"].to_numpy(), "overlapped", "single-domain")
        return (
            pd.Series(labels, index=meta.index),
            dict(OVERLAP_COLORS),
            ["overlapped", "single-domain"],
        )
    if color_by == "cluster" and (meta["cluster"] >= 0).any():
        clusters = sorted(int(c) for c in meta["cluster"].unique())
        labels = meta["cluster"].map(lambda c: f"cluster {int(c)}" if c >= 0 else "unknown")
        colours = {
            f"cluster {c}": CLUSTER_COLORS[i % len(CLUSTER_COLORS)]
            for i, c in enumerate(c for c in clusters if c >= 0)
        }
        colours["unknown"] = "#CED4DA"
        order = [f"cluster {c}" for c in clusters if c >= 0] + (
            ["unknown"] if -1 in clusters else []
        )
        return labels, colours, order
    labels = meta["domain"].map(lambda d: domain_label(d, names))
    colours = {domain_label(d, names): DOMAIN_COLORS[d] for d in DOMAINS}
    return labels, colours, [domain_label(d, names) for d in DOMAINS]


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
) -> go.Figure:
    """Side-by-side scatter panels of the same user sample in ONE frame (shared axis ranges,
    linked zoom). `meta` rows are sample positions (0..m-1) and every marker carries its
    position in customdata, so a box/lasso selection in either panel names the same users."""
    meta = meta.reset_index(drop=True)
    meta.attrs["names"] = dict(names or {})
    if color_by == "cluster" and not (meta["cluster"] >= 0).any():
        color_by = "domain"  # no taste clusters: coloured by domain, no shapes needed
    labels, colours, order = _group_key(meta, color_by)
    n_panels = max(1, len(panels))
    fig = make_subplots(
        rows=1,
        cols=n_panels,
        subplot_titles=[t for t, _ in panels] or [""],
        horizontal_spacing=0.04,
    )
    size = point_size or float(np.clip(9 - np.log10(max(len(meta), 1)) * 1.4, 3, 8))
    symbols = np.where(meta["domain"].to_numpy() == "A", "circle", "diamond")
    hover = "user %{customdata[1]}<br>%{customdata[2]}<br>%{customdata[3]}<extra></extra>"
    custom_cols = np.stack(
        [
            meta.index.to_numpy().astype(object),
            meta["user"].astype(str).map(figure_text).to_numpy(dtype=object),
            meta["domain"]
            .map(lambda d: f"domain {figure_text(domain_label(d, names))}")
            .to_numpy(dtype=object),
            np.where(meta["overlap"].to_numpy(), "overlapped user", "single-domain user").astype(
                object
            ),
        ],
        axis=1,
    )
    if (meta["cluster"] >= 0).any():
        custom_cols[:, 3] = [
            f"{o} · cluster {c}" if c >= 0 else o
            for o, c in zip(custom_cols[:, 3], meta["cluster"])
        ]
    point_colours = labels.map(colours).to_numpy(dtype=object)
    draw = np.random.default_rng(0).permutation(len(meta))
    pairs = link_pairs(meta, max_links=max_links) if links else np.zeros((0, 2), dtype=np.int64)
    selected = np.array(
        sorted({int(s) for s in selected if 0 <= int(s) < len(meta)}), dtype=np.int64
    )
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
        # All users in ONE trace, in a seeded random order: with one trace per domain the
        # domain drawn last would cover the other exactly where they mix, which is the point.
        marker = {"color": point_colours[draw], "size": size, "opacity": 0.75, "line": {"width": 0}}
        if color_by != "domain":
            marker["symbol"] = symbols[draw]
        fig.add_trace(
            go.Scattergl(
                x=xy[draw, 0],
                y=xy[draw, 1],
                mode="markers",
                name="users",
                showlegend=False,
                marker=marker,
                customdata=custom_cols[draw],
                hovertemplate=hover,
            ),
            row=1,
            col=ci,
        )
        if len(selected):
            fig.add_trace(
                go.Scattergl(
                    x=xy[selected, 0],
                    y=xy[selected, 1],
                    mode="markers",
                    name="selected",
                    legendgroup="selected",
                    showlegend=ci == 1,
                    marker=dict(
                        symbol="circle-open",
                        size=size + 6,
                        color="#212529",
                        line=dict(width=1.6, color="#212529"),
                    ),
                    customdata=custom_cols[selected],
                    hovertemplate=hover,
                ),
                row=1,
                col=ci,
            )
    for label in order:  # legend entries only (the points are in the shared trace above)
        if (labels == label).any():
            fig.add_trace(
                go.Scattergl(
                    x=[None],
                    y=[None],
                    mode="markers",
                    name=figure_text(label),
                    marker={"color": colours[label], "size": 10},
                    hoverinfo="skip",
                ),
                row=1,
                col=1,
            )
    xr, yr = _panel_range([xy for _, xy in panels])
    frame = dict(showticklabels=False, zeroline=False, showgrid=True, gridcolor="#F1F3F5",
                 showline=True, linecolor="#DEE2E6", mirror=True)
    fig.update_xaxes(range=xr, matches="x", **frame)
    fig.update_yaxes(range=yr, matches="y", **frame)
    base_layout(fig, height=height)
    fig.update_layout(
        dragmode="lasso",
        uirevision="alignment",
        clickmode="event+select",
        legend=dict(
            orientation="h", yanchor="top", y=-0.02, xanchor="center", x=0.5, itemsizing="constant"
        ),
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
        selection = (
            event["selection"] if isinstance(event, dict) else getattr(event, "selection", None)
        )
        if selection is None:
            return []
        points = (
            selection["points"] if isinstance(selection, dict) else getattr(selection, "points", [])
        )
    except (KeyError, TypeError, AttributeError):
        return []
    out = set()
    for p in points or []:
        custom = p.get("customdata") if isinstance(p, dict) else None
        if isinstance(custom, (list, tuple)) and custom:
            try:
                out.add(int(custom[0]))
                continue
            except (TypeError, ValueError):
                pass
        if fig is not None and isinstance(p, dict):
            try:
                trace = fig.data[int(p.get("curve_number"))]
                idx = int(p.get("point_index", p.get("point_number")))
                if trace.customdata is not None:
                    out.add(int(trace.customdata[idx][0]))
            except (TypeError, ValueError, IndexError, KeyError):
                continue
    return sorted(out)
