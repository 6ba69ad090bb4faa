"""Evaluation: HR/NDCG@5/10/20 per domain, sampled and full ranking, in Table-2 layout."""

import streamlit as st

from ui import page, state, store
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
protocol = run.protocol()
st.caption(protocol)
negatives, drawn_by = run.sampled_candidates()
baselines = run.baselines()
sampled = tables.table2_frame(metrics, baselines, split="test", names=names)
full = tables.table2_frame(metrics, baselines, split="test_full", names=names)

left, right = st.columns(2, gap="large")
with left:
    st.subheader(
        f"Sampled: 1 + {negatives} negatives",
        divider="gray",
        help=f"The true item ranked among {negatives} items sampled by {drawn_by} from those the "
        "user never interacted with (the paper's protocol).",
    )
    st.dataframe(tables.style_table2(sampled), width="stretch")
    st.download_button(
        "Download (CSV)",
        tables.csv_with_protocol(sampled, protocol),
        mime="text/csv",
        file_name=f"{state.checkpoint_label(path)}-sampled.csv",
        icon=":material/download:",
        key="eval.csv.sampled",
    )
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
        st.download_button(
            "Download (CSV)",
            tables.csv_with_protocol(full, protocol),
            mime="text/csv",
            file_name=f"{state.checkpoint_label(path)}-full.csv",
            icon=":material/download:",
            key="eval.csv.full",
        )

st.markdown("**Sampled HR@10 and NDCG@10 (%)**")
st.plotly_chart(
    tables.metrics_bar_figure(sampled.loc[["HR@10", "NDCG@10"]]),
    theme=None,
    key="eval.bars",
    config={"displaylogo": False},
)
if not baselines:
    st.caption(
        "Baselines appear next to RecGURU when the checkpoint carries them "
        "(`python -m recguru_core benchmark` stores them in its RecGURU checkpoint)."
    )
else:
    st.subheader(
        "RecGURU minus each model",
        divider="gray",
        help="Per user on the same test users, RecGURU's metric minus the other model's, in "
        "percentage points, with the paired bootstrap 95 % interval (1,000 resamples of the "
        "users). ▲ / ▼: the interval excludes 0, so the difference is unlikely to be noise. "
        "Holm p: the benchmark's paired tests over per-user values averaged over its seeds "
        "(W: Wilcoxon signed-rank, t: paired t), Holm-corrected over every comparison of its "
        "table; below 0.05 the difference holds after correction.",
    )
    family = st.segmented_control(
        "Ranking", ["Sampled", "Full ranking"], default="Sampled", key="eval.paired_family"
    )
    paired = tables.paired_frame(baselines, "test_full" if family == "Full ranking" else "test", names=names)
    if paired.empty:
        st.caption(
            "This checkpoint's baselines carry no per-user pairing (made before paired "
            "intervals were stored)."
        )
    else:
        st.dataframe(paired, width="stretch")
        st.caption(
            "The interval is this checkpoint's seed: it covers user-to-user noise, not "
            "seed-to-seed noise; the Holm p-values pool the seeds the benchmark ran."
        )

with st.expander("Validation split (used for model selection)", icon=":material/fact_check:"):
    st.dataframe(
        tables.style_table2(tables.table2_frame(metrics, None, split="valid", names=names)), width="stretch"
    )

st.subheader(
    "By user group",
    divider="gray",
    help="Overlapped users are in both domains (their GUR from the other domain is attended "
    "to); short histories are the cold users cross-domain help is meant for. Each cell: value "
    "(95 % bootstrap interval over the group's users), in percent. Intervals that overlap "
    "mean the difference may be noise.",
)
if st.toggle(
    "Split the test metrics by user group (full ranking of every user: seconds to a minute)",
    key="eval.groups",
):
    rows = page.when_ready(store.start_group_evaluation(path), "Ranking every user")
    if rows is not None:
        grouped = tables.groups_frame(rows)
        st.dataframe(grouped, width="stretch", hide_index=True)
        st.download_button(
            "Download (CSV)",
            tables.csv_with_protocol(rows, protocol),
            mime="text/csv",
            file_name=f"{state.checkpoint_label(path)}-groups.csv",
            icon=":material/download:",
            key="eval.csv.groups",
        )
        st.caption(
            "Only this checkpoint's own model is split by group: the baselines it "
            "carries come as overall metrics without per-user ranks."
        )
