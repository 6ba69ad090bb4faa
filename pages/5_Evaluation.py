"""Evaluation: HR/NDCG@5/10/20 per domain, sampled and full ranking, in Table-2 layout."""
import streamlit as st

import ui

ui.setup_page("Evaluation", ":material/table_chart:")
st.title("Evaluation")
st.caption("Leave-one-out test split: the last item of every user's sequence, scored against "
           "the user's history before it. All values in percent, as in the paper's Table 2.")

path, run = ui.current_run()
if run is None:
    st.stop()
metrics = run.metrics()
if not metrics.get("test"):
    st.info("This checkpoint has no test metrics yet: they are computed when fine-tuning "
            "finishes.", icon=":material/info:")
    st.stop()
names = (ui.attempt(run.stats) or {}).get("names")
baselines = ui.run_baselines(run)

st.subheader("Sampled ranking: true item among 1 + 199 negatives", divider="gray")
sampled = ui.table2_frame(metrics, baselines, split="test", names=names)
st.dataframe(ui.style_table2(sampled), width="stretch")
st.plotly_chart(ui.metrics_bar_figure(sampled.loc[["HR@10", "NDCG@10"]]), theme=None,
                key="eval.bars", config={"displaylogo": False})

st.subheader("Full ranking: true item among all unseen items", divider="gray")
full = ui.table2_frame(metrics, baselines, split="test_full", names=names)
if full.empty or full.isna().all().all():
    st.info("No full-ranking results in this checkpoint.", icon=":material/info:")
else:
    st.dataframe(ui.style_table2(full), width="stretch")
if not baselines:
    st.caption("Baselines appear here when the checkpoint carries them.")

with st.expander("Validation split (model selection)", icon=":material/fact_check:"):
    valid = ui.table2_frame(metrics, None, split="valid", names=names)
    st.dataframe(ui.style_table2(valid), width="stretch")
