"""Home: what RecGURU does, which checkpoint is in use, its data and headline numbers."""

import streamlit as st

from ui import page, state, store, text, uploads
from ui.figures import tables
from ui.panels import tour

page.setup_page("Home", ":material/hub:", home=True)

st.title("RecGURU Explorer")
st.markdown(
    "RecGURU learns **one Generalized User Representation (GUR)** per user from their "
    "behaviour sequences in two domains, with a single self-attentive encoder shared by both. "
    "An **adversarial domain critic** (WGAN-GP) is trained to tell domain-A from domain-B "
    "representations while the encoder learns to fool it, so the two domains end up in one "
    "indistinguishable space. A **cross-domain sequential recommender (CDSRec)** then attends "
    "to the GUR, letting knowledge from a user's dense domain help in their sparse one, even "
    "for users seen in only one domain."
)
st.graphviz_chart(page.ARCHITECTURE_DOT, width="stretch")
st.caption(
    "Pages: **Train** a run · **Alignment** of A and B before vs after the critic · "
    "**Training curves** · **Recommendations** with explanations · **Evaluation** in the "
    "paper's Table-2 layout · **Compare runs**, e.g. the demo against its control without "
    "the adversarial term."
)
tour.guided_tour()

st.subheader("Checkpoint", divider="gray")
entries = state.available_checkpoints()
current = state.selected_checkpoint()
pick, upload = st.columns([3, 2], gap="large")
with pick:
    if entries:
        paths = [e.path for e in entries]
        labels = {e.path: e.label for e in entries}
        st.selectbox(
            "Checkpoint in use (this browser session only)",
            paths,
            index=paths.index(current) if current in paths else 0,
            format_func=lambda p: labels.get(p, p),
            key="home.checkpoint",
            on_change=lambda: state.select_checkpoint(st.session_state["home.checkpoint"]),
        )
    else:
        st.info(
            "No checkpoint yet: the shipped demo is missing and none was trained here.",
            icon=":material/info:",
        )
        st.page_link(
            state.PAGE_TRAIN,
            label="Train one (about a minute with the tiny preset)",
            icon=":material/model_training:",
        )
with upload:
    file = st.file_uploader(
        "…or upload a checkpoint (.pt)",
        key="home.upload",
        help="Loaded with torch.load(weights_only=True) and checked before it is stored "
        "for this browser session only; uploads expire after a day.",
    )
    uploads.handle_checkpoint_upload(file)

path, run = page.current_run(quiet=True)
if run is None:
    if state.selected_checkpoint() is not None:
        st.stop()  # current_run showed why the selected checkpoint cannot be used
    st.subheader("The embedded synthetic default data", divider="gray")
    st.caption(
        "A two-domain world (Books = A, Movies = B) with known taste clusters; "
        "what Train uses unless you choose other data."
    )
    stats = page.attempt(store.default_data_stats)
    if stats:
        st.dataframe(tables.stats_frame(stats), width="stretch", column_config=page.stats_column_config())
    st.stop()

st.subheader("Data (Table 1)", divider="gray")
stats = page.attempt(run.stats)
if stats:
    st.dataframe(tables.stats_frame(stats), width="stretch", column_config=page.stats_column_config())
    st.caption(f"Source: {text.md(run.source())} · status: **{text.md(run.status_text())}**")
if run.status() != "complete":
    st.warning(
        f"This checkpoint is an {text.md(run.status_text())}: its numbers are not final. "
        "Resume it on the Train page (or `train --resume`) to finish it.",
        icon=":material/warning:",
    )

st.subheader("Headline results", divider="gray")
headline = tables.headline_metrics(
    run.metrics(),
    (stats or {}).get("names"),
    negatives=run.sampled_candidates()[0],
)
if headline:
    for col, m in zip(st.columns(len(headline)), headline):
        col.metric(text.md(m["label"]), m["value"], help=m["help"], border=True)
    st.page_link(
        state.PAGE_EVALUATION,
        label="Full evaluation (sampled and full ranking)",
        icon=":material/table_chart:",
    )
else:
    st.info(
        "This checkpoint has no test metrics yet (training did not reach the end of fine-tuning).",
        icon=":material/info:",
    )

store.prefetch(path)  # warm the Alignment and Training-curves caches in the background
