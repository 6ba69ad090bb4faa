"""Train page widgets: the live monitor of the server's training."""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from ..access import data_roots, server_sources_allowed
from ..figures.curves import live_curves_figure
from ..forms import kept
from ..page import attempt
from ..state import K_CHECKPOINT, K_OWNER, select_checkpoint
from ..text import format_seconds, md
from ..training import current_job, resume_training


def server_source_input() -> str | None:
    """The text field of a server-side source spec, or an st.info saying why it is off."""
    allowed, why = server_sources_allowed()
    if not allowed:
        st.info(why, icon=":material/lock:")
        return None
    roots = ", ".join(str(r) for r in data_roots())
    return st.text_input(
        "Source spec",
        key=kept("train.spec", ""),
        placeholder="csv:data/Books.csv,data/Movies.csv  ·  movielens:data/ml-1m",
        help="Any spec the CLI accepts: synthetic:…, csv:A,B, amazon:A,B, movielens:DIR, "
        f"recbole:A,B, with options such as k_core=5. Files must lie under: {roots}.",
    )


def training_monitor() -> None:
    """Progress of the server's training: live (auto-refreshing fragment) while it runs."""
    job = current_job()
    if job is None:
        st.caption("No training has run on this server since it started.")
        return
    if job.active:
        _monitor_live()
    else:
        _monitor_static()


@st.fragment(run_every=1.5)
def _monitor_live() -> None:
    _render_monitor(live=True)


@st.fragment
def _monitor_static() -> None:
    _render_monitor(live=False)


_STATE_ICONS = {
    "waiting": ":material/schedule:",
    "running": ":material/play_circle:",
    "done": ":material/check_circle:",
}


def _render_monitor(*, live: bool) -> None:
    job = current_job()
    if job is None:
        return
    view = job.view()
    mine = job.owner == st.session_state.get(K_OWNER)
    who = "your run" if mine else "started in another tab or by another user"
    st.markdown(
        f"**{md(view['source'])}** · preset **{md(view['preset'])}** · {who} · "
        f"started {time.strftime('%H:%M', time.localtime(job.started))} · "
        f"elapsed {format_seconds(view['elapsed'])}"
    )
    if view["state"] in ("starting", "running") and job.cancel_requested:
        st.warning(
            "Cancelling… the run stops after its current step; units already finished stay "
            "saved and can be resumed.",
            icon=":material/hourglass_top:",
        )
    for row in view["rows"]:
        total = row["total"] or "?"
        eta = f" · ETA {format_seconds(row['eta_s'])}" if row["state"] == "running" else ""
        st.progress(
            float(row["fraction"]),
            text=f"{_STATE_ICONS[row['state']]} {row['label']}: {row['done']}/{total} steps{eta}",
        )
    if view["state"] == "starting":
        st.caption("Preparing data and model…")
    elif view["state"] == "failed":
        st.error(f"Training failed: {md(view['error'])}", icon=":material/error:")
    elif view["state"] == "cancelled" and Path(view["out"]).is_file():
        st.warning(
            f"Cancelled. Units completed before the cancel are saved in "
            f"{md(Path(view['out']).name)} (an unfinished run, resumable).",
            icon=":material/cancel:",
        )
    elif view["state"] == "cancelled":
        st.warning("Cancelled before the first unit finished: nothing was saved.", icon=":material/cancel:")
    if view.get("resumable"):
        if st.button(
            "Resume this run",
            key="train.resume",
            icon=":material/play_arrow:",
            help="Continue from the last unit saved in the checkpoint (train --resume).",
        ):
            attempt(resume_training, job, owner=st.session_state.get(K_OWNER))
            st.rerun()
    elif view["state"] == "done":
        if mine and st.session_state.get(K_CHECKPOINT) == view["out"]:
            st.success(
                f"Finished: {md(Path(view['out']).name)} is now this session's checkpoint.",
                icon=":material/check_circle:",
            )
        else:
            st.success(f"Finished: {md(Path(view['out']).name)}.", icon=":material/check_circle:")
            if Path(view["out"]).is_file() and st.button("Use this checkpoint", key="train.use"):
                select_checkpoint(view["out"])
                st.rerun()
    if job.active:
        st.button(
            "Cancel training",
            key="train.cancel",
            icon=":material/stop_circle:",
            on_click=job.cancel,
            disabled=job.cancel_requested,
            help="Stops after the current step; units already finished stay saved.",
        )
    records = view["records"]
    if any(r.get("event") is None for r in records):
        st.plotly_chart(
            live_curves_figure(records),
            theme=None,
            key="train.live_curves",
            config={"displayModeBar": False},
        )
    if live and not job.active:
        st.rerun()  # whole page: switch to the static view and select the finished checkpoint
