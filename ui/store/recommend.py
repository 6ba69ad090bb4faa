"""The Recommendations page: recommendations, explanations, users and k."""

from __future__ import annotations

import numpy as np
import streamlit as st

from .. import jobs
from ..state import K_RANGE
from ..text import plain
from .runs import RunRef, load_run, run_ref, user_error

# ----------------------------------------------------------------------------- recommendations


@st.cache_data(max_entries=64, show_spinner=False)
def _recommend(ref: RunRef, user: str, domain: str, k: int) -> dict:
    return plain(load_run(ref).recommend(user, domain, k=k))


@st.cache_data(max_entries=64, show_spinner=False)
def _explain(ref: RunRef, user: str, domain: str) -> dict:
    """The explanation of the user's top recommendation: keyed without k, so changing the
    length of the list does not recompute the leave-one-out explanation."""
    return plain(load_run(ref).explain(user, domain))


def unseen_items(run, user: str, domain: str) -> int:
    """How many items of `domain` the user has not seen before the held-out one: the most a
    top-k can hold (the rest would be items the user already has)."""
    return run.unseen_count(user, domain)


def clamp_k(run, user: str, domain: str, k: int) -> int:
    """k limited to the user's unseen items of the domain; a user error when there are none."""
    unseen = unseen_items(run, user, domain)
    if unseen <= 0:
        raise user_error(f"user {user!r} has seen every item of domain {domain}: nothing left to recommend")
    return max(K_RANGE[0], min(int(k), K_RANGE[1], unseen))


def recommend(path: str, user: str, domain: str, k: int) -> dict:
    return _recommend(run_ref(path), str(user), domain, int(k))


def start_explanation(path: str, user: str, domain: str) -> jobs.Job:
    ref = run_ref(path)
    return jobs.submit(("explain", ref, str(user), domain), _explain, ref, str(user), domain)


def find_user(run, raw: str) -> dict:
    raw = (raw or "").strip()
    if not raw:
        raise user_error("enter a user id")
    found = run.find_user(raw)
    if not any(found.values()):
        raise user_error(f"user {raw!r} is in neither domain of this checkpoint")
    return found


def random_user(run, domain: str, seed: int) -> str:
    users = run.users(domain)
    if not users:
        raise user_error(f"domain {domain} has no users")
    return str(users[np.random.default_rng(seed).integers(len(users))])


def default_user(run) -> str:
    """A user present in both domains (the most interesting one to show first)."""
    try:
        users_b = set(run.users("B"))
        for u in run.users("A"):
            if u in users_b:
                return str(u)
        return str((run.users("A") or run.users("B") or [""])[0])
    except Exception:  # noqa: BLE001  (an empty box is a fine default)
        return ""
