"""Recommendation and explanation charts (pure: plain dicts in, plotly figures out)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..text import figure_text
from .style import DOMAIN_COLORS, base_layout


def scores_figure(rec: dict, domain: str, *, height: int | None = None) -> go.Figure:
    """Horizontal bars of the top-k scores; the held-out test item highlighted if present."""
    items = rec.get("items") or []
    test_id = str((rec.get("test_item") or {}).get("item_id"))
    titles = [f"{int(i['rank'])}. {figure_text(str(i['title'])[:48])}" for i in items]
    colours = [
        "#2F9E44" if str(i["item_id"]) == test_id else DOMAIN_COLORS.get(domain, "#495057") for i in items
    ]
    fig = go.Figure(
        go.Bar(
            x=[float(i["score"]) for i in items],
            y=titles,
            orientation="h",
            marker_color=colours,
            customdata=[[figure_text(i.get("genre", ""))] for i in items],
            hovertemplate="%{y}<br>%{customdata[0]}<br>score %{x:.3f}<extra></extra>",
        )
    )
    base_layout(fig, height=height or max(220, 28 * len(items) + 60))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="score", gridcolor="#F1F3F5")
    return fig


def _position(row: dict, fallback: int) -> int:
    position = row.get("position")
    return int(position) if isinstance(position, (int, np.integer)) else fallback


def influence_figure(influence: Sequence[dict], *, height: int | None = None, top: int = 20) -> go.Figure:
    """Leave-one-out Δscore of history items on the top recommendation: the `top` most
    influential, sorted by influence (largest |Δscore| first, at the top); each label keeps
    the item's position in the history."""
    rows = list(influence or [])
    strength = [abs(float(r.get("delta_score", 0.0))) for r in rows]
    order = sorted(range(len(rows)), key=lambda i: (-strength[i], i))[:top]
    labels = [
        f"{_position(rows[i], i) + 1}. {figure_text(str(rows[i].get('title', ''))[:44])}" for i in order
    ]
    rows = [rows[i] for i in order]
    deltas = [float(r.get("delta_score", 0.0)) for r in rows]
    ranks = [r.get("delta_rank", "") for r in rows]
    colours = ["#2F9E44" if d > 0 else "#C92A2A" for d in deltas]
    fig = go.Figure(
        go.Bar(
            x=deltas,
            y=labels,
            orientation="h",
            marker_color=colours,
            customdata=[[r] for r in ranks],
            hovertemplate="%{y}<br>Δscore %{x:.4f}<br>Δrank %{customdata[0]}<extra></extra>",
        )
    )
    base_layout(fig, height=height or max(220, 24 * len(rows) + 70))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(
        title_text="score drop when the item is removed (Δscore)",
        gridcolor="#F1F3F5",
        zeroline=True,
        zerolinecolor="#868E96",
    )
    return fig


def attention_figure(attention: Sequence[dict], domain: str, *, height: int | None = None) -> go.Figure:
    rows = list(attention or [])
    labels = [figure_text(str(r.get("title", r.get("item_id", "")))[:44]) for r in rows]
    weights = [float(r.get("weight", 0.0)) for r in rows]
    fig = go.Figure(
        go.Bar(
            x=weights,
            y=[f"{i + 1}. {t}" for i, t in enumerate(labels)],
            orientation="h",
            marker_color=DOMAIN_COLORS.get(domain, "#495057"),
            hovertemplate="%{y}<br>weight %{x:.3f}<extra></extra>",
        )
    )
    base_layout(fig, height=height or max(220, 24 * len(rows) + 70))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="attention weight", gridcolor="#F1F3F5")
    return fig
