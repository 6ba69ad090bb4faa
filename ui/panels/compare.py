"""Compare-runs widgets: the run picker, the data check, and the four side-by-side views.

The tables' numbers come from recguru_core.analysis.compare (through the store), the same rows the
CLI's `compare` prints; this module only draws them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from recguru_core.common.rules import unique_labels

from .. import store, urlstate
from ..figures import compare as compare_fig
from ..figures.alignment import COLOR_MODES, alignment_figure
from ..figures.curves import overlay_curves_figure
from ..figures.style import METRIC_KEYS
from ..page import attempt, when_ready
from ..state import (
    available_checkpoints,
    control_checkpoint,
    demo_checkpoint,
    selected_checkpoint,
)
from ..text import figure_text, fmt_number, md, safe_name

LAYOUT_CHOICES = {
    "stored": "Stored layouts (each run's own, made by `project`)",
    "pca": "PCA (instant)",
    "umap": "UMAP (seeded, ~1 min)",
}


def default_runs(paths: Sequence[str]) -> list[str]:
    """Demo vs control on a fresh install; else the run in use and the newest other one."""
    demo, control = str(demo_checkpoint()), str(control_checkpoint())
    if demo in paths and control in paths:
        return [demo, control]
    current = selected_checkpoint()
    first = current if current in paths else (paths[0] if paths else None)
    rest = [p for p in paths if p != first]
    return [p for p in [first, *rest[:1]] if p]


def pick_runs() -> list[str]:
    """The multiselect of checkpoints, seeded from a link's `run` names (ui.urlstate) or the
    defaults; returns the chosen paths in the order picked."""
    entries = available_checkpoints()
    paths = [e.path for e in entries]
    labels = {e.path: e.label for e in entries}
    # the value lives in session state (no `default=`): apply_runs sets it from the link
    urlstate.apply_runs("compare.runs", paths, default_runs(paths))
    return list(
        st.multiselect(
            "Runs to compare (the first is the reference: differences are later run − first)",
            paths,
            format_func=lambda p: labels.get(p, Path(p).stem),
            key="compare.runs",
            help="Checkpoints of the same data only: the same users, items and sequences.",
        )
    )


def short_labels(paths: Sequence[str]) -> list[str]:
    """Unique short names (file stems) for table columns and legends: the core's own rule
    (recguru_core.common.rules.unique_labels), so the page's columns match `compare`'s."""
    return unique_labels([safe_name(Path(p).stem) or "run" for p in paths])


def same_data(paths: Sequence[str], labels: Sequence[str]) -> bool:
    """True when every run holds the first run's data; else one st.error line naming the
    first that differs and what differs (the core's data check, as in the CLI)."""
    return attempt(store.comparison_tables, paths, labels) is not None


def evaluation_panel(runs: dict, labels: Sequence[str], names: dict | None) -> None:
    missing = [label for label, run in zip(labels, runs.values()) if not run.metrics().get("test")]
    if missing:
        st.info(
            f"No test metrics yet in {md(', '.join(missing))}: the table needs finished runs.",
            icon=":material/info:",
        )
        return
    # the app's table keeps to HR/NDCG@5/10/20 (the CLI adds every metric the runs carry)
    tables = attempt(store.comparison_tables, list(runs), labels, metric_keys=METRIC_KEYS)
    if tables is None:
        return
    frame = compare_fig.difference_frame(tables["metrics"], labels, names=names)
    st.dataframe(compare_fig.style_differences(frame), width="stretch", hide_index=True, key="compare.diff")
    st.download_button(
        "Download the difference table (CSV)",
        frame.to_csv(index=False).encode(),
        file_name=f"compare-{'-vs-'.join(labels)}.csv",
        mime="text/csv",
        icon=":material/download:",
        key="compare.csv",
    )
    st.caption(
        f"Test split, percent; the last columns are each run minus **{md(labels[0])}** "
        "(green: better). A difference under about a point is within what another seed "
        "gives: check the group intervals on Evaluation before calling it a win."
    )


def alignment_panel(paths: Sequence[str], labels: Sequence[str]) -> None:
    started = [store.start_alignment_metrics(path) for path in paths]  # all at once
    comparisons = []
    for job, label in zip(started, labels):
        result = when_ready(job, f"Measuring alignment of {label}")
        if result is None:
            return
        comparisons.append(result)
    tables = attempt(store.comparison_tables, paths, labels, alignments=comparisons)
    if tables is None:
        return
    frame = compare_fig.alignment_frame(tables["alignment"], labels)
    cols = st.columns(len(labels))
    for col, label in zip(cols, labels):
        auc = frame.at["Domain-classifier AUC", label]
        col.metric(
            f"AUC · {md(label)}",
            fmt_number(auc),
            help="Domain classifier on the 'after' GURs: 0.5 = A and B indistinguishable.",
            border=True,
        )
    st.dataframe(
        frame,
        width="stretch",
        key="compare.align",
        column_config={
            c: st.column_config.NumberColumn(format="%.3f") for c in frame.columns if c != "Reading"
        },
    )
    st.caption(
        "Measured on the 64-d GURs after the adversarial phase, each beside what "
        "shuffled domain labels give on the same sample. A run without the adversarial "
        "term shows how much of the mixing the critic adds."
    )


def projection_panel(paths: Sequence[str], labels: Sequence[str], runs: dict) -> None:
    stored_ok = all((run.projections() or {}).get("after") is not None for run in runs.values())
    choices = [k for k in LAYOUT_CHOICES if k != "stored" or stored_ok]
    c1, c2, c3 = st.columns([3, 2, 1])
    method = (
        c1.segmented_control(
            "Layout",
            choices,
            default=choices[0],
            key="compare.layout",
            format_func=LAYOUT_CHOICES.get,
            required=True,
        )
        or choices[0]
    )
    color_by = (
        c2.segmented_control(
            "Colour by",
            ["domain", "overlap", "cluster"],
            default="domain",
            key="compare.color",
            format_func=COLOR_MODES.get,
            required=True,
        )
        or "domain"
    )
    seed = c3.number_input("Seed", 0, 1_000_000, 0, key="compare.seed")
    job = store.start_comparison_layouts(paths, method, 5000, int(seed))
    result = when_ready(job, "Laying out the runs")
    if result is None:
        return
    meta = compare_fig.layouts_meta(result)
    if color_by == "cluster" and not (meta["cluster"] >= 0).any():
        color_by = "domain"
    panels = [(figure_text(label), xy) for label, xy in zip(labels, result["layouts"])]
    fig = alignment_figure(meta, panels, color_by=color_by, height=520)
    st.plotly_chart(fig, theme=None, key="compare.chart", config={"displaylogo": False, "scrollZoom": True})
    fits = ", ".join(f"{md(label)} {r:.2f}" for label, r in zip(labels[1:], result["residual"][1:]))
    st.caption(
        f"The same {len(meta):,} users (of {result['n_shared']:,} both runs' snapshots hold), "
        f"seed {result['seed']}, after the adversarial phase. Each run is laid out on its own "
        f"and turned onto **{md(labels[0])}**'s frame (rotation, scale, shift over the shared "
        "users), so the axes and zoom are shared. Look at how far orange and blue overlap in "
        f"each panel. Misfit after turning (0 = the same picture, 1 = nothing in common): {fits}."
    )


def curves_panel(paths: Sequence[str], labels: Sequence[str]) -> None:
    smoothing = st.slider("Smoothing (EMA)", 0.0, 0.99, 0.6, 0.01, key="compare.smoothing")
    frames = {}
    for path, label in zip(paths, labels):
        frame = attempt(store.run_history_frame, path)
        if frame is not None and not frame.empty:
            frames[label] = frame
    if len(frames) < 2:
        st.info("Overlaid curves need the training history of at least two runs.", icon=":material/info:")
        return
    st.plotly_chart(
        overlay_curves_figure(frames, smoothing=smoothing),
        theme=None,
        key="compare.curves",
        config={"displaylogo": False},
    )
    st.caption(
        "One colour per run, phases shaded from the first. In the adversarial phase "
        "(orange band) compare the Wasserstein estimate and what it costs in "
        "reconstruction; in fine-tuning, the validation NDCG."
    )
