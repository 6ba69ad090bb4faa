"""Recommendations page widgets: user pickers and the explanation tabs."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from .. import store
from ..figures.recommend import attention_figure, influence_figure
from ..figures.style import domain_label
from ..figures.tables import influence_table, neighbours_table
from ..page import when_ready
from ..state import K_GOTO_USER, K_LAST_USER
from ..text import md, one_line


def prepare_user_widgets(run) -> None:
    """Fill the Recommendations widgets before they are drawn: a user handed over from the
    Alignment page wins, else the last user shown in this session, else a default user."""
    goto = st.session_state.pop(K_GOTO_USER, None)
    last = st.session_state.get(K_LAST_USER) or {}
    if goto:
        st.session_state["rec.user"] = goto["user"]
        st.session_state["rec.domain"] = goto["domain"]
    else:
        if "rec.user" not in st.session_state:
            st.session_state["rec.user"] = last.get("user") or store.default_user(run)
        if "rec.domain" not in st.session_state:
            st.session_state["rec.domain"] = last.get("domain") or "A"
    st.session_state[K_LAST_USER] = {
        "user": st.session_state["rec.user"],
        "domain": st.session_state["rec.domain"],
    }


def known_user(run):
    """A check for user ids from a link: in either domain of this run."""

    def check(user: str) -> bool:
        try:
            return any(store.find_user(run, user).values())
        except Exception:  # noqa: BLE001  (unknown user: the check fails, the link falls back)
            return False

    return check


def pick_random_user(run) -> None:
    """Button callback: a random user of the chosen domain (a new one on every click)."""
    draws = st.session_state.get("recguru.random_draws", 0) + 1
    st.session_state["recguru.random_draws"] = draws
    domain = st.session_state.get("rec.domain") or "A"
    try:
        st.session_state["rec.user"] = store.random_user(run, domain, seed=draws)
    except Exception as exc:  # noqa: BLE001  (shown on the page's next run)
        st.session_state["rec.user"] = ""
        st.toast(md(one_line(exc)), icon=":material/error:")


def use_selected_user(picked: Sequence[dict]) -> None:
    i = st.session_state.get("rec.from_selection")
    if i is not None and 0 <= int(i) < len(picked):
        st.session_state["rec.user"] = picked[int(i)]["user"]
        st.session_state["rec.domain"] = picked[int(i)]["domain"]


def explanation_panel(path: str, user: str, domain: str, names: dict | None = None) -> None:
    """The explanation tabs when ready; until then a placeholder (the page stays usable)."""
    result = when_ready(
        store.start_explanation(path, user, domain),
        "Explaining the top recommendation (leave-one-out over the history)",
    )
    if result is not None:
        explanation_tabs(result, domain, names)


def explanation_tabs(explanation: dict, domain: str, names: dict | None = None) -> None:
    top = explanation.get("top_item") or {}
    if top:
        st.markdown(
            f"Top recommendation: **{md(top.get('title', '?'))}** ({md(top.get('genre', ''))}), "
            f"score {float(top.get('score', float('nan'))):.3f}"
        )
    other = "B" if domain == "A" else "A"
    tabs = st.tabs(
        [
            "Influence (faithful)",
            "Attention (indicative)",
            f"Share of {md(domain_label(other, names))}",
            f"Nearest users in {md(domain_label(other, names))}",
        ]
    )
    with tabs[0]:
        st.caption(
            "Leave-one-out: each history item is removed from both the GUR input and the "
            "recommender input, and the top item re-scored. This measures what the model "
            "actually uses: the **faithful** explanation. Green = the item supports the "
            "recommendation (score drops without it)."
        )
        influence = explanation.get("influence") or []
        if influence:
            if len(influence) > 20:
                st.caption(f"The 20 most influential of {len(influence)} history items, strongest first.")
            else:
                st.caption(
                    "Sorted by influence, strongest first; the number is the item's place in the history."
                )
            st.plotly_chart(
                influence_figure(influence),
                theme=None,
                key="rec.influence",
                config={"displayModeBar": False},
            )
            with st.expander("Table", icon=":material/table:"):
                st.dataframe(influence_table(influence), hide_index=True, width="stretch")
        else:
            st.info("The history is too short for a leave-one-out explanation.", icon=":material/info:")
    with tabs[1]:
        st.caption(
            "CDSRec's last-layer self-attention from the final position over the history, "
            "averaged over heads. **Indicative only**: attention weights are not a faithful "
            "account of why a score is high."
        )
        attention = explanation.get("attention") or []
        if attention:
            st.plotly_chart(
                attention_figure(attention, domain),
                theme=None,
                key="rec.attention",
                config={"displayModeBar": False},
            )
        else:
            st.info("No attention weights for this user.", icon=":material/info:")
    with tabs[2]:
        share = explanation.get("other_domain")
        if not share:
            st.info(
                f"This user has no history in {md(domain_label(other, names))}, so CDSRec attends to "
                "this domain's GUR only.",
                icon=":material/info:",
            )
        else:
            st.caption(
                f"The top item scored with the user's {md(domain_label(other, names))} GUR in "
                "CDSRec's memory (eq. 2) versus without it."
            )
            c1, c2 = st.columns(2)
            c1.metric(
                "Score with other domain",
                f"{share['score_with']:.3f}",
                delta=f"{share['score_with'] - share['score_without']:+.3f} vs without",
                border=True,
            )
            c2.metric(
                "Rank with other domain",
                f"#{share['rank_with']}",
                delta=f"{share['rank_without'] - share['rank_with']:+d} places vs without",
                border=True,
            )
            st.caption(f"Without: score {share['score_without']:.3f}, rank #{share['rank_without']}.")
    with tabs[3]:
        st.caption(
            f"Users of {md(domain_label(other, names))} whose GURs lie nearest to this user's: "
            "if the adversarial alignment worked, they should share tastes across domains."
        )
        st.dataframe(neighbours_table(explanation.get("neighbours") or []), hide_index=True, width="stretch")
