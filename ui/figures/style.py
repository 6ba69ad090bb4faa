"""The look of every figure: one domain colour map, phase colours and labels, fonts, layout."""

from __future__ import annotations

import plotly.graph_objects as go

DOMAIN_COLORS = {"A": "#E8590C", "B": "#1C7ED6"}  # orange, blue: explicit, never themed


OVERLAP_COLORS = {"overlapped": "#2F9E44", "single-domain": "#ADB5BD"}


CLUSTER_COLORS = (
    "#7048E8",
    "#2F9E44",
    "#F08C00",
    "#D6336C",
    "#0C8599",
    "#5C940D",
    "#AE3EC9",
    "#E67700",
    "#1971C2",
    "#C92A2A",
    "#495057",
    "#087F5B",
)


PHASE_COLORS = {
    "pretrain": "rgba(134,142,150,0.10)",
    "adversarial": "rgba(232,89,12,0.10)",
    "finetune": "rgba(28,126,214,0.10)",
}


PHASE_LABELS = {
    "pretrain": "1 · pre-train",
    "adversarial": "2 · adversarial",
    "finetune": "3 · fine-tune",
}


PHASE_ORDER = (("pretrain", 1), ("adversarial", 2), ("finetune", 3))


SERIES_COLORS = {  # training-curve series; per-domain series use the domain colours
    "wasserstein": "#5F3DC4",
    "critic": "#C2255C",
    "gp": "#868E96",
    "gen_adv": "#2B8A3E",
    "l2": "#0B7285",
    "lr": "#495057",
}


# One colour per compared run (orange/blue stay the domains': there A solid, B dashed).
RUN_COLORS = ("#5F3DC4", "#2F9E44", "#C2255C", "#0C8599", "#E67700", "#495057")


TEMPLATE = "plotly_white"


FONT = dict(family="Inter, 'Source Sans Pro', sans-serif", size=13, color="#212529")


METRIC_KEYS = ("HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20")


DOMAINS = ("A", "B")


def series_color(name: str) -> str:
    if name.endswith("_A"):
        return DOMAIN_COLORS["A"]
    if name.endswith("_B"):
        return DOMAIN_COLORS["B"]
    return SERIES_COLORS.get(name, "#495057")


def run_color(i: int) -> str:
    return RUN_COLORS[i % len(RUN_COLORS)]


def domain_label(domain: str, names: dict | None = None) -> str:
    name = (names or {}).get(domain)
    return f"{domain} · {name}" if name and name != domain else domain


def base_layout(fig: go.Figure, *, title: str | None = None, height: int = 320) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        font=FONT,
        height=height,
        margin=dict(l=10, r=10, t=48 if title else 16, b=10),
        title=dict(text=title, x=0.0, xanchor="left", font=dict(size=15)) if title else None,
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
        hoverlabel=dict(font_size=12),
    )
    return fig
