"""Training curves: step records -> frames -> plotly figures (pure: no Streamlit)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..text import figure_text
from .style import (
    DOMAINS,
    PHASE_COLORS,
    PHASE_LABELS,
    base_layout,
    run_color,
    series_color,
)


def history_frame(records: Sequence[dict]) -> pd.DataFrame:
    """Step and evaluation records -> one frame sorted by step (plain pandas, no Streamlit)."""
    if not records:
        return pd.DataFrame(columns=["step", "phase"])
    frame = pd.DataFrame.from_records(list(records))
    if "step" not in frame:
        frame["step"] = np.arange(len(frame))
    if "phase" not in frame:
        frame["phase"] = "unknown"
    frame["step"] = pd.to_numeric(frame["step"], errors="coerce")
    return frame.sort_values("step", kind="stable").reset_index(drop=True)


def phase_spans(frame: pd.DataFrame) -> list[tuple[str, float, float]]:
    """[(phase, start, end)] in training order, contiguous (a boundary lies half-way between
    one phase's last step and the next phase's first), for shading."""
    if frame.empty or "phase" not in frame:
        return []
    rows = frame
    if "event" in rows:
        rows = rows[rows["event"].isna()]
    raw = []
    for phase, group in rows.groupby("phase", sort=False):
        if phase in PHASE_COLORS and len(group):
            raw.append([str(phase), float(group["step"].min()), float(group["step"].max())])
    raw.sort(key=lambda s: s[1])
    for i in range(len(raw)):
        raw[i][1] = raw[i][1] - 0.5 if i == 0 else (raw[i - 1][2] + raw[i][1]) / 2
    for i in range(len(raw)):
        raw[i][2] = raw[i + 1][1] if i + 1 < len(raw) else raw[i][2] + 0.5
    return [tuple(s) for s in raw]


def phase_shading(spans: Sequence[tuple[str, float, float]], *, axis: str = "") -> tuple[list, list]:
    """(shapes, labels) as plain layout dicts shading each phase span on the x axis `x{axis}`
    (one implementation for every curve figure; dicts because add_vrect per panel is slow)."""
    shapes, labels = [], []
    for phase, lo, hi in spans:
        shapes.append(
            {
                "type": "rect",
                "xref": f"x{axis}",
                "yref": f"y{axis} domain",
                "x0": lo,
                "x1": hi,
                "y0": 0,
                "y1": 1,
                "line": {"width": 0},
                "fillcolor": PHASE_COLORS.get(phase, "rgba(0,0,0,0.05)"),
                "layer": "below",
            }
        )
        labels.append(
            {
                "text": PHASE_LABELS.get(phase, phase),
                "xref": f"x{axis}",
                "yref": f"y{axis} domain",
                "x": lo,
                "y": 1,
                "xanchor": "left",
                "yanchor": "top",
                "showarrow": False,
                "font": {"size": 10, "color": "#868E96"},
            }
        )
    return shapes, labels


MARKED_SERIES = ("wasserstein", "critic", "gp", "gen_adv")  # the panels the snapshot marks go on


def snapshot_marks(
    marks: Sequence[tuple[str, float, str]], selected: str | None, *, axes: Sequence[str] = ("",)
) -> tuple[list, list]:
    """(shapes, labels) as layout dicts: a vertical line at each GUR snapshot's step on the
    x axes `x{axis}`, the selected snapshot's line solid and darker, labelled at the top."""
    shapes, labels = [], []
    for name, step, label in marks:
        if step is None or not math.isfinite(float(step)) or float(step) < 0:
            continue
        chosen = name == selected
        colour = "#495057" if chosen else "rgba(112,72,232,0.55)"
        for axis in axes:
            shapes.append(
                {
                    "type": "line",
                    "xref": f"x{axis}",
                    "yref": f"y{axis} domain",
                    "x0": float(step),
                    "x1": float(step),
                    "y0": 0,
                    "y1": 1,
                    "line": {
                        "color": colour,
                        "width": 2 if chosen else 1,
                        "dash": "solid" if chosen else "dot",
                    },
                    "layer": "above",
                }
            )
            if chosen:
                labels.append(
                    {
                        "text": figure_text(label),
                        "xref": f"x{axis}",
                        "yref": f"y{axis} domain",
                        "x": float(step),
                        "y": 0.02,
                        "xanchor": "left",
                        "yanchor": "bottom",
                        "showarrow": False,
                        "font": {"size": 10, "color": "#495057"},
                        "bgcolor": "rgba(255,255,255,0.8)",
                    }
                )
    return shapes, labels


def ema(values: pd.Series, smoothing: float) -> pd.Series:
    """Exponential moving average over the non-missing values (0 = raw, 0.99 = very smooth)."""
    smoothing = float(min(max(smoothing, 0.0), 0.999))
    values = pd.to_numeric(values, errors="coerce")
    if smoothing <= 0:
        return values
    present = values.dropna()
    out = pd.Series(np.nan, index=values.index, dtype="float64")
    if len(present):
        out.loc[present.index] = present.ewm(alpha=1.0 - smoothing, adjust=True).mean().to_numpy()
    return out


# Groups of training curves: (title, columns, y-axis title).
CURVE_GROUPS = (
    ("Wasserstein estimate", ("wasserstein",), "D(A) − D(B)"),
    ("Critic loss & grad. penalty", ("critic", "gp"), "loss"),
    ("Generator adversarial loss", ("gen_adv",), "loss"),
    ("Reconstruction", ("rec_A", "rec_B"), "sampled softmax"),
    ("l2 pull of overlapped users", ("l2",), "mean ‖z_A − z_B‖ (normalised GURs)"),
    ("BPR (fine-tune)", ("bpr_A", "bpr_B"), "loss"),
    # a falling effective rank in phase 2 = the GURs collapse instead of aligning
    ("GUR effective rank (phase 2 batches)", ("gur_erank",), "exp(entropy of singular values)"),
)


SERIES_LABELS = {
    "wasserstein": "Wasserstein",
    "critic": "critic",
    "gp": "gradient penalty",
    "gen_adv": "generator adv.",
    "rec_A": "reconstruction A",
    "rec_B": "reconstruction B",
    "l2": "l2",
    "bpr_A": "BPR A",
    "bpr_B": "BPR B",
    "gur_erank": "effective rank",
    "lr": "learning rate",
}


def all_positive(values: pd.DataFrame) -> bool:
    """Every logged (non-missing) value is > 0, and there is at least one."""
    logged = values.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float).ravel()
    logged = logged[~np.isnan(logged)]
    return bool(logged.size) and bool((logged > 0).all())


def curves_dashboard(
    frame: pd.DataFrame,
    *,
    smoothing: float = 0.0,
    log_y: bool = False,
    groups: Sequence[tuple[str, Sequence[str], str]] = CURVE_GROUPS,
    eval_metric: str = "NDCG@10",
    panel_height: int = 250,
    marks: Sequence[tuple[str, float, str]] = (),
    selected: str | None = None,
) -> go.Figure:
    """All training curves as ONE figure: a grid of panels (the CURVE_GROUPS, then validation
    metrics when the history has evaluation records) sharing the step axis, so phase
    boundaries line up down the page; phases shaded and labelled; EMA smoothing with the raw
    values faint behind; each panel has its own small legend.

    Log scale applies per panel, only where every plotted value is positive (the panel title
    says "linear" otherwise), since e.g. the Wasserstein estimate can be negative.

    `marks` [(snapshot name, step, label)] draw the GUR snapshots' steps on the adversarial
    panels (Wasserstein, critic, generator), `selected` highlighted."""
    spans = phase_spans(frame)
    ev = eval_frame(frame)
    panels = [
        (title, [c for c in cols if c in frame and frame[c].notna().any()], y_title, False)
        for title, cols, y_title in groups
    ]
    eval_cols = [f"valid_{eval_metric}_{d}" for d in DOMAINS if f"valid_{eval_metric}_{d}" in ev]
    if eval_cols and ev[eval_cols].notna().any().any():
        panels.append((f"Validation {eval_metric} (%)", eval_cols, "%", True))
    n_rows = math.ceil(len(panels) / 2)
    # One decision per panel, used by its title and its axis alike: log only where every
    # LOGGED value is positive (a missing value, e.g. bpr_B after domain B stopped early, is
    # not a value <= 0).
    log_panel = [
        bool(log_y and cols and not is_eval and all_positive(frame[cols])) for _, cols, _, is_eval in panels
    ]
    titles = []
    for (title, cols, _, is_eval), log in zip(panels, log_panel):
        if log_y and cols and not is_eval and not log:
            title += " <span style='font-size:11px;color:#868E96'>(linear: values ≤ 0)</span>"
        titles.append(title)
    fig = make_subplots(
        rows=n_rows,
        cols=2,
        subplot_titles=titles,
        shared_xaxes="all",
        horizontal_spacing=0.09,
        vertical_spacing=0.34 / max(n_rows, 1),
    )
    base_layout(fig, height=max(panel_height * n_rows + 60, 300))
    for i, annotation in enumerate(fig.layout.annotations[: len(titles)]):  # titles left-aligned
        domain = fig.layout[f"xaxis{i + 1}" if i else "xaxis"].domain
        annotation.update(x=domain[0], xanchor="left", font={"size": 14, "color": "#212529"})
    scatter = go.Scattergl if len(frame) > 3000 else go.Scatter
    x_range = [spans[0][1], spans[-1][2]] if spans else None
    shapes, labels = [], []
    for i, (_title, cols, y_title, is_eval) in enumerate(panels):
        row, col = i // 2 + 1, i % 2 + 1
        legend = f"legend{i + 1}" if i else "legend"
        axis = str(i + 1) if i else ""
        panel_shapes, panel_labels = phase_shading(spans, axis=axis)
        shapes += panel_shapes
        if i < 2:
            labels += panel_labels
        if marks and not is_eval and set(cols) & set(MARKED_SERIES):
            mark_shapes, mark_labels = snapshot_marks(marks, selected, axes=(axis,))
            shapes += mark_shapes
            labels += mark_labels
        for c in cols:
            source = ev if is_eval else frame
            rows = source[source[c].notna()]
            y_raw = pd.to_numeric(rows[c], errors="coerce") * (100 if is_eval else 1)
            colour = series_color(c)
            label = f"valid {c.split('_')[-1]}" if is_eval else SERIES_LABELS.get(c, c)
            if smoothing > 0 and not is_eval and len(rows) > 1:
                fig.add_trace(
                    scatter(
                        x=rows["step"],
                        y=y_raw,
                        mode="lines",
                        name=f"{label} (raw)",
                        line={"color": colour, "width": 1},
                        opacity=0.25,
                        showlegend=False,
                        hoverinfo="skip",
                    ),
                    row=row,
                    col=col,
                )
            y = y_raw if is_eval else ema(y_raw, smoothing)
            mode = "lines+markers" if is_eval else ("lines" if len(rows) > 1 else "markers")
            fig.add_trace(
                scatter(
                    x=rows["step"],
                    y=y,
                    mode=mode,
                    name=label,
                    legend=legend,
                    line={"color": colour, "width": 2},
                    marker={"color": colour, "size": 6},
                    hovertemplate=f"{label}<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>",
                ),
                row=row,
                col=col,
            )
        if not cols:
            fig.add_annotation(
                text="not logged in this run",
                showarrow=False,
                row=row,
                col=col,
                x=0.5,
                y=0.5,
                xref="x domain",
                yref="y domain",
                font={"color": "#868E96"},
            )
        fig.update_yaxes(
            title_text=y_title,
            row=row,
            col=col,
            gridcolor="#F1F3F5",
            type="log" if log_panel[i] else "linear",
        )
        # The panel's own legend, tucked into its top-right corner.
        xaxis = fig.layout[f"xaxis{i + 1}" if i else "xaxis"]
        yaxis = fig.layout[f"yaxis{i + 1}" if i else "yaxis"]
        fig.layout[legend] = {
            "x": xaxis.domain[1],
            "y": yaxis.domain[1],
            "xanchor": "right",
            "yanchor": "bottom",
            "orientation": "h",
            "font": {"size": 11},
            "bgcolor": "rgba(255,255,255,0)",
        }
    fig.update_layout(shapes=shapes, annotations=list(fig.layout.annotations) + labels)
    fig.update_xaxes(gridcolor="#F1F3F5", range=x_range, showticklabels=True)
    fig.update_xaxes(title_text="global step", row=n_rows)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 10}, hovermode="closest")
    return fig


def eval_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Validation/test metric columns (valid_NDCG@10_A, ...) of evaluation records."""
    cols = [c for c in frame.columns if re.match(r"^(valid|test)_.+_[AB]$", str(c))]
    if not cols:
        return pd.DataFrame(columns=["step"])
    rows = frame[frame[cols].notna().any(axis=1)]
    return rows[["step", *cols]].reset_index(drop=True)


def live_curves_figure(records: Sequence[dict], *, height: int = 320, max_points: int = 1500) -> go.Figure:
    """Compact live view while training: reconstruction, Wasserstein and BPR on one chart
    (two y axes: losses left, Wasserstein right)."""
    steps = [r for r in records if r.get("event") is None]
    if len(steps) > max_points:  # refreshed every 1.5 s: keep the figure light
        stride = math.ceil(len(steps) / max_points)
        steps = steps[::stride] + steps[-1:]
    frame = history_frame(steps)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    shapes, labels = phase_shading(phase_spans(frame))
    fig.update_layout(shapes=shapes, annotations=labels)
    for col in ("rec_A", "rec_B", "bpr_A", "bpr_B", "wasserstein"):
        if col in frame and frame[col].notna().any():
            rows = frame[frame[col].notna()]
            dash = "dot" if col.startswith("bpr") else None
            fig.add_trace(
                go.Scatter(
                    x=rows["step"],
                    y=ema(rows[col], 0.6),
                    mode="lines",
                    name=SERIES_LABELS.get(col, col),
                    line=dict(color=series_color(col), width=2, dash=dash),
                ),
                secondary_y=col == "wasserstein",
            )
    base_layout(fig, height=height)
    fig.update_xaxes(title_text="global step", gridcolor="#F1F3F5")
    fig.update_yaxes(title_text="loss (EMA 0.6)", secondary_y=False, gridcolor="#F1F3F5")
    fig.update_yaxes(title_text="Wasserstein", secondary_y=True, showgrid=False)
    return fig


# Overlaid curves: (title, column, y title); per-domain columns are drawn A solid, B dashed.
OVERLAY_PANELS = (
    ("Wasserstein estimate", ("wasserstein",), "D(A) − D(B)"),
    ("Reconstruction (A solid, B dashed)", ("rec_A", "rec_B"), "sampled softmax"),
    ("l2 pull of overlapped users", ("l2",), "mean ‖z_A − z_B‖"),
    ("Critic loss", ("critic",), "loss"),
    ("BPR, fine-tune (A solid, B dashed)", ("bpr_A", "bpr_B"), "loss"),
)


def overlay_curves_figure(
    frames: Mapping[str, pd.DataFrame],
    *,
    smoothing: float = 0.6,
    eval_metric: str = "NDCG@10",
    panel_height: int = 260,
) -> go.Figure:
    """The main training curves of several runs on shared step axes, one colour per run
    (phases shaded from the first run). Panels no run logged are left out."""
    labels = list(frames)
    panels = [
        (t, cols, y, False)
        for t, cols, y in OVERLAY_PANELS
        if any(c in f and f[c].notna().any() for f in frames.values() for c in cols)
    ]
    eval_cols = tuple(f"valid_{eval_metric}_{d}" for d in DOMAINS)
    if any(c in eval_frame(f) for f in frames.values() for c in eval_cols):
        panels.append((f"Validation {eval_metric} % (A solid, B dashed)", eval_cols, "%", True))
    n_rows = max(1, math.ceil(len(panels) / 2))
    fig = make_subplots(
        rows=n_rows,
        cols=2,
        subplot_titles=[p[0] for p in panels] or [""],
        shared_xaxes="all",
        horizontal_spacing=0.09,
        vertical_spacing=0.3 / n_rows,
    )
    base_layout(fig, height=max(panel_height * n_rows + 80, 320))
    first = frames[labels[0]] if labels else pd.DataFrame()
    spans = phase_spans(first) if not first.empty else []
    shapes, notes = [], []
    for i, (_, cols, y_title, is_eval) in enumerate(panels):
        row, col = i // 2 + 1, i % 2 + 1
        panel_shapes, panel_notes = phase_shading(spans, axis=str(i + 1) if i else "")
        shapes += panel_shapes
        notes += panel_notes if i < 2 else []
        for r, label in enumerate(labels):
            source = eval_frame(frames[label]) if is_eval else frames[label]
            for c in cols:
                if c not in source or not source[c].notna().any():
                    continue
                part = source[source[c].notna()]
                y = pd.to_numeric(part[c], errors="coerce") * (100 if is_eval else 1)
                dash = "dash" if c.endswith("_B") else None
                fig.add_trace(
                    go.Scatter(
                        x=part["step"],
                        y=y if is_eval else ema(y, smoothing),
                        mode="lines+markers" if is_eval else "lines",
                        name=figure_text(label),
                        legendgroup=figure_text(label),
                        showlegend=bool(i == 0 and c == cols[0]),
                        line={"color": run_color(r), "width": 2, "dash": dash},
                        marker={"size": 5},
                        hovertemplate=f"{figure_text(label)} · {figure_text(c)}"
                        "<br>step %{x}<br>%{y:.4g}<extra></extra>",
                    ),
                    row=row,
                    col=col,
                )
        fig.update_yaxes(title_text=y_title, row=row, col=col, gridcolor="#F1F3F5")
    # one legend entry per run, even when the first panel lacks a run
    shown = {t.name for t in fig.data if t.showlegend}
    for r, label in enumerate(labels):
        if figure_text(label) not in shown:
            fig.add_trace(
                go.Scatter(
                    x=[None],
                    y=[None],
                    mode="lines",
                    name=figure_text(label),
                    legendgroup=figure_text(label),
                    line={"color": run_color(r), "width": 2},
                )
            )
    fig.update_layout(
        shapes=shapes,
        annotations=list(fig.layout.annotations) + notes,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        hovermode="closest",
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1.06, "yanchor": "bottom"},
    )
    fig.update_xaxes(gridcolor="#F1F3F5", showticklabels=True)
    fig.update_xaxes(title_text="global step", row=n_rows)
    return fig
