"""Comparing runs of the same data: a data fingerprint, and one layout frame for several runs.

Two runs can only be compared number for number when they saw the same users, items and
sequences (hence the same leave-one-out split). `data_fingerprint` hashes exactly that part of
a checkpoint's `data` section; the fixed evaluation negatives are left out on purpose, so a run
with another `negative_sampling` still counts as the same data (its sampled metrics then use
other candidates; full ranking does not depend on them).

`comparison_layouts` puts the GURs of several runs in one picture. The runs' 64-d spaces are
unrelated coordinate systems (each encoder learns its own axes), so a PCA or UMAP fitted on the
union of their vectors would place run A's users next to run B's by accident of coordinates,
not of meaning. Instead each run is laid out on its own - the same users, the same seed, the
same method - and every layout is then moved onto the first run's by the best rotation or
reflection, uniform scale and shift over the shared users (orthogonal Procrustes). A similarity
transform keeps each run's picture as it is (distances up to one scale, neighbourhoods,
mixing), it only removes the orientation that the layout algorithm chose arbitrarily, so the
panels share one frame and axis range and a user sits roughly where the same user sits in the
other run whenever the runs agree.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from .analysis import partner_rows, procrustes_align, project_snapshots, sample_rows
from .errors import RecGuruError
from .snapshots import to_numpy

COMPARISON_METHODS = ("stored", "pca", "umap")


def data_fingerprint(data: dict) -> str:
    """A short hex digest of a checkpoint's data (its `data` section, or the whole checkpoint):
    domain names, raw user and item ids and every user's item sequence, per domain. Equal
    fingerprints = the same users, items, sequences and so the same split."""
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        data = data["data"]
    if not isinstance(data, dict) or not all(isinstance(data.get(k), dict) for k in ("A", "B")):
        raise RecGuruError("the checkpoint has no data section to compare")
    digest = hashlib.sha256()
    for key in ("A", "B"):
        part = data[key]
        digest.update(f"{key}:{part.get('name', '')}\x1e".encode())
        for field in ("user_raw", "item_raw"):
            digest.update("\x1f".join(str(v) for v in part.get(field) or []).encode())
            digest.update(b"\x1e")
        for field in ("offsets", "items"):
            values = to_numpy(part.get(field), np.int64)
            digest.update(np.ascontiguousarray(values if values is not None else []).tobytes())
            digest.update(b"\x1e")
    return digest.hexdigest()[:16]


def _keys(snap: dict, rows: np.ndarray | None = None) -> list[tuple[int, str]]:
    domain = to_numpy(snap["domain"], np.int64)
    users = snap.get("user")
    if users is None or len(users) != len(domain):
        raise RecGuruError("a snapshot without user ids cannot be matched across runs")
    rows = np.arange(len(domain)) if rows is None else to_numpy(rows, np.int64)
    return [(int(domain[r]), str(users[r])) for r in rows]


def _shared_order(keys_per_run: Sequence[list[tuple[int, str]]]) -> list[tuple[int, str]]:
    shared = set(keys_per_run[0])
    for keys in keys_per_run[1:]:
        shared &= set(keys)
    return sorted(shared)


def comparison_layouts(snapshots: Sequence[dict], projections: Sequence[dict | None] = (), *,
                       method: str = "pca", n_users: int = 5000, seed: int = 0) -> dict:
    """2-d layouts of the 'after' GURs of several runs, for the users they share, in the first
    run's frame (see the module docstring).

    snapshots: each run's `snapshots` section; projections: each run's stored `projections`
    (used by method="stored": the layouts the runs carry, restricted to the users all of them
    laid out). method "pca" or "umap" lays out each run afresh (UMAP: a seeded single fit, tens
    of seconds). The user sample (at most n_users points, domain-stratified, an overlapped
    user's A and B points together) is drawn once from the shared users with `seed`.

    Returns plain numpy data: {"method", "seed", "user": [str], "domain": (m,) int64,
    "overlap": (m,) bool, "cluster": (m,) int64 or None, "layouts": [(m, 2) float32 per run],
    "n_shared": shared users before sampling, "residual": per run, the root-mean-square
    distance to the first run's layout after alignment, relative to that layout's spread
    (0 = the same picture up to turning; 1 = nothing in common)}."""
    if method not in COMPARISON_METHODS:
        raise RecGuruError(f"unknown layout {method!r}; choose one of {', '.join(COMPARISON_METHODS)}")
    if len(snapshots) < 2:
        raise RecGuruError("pick at least two runs to compare")
    afters = [(s or {}).get("after") for s in snapshots]
    if any(a is None for a in afters):
        raise RecGuruError("every run needs an 'after' snapshot (the end of the adversarial phase)")
    if method == "stored":
        projections = list(projections)
        if len(projections) != len(afters) or any(
                not p or p.get("after") is None or p.get("rows") is None for p in projections):
            raise RecGuruError("not every run carries a stored layout of its 'after' snapshot")
        stored_rows = [to_numpy(p["rows"], np.int64) for p in projections]
        keys = [_keys(a, r) for a, r in zip(afters, stored_rows)]
    else:
        keys = [_keys(a) for a in afters]
    order = _shared_order(keys)
    if len(order) < 4:
        raise RecGuruError(f"the runs share {len(order)} snapshot users; at least 4 are needed")
    positions = [dict(zip(k, range(len(k)))) for k in keys]
    picks = [np.array([pos[key] for key in order], dtype=np.int64) for pos in positions]

    first = afters[0]
    rows0 = stored_rows[0][picks[0]] if method == "stored" else picks[0]
    domain = np.array([d for d, _ in order], dtype=np.int64)
    users = [u for _, u in order]
    overlap = to_numpy(first.get("overlap"), bool)
    overlap = overlap[rows0] if overlap is not None else np.zeros(len(order), bool)
    cluster = to_numpy(first.get("cluster"), np.int64)
    cluster = cluster[rows0] if cluster is not None else None
    sample = sample_rows(domain, int(n_users), int(seed),
                         partner=partner_rows(domain, users, overlap))

    layouts, used = [], method
    for i, (after, pick) in enumerate(zip(afters, picks)):
        if method == "stored":
            xy = to_numpy(projections[i]["after"], np.float64)[pick][sample]
        else:  # the same rows in every run: a one-snapshot projection of the sample
            gur = to_numpy(after["gur"], np.float32)[pick][sample]
            result = project_snapshots({"after": {"gur": gur, "domain": domain[sample]}},
                                       n_users=len(sample), seed=int(seed),
                                       method="pca" if method == "pca" else "procrustes")
            used = "pca" if result["method"] == "pca" else method  # umap-learn missing
            xy = np.zeros((len(sample), 2))
            xy[to_numpy(result["rows"], np.int64)] = to_numpy(result["after"], np.float64)
        layouts.append(xy)
    reference = layouts[0]
    spread = float(np.sqrt(((reference - reference.mean(axis=0)) ** 2).sum(axis=1).mean())) or 1.0
    aligned, residual = [reference], [0.0]
    for xy in layouts[1:]:
        moved = procrustes_align(xy, reference)
        aligned.append(moved)
        residual.append(float(np.sqrt(((moved - reference) ** 2).sum(axis=1).mean())) / spread)
    return {
        "method": used, "seed": int(seed),
        "user": [users[i] for i in sample], "domain": domain[sample],
        "overlap": overlap[sample], "cluster": None if cluster is None else cluster[sample],
        "layouts": [np.asarray(xy, dtype=np.float32) for xy in aligned],
        "n_shared": len(order), "residual": residual,
    }
