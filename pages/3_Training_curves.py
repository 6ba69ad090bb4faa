"""Training curves: the adversarial game, reconstruction, l2, BPR and validation metrics."""

import streamlit as st

from ui import page, state, store
from ui.figures import curves, tables

page.setup_page("Training curves", ":material/monitoring:")
st.title("Training curves")
st.caption(
    "Every logged step of the three phases (shaded: grey pre-train, orange adversarial, "
    "blue fine-tune). The Wasserstein estimate is the critic's D(A) − D(B): it should "
    "shrink as the encoder learns to hide the domain."
)

path, run = page.current_run()
if run is None:
    st.stop()
frame = page.attempt(store.run_history_frame, path)
if frame is None:
    st.stop()
if frame.empty:
    st.info("This checkpoint carries no training history.", icon=":material/info:")
    st.stop()

c1, c2, c3 = st.columns([3, 1, 2])
smoothing = c1.slider(
    "Smoothing (EMA)",
    0.0,
    0.99,
    state.DEFAULT_SMOOTHING,
    0.01,
    key="curves.smoothing",
    help="Exponential moving average weight; faint lines show the raw values.",
)
log_y = c2.toggle(
    "Log scale", key="curves.log", help="Applied to charts whose values are all positive."
)
with c3:
    st.download_button(
        "Download history (CSV)",
        store.history_csv(path),
        file_name=f"{state.checkpoint_label(path)}-history.csv",
        mime="text/csv",
        icon=":material/download:",
        key="curves.csv",
    )

st.plotly_chart(
    store.training_curves_figure(path, smoothing, log_y),
    theme=None,
    key="curves.chart",
    config={"displaylogo": False},
)
if curves.eval_frame(frame).empty:
    st.caption(
        "Validation metrics over steps appear as a last panel when the checkpoint's history "
        "carries evaluation records (one per fine-tune epoch)."
    )

st.subheader(
    "Adversarial-phase health",
    divider="gray",
    help="Read from the step records of phase 2: is the critic winning, did the GUR cloud "
    "collapse or shrink, what did alignment cost in reconstruction? The same checks as "
    "`python -m recguru_core evaluate CHECKPOINT --health`.",
)
health = page.attempt(store.health_rows, path)
if health:
    st.dataframe(tables.health_frame(health), width="stretch", hide_index=True)
