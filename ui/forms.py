"""Form values that survive a page switch.

Streamlit forgets a widget's value when a run does not draw the widget (the user is on another
page), so a form would come back reset. A kept widget's value is mirrored into a shadow key
(`recguru.keep.<widget key>`, plain session state, never cleaned up) on every run that draws it,
and put back from there before the widget is drawn again. Pages call `kept(key, default)` and
pass the key to the widget without a `value=`/`index=` of their own.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

KEEP_PREFIX = "recguru.keep."


def kept(key: str, default: Any) -> str:
    """Before drawing the widget `key`: make sure it has a value (its own, else the one it had
    when the page was left, else `default`) and remember that value. Returns `key`."""
    state = st.session_state
    if key not in state:
        state[key] = state.get(KEEP_PREFIX + key, default)
    state[KEEP_PREFIX + key] = state[key]
    return key


def put(key: str, value: Any) -> None:
    """Set a kept widget's value from code (a callback, before the widget is drawn)."""
    st.session_state[key] = value
    st.session_state[KEEP_PREFIX + key] = value


def remembered(key: str, default: Any = None) -> Any:
    """A kept widget's value whether or not the widget is drawn in this run."""
    return st.session_state.get(key, st.session_state.get(KEEP_PREFIX + key, default))


def field_widget(container, field, default: Any, key: str) -> Any:
    """The widget of one `recguru_core.common.config.FormField` (its label, range, step and
    help), kept across page switches under `key`, starting at `default`."""
    kept_key = kept(
        key, int(default) if field.kind == "int" else float(default) if field.kind == "float" else default
    )
    if field.kind == "choice":
        return container.selectbox(field.label, list(field.choices), key=kept_key, help=field.help)
    cast = int if field.kind == "int" else float
    return container.number_input(
        field.label,
        min_value=cast(field.low),
        max_value=cast(field.high),
        step=cast(field.step),
        key=kept_key,
        help=field.help,
        format=None if field.kind == "int" else "%g",
    )
