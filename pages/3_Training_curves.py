"""Training curves: the adversarial game, reconstruction, l2, BPR and validation metrics."""

import streamlit as st

from ui import page, state, store, text, urlstate
from ui.figures import alignment as alignment_fig
from ui.figures import curves, tables
from ui.panels import alignment as alignment_panel

page.setup_page("Training curves", ":material/monitoring:", url_params=True)
st.title("Training curves")
st.caption(
    "Every logged step of the three phases (shaded: grey pre-train, orange adversarial, "
    "blue fine-tune). The Wasserstein estimate is the critic's D(A) − D(B), how well it still "
    "tells the domains apart: the paper expects a rise while the critic learns, then a fall "
    "as the encoder hides the domain. Dotted lines mark the GUR snapshots: pick one to see "
    "the users' layout and alignment at that step below the curves."
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

# The GUR snapshots: marked on the adversarial curves, one picked to show its picture.
steps = store.snapshot_steps(run)
projection, origin = store.projection_for(path, run)
view = page.attempt(store.alignment_data, path, run, projection, origin) if projection else None
snaps = list(view.layouts) if view is not None else list(steps)
urlstate.apply(
    urlstate.PAGE_CURVES,
    valid={"snap": snaps.__contains__},
    defaults={"snap": snaps[-1] if snaps else None},
)

c1, c2, c3 = st.columns([3, 1, 2])
smoothing = c1.slider(
    "Smoothing (EMA)",
    0.0,
    0.99,
    step=0.01,
    key="curves.smoothing",
    help="Exponential moving average weight; faint lines show the raw values.",
)
log_y = c2.toggle("Log scale", key="curves.log", help="Applied to charts whose values are all positive.")
with c3:
    st.download_button(
        "Download history (CSV)",
        store.history_csv(path),
        file_name=f"{state.checkpoint_label(path)}-history.csv",
        mime="text/csv",
        icon=":material/download:",
        key="curves.csv",
    )
snap = None
if snaps:
    snap = alignment_panel.snapshot_choice(
        "GUR snapshot (dotted lines on the adversarial panels)",
        snaps,
        steps,
        key="curves.snapshot",
        help="The moments the trainer saved every user's GUR. The picked one is drawn solid "
        "on the curves and shown below: its 2-d layout and alignment metrics.",
    )
urlstate.publish(urlstate.PAGE_CURVES)
urlstate.share_control()
trend = next(
    (r for r in (page.attempt(store.health_rows, path) or []) if "asserstein" in str(r.get("check", ""))),
    None,
)
if trend and trend.get("verdict"):
    st.caption(
        f"This run's Wasserstein estimate: {text.md(trend.get('value', ''))} "
        f"(adversarial steps) · {text.md(trend['verdict'])}."
    )

marks = [(n, steps.get(n, -1), alignment_fig.snapshot_short_title(n, steps)) for n in steps]
st.plotly_chart(
    store.training_curves_figure(path, smoothing, log_y, marks, snap),
    theme=None,
    key="curves.chart",
    config={"displaylogo": False},
)
if curves.eval_frame(frame).empty:
    st.caption(
        "Validation metrics over steps appear as a last panel when the checkpoint's history "
        "carries evaluation records (one per fine-tune epoch)."
    )

if snap is not None:
    st.subheader(
        f"The representation at this snapshot: {text.md(alignment_fig.snapshot_short_title(snap, steps))}",
        divider="gray",
        help="The same layout and metrics as the Alignment page, for the snapshot picked above.",
    )
    picture, numbers = st.columns([3, 1], gap="medium")
    with picture:
        if view is None:
            st.info(
                "This checkpoint carries no 2-d layout of its snapshots yet: compute one on "
                "the Alignment page and it shows here too.",
                icon=":material/info:",
            )
            st.page_link(state.PAGE_ALIGNMENT, label="Go to Alignment", icon=":material/scatter_plot:")
        else:
            st.plotly_chart(
                store.alignment_chart(path, view, snap, snap, "domain", False, []),
                theme=None,
                key="curves.projection",
                config={"displaylogo": False, "scrollZoom": True},
            )
            st.caption(
                "Each point is one user's GUR in one domain, in the Alignment page's frame: "
                "pick another snapshot above to see the clouds move between steps."
            )
    with numbers:
        alignment_panel.alignment_metrics_panel(path, run, snap, steps, key="curves")
elif not steps:
    st.caption("This checkpoint has no GUR snapshots to mark on the curves.")

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
