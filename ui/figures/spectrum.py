"""The scree plot of the Alignment page: how the GURs' variance spreads over principal
directions, before vs the chosen snapshot (pure: plain data in, plotly figure out).

A cloud that keeps its variance spread over many directions and loses its domain signal is
aligned; one that piles ~all its variance into 1-3 directions has collapsed, whatever its AUC.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from .style import base_layout

SNAPSHOT_COLORS = {"before": "#868E96", "other": "#7048E8"}


def scree_figure(comparison: dict, names: Sequence[str], titles: dict | None = None) -> go.Figure:
    """Bars: the share of variance in each of the leading principal directions (the
    `spectrum.scree` entry of analysis.alignment_metrics) for each snapshot in `names` (shown
    as titles[name]), with its effective rank in the legend."""
    fig = go.Figure()
    for name in names:
        spec = (comparison.get(name) or {}).get("spectrum") or {}
        shares = list(spec.get("scree") or [])
        if not shares:
            continue
        label = (
            f"{(titles or {}).get(name, name.capitalize())} · eff. rank "
            f"{float(spec.get('effective_rank', 0.0)):.1f}"
        )
        fig.add_bar(
            x=list(range(1, len(shares) + 1)),
            y=shares,
            name=label,
            marker_color=SNAPSHOT_COLORS["before" if name == "before" else "other"],
            hovertemplate="direction %{x}: %{y:.1%} of the variance<extra></extra>",
        )
    base_layout(fig, title="Variance per principal direction", height=240)
    fig.update_layout(barmode="group", bargap=0.2)
    fig.update_xaxes(title_text="principal direction", dtick=1)
    fig.update_yaxes(title_text="share of variance", tickformat=".0%", rangemode="tozero")
    return fig
