"""Evaluation: HR/NDCG@5/10/20 per domain, sampled and full ranking, in Table-2 layout."""

import streamlit as st

from ui import page
from ui.figures import tables

page.setup_page("Evaluation", ":material/table_chart:")
st.title("Evaluation")
st.caption(
    "Leave-one-out test split: each user's last item, scored from the history before it, "
    "over all users. Values in percent, laid out like the paper's Table 2 (rows = metrics, "
    "columns = domain × method; best per domain in bold when baselines are present)."
)

path, run = page.current_run()
if run is None:
    st.stop()
metrics = run.metrics()
if not metrics.get("test"):
    st.info(
        "This checkpoint has no test metrics yet: they are computed when fine-tuning finishes.",
        icon=":material/info:",
    )
    st.stop()
names = (page.attempt(run.stats) or {}).get("names")
baselines = run.baselines()
sampled = tables.table2_frame(metrics, baselines, split="test", names=names)
full = tables.table2_frame(metrics, baselines, split="test_full", names=names)

left, right = st.columns(2, gap="large")
with left:
    st.subheader(
        "Sampled: 1 + 199 negatives",
        divider="gray",
        help="The true item ranked among 199 items sampled by popularity from those the "
        "user never interacted with (the paper's protocol).",
    )
    st.dataframe(tables.style_table2(sampled), width="stretch")
with right:
    st.subheader(
        "Full ranking: all unseen items",
        divider="gray",
        help="The true item ranked among every item the user has not interacted with; "
        "much harder, and free of sampling bias.",
    )
    if full.empty or full.isna().all().all():
        st.info("No full-ranking results in this checkpoint.", icon=":material/info:")
    else:
        st.dataframe(tables.style_table2(full), width="stretch")

st.markdown("**Sampled HR@10 and NDCG@10 (%)**")
st.plotly_chart(
    tables.metrics_bar_figure(sampled.loc[["HR@10", "NDCG@10"]]),
    theme=None,
    key="eval.bars",
    config={"displaylogo": False},
)
if not baselines:
    st.caption("Baselines appear next to RecGURU when the checkpoint carries them.")

with st.expander("Validation split (used for model selection)", icon=":material/fact_check:"):
    st.dataframe(
        tables.style_table2(tables.table2_frame(metrics, None, split="valid", names=names)), width="stretch"
    )
