"""Alignment: domain-A vs domain-B GURs before vs after adversarial training, in one frame."""

import streamlit as st

from ui import page, store, text, urlstate
from ui.figures import alignment as alignment_fig
from ui.panels import alignment as alignment_panel

page.setup_page("Alignment", ":material/scatter_plot:", url_params=True)
st.title("Alignment of the two domains", help=alignment_panel.ALIGNMENT_HELP)
st.caption(
    "Each point is one user's GUR in one domain (orange = A, blue = B): the end of "
    "pre-training on the left, the snapshot you pick on the right, in one frame. The "
    "adversarial phase trains the encoder to hide the domain; the cards on the right measure "
    "in the GUR space how far this run got at the picked snapshot, each beside what shuffled "
    "domain labels give. Box- or lasso-select points in either panel, or find a user by id, to "
    "list those users; the filters above the chart choose which points are drawn."
)

path, run = page.current_run()
if run is None:
    st.stop()
if not store.snapshot_names(run):
    st.info(
        "This checkpoint has no GUR snapshots yet: they are recorded at the end of "
        "pre-training and of the adversarial phase.",
        icon=":material/info:",
    )
    st.stop()

projection, origin = store.projection_for(path, run)
with st.expander("Compute a fresh projection", expanded=projection is None, icon=":material/refresh:"):
    c1, c2, c3 = st.columns(3)
    method = c1.selectbox(
        "Method",
        list(alignment_panel.PROJECTION_CHOICES),
        key="align.method",
        format_func=alignment_panel.PROJECTION_CHOICES.get,
    )
    n_users = c2.number_input(
        "Points sampled (both domains)", 200, 40_000, 5000, step=500, key="align.n_users"
    )
    seed = c3.number_input("Seed", 0, 1_000_000, 0, key="align.seed")
    if st.button("Compute projection", key="align.compute", icon=":material/play_arrow:"):
        bar = st.progress(0.0, text="Starting…")
        fresh = page.attempt(
            store.compute_projection,
            path,
            method,
            n_users,
            seed,
            on_progress=lambda f, m: bar.progress(f, text=m),
        )
        bar.empty()
        if fresh is not None:
            projection, origin = fresh, "computed"
    if origin == "computed" and run.projections():
        st.button(
            "Back to the layout stored in the checkpoint",
            key="align.stored",
            on_click=store.forget_projection,
            args=(path,),
        )
if projection is None:
    st.info(
        "This checkpoint carries no precomputed layout. Compute one above (chained UMAP "
        "takes 15-50 s on a CPU; PCA is instant).",
        icon=":material/info:",
    )
    st.stop()

view = page.attempt(store.alignment_data, path, run, projection, origin)
if view is None:
    st.stop()
panels = list(view.layouts)
modes = ["domain", "overlap"] + (["cluster"] if view.has_cluster else [])
right_options = [p for p in panels if p != panels[0]] or panels
choices = alignment_fig.filter_choices(view.meta)
urlstate.apply(
    urlstate.PAGE_ALIGNMENT,
    valid={
        "snap": right_options.__contains__,
        "color": modes.__contains__,
        "search": alignment_panel.known_user(view),
        "overlap": alignment_fig.OVERLAP_FILTERS.__contains__,
        "len": choices.fits_length,
        "clusters": choices.fits_clusters,
    },
    defaults={
        "snap": right_options[-1],
        "len": choices.length,
        "clusters": [] if choices.clusters else None,
    },
)
alignment_panel.apply_link_selection(view)

c1, c2, c3 = st.columns([3.6, 2, 4])
color_by = (
    c1.segmented_control(
        "Colour by",
        modes,
        key="align.color",
        format_func=alignment_fig.COLOR_MODES.get,
        required=True,
    )
    or "domain"
)
links = c2.toggle(
    "Link A↔B", key="align.links", help="Draw a line between an overlapped user's A and B points."
)
contours = c2.toggle(
    "Density contours",
    key="align.contours",
    help="Each domain's density of the points shown, as lines in its colour over the points, "
    "at the same levels for A and B and in both panels (each line twice the density of the "
    "one around it). Aligned domains have lines that lie on top of each other.",
)
with c3:
    right = alignment_panel.snapshot_choice(
        "Right panel: snapshot",
        right_options,
        view.steps,
        key="align.right",
        help="The left panel is the first snapshot (end of pre-training); the cards on the "
        "right follow the snapshot picked here.",
    )

f1, f2, f3, f4 = st.columns([2, 3.4, 3, 2.6])
overlap = (
    f2.segmented_control(
        "Users",
        list(alignment_fig.OVERLAP_FILTERS),
        key="align.overlap",
        format_func=alignment_fig.OVERLAP_FILTERS.get,
        required=True,
    )
    or "all"
)
length = None
if choices.length:
    length = f3.slider(
        "History length",
        *choices.length,
        key="align.length",
        help="The number of interactions the encoder read for the user in that domain.",
    )
clusters = []
if choices.clusters:
    clusters = f4.multiselect(
        "Taste clusters",
        list(choices.clusters),
        key="align.clusters",
        format_func=lambda c: f"cluster {c}",
        placeholder="All clusters",
    )
point_filter = alignment_fig.PointFilter(overlap, length, tuple(clusters))
shown = alignment_fig.filter_mask(view.meta, point_filter)
with f1:
    query = st.text_input(
        "Find a user",
        key="align.search",
        placeholder="user id",
        help="A user id of the data set: its points (A and/or B) become the selection.",
    )
    alignment_panel.apply_search(view, query, shown)

chart_col, metrics_col = st.columns([3, 1], gap="medium")
with chart_col:
    selected = alignment_panel.alignment_selection(view, st.session_state.get("align.chart"))
    fig = store.alignment_chart(
        path, view, panels[0], right, color_by, links, selected, contours=contours, flt=point_filter
    )
    st.plotly_chart(
        fig,
        theme=None,
        key="align.chart",
        on_select="rerun",
        selection_mode=("box", "lasso", "points"),
        config={"displaylogo": False, "scrollZoom": True},
    )
    st.caption(
        f"**{int(shown.sum()):,} of {len(view.meta):,} points shown**. "
        f"Layout: **{text.md(view.method)}**, seed {view.seed} "
        f"({'computed here' if origin == 'computed' else 'stored in the checkpoint'}). "
        "Both panels show the same users in one coordinate frame; zoom is linked."
        + alignment_panel.landmark_note(projection)
    )
with metrics_col:
    alignment_panel.alignment_metrics_panel(path, run, right, view.steps)

link_users = alignment_panel.view_selection_users(view)
urlstate.publish(urlstate.PAGE_ALIGNMENT)
urlstate.publish_selection(link_users)
urlstate.share_control(selected=len(link_users))

st.subheader("Selected users", divider="gray")
alignment_panel.selection_panel(view, selected, shown)
