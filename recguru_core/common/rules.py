"""Numbers and small rules the core and the app must agree on, written once. On the ground
floor (no torch, no numpy), so the UI imports this module directly instead of keeping twins.

    ALIGNMENT_N_MAX            users per domain the alignment measures sample (app, CLI, project)
    collapse_level(ratio, rise) "bad" / "warn" / "ok" for a GUR spectrum change in phase 2:
                               effective rank after / before, top-3 variance share after - before
    unique_labels(names)       "demo", "demo (2)": one column per compared run
"""

from __future__ import annotations

from collections.abc import Sequence

# Alignment measures sample at most this many users per domain (a measured value then equals
# the stored one that `project` writes).
ALIGNMENT_N_MAX = 2000

# The collapse check (issue 18): phase 2 must not buy its alignment with dimensions.
RANK_RATIO_BAD, RANK_RATIO_WARN = 0.8, 0.9  # effective rank end / start
TOP3_RISE_BAD, TOP3_RISE_WARN = 0.10, 0.05  # top-3 variance share end - start


def collapse_level(ratio: float, rise: float) -> tuple[str, str]:
    """(level, why): "bad"/"collapsed" when the top-3 share rose by more than TOP3_RISE_BAD,
    "bad"/"lost" when the effective rank fell below RANK_RATIO_BAD x, "warn"/"some" below
    RANK_RATIO_WARN x or a rise above TOP3_RISE_WARN, else "ok"/"kept"."""
    if rise > TOP3_RISE_BAD:
        return "bad", "collapsed"
    if ratio < RANK_RATIO_BAD:
        return "bad", "lost"
    if ratio < RANK_RATIO_WARN or rise > TOP3_RISE_WARN:
        return "warn", "some"
    return "ok", "kept"


def unique_labels(names: Sequence[str]) -> list[str]:
    """The names made unique ("demo", "demo (2)"): a run compared with itself, or two files
    of one name in different folders, still get their own column."""
    out: list[str] = []
    for name in names:
        label, n = str(name) or "run", 2
        while label in out:
            label, n = f"{name or 'run'} ({n})", n + 1
        out.append(label)
    return out
