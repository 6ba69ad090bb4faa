"""2-d layouts of GUR snapshots in ONE comparable frame, for the Alignment and Compare pages.

`project_snapshots` lays out the before / during / after snapshots of a run so that a point that
moves between panels moved in representation space, not because the layout algorithm flipped or
rotated a picture. Large samples go through landmarks (`place_by_landmarks`).

umap-learn (and through it numba) is imported only inside the functions that need it: its JIT
compilation costs tens of seconds on a cold machine and must not be paid at import time.
Results are tensors, lists, numbers and strings (checkpoint-safe). Snapshot format: see
`analysis`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from ..common.errors import RecGuruError
from ..train.snapshots import to_numpy
from .alignment import _check_vectors, _require_snapshots, partner_rows, sample_rows

Progress = Callable[[float, str], None]

PROJECTION_METHODS = ("chained-umap", "aligned-umap", "procrustes", "pca")

# Samples larger than this are laid out through landmarks: UMAP runs on a seeded, stratified
# subset of this many rows and every other row is placed from its nearest landmarks (see
# place_by_landmarks). Measured on the 2-core machine, one seeded UMAP fit is ~4 s at 5,000 x 64
# and 120 s at 40,000 x 64 (the optimiser is single-threaded when seeded), so a 40,000-point,
# five-snapshot layout fitted on every row could not come near the page's 90 s budget.
LANDMARKS = 6000
LANDMARK_NEIGHBOURS = 10

# UMAP settings shared by both UMAP-based methods. n_neighbors=15 is umap's default and sits at
# the low end of the 15-30 range: GUR clouds are mostly a few taste clusters times two domains,
# so local structure is what the page is about, and the layout optimisation's cost grows with
# the number of graph edges, i.e. with n_neighbors.
# min_dist=0.1 also matters for a quieter reason: AlignedUMAP does not pass its curve parameters
# (a, b) on to its own optimiser, which always uses the values that belong to min_dist=0.1,
# spread=1; any other min_dist would silently mean different things in the two methods.
# n_epochs=200 is AlignedUMAP's default; the procrustes path uses the same so the two methods
# are comparable and the separate fits do not run umap's small-data default of 500 epochs.
UMAP_PARAMS: dict[str, Any] = {"n_neighbors": 15, "min_dist": 0.1, "n_epochs": 200, "metric": "euclidean"}

# Seeded UMAP runs single-threaded (umap turns off its parallel optimisation when random_state
# is set). On the 2-core target that is no loss: one warm UMAP fit of 5,000 x 64 took 3.8 s
# seeded and 6-9 s unseeded (parallel) on a loaded 2-core machine. And a seeded layout is the
# same every time the page is opened, which a figure people compare across runs needs.
UMAP_DETERMINISTIC = True


# --------------------------------------------------------------------------- projections


def project_snapshots(
    snapshots: dict,
    *,
    n_users: int = 5000,
    seed: int = 0,
    method: str = "chained-umap",
    landmarks: int = LANDMARKS,
    progress: Progress | None = None,
) -> dict:
    """2-d layouts of every snapshot present, in ONE comparable frame, for the same rows.

    A seeded, domain-stratified sample of at most n_users rows is drawn once (keeping an
    overlapped user's A and B rows together where possible) and the same rows are laid out in
    every snapshot, so the page can show each point travelling from before to after.

    method:
      "chained-umap": one seeded UMAP per snapshot in training order (before, during..., after),
          each initialised from the previous snapshot's layout (rows correspond) and run for half
          the epochs, then rotated/scaled onto the "after" layout (Procrustes). The init keeps
          clusters where they were; it does not pin points: on structureless Gaussian blobs
          (tests' run_snapshots, 300 rows) a refit of unchanged data moves points by 0.17-0.33
          of the layout's spread, about what independent seeded fits of slightly noisy data
          move (0.25-0.36). Chosen for speed: 2,000 rows x 5 snapshots in 9 s against
          AlignedUMAP's 190 s, whose regulariser does tie points across panels.
      "aligned-umap": umap.AlignedUMAP over the sequence before, during..., after, with identity
          relations (rows correspond). Its regulariser ties each layout to its neighbours in the
          sequence, so consecutive panels are comparable point by point.
      "procrustes": one umap.UMAP per snapshot, each then rotated/reflected, scaled and shifted
          (orthogonal Procrustes on all shared rows) onto the "after" layout. Cheaper to reason
          about; panels agree only up to what a similarity transform can fix.
      "pca": one PCA fitted on all snapshots' sampled rows stacked: a single linear frame by
          construction. Fast and deterministic; also what is used when umap-learn is missing
          (the returned "method" then says "pca").

    Returns {"method", "rows": (m,) int64, "before": (m, 2) float32 or None, "after": ... or None,
    "during": [(m, 2) ...], "during_steps": [int ...], "seed", "seconds"}. A missing snapshot
    gives None (before/after) or is left out (during); no snapshot at all raises RecGuruError."""
    started = time.perf_counter()
    report = progress or (lambda fraction, message: None)
    if method not in PROJECTION_METHODS:
        raise RecGuruError(
            f"unknown projection method {method!r}; choose one of {', '.join(PROJECTION_METHODS)}"
        )
    if n_users < 2:
        raise RecGuruError(f"n_users must be at least 2, got {n_users}")
    present = _require_snapshots(snapshots)
    first_name, first = present[0]
    _, domain = _check_vectors(first["gur"], first["domain"], f"snapshot '{first_name}'")
    users = first.get("user")
    for name, snap in present[1:]:
        _, other_domain = _check_vectors(snap["gur"], snap["domain"], f"snapshot '{name}'")
        if not np.array_equal(other_domain, domain) or (
            users is not None and snap.get("user") is not None and list(snap["user"]) != list(users)
        ):
            raise RecGuruError(
                f"snapshot '{name}' holds different users than '{first_name}'; "
                "snapshots of one run must share rows"
            )

    report(0.0, f"sampling up to {n_users} users")
    partner = partner_rows(domain, users, first.get("overlap"))
    rows = sample_rows(domain, n_users, seed, partner=partner)
    matrices = [to_numpy(snap["gur"], np.float32)[rows] for _, snap in present]

    umap = None if method == "pca" else _import_umap()
    if umap is None and method != "pca":
        report(0.02, "umap-learn is not installed; using PCA instead")
        method = "pca"

    names = [name for name, _ in present]
    reference = names.index("after") if "after" in names else len(names) - 1
    fitted, n_landmarks = matrices, 0
    if method != "pca" and len(rows) > landmarks:
        # landmarks drawn from the sample with the sample's own stratification and pairing
        position = np.full(len(domain), -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        mates = partner[rows]  # an overlapped user's two rows stay together among the landmarks
        keep = sample_rows(
            domain[rows], landmarks, seed, partner=np.where(mates >= 0, position[np.maximum(mates, 0)], -1)
        )
        fitted, n_landmarks = [m[keep] for m in matrices], len(keep)
        report(
            0.03,
            f"{len(rows):,} points: UMAP on {len(keep):,} landmarks, the rest placed "
            "from their nearest landmarks",
        )
    if method == "pca":
        layouts = _pca_layouts(matrices)
    elif method == "aligned-umap":
        layouts = _aligned_umap_layouts(umap, fitted, seed, report)
    elif method == "chained-umap":
        layouts = _chained_umap_layouts(umap, fitted, names, reference, seed, report)
    else:
        layouts = _procrustes_umap_layouts(umap, fitted, names, reference, seed, report)
    if n_landmarks:
        report(0.95, f"placing {len(rows) - n_landmarks:,} points from their landmarks")
        layouts = [place_by_landmarks(m, keep, layout) for m, layout in zip(matrices, layouts)]
    report(1.0, "done")

    by_name = {name: _as_layout_tensor(layout) for (name, _), layout in zip(present, layouts)}
    during = [(name, snap) for name, snap in present if name.startswith("during_")]
    return {
        "method": method,
        "rows": torch.from_numpy(rows),
        "before": by_name.get("before"),
        "after": by_name.get("after"),
        "during": [by_name[name] for name, _ in during],
        "during_steps": [int(snap.get("step", -1)) for _, snap in during],
        "seed": int(seed),
        "landmarks": int(n_landmarks),
        "seconds": float(time.perf_counter() - started),
    }


def _as_layout_tensor(layout: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(layout, dtype=np.float32))


def _pca_layouts(matrices: list[np.ndarray]) -> list[np.ndarray]:
    """Project every matrix with the top-2 principal axes of all of them stacked."""
    stacked = np.concatenate(matrices).astype(np.float64)
    mean = stacked.mean(axis=0)
    _, _, vt = np.linalg.svd(stacked - mean, full_matrices=False)
    axes = vt[:2].T  # (d, 2); fewer than 2 only if d < 2
    # An SVD's axes are defined up to sign; fix it so the layout cannot flip between machines.
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(axes.shape[1])])
    axes = axes * np.where(signs == 0, 1.0, signs)
    if axes.shape[1] < 2:
        axes = np.pad(axes, ((0, 0), (0, 2 - axes.shape[1])))
    return [(m.astype(np.float64) - mean) @ axes for m in matrices]


def _umap_kwargs(seed: int, n_rows: int) -> dict:
    if n_rows < 4:
        raise RecGuruError(f"UMAP needs at least 4 users, the sample has {n_rows}; use method='pca'")
    kwargs = dict(UMAP_PARAMS, n_components=2)
    kwargs["n_neighbors"] = min(kwargs["n_neighbors"], n_rows - 1)
    kwargs["random_state"] = seed if UMAP_DETERMINISTIC else None
    return kwargs


@contextmanager
def _umap_running() -> Iterator[None]:
    """Quiet, and (when seeded) single-threaded numba for the duration of a UMAP fit.

    umap warns that random_state forces n_jobs=1, and about small graphs; both are expected.
    Some of umap's numba kernels run in parallel even when seeded (AlignedUMAP's neighbourhood
    similarities and its optimiser). On the 2-core target, shared with Streamlit and possibly a
    training thread, those parallel regions wait on descheduled workers: measured under load,
    AlignedUMAP on 2 x 5,000 rows took 40-89 s with 2 numba threads and 35-39 s with 1. The
    setting is per thread and restored afterwards."""
    import numba

    previous = numba.get_num_threads()
    if UMAP_DETERMINISTIC:
        numba.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=r"umap\..*")
            warnings.filterwarnings("ignore", category=UserWarning, module=r"sklearn\..*")
            yield
    finally:
        numba.set_num_threads(previous)


def _import_umap() -> Any:
    """umap-learn, or None when it is not installed. Imported here, not at module level: the
    import alone compiles numba code (about 30 s on a cold 2-core machine, ~3 s once numba's
    on-disk cache is filled)."""
    try:
        with warnings.catch_warnings():  # "Tensorflow not installed; ParametricUMAP ..."
            warnings.simplefilter("ignore")
            import umap
    except ImportError:
        return None
    return umap


def _aligned_umap_layouts(
    umap: Any, matrices: list[np.ndarray], seed: int, report: Progress
) -> list[np.ndarray]:
    kwargs = _umap_kwargs(seed, len(matrices[0]))
    if len(matrices) == 1:  # AlignedUMAP needs a sequence of at least two
        report(0.05, "fitting UMAP on 1 snapshot (the first run compiles numba code)")
        return [_fit_umap(umap, matrices[0], kwargs)]
    report(0.05, f"fitting aligned UMAP on {len(matrices)} snapshots (the first run compiles numba code)")
    identity = {i: i for i in range(len(matrices[0]))}
    with _umap_running():
        mapper = umap.AlignedUMAP(**kwargs)
        mapper.fit(list(matrices), relations=[identity] * (len(matrices) - 1))
    return [_fill_missing(np.asarray(e)) for e in mapper.embeddings_]


def _chained_umap_layouts(
    umap: Any, matrices: list[np.ndarray], names: list[str], reference: int, seed: int, report: Progress
) -> list[np.ndarray]:
    kwargs = _umap_kwargs(seed, len(matrices[0]))
    layouts: list[np.ndarray] = []
    for i, x in enumerate(matrices):
        report(
            0.05 + 0.9 * i / len(matrices),
            f"fitting UMAP on '{names[i]}' ({i + 1}/"
            f"{len(matrices)}{', from the previous layout' if i else ''})",
        )
        if layouts:  # start where the previous snapshot's users were; fewer epochs are needed
            step = dict(kwargs, init=layouts[-1].astype(np.float32), n_epochs=max(kwargs["n_epochs"] // 2, 1))
        else:
            step = kwargs
        layouts.append(_fit_umap(umap, x, step))
    target = layouts[reference]
    return [
        layout if i == reference else procrustes_align(layout, target) for i, layout in enumerate(layouts)
    ]


def place_by_landmarks(
    x: np.ndarray, landmark_rows: np.ndarray, landmark_layout: np.ndarray, k: int = LANDMARK_NEIGHBOURS
) -> np.ndarray:
    """Layout (n, 2) for all rows of x (n, d) from a layout of its landmark rows (L, 2).

    Landmarks keep their own positions; every other row goes to the inverse-distance weighted
    mean of its k nearest landmarks in GUR space (exact neighbours, so the result is
    deterministic). This is UMAP's own initialisation of new points in `transform`, without the
    optimisation that follows it, which measured 190 s for 40,000 rows here: a point lands
    among the users it resembles, slightly pulled towards their centre."""
    from sklearn.neighbors import NearestNeighbors

    x = np.asarray(x, dtype=np.float32)
    landmark_rows = np.asarray(landmark_rows, dtype=np.int64)
    out = np.empty((len(x), 2), dtype=np.float64)
    out[landmark_rows] = landmark_layout
    rest = np.setdiff1d(np.arange(len(x)), landmark_rows)
    if len(rest):
        k = min(k, len(landmark_rows))
        dist, idx = (
            NearestNeighbors(n_neighbors=k, algorithm="brute").fit(x[landmark_rows]).kneighbors(x[rest])
        )  # (r, k)
        weight = 1.0 / (dist.astype(np.float64) + 1e-6)
        weight /= weight.sum(axis=1, keepdims=True)
        out[rest] = np.einsum("rk,rkc->rc", weight, np.asarray(landmark_layout)[idx])
    return out


def _procrustes_umap_layouts(
    umap: Any, matrices: list[np.ndarray], names: list[str], reference: int, seed: int, report: Progress
) -> list[np.ndarray]:
    kwargs = _umap_kwargs(seed, len(matrices[0]))
    order = [reference] + [i for i in range(len(matrices)) if i != reference]
    layouts: list[np.ndarray | None] = [None] * len(matrices)
    for done, i in enumerate(order):
        report(0.05 + 0.9 * done / len(order), f"fitting UMAP on '{names[i]}' ({done + 1}/{len(order)})")
        layouts[i] = _fit_umap(umap, matrices[i], kwargs)
    target = layouts[reference]
    return [
        layout if i == reference else procrustes_align(layout, target) for i, layout in enumerate(layouts)
    ]


def _fit_umap(umap_module: Any, x: np.ndarray, kwargs: dict) -> np.ndarray:
    """One seeded UMAP layout. The exact k nearest neighbours are handed in (sklearn, brute
    force: ~0.3 s for 5,000 x 64) because umap would otherwise run pynndescent for n >= 4096,
    whose numba compilation is the single largest cold-start cost (about 55 s on 2 cores), and
    exact neighbours are no worse than approximate ones."""
    knn = _exact_knn(x, kwargs["n_neighbors"])
    with _umap_running():
        embedding = umap_module.UMAP(**kwargs, precomputed_knn=knn).fit_transform(x)
    return _fill_missing(np.asarray(embedding, dtype=np.float64))


def _exact_knn(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, None]:
    """umap's precomputed_knn triple: (n, k) indices and distances with each row itself first
    (as umap's own search returns it, even when duplicates exist), and no search index."""
    from sklearn.neighbors import NearestNeighbors

    dist, idx = NearestNeighbors(n_neighbors=k - 1, algorithm="brute").fit(x).kneighbors()
    own = np.arange(len(x))[:, None]
    indices = np.hstack([own, idx]).astype(np.int32)
    distances = np.hstack([np.zeros_like(own, dtype=np.float32), dist.astype(np.float32)])
    return indices, distances, None


def _fill_missing(layout: np.ndarray) -> np.ndarray:
    """umap marks points with no neighbour graph edges as NaN; park them at the centroid so the
    arrays stay plottable and comparable (they are rare: isolated duplicates)."""
    layout = np.array(layout, dtype=np.float64)
    bad = ~np.isfinite(layout).all(axis=1)
    if bad.any():
        layout[bad] = layout[~bad].mean(axis=0) if (~bad).any() else 0.0
    return layout


def procrustes_align(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """source (m, 2) moved onto target (m, 2) by the best rotation-or-reflection, uniform scale
    and shift (least squares over all rows). Reflections are allowed because a UMAP layout's
    handedness is arbitrary."""
    src_mean, tgt_mean = source.mean(axis=0), target.mean(axis=0)
    a, b = source - src_mean, target - tgt_mean
    u, s, vt = np.linalg.svd(a.T @ b)
    rotation = u @ vt
    norm = float((a**2).sum())
    scale = float(s.sum()) / norm if norm > 0 else 1.0
    return scale * a @ rotation + tgt_mean
