"""Recommendations: one user's histories, top-k, the held-out item, and why."""

import streamlit as st

from ui import page, state, store, text, urlstate
from ui.figures import recommend as recommend_fig
from ui.figures import style, tables
from ui.panels import alignment as alignment_panel
from ui.panels import recommend as recommend_panel

page.setup_page("Recommendations", ":material/recommend:", url_params=True)
st.title("Recommendations")
st.caption(
    "Pick a user: their histories in both domains, CDSRec's top-k in the chosen domain "
    "(already-seen items excluded), where the held-out test item ranks, and why."
)

path, run = page.current_run()
if run is None:
    st.stop()
names = (page.attempt(run.stats) or {}).get("names") or {}
urlstate.apply(
    urlstate.PAGE_RECOMMENDATIONS,
    valid={"user": recommend_panel.known_user(run)},
)
recommend_panel.prepare_user_widgets(run)

c1, c2, c3, c4 = st.columns([3, 2, 1, 2], vertical_alignment="bottom")
user = c1.text_input("User id", key="rec.user", help="The raw user id of the data set.").strip()
domain = (
    c2.segmented_control(
        "Domain",
        ["A", "B"],
        key="rec.domain",
        required=True,
        format_func=lambda d: text.md(style.domain_label(d, names)),
    )
    or "A"
)
k = c3.number_input("Top k", *state.K_RANGE, key="rec.k")
c4.button(
    "Random user",
    key="rec.random",
    icon=":material/casino:",
    on_click=recommend_panel.pick_random_user,
    args=(run,),
)
picked = alignment_panel.selected_users()
if picked:
    st.selectbox(
        "…or one of your Alignment selection",
        range(len(picked)),
        index=None,
        key="rec.from_selection",
        placeholder=f"{len(picked)} users selected on Alignment",
        format_func=lambda i: f"{picked[i]['user']} ({style.domain_label(picked[i]['domain'], names)})",
        on_change=recommend_panel.use_selected_user,
        args=(picked,),
    )

urlstate.publish(urlstate.PAGE_RECOMMENDATIONS)
urlstate.share_control()

found = page.attempt(store.find_user, run, user)
if not found:
    st.stop()

hist_a, hist_b = st.columns(2, gap="medium")
for col, d in ((hist_a, "A"), (hist_b, "B")):
    with col:
        st.markdown(f"**History in {text.md(style.domain_label(d, names))}** · newest first")
        if found[d]:
            history = page.attempt(run.user_history, user, d)
            if history is not None:
                st.dataframe(
                    tables.style_history(tables.history_table(history)),
                    hide_index=True,
                    width="stretch",
                    height=260,
                    column_order=page.HISTORY_COLUMNS,
                    column_config=page.history_column_config(),
                )
        else:
            st.caption("No interactions in this domain.")

if not found[domain]:
    other = "B" if domain == "A" else "A"
    st.warning(
        f"User {text.md(user)} has no history in {text.md(style.domain_label(domain, names))}; "
        f"choose {text.md(style.domain_label(other, names))} to see recommendations.",
        icon=":material/swap_horiz:",
    )
    st.stop()

k_asked = k
k = page.attempt(store.clamp_k, run, user, domain, k_asked)
if k is None:
    st.stop()
if k < k_asked:
    st.info(
        f"Only {k} items of {text.md(style.domain_label(domain, names))} are new to this user: "
        f"showing the top {k}, not {k_asked}.",
        icon=":material/info:",
    )
rec = page.attempt(store.recommend, path, user, domain, k)
if rec is None:
    st.stop()
st.subheader(f"Top {len(rec['items'])} in {text.md(style.domain_label(domain, names))}", divider="gray")
chart_col, test_col = st.columns([3, 1], gap="medium")
with chart_col:
    st.plotly_chart(
        recommend_fig.scores_figure(rec, domain),
        theme=None,
        key="rec.scores",
        config={"displayModeBar": False},
    )
with test_col:
    test = rec["test_item"]
    st.metric(
        "Held-out test item: rank",
        f"#{test['rank']:,}",
        border=True,
        help="Rank of the user's real last item among all items they had not seen.",
    )
    st.markdown(
        f"**{text.md(test['title'])}**  \n{text.md(test.get('genre', ''))} · score {test['score']:.3f}"
    )
    st.caption("In the top k (green bar)." if test["rank"] <= len(rec["items"]) else "Not in the top k.")
    st.caption(
        "Uses the other domain's GUR: **yes**"
        if rec.get("uses_other_domain")
        else "Uses the other domain's GUR: **no** (user in one domain only)"
    )

st.subheader("Why the top recommendation?", divider="gray")
if st.toggle(
    "Explain",
    value=True,
    key="rec.explain",
    help="Computed in the background (a few seconds on a CPU); the page stays usable.",
):
    recommend_panel.explanation_panel(path, user, domain, names)
