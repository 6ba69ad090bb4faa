"""The frame every page shares: page config, sidebar, the current run, one-line errors."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable

import streamlit as st

from . import store, uploads, urlstate
from .jobs import Job
from .state import (
    APP_TITLE,
    K_TOUR,
    NAVIGATION,
    PAGE_HOME,
    PAGE_TRAIN,
    checkpoint_label,
    selected_checkpoint,
)
from .text import is_user_error, md, one_line
from .training import adopt_finished_training, current_job


def attempt(fn: Callable, *args, **kwargs):
    """Run fn; on failure show a one-line st.error and return None (never a traceback).

    RecGuruError messages are the core's user-facing words; anything else is a bug, shown as
    one line and logged with its traceback on the server console."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001  (Streamlit's control flow is BaseException)
        if is_user_error(exc):
            st.error(md(one_line(exc)), icon=":material/error:")
        else:
            traceback.print_exc()
            st.error(
                md(f"Unexpected error ({type(exc).__name__}): {one_line(exc)}"),
                icon=":material/error:",
            )
        return None


ARCHITECTURE_DOT = """
digraph G {
  rankdir=LR; bgcolor="transparent"; nodesep=0.25; ranksep=0.45;
  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, color="#ADB5BD",
        fillcolor="#F8F9FA"];
  edge [color="#868E96", fontname="Helvetica", fontsize=9];
  A [label="Domain A\\nsequences", fillcolor="#FFE8CC", color="#E8590C"];
  B [label="Domain B\\nsequences", fillcolor="#D0EBFF", color="#1C7ED6"];
  E [label="Shared\\nself-attentive encoder", fillcolor="#E5DBFF", color="#7048E8"];
  G [label="GUR\\n(one vector per user)", shape=ellipse, fillcolor="#FFF9DB", color="#F08C00"];
  D [label="Decoders A / B\\n(reconstruction)"];
  C [label="Domain critic\\n(WGAN-GP)", fillcolor="#FFE3E3", color="#C92A2A"];
  R [label="CDSRec A / B\\n(next item)", fillcolor="#D3F9D8", color="#2F9E44"];
  A -> E; B -> E; E -> G;
  G -> D [label="rebuild"];
  G -> C [label="A or B?"];
  C -> E [label="fool it", style=dashed, color="#C92A2A"];
  G -> R [label="attend"];
}
"""


def setup_page(title: str, icon: str, *, url_params: bool = False, home: bool = False) -> None:
    """Page config + the shared sidebar (checkpoint in use, training status, the link to this
    view). A page with `url_params` publishes its own state and link (ui.urlstate) after its
    widgets; every other page's link carries the checkpoint only. `home`: the Home page (any
    other page closes Home's guided tour for the rest of the session)."""
    st.set_page_config(page_title=f"{title} · {APP_TITLE}", page_icon=icon, layout="wide")
    st.session_state[K_INLINE_DEADLINE] = time.monotonic() + JOB_INLINE_WAIT_S
    if not home:  # Home's guided tour starts collapsed once another page has been seen
        st.session_state[K_TOUR] = True
    uploads.sweep_expired_uploads()
    adopt_finished_training()
    urlstate.apply_checkpoint()  # a shared link names its checkpoint
    path = selected_checkpoint()
    urlstate.publish_checkpoint(path)
    with st.sidebar:
        st.markdown(f"### :material/hub: {APP_TITLE}")
        # Our own navigation: the default one would call Home "app", after app.py. If the
        # pages cannot be linked (a page run as its own entry point), keep the default one.
        try:
            for page, label, page_icon in NAVIGATION:
                st.page_link(page, label=label, icon=page_icon)
            own_navigation = True
        except st.errors.StreamlitAPIException:
            own_navigation = False
        if not own_navigation:  # .streamlit/config.toml turns the default one off
            st.set_option("client.showSidebarNavigation", True)
        st.divider()
        if path:
            st.caption("Checkpoint in use")
            st.markdown(f"**{md(checkpoint_label(path))}**")
            status = store.run_status(path)
            if status and status != "complete":
                st.markdown(f":orange[:material/warning: {md(status)}]")
        else:
            st.caption("No checkpoint yet: train one or upload one.")
        job = current_job()
        if job is not None and job.active and own_navigation:
            st.page_link(
                PAGE_TRAIN,
                label="A training is running",
                icon=":material/hourglass_top:",
                help="Progress on the Train page; other pages stay usable.",
            )
    if not url_params:
        urlstate.publish(urlstate.PAGE_OTHER)
        urlstate.share_control()


def current_run(*, quiet: bool = False):
    """(path, run) of this session's checkpoint, or (None, None) after telling the user why."""
    path = selected_checkpoint()
    if path is None:
        if not quiet:
            st.info(
                "No checkpoint yet. Train one on the **Train** page (about a minute with the "
                "tiny preset) or upload one on **Home**.",
                icon=":material/info:",
            )
            st.page_link(PAGE_TRAIN, label="Go to Train", icon=":material/model_training:")
        return None, None
    run = attempt(store.load_run, path)
    if run is None:
        if not quiet:
            st.page_link(PAGE_HOME, label="Pick another checkpoint on Home", icon=":material/home:")
        return None, None
    return path, run


def stats_column_config() -> dict:
    """Thousands separators for the Table-1 counts."""
    return {
        c: st.column_config.NumberColumn(c, format="localized")
        for c in ("#Users", "#Items", "#Interactions", "#Overlap")
    } | {"Avg. seq. len": st.column_config.NumberColumn("Avg. seq. len", format="%.2f")}


HISTORY_COLUMNS = ("#", "split", "title", "genre", "when")


def history_column_config() -> dict:
    """The history table's columns, the split (train / valid / test) next to the position so a
    long title or genre never pushes it out of view."""
    text = st.column_config.TextColumn
    return {
        "#": st.column_config.NumberColumn("#", width=40),
        "split": text("split", width=60, help="train, valid (yellow) or test (green)"),
        "title": text("title", width="medium"),
        "genre": text("genre", width="small"),
        "when": text("when", width=90),
    }


JOB_INLINE_WAIT_S = 1.5  # jobs done this soon after a page starts are drawn in the same run
K_INLINE_DEADLINE = "page.inline_wait_until"


def when_ready(job: Job, waiting: str):
    """The job's result when done; otherwise None after drawing a one-line error (failed) or
    a self-refreshing placeholder (running). A job that finishes within JOB_INLINE_WAIT_S is
    waited for: the placeholder's first poll is 1 s away and then reruns the whole page
    (measured: a fresh Compare page drew its stored-layout panel 1.7 s later that way). The
    wait is one budget per page run (set by setup_page), so several slow jobs on one page
    delay its placeholders by JOB_INLINE_WAIT_S at most, not once each."""
    deadline = st.session_state.get(K_INLINE_DEADLINE, 0.0)
    job.wait(max(0.0, deadline - time.monotonic()))
    if job.state == "done":
        return job.result
    if job.state in ("failed", "cancelled"):
        st.error(md(job.error or "cancelled"), icon=":material/error:")
    else:
        _wait_for_job(job, waiting)
    return None


@st.fragment(run_every=1.0)
def _wait_for_job(job: Job, waiting: str) -> None:
    if not job.running:
        st.rerun()  # the whole page, which then draws the result
    st.info(f"{waiting}… {time.time() - job.started:.0f}s", icon=":material/hourglass_top:")
