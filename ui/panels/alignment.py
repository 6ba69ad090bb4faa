"""Alignment page widgets: metric cards, the selection list and its hand-over."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from recguru_core.common.rules import RANK_RATIO_BAD, collapse_level

from .. import store, urlstate
from ..figures.alignment import (
    AlignmentView,
    find_user,
    selected_positions,
    snapshot_short_title,
)
from ..figures.spectrum import scree_figure
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
    "every panel. *Chained UMAP* (the default for fresh layouts) fits one UMAP per snapshot, "
    "each started from the previous snapshot's layout, which carries the frame from panel to "
    "panel at a tenth of the cost. Beyond 6,000 points, UMAP runs on 6,000 landmark users and "
    "every other point is placed among its 10 nearest landmarks in GUR space (the caption "
    "says so). *Procrustes* fits separate UMAPs and rotates them onto the last one; "
    "*PCA* is one linear frame, instant and exact but less able to show local structure.\n\n"
    "**Metrics** are computed on the 64-d GURs, not on the picture: a domain classifier's AUC "
    "(0.5 = domains indistinguishable), proxy A-distance (0 = indistinguishable), the entropy of "
    "domain labels among each point's 15 nearest neighbours (higher = better mixed), and the "
    "distance between an overlapped user's A and B GURs relative to random pairs. Each has a "
    "null from shuffled labels (random pairs), i.e. what perfect mixing looks like on this sample. "
    "MMD² compares the A and B distributions directly (permutation p-value).\n\n"
    "**Collapse.** All of these fall when the encoder simply discards the directions that told "
    "the domains apart. The effective rank (how many directions the GURs really use), the top-3 "
    "variance share, uniformity and the scree plot tell alignment from collapse: read a lower "
    "AUC as alignment only when the effective rank held."
)


K_SEARCH = "align.search"
K_SEARCH_DONE = "align.search_done"  # (view, id) last applied: a search selects only once

PROJECTION_CHOICES = {
    "chained-umap": "Chained UMAP (one frame; ~15 s for 4,500 points, ~50 s for 40,000)",
    "aligned-umap": "Aligned UMAP (one frame, slow: minutes)",
    "procrustes": "UMAP + Procrustes",
    "pca": "PCA (instant)",
}


def landmark_note(projection: dict) -> str:
    """The caption's sentence for a layout made through landmarks (empty otherwise)."""
    n = int(projection.get("landmarks") or 0)
    if not n:
        return ""
    return (
        f" UMAP ran on {n:,} landmark users; every other point is placed among its 10 "
        "nearest landmarks in GUR space, so structure finer than the landmarks is smoothed."
    )


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


METRIC_CARDS = (
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
    (
        "MMD² between A and B",
        "mmd",
        "value",
        "inverse",
        (
            "Squared maximum mean discrepancy of the A and B GURs (RBF kernel, median bandwidth): "
            "0 = the same distribution. Beside it the permutation p-value."
        ),
    ),
    (
        "Effective rank",
        "spectrum",
        "effective_rank",
        "normal",
        (
            "exp(entropy of the normalised singular values) of the centred GURs (RankMe): how many "
            "directions the representation really uses. A fall means collapse, not alignment."
        ),
    ),
    (
        "Top-3 variance share",
        "spectrum",
        "top3_share",
        "inverse",
        "Share of the GURs' variance in their 3 leading principal directions. Near 1 = collapsed.",
    ),
    (
        "Uniformity",
        "uniformity",
        "value",
        "inverse",
        (
            "log E exp(−2‖u − v‖²) over the centred GURs put on the unit sphere (DirectAU). "
            "Lower = spread more evenly; a rise means the cloud crowds into few directions."
        ),
    ),
)


def collapse_reading(comparison: dict, name: str) -> tuple[str, str] | None:
    """(level, sentence) for snapshot `name` against 'before', from the measured spectrum, with
    the rank check's rule (recguru_core.common.rules.collapse_level): "bad" (effective rank below 0.8x or
    top-3 share up by more than 0.1: collapsed), "warn" (below 0.9x or up by more than 0.05),
    "ok". None for 'before' or when the spectrum was not measured."""
    now = (comparison.get(name) or {}).get("spectrum") or {}
    was = (comparison.get("before") or {}).get("spectrum") or {}
    if name == "before" or not now or not was:
        return None
    r0, r1 = float(was["effective_rank"]), float(now["effective_rank"])
    t0, t1 = float(was["top3_share"]), float(now["top3_share"])
    ratio, rise = r1 / max(r0, 1e-12), t1 - t0
    numbers = f"effective rank {r0:.1f} → {r1:.1f} (×{ratio:.2f}), top-3 variance share {t0:.2f} → {t1:.2f}"
    level, why = collapse_level(ratio, rise)  # the rank check's own rule (common.rules)
    if why == "collapsed":
        return "bad", (
            f"**Collapsed, not aligned**: the GURs piled their variance into a few "
            f"directions ({numbers}), so the lower AUC here is information discarded."
        )
    if why == "lost":
        return "bad", (
            f"**The GURs lost dimensions** ({numbers}; the goal is ≥ ×{RANK_RATIO_BAD:g}) "
            "without piling into a few directions: part of the AUC drop may be "
            "information discarded, not alignment."
        )
    if level == "warn":
        return "warn", f"The GURs lost some of their dimensions ({numbers}): read the AUC with care."
    return "ok", f"The GURs kept their dimensions ({numbers})."


def alignment_summary(comparison: dict, name: str) -> str | None:
    """What the measured numbers show at snapshot `name`, in words drawn from them (so the page
    never promises what a run did not do): how well a linear classifier still tells the
    domains apart, the change since 'before', and whether nearest neighbours mix."""
    now_all = comparison.get(name) or {}
    auc = now_all.get("auc") or {}
    if auc.get("value") is None:
        return None
    now, null = float(auc["value"]), float(auc.get("null") if auc.get("null") is not None else 0.5)
    gap = now - null
    how = (
        "can barely tell A from B"
        if gap <= 0.05
        else "tells A from B only weakly"
        if gap <= 0.15
        else "still tells A from B easily"
    )
    text = f"A linear classifier {how} here (AUC {now:.2f}; shuffled labels {null:.2f})"
    was = ((comparison.get("before") or {}).get("auc") or {}).get("value")
    if name != "before" and was is not None:
        change = now - float(was)
        text += (
            f", down from {float(was):.2f} before"
            if change < -0.02
            else f", up from {float(was):.2f} before"
            if change > 0.02
            else f", as before ({float(was):.2f})"
        )
    knn = now_all.get("knn_entropy") or {}
    if knn.get("value") is not None and knn.get("null"):
        share = float(knn["value"]) / float(knn["null"])
        mix = (
            "nearest neighbours mix the domains about as much as shuffled labels would"
            if share >= 0.9
            else "nearest neighbours are partly mixed"
            if share >= 0.75
            else "nearest neighbours still come mostly from the same domain"
        )
        text += f"; {mix} (kNN entropy {float(knn['value']):.2f} vs {float(knn['null']):.2f})"
    return text + "."


def snapshot_choice(
    label: str, options: Sequence[str], steps: dict, *, key: str, help: str | None = None
) -> str:
    """The snapshot picker of the Alignment and Training-curves pages: every position labelled
    (a select_slider labels only its two ends). Its value comes from session state, which
    urlstate.apply fills (from a link, or the page's default) before it is drawn."""
    value = st.segmented_control(
        label,
        list(options),
        key=key,
        required=True,
        format_func=lambda n: snapshot_short_title(n, steps),
        disabled=len(options) < 2,
        help=help,
    )
    return value if value in options else list(options)[-1]


def alignment_metrics_panel(
    path: str, run, name: str = "after", steps: dict | None = None, *, key: str = "align"
) -> None:
    """Metric cards of one snapshot (the one the picker shows), each with its change since
    'before' and its shuffled-label null."""
    title = snapshot_short_title(name, steps or {})
    st.markdown(f"**Alignment metrics** · {md(title)}")
    comparison = when_ready(store.start_alignment_metrics(path), "Measuring alignment")
    if not comparison:
        return
    now_all = comparison.get(name)
    if now_all is None:
        st.caption("Not measured for this snapshot.")
        return
    before = comparison.get("before") if name != "before" else None
    summary = alignment_summary(comparison, name)
    if summary:
        st.caption(summary)
    collapse = collapse_reading(comparison, name)
    if collapse is not None:
        {"bad": st.warning, "warn": st.caption, "ok": st.caption}[collapse[0]](collapse[1])
    for label, metric, sub, colour, help_text in METRIC_CARDS:
        entry = now_all.get(metric) or {}
        now = entry.get(sub)
        if now is None:
            continue
        was = (before.get(metric) or {}).get(sub) if before else None
        delta = None if was is None else f"{float(now) - float(was):+.3f} vs before"
        st.metric(label, fmt_number(now), delta=delta, delta_color=colour, help=help_text, border=True)
        bits = [f"before {fmt_number(was)}"] if was is not None else []
        if metric == "pair_distance":
            bits.append("null = 1.0 (random pairs)")
        elif metric == "mmd":
            bits.append(
                f"permutation null {fmt_number(entry.get('null'))} · p = {fmt_number(entry.get('p_value'))}"
            )
        elif metric in ("spectrum", "uniformity"):
            bits.append("label-free: no null")
        elif entry.get("null") is not None:
            bits.append(f"shuffled null {fmt_number(entry['null'])}")
        if entry.get("max") is not None:
            bits.append(f"max {fmt_number(entry['max'])}")
        st.caption(" · ".join(bits))
    measured = list(dict.fromkeys(n for n in ("before", name) if "spectrum" in (comparison.get(n) or {})))
    if measured:
        titles = {n: snapshot_short_title(n, steps or {}) for n in measured}
        st.plotly_chart(
            scree_figure(comparison, measured, titles),
            width="stretch",
            key=f"{key}.scree",
            config={"displayModeBar": False},
        )
    with st.popover("All numbers", icon=":material/table:", width="stretch"):
        names = [n for n in comparison if isinstance(comparison.get(n), dict) and "auc" in comparison[n]]
        st.dataframe(metrics_comparison_frame(comparison, names), width="stretch", key=f"{key}.all_metrics")
        st.caption(f"Sample: {now_all.get('n', '?')} GURs per snapshot, seed 0.")


def _set_selection(view: AlignmentView, positions: Sequence[int], ignore: Any = None) -> None:
    """Make `positions` this session's selection in the view. `ignore`: the chart's current
    selection event, which alignment_selection would otherwise take back on the next run."""
    meta = view.meta
    positions = sorted({int(p) for p in positions if 0 <= int(p) < len(meta)})
    st.session_state[K_SELECTION] = {
        "view": view.ident,
        "positions": positions,
        "users": [{"user": str(meta.at[p, "user"]), "domain": str(meta.at[p, "domain"])} for p in positions],
        "ignore": ignore,
    }


def apply_link_selection(view: AlignmentView) -> None:
    """Users named by a shared link (`sel=`) become this session's selection, by (user,
    domain) in the view's sample; the ones not in it are counted in a notice."""
    users = urlstate.link_users()
    if users is None:
        return
    where = {(str(u), str(d)): i for i, (u, d) in enumerate(zip(view.meta["user"], view.meta["domain"]))}
    positions = [where[(u["user"], u["domain"])] for u in users if (u["user"], u["domain"]) in where]
    missing = len(users) - len(positions)
    if missing:
        urlstate.notice(
            f"{missing:,} of the link's {len(users):,} selected users are not in this layout's sample."
        )
    _set_selection(view, positions)
    # The link's selection is the newest state it carries: its search box (same link) must
    # not replace it on this run.
    searched = str(st.session_state.get(K_SEARCH) or "").strip()
    st.session_state[K_SEARCH_DONE] = (view.ident, searched)


def known_user(view: AlignmentView):
    """A check for urlstate.apply: is this id one of the view's users."""
    users = set(view.meta["user"].astype(str))
    return lambda value: str(value).strip() in users


def apply_search(view: AlignmentView, query: str, shown: Sequence[bool]) -> None:
    """The searched user's points (A and/or B) become the selection, once per new id (a later
    box/lasso selection still replaces it), with a line under the box saying what was found."""
    query = str(query or "").strip()
    positions = find_user(view.meta, query)
    if query and st.session_state.get(K_SEARCH_DONE) != (view.ident, query) and positions:
        chart_event = st.session_state.get("align.chart")
        _set_selection(view, positions, ignore=selected_positions(chart_event))
    st.session_state[K_SEARCH_DONE] = (view.ident, query)
    if not query:
        return
    if not positions:
        st.caption(
            f":material/search_off: No user {md(query)} among this layout's {len(view.meta):,} points."
        )
        return
    where = " and ".join(domain_label(view.meta.at[p, "domain"], view.names) for p in positions)
    hidden = sum(not shown[p] for p in positions)
    st.caption(
        f":material/person_search: Found in {md(where)}"
        + (
            " (hidden by the filter)."
            if hidden == len(positions)
            else f" ({hidden} hidden by the filter)."
            if hidden
            else "."
        )
    )


def view_selection_users(view: AlignmentView) -> list[dict]:
    """The selection's users when it belongs to this view (what a link carries)."""
    stored = st.session_state.get(K_SELECTION) or {}
    return list(stored.get("users") or []) if stored.get("view") == view.ident else []


def selection_panel(
    view: AlignmentView, positions: Sequence[int], shown: Sequence[bool] | None = None
) -> None:
    """The users of the current box/lasso selection (or search), with a way into their
    recommendations; `shown`: the filter's mask, to count selected points it hides."""
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
            f"({frame['_domain'].eq('A').sum():,} in A, {frame['_domain'].eq('B').sum():,} in B"
            f"{_hidden_note(positions, shown)}). Pick a row to choose whose recommendations to "
            "open."
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


def _hidden_note(positions: Sequence[int], shown: Sequence[bool] | None) -> str:
    hidden = 0 if shown is None else sum(not shown[p] for p in positions if 0 <= p < len(shown))
    return f"; {hidden:,} hidden by the filter" if hidden else ""
