"""Alignment page widgets: metric cards, the selection list and its hand-over."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from .. import store
from ..figures.alignment import AlignmentView, selected_positions
from ..figures.style import domain_label
from ..figures.tables import metrics_comparison_frame, selection_frame
from ..page import when_ready
from ..state import K_SELECTION, goto_recommendations
from ..text import fmt_number, md

ALIGNMENT_HELP = (
    "**Layout.** The stored demo layout is an *aligned UMAP*: one UMAP per snapshot, fitted "
    "jointly with a regulariser that ties each user's position across snapshots, so both panels "
    "share one coordinate frame and a point that moves between panels moved in GUR space (two "
    "independent UMAPs could flip or rotate freely). The same seeded user sample is drawn in "
    "every panel. *Procrustes* instead fits separate UMAPs and rotates them onto the last one; "
    "*PCA* is one linear frame, instant and exact but less able to show local structure.\n\n"
    "**Metrics** are computed on the 64-d GURs, not on the picture: a domain classifier's AUC "
    "(0.5 = domains indistinguishable), proxy A-distance (0 = indistinguishable), the entropy of "
    "domain labels among each point's 15 nearest neighbours (higher = better mixed), and the "
    "distance between an overlapped user's A and B GURs relative to random pairs. Each has a "
    "null from shuffled labels (random pairs), i.e. what perfect mixing looks like on this sample."
)


PROJECTION_CHOICES = {
    "aligned-umap": "Aligned UMAP (one frame, ~1 min)",
    "procrustes": "UMAP + Procrustes",
    "pca": "PCA (instant)",
}


def alignment_selection(view: AlignmentView, event: Any) -> list[int]:
    """Sample positions selected in the chart, kept in session state per view, so the
    selection survives reruns (the chart is redrawn to highlight it in both panels) and is
    only replaced by a new, non-empty selection or the Clear button."""
    positions = selected_positions(event)
    stored = st.session_state.get(K_SELECTION) or {}
    if (
        positions
        and positions != stored.get("ignore")
        and (stored.get("view") != view.ident or positions != stored.get("positions"))
    ):
        meta = view.meta
        users = [
            {"user": str(meta.at[p, "user"]), "domain": str(meta.at[p, "domain"])}
            for p in positions
            if 0 <= p < len(meta)
        ]
        stored = {"view": view.ident, "positions": positions, "users": users}
        st.session_state[K_SELECTION] = stored
    if stored.get("view") != view.ident:
        return []
    return list(stored.get("positions") or [])


def clear_alignment_selection(view: AlignmentView, event: Any) -> None:
    st.session_state[K_SELECTION] = {
        "view": view.ident,
        "positions": [],
        "users": [],
        "ignore": selected_positions(event),
    }


def selected_users() -> list[dict]:
    """[{"user", "domain"}] chosen on the Alignment page in this session."""
    return list((st.session_state.get(K_SELECTION) or {}).get("users") or [])


def alignment_metrics_panel(path: str, run) -> None:
    """Metric cards (after, with the change since before) and their shuffled-label nulls."""
    st.markdown("**Alignment metrics** (GUR space)")
    comparison = when_ready(store.start_alignment_metrics(path), "Measuring alignment")
    if not comparison:
        return
    before, after = comparison.get("before"), comparison.get("after")
    if after is None:
        st.caption("No 'after' snapshot yet: the adversarial phase has not finished.")
        after, before = before, None
    if after is None:
        return
    cards = [
        (
            "Domain-classifier AUC",
            "auc",
            "value",
            "inverse",
            (
                "Logistic regression predicting the domain from the GUR (5-fold, out of fold). "
                "0.5 = A and B indistinguishable."
            ),
        ),
        (
            "Length-matched AUC",
            "auc_length_matched",
            "value",
            "inverse",
            (
                "The same classifier on equal numbers of A and B users at every history length, "
                "so history length alone cannot give the domain away."
            ),
        ),
        (
            "kNN domain entropy (bits)",
            "knn_entropy",
            "value",
            "normal",
            "Entropy of domain labels among each user's 15 nearest GURs. Higher = better mixed.",
        ),
        (
            "Proxy A-distance",
            "proxy_a_distance",
            "value",
            "inverse",
            "2(1 − 2·balanced error) of the same classifier: 0 = indistinguishable, 2 = separable.",
        ),
        (
            "Pair distance ratio",
            "pair_distance",
            "ratio",
            "inverse",
            (
                "Mean distance between an overlapped user's A and B GURs divided by that of random "
                "A/B pairs. < 1: the same person's two GURs are closer than strangers'."
            ),
        ),
    ]
    for label, key, sub, colour, help_text in cards:
        now = (after.get(key) or {}).get(sub) if after.get(key) else None
        if now is None:
            continue
        was = ((before or {}).get(key) or {}).get(sub) if before else None
        delta = None if was is None else f"{float(now) - float(was):+.3f} vs before"
        st.metric(label, fmt_number(now), delta=delta, delta_color=colour, help=help_text, border=True)
        null = (after.get(key) or {}).get("null")
        extra = (after.get(key) or {}).get("max")
        bits = [f"before {fmt_number(was)}"] if was is not None else []
        if key == "pair_distance":
            bits.append("null = 1.0 (random pairs)")
        elif null is not None:
            bits.append(f"shuffled null {fmt_number(null)}")
        if extra is not None:
            bits.append(f"max {fmt_number(extra)}")
        st.caption(" · ".join(bits))
    with st.popover("All numbers", icon=":material/table:", width="stretch"):
        names = [n for n in ("before", "after") if comparison.get(n) is not None]
        st.dataframe(metrics_comparison_frame(comparison, names), width="stretch")
        st.caption(f"Sample: {after.get('n', '?')} GURs per snapshot, seed 0.")


def selection_panel(view: AlignmentView, positions: Sequence[int]) -> None:
    """The users of the current box/lasso selection, with a way into their recommendations."""
    if not positions:
        st.caption(
            "Nothing selected. Use the box or lasso tool in the chart's toolbar (lasso is "
            "the default drag) on either panel; the selection is highlighted in both."
        )
        return
    frame = selection_frame(view.meta, positions, view.names)
    table_col, action_col = st.columns([3, 2], gap="medium")
    with table_col:
        event = st.dataframe(
            frame.drop(columns="_domain"),
            hide_index=True,
            width="stretch",
            height=min(38 + 35 * len(frame), 320),
            on_select="rerun",
            selection_mode="single-row",
            key="align.table",
        )
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    pick = int(rows[0]) if rows and 0 <= int(rows[0]) < len(frame) else 0
    user, domain = str(frame.at[pick, "user"]), str(frame.at[pick, "_domain"])
    with action_col:
        st.markdown(
            f"**{len(frame):,}** points selected "
            f"({frame['_domain'].eq('A').sum():,} in A, {frame['_domain'].eq('B').sum():,} in B). "
            "Pick a row to choose whose recommendations to open."
        )
        if st.button(
            f"Recommendations for user {md(user)} ({md(domain_label(domain, view.names))})",
            key="align.goto",
            type="primary",
            icon=":material/arrow_forward:",
        ):
            goto_recommendations(user, domain)
        if st.button("Clear selection", key="align.clear", icon=":material/deselect:"):
            clear_alignment_selection(view, st.session_state.get("align.chart"))
            st.rerun()
