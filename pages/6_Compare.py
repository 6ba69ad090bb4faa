"""Compare runs: two or more checkpoints of the same data, side by side."""

import streamlit as st

from ui import page, store, urlstate
from ui.panels import compare as compare_panel

page.setup_page("Compare runs", ":material/compare:", url_params=True)
st.title("Compare runs")
st.caption(
    "Two or more checkpoints of the same data, e.g. RecGURU against its control without the "
    "adversarial term (the shipped pair). Read top to bottom: what the critic changed in the "
    "metrics, in how mixed the domains are, in where users sit, and during training."
)

paths = compare_panel.pick_runs()  # seeded from a shared link's `run` names
urlstate.publish(urlstate.PAGE_COMPARE)
urlstate.publish_runs(paths)
urlstate.share_control()
if len(paths) < 2:
    st.info(
        "Pick at least two runs to compare. Train another on **Train** (e.g. with "
        "`w_adv=0`) or upload one on **Home**.",
        icon=":material/info:",
    )
    st.stop()
runs = {}
for path in paths:
    run = page.attempt(store.load_run, path)
    if run is None:
        st.stop()
    runs[path] = run
labels = compare_panel.short_labels(paths)
if not compare_panel.same_data(paths, labels):
    st.stop()
names = (page.attempt(runs[paths[0]].stats) or {}).get("names")

st.subheader(
    "Evaluation: differences per metric",
    divider="gray",
    help="Sampled: the true item among 1 + 199 popularity-sampled negatives (the "
    "paper's protocol). Full ranking: among every item the user has not seen.",
)
compare_panel.evaluation_panel(runs, labels, names)

st.subheader("Alignment after the adversarial phase", divider="gray")
compare_panel.alignment_panel(paths, labels)

st.subheader(
    "The same users in one frame",
    divider="gray",
    help="Each run's 64-d GUR space has its own axes, so the runs' vectors cannot "
    "share one PCA or UMAP fit; instead each run is laid out alone (same users, seed "
    "and method) and rotated, scaled and shifted onto the first run's layout.",
)
compare_panel.projection_panel(paths, labels, runs)

st.subheader("Training curves overlaid", divider="gray")
compare_panel.curves_panel(paths, labels)
