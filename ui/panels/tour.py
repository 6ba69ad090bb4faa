"""Home's guided tour: what to look at on each page, in the order a first visit should take."""

from __future__ import annotations

import streamlit as st

from recguru_core.common.config import PRESET_NOTES

from ..state import (
    K_TOUR,
    PAGE_ALIGNMENT,
    PAGE_CURVES,
    PAGE_EVALUATION,
    PAGE_RECOMMENDATIONS,
    PAGE_TRAIN,
)

# (page, link label, icon, what to look at)
TOUR_STEPS = (
    (
        PAGE_TRAIN,
        "1 · Train",
        ":material/model_training:",
        (
            f"Start a run with the **tiny** preset ({PRESET_NOTES['tiny']}). Watch the three "
            "phase bars fill: pre-training, the adversarial game, fine-tuning. When it finishes, "
            "the new checkpoint becomes yours on every page."
        ),
    ),
    (
        PAGE_ALIGNMENT,
        "2 · Alignment",
        ":material/scatter_plot:",
        (
            "Left: the users' GURs after pre-training; right: after the adversarial phase, "
            "orange = domain A, blue = domain B. Then read the **domain-classifier AUC** card: "
            "1.0 means the two domains are told apart perfectly, 0.5 means they are mixed. "
            "Read it beside the **effective rank**: a drop in AUC is alignment only if the GURs "
            "kept their dimensions; if the rank fell too, the page says *collapsed*."
        ),
    ),
    (
        PAGE_CURVES,
        "3 · Training curves",
        ":material/monitoring:",
        (
            "In the adversarial phase, follow the Wasserstein estimate (the critic's view of how "
            "far apart A and B are) and check that the reconstruction loss did not climb much: "
            "that rise is the price of alignment. The health verdicts below the curves say it "
            "in words."
        ),
    ),
    (
        PAGE_RECOMMENDATIONS,
        "4 · Recommendations",
        ":material/recommend:",
        (
            "Pick a user present in both domains. **Influence** ranks the history items that "
            "carry the top recommendation; **Share of** the other domain shows how much the "
            "other domain's GUR moves it."
        ),
    ),
    (
        PAGE_EVALUATION,
        "5 · Evaluation",
        ":material/table_chart:",
        (
            "HR and NDCG per domain beside the baselines the run carries, RecGURU minus each with "
            "its paired 95 % interval, then by user group: a difference inside the intervals is "
            "not a win."
        ),
    ),
)


def guided_tour() -> None:
    """A collapsible tour, open on the session's first visit to Home (collapsed once another
    page has been opened: page.setup_page sets K_TOUR)."""
    with st.expander(
        "Guided tour: what to look at, page by page",
        expanded=not st.session_state.get(K_TOUR, False),
        icon=":material/tour:",
    ):
        for page, label, icon, what in TOUR_STEPS:
            left, right = st.columns([1, 4], vertical_alignment="center")
            with left:
                try:
                    st.page_link(page, label=label, icon=icon)
                except st.errors.StreamlitAPIException:  # a page run as its own entry point
                    st.markdown(f"**{label}**")
            right.markdown(what)
