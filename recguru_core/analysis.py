"""Alignment analysis of GUR snapshots: 2-d layouts and domain-mixing metrics, as plain data.

RecGURU's adversarial phase is meant to make a user's representation independent of the domain
it came from. This module answers "did it?" in two ways, for the Alignment page and the CLI:

* `project_snapshots` lays out the before / during / after snapshots in ONE 2-d frame, so a
  point that moves between panels moved in representation space, not because the layout
  algorithm flipped or rotated a picture.
* `alignment_metrics` / `compare_snapshots` measure, on the 64-d vectors themselves, how well a
  domain can be told from the representation (classifier AUC, proxy A-distance), how mixed
  local neighbourhoods are (kNN label entropy), and whether an overlapped user's two rows sit
  closer together than two random users' rows. Every number comes with a shuffled-label (or
  random-pair) null, because "AUC 0.6" only means something next to what chance gives on the
  same sample.

Everything returned is tensors, lists, numbers and strings, so results can go into a checkpoint
that `torch.load(..., weights_only=True)` accepts. umap-learn (and through it numba) is imported
only inside the functions that need it: its JIT compilation costs tens of seconds on a cold
machine and must not be paid by `import recguru_core.analysis`. scikit-learn is imported lazily
for the same reason, on a smaller scale.

Snapshot format (written by `training.gur_snapshot`): {"gur": (n, d) float, "domain": (n,) int64
with 0 = A and 1 = B, "user": n raw ids, "overlap": (n,) bool, optional "cluster": (n,) int64,
optional "length": (n,) int64 (history length the encoder read, capped at max_len),
"step": int}. All snapshots of a run hold the same rows in the same order.
"""
from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from .errors import RecGuruError
from .snapshots import ordered_snapshots, to_numpy

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
UMAP_PARAMS: dict[str, Any] = {"n_neighbors": 15, "min_dist": 0.1, "n_epochs": 200,
                               "metric": "euclidean"}

# Seeded UMAP runs single-threaded (umap turns off its parallel optimisation when random_state
# is set). On the 2-core target that is no loss: one warm UMAP fit of 5,000 x 64 took 3.8 s
# seeded and 6-9 s unseeded (parallel) on a loaded 2-core machine. And a seeded layout is the
# same every time the page is opened, which a figure people compare across runs needs.
UMAP_DETERMINISTIC = True

KNN_K = 15
CV_FOLDS = 5


# --------------------------------------------------------------------------- input handling

def _check_vectors(gur: Any, domain: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(n, d) float32 and (n,) int64 with values in {0, 1}; one-line RecGuruError otherwise."""
    x = to_numpy(gur, np.float32)
    y = to_numpy(domain, np.int64)
    if x.ndim != 2:
        raise RecGuruError(f"{where}: 'gur' must be a 2-d (users, dim) array, got shape {x.shape}")
    if y.shape != (x.shape[0],):
        raise RecGuruError(f"{where}: 'domain' has shape {y.shape}, expected ({x.shape[0]},)")
    if y.size and not np.isin(y, (0, 1)).all():
        raise RecGuruError(f"{where}: 'domain' must hold only 0 (A) and 1 (B)")
    if not np.isfinite(x).all():
        raise RecGuruError(f"{where}: 'gur' contains NaN or inf values (did training diverge?)")
    return x, y


def _as_list(values: Any, n: int, field: str, where: str) -> list | None:
    if values is None:
        return None
    values = values.tolist() if isinstance(values, (torch.Tensor, np.ndarray)) else list(values)
    if len(values) != n:
        raise RecGuruError(f"{where}: '{field}' has {len(values)} entries, expected {n}")
    return values


def partner_rows(domain: Any, user: Sequence | None, overlap: Any = None) -> np.ndarray:
    """(n,) int64: the row of the same user in the other domain, or -1.

    Rows pair by raw user id. Only rows flagged in `overlap` pair up (when given): the flag is
    the data layer's statement that the ids denote one person, whereas two domains may reuse an
    id string by coincidence. Without `overlap`, every id present in both domains pairs. If an
    id repeats within a domain, its first row is used."""
    y = to_numpy(domain, np.int64)
    partner = np.full(len(y), -1, dtype=np.int64)
    users = _as_list(user, len(y), "user", "pairs")
    if users is None:
        return partner
    flags = _as_list(overlap, len(y), "overlap", "pairs")
    first: list[dict] = [{}, {}]
    for row, (u, d) in enumerate(zip(users, y.tolist())):
        if (flags is None or flags[row]) and u not in first[d]:
            first[d][u] = row
    for u, row_a in first[0].items():
        row_b = first[1].get(u)
        if row_b is not None:
            partner[row_a], partner[row_b] = row_b, row_a
    return partner


def sample_rows(domain: Any, n_max: int, seed: int, *, partner: np.ndarray | None = None) -> np.ndarray:
    """Seeded, domain-stratified sample of at most n_max rows: sorted (m,) int64 row indices.

    Each domain gets its proportional share of n_max (at least one row when it has any), so the
    sample keeps the snapshot's A/B balance, which the metrics' "maximum entropy" refers to.
    With `partner` (from `partner_rows`), the unit drawn is a user, not a row: an overlapped
    user's A and B rows come in together. The page can then draw the same user's two points
    (a plain sample of m of n rows keeps only ~(m/n)^2 of the pairs), and since every user is
    drawn with the same chance, overlapped users are not over-represented either."""
    y = to_numpy(domain, np.int64)
    n = len(y)
    if n <= n_max:
        return np.arange(n, dtype=np.int64)
    counts = np.bincount(y, minlength=2)[:2]
    quota_a = round(float(n_max * counts[0]) / n)
    if counts[0] and counts[1]:
        quota_a = min(max(quota_a, 1), n_max - 1)
    remaining = np.minimum(np.array([quota_a, n_max - quota_a]), counts)

    rows = np.arange(n)
    mate = np.full(n, -1) if partner is None else np.asarray(partner)
    first = rows[(mate < 0) | (mate > rows)]  # one entry per user
    second = mate[first]
    rng = np.random.default_rng(seed)
    taken = np.zeros(n, dtype=bool)
    for unit in rng.permutation(len(first)):
        a, b = int(first[unit]), int(second[unit])
        if b < 0:
            if remaining[y[a]] > 0:
                taken[a] = True
                remaining[y[a]] -= 1
        elif remaining[y[a]] > 0 and remaining[y[b]] > 0:
            taken[a] = taken[b] = True
            remaining[y[a]] -= 1
            remaining[y[b]] -= 1
        if not remaining.any():
            break
    # A domain made only of paired rows can still have room once the other is full: fill it
    # with single rows of users whose other row no longer fits.
    for row in rng.permutation(n):
        if not remaining.any():
            break
        if not taken[row] and remaining[y[row]] > 0:
            taken[row] = True
            remaining[y[row]] -= 1
    return np.flatnonzero(taken).astype(np.int64)


def _require_snapshots(snapshots: dict | None) -> list[tuple[str, dict]]:
    present = ordered_snapshots(snapshots)
    if not present:
        raise RecGuruError("no GUR snapshots in this checkpoint (train until after pre-training "
                           "to record one)")
    for name, snap in present:
        if not isinstance(snap, dict) or "gur" not in snap or "domain" not in snap:
            raise RecGuruError(f"snapshot '{name}' lacks 'gur' or 'domain'")
    return present


# --------------------------------------------------------------------------- projections

def project_snapshots(snapshots: dict, *, n_users: int = 5000, seed: int = 0,
                      method: str = "chained-umap", landmarks: int = LANDMARKS,
                      progress: Progress | None = None) -> dict:
    """2-d layouts of every snapshot present, in ONE comparable frame, for the same rows.

    A seeded, domain-stratified sample of at most n_users rows is drawn once (keeping an
    overlapped user's A and B rows together where possible) and the same rows are laid out in
    every snapshot, so the page can show each point travelling from before to after.

    method:
      "chained-umap": one seeded UMAP per snapshot in training order (before, during..., after),
          each initialised from the previous snapshot's layout (rows correspond) and run for half
          the epochs, then rotated/scaled onto the "after" layout (Procrustes). The init carries
          the frame from panel to panel the way AlignedUMAP's regulariser does, at the cost of
          separate fits: measured on 2,000 rows x 5 snapshots, 9 s against AlignedUMAP's 190 s.
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
        raise RecGuruError(f"unknown projection method {method!r}; choose one of "
                           f"{', '.join(PROJECTION_METHODS)}")
    if n_users < 2:
        raise RecGuruError(f"n_users must be at least 2, got {n_users}")
    present = _require_snapshots(snapshots)
    first_name, first = present[0]
    _, domain = _check_vectors(first["gur"], first["domain"], f"snapshot '{first_name}'")
    users = first.get("user")
    for name, snap in present[1:]:
        _, other_domain = _check_vectors(snap["gur"], snap["domain"], f"snapshot '{name}'")
        if not np.array_equal(other_domain, domain) or (
                users is not None and snap.get("user") is not None and list(snap["user"]) != list(users)):
            raise RecGuruError(f"snapshot '{name}' holds different users than '{first_name}'; "
                               "snapshots of one run must share rows")

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
        keep = sample_rows(domain[rows], landmarks, seed,
                           partner=np.where(mates >= 0, position[np.maximum(mates, 0)], -1))
        fitted, n_landmarks = [m[keep] for m in matrices], len(keep)
        report(0.03, f"{len(rows):,} points: UMAP on {len(keep):,} landmarks, the rest placed "
                     "from their nearest landmarks")
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


def _aligned_umap_layouts(umap: Any, matrices: list[np.ndarray], seed: int,
                          report: Progress) -> list[np.ndarray]:
    kwargs = _umap_kwargs(seed, len(matrices[0]))
    if len(matrices) == 1:  # AlignedUMAP needs a sequence of at least two
        report(0.05, "fitting UMAP on 1 snapshot (the first run compiles numba code)")
        return [_fit_umap(umap, matrices[0], kwargs)]
    report(0.05, f"fitting aligned UMAP on {len(matrices)} snapshots "
                 "(the first run compiles numba code)")
    identity = {i: i for i in range(len(matrices[0]))}
    with _umap_running():
        mapper = umap.AlignedUMAP(**kwargs)
        mapper.fit(list(matrices), relations=[identity] * (len(matrices) - 1))
    return [_fill_missing(np.asarray(e)) for e in mapper.embeddings_]


def _chained_umap_layouts(umap: Any, matrices: list[np.ndarray], names: list[str],
                          reference: int, seed: int, report: Progress) -> list[np.ndarray]:
    kwargs = _umap_kwargs(seed, len(matrices[0]))
    layouts: list[np.ndarray] = []
    for i, x in enumerate(matrices):
        report(0.05 + 0.9 * i / len(matrices), f"fitting UMAP on '{names[i]}' ({i + 1}/"
                                               f"{len(matrices)}{', from the previous layout' if i else ''})")
        if layouts:  # start where the previous snapshot's users were; fewer epochs are needed
            step = dict(kwargs, init=layouts[-1].astype(np.float32),
                        n_epochs=max(kwargs["n_epochs"] // 2, 1))
        else:
            step = kwargs
        layouts.append(_fit_umap(umap, x, step))
    target = layouts[reference]
    return [layout if i == reference else procrustes_align(layout, target)
            for i, layout in enumerate(layouts)]


def place_by_landmarks(x: np.ndarray, landmark_rows: np.ndarray, landmark_layout: np.ndarray,
                       k: int = LANDMARK_NEIGHBOURS) -> np.ndarray:
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
        dist, idx = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(
            x[landmark_rows]).kneighbors(x[rest])  # (r, k)
        weight = 1.0 / (dist.astype(np.float64) + 1e-6)
        weight /= weight.sum(axis=1, keepdims=True)
        out[rest] = np.einsum("rk,rkc->rc", weight, np.asarray(landmark_layout)[idx])
    return out


def _procrustes_umap_layouts(umap: Any, matrices: list[np.ndarray], names: list[str],
                             reference: int, seed: int, report: Progress) -> list[np.ndarray]:
    kwargs = _umap_kwargs(seed, len(matrices[0]))
    order = [reference] + [i for i in range(len(matrices)) if i != reference]
    layouts: list[np.ndarray | None] = [None] * len(matrices)
    for done, i in enumerate(order):
        report(0.05 + 0.9 * done / len(order),
               f"fitting UMAP on '{names[i]}' ({done + 1}/{len(order)})")
        layouts[i] = _fit_umap(umap, matrices[i], kwargs)
    target = layouts[reference]
    return [layout if i == reference else procrustes_align(layout, target)
            for i, layout in enumerate(layouts)]


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
    norm = float((a ** 2).sum())
    scale = float(s.sum()) / norm if norm > 0 else 1.0
    return scale * a @ rotation + tgt_mean


# --------------------------------------------------------------------------- metrics

def alignment_metrics(gur: Any, domain: Any, *, user: Sequence | None = None, overlap: Any = None,
                      length: Any = None, seed: int = 0, n_max: int = 5000) -> dict:
    """How distinguishable the two domains are in GUR space, each number beside its null.

    On a seeded, domain-stratified sample of at most n_max rows:
      auc: ROC AUC of a standardised logistic regression predicting the domain, from 5-fold
          stratified out-of-fold predictions. 0.5 = indistinguishable.
      proxy_a_distance: 2(1 - 2 err), err the cross-validated error of the same classifier,
          clipped to [0, 2] (Ben-David et al.). The error is the balanced error (mean of the
          per-domain error rates) so that an unequal A/B sample does not give "distance" to a
          classifier that just predicts the larger domain.
      knn_entropy: mean entropy (bits) of the domain labels among each point's 15 nearest
          neighbours (itself excluded); "max" is the binary entropy of the sample's A share,
          the value of a perfectly mixed neighbourhood.
      The null of each of these three is the same computation with the domain labels permuted
      (seeded). The kNN null sits a little below "max" because 15 neighbours are a small sample.

    On all rows:
      pair_distance: mean ||h_a - h_b|| over overlapped users' two rows, and as null the mean
          distance between one overlapped user's A row and ANOTHER overlapped user's B row (all
          such pairs). Uses every pair in the input, not only those in the sample (capped at
          n_max pairs, seeded). The ratio is scale-free, which matters because adversarial
          training can shrink or grow the whole cloud. None when fewer than 2 pairs exist.

    With `length` (history length per row):
      auc_length_matched: the same classifier on a sample in which, for every history length,
          A and B contribute equally many users, so length alone cannot separate them (in the
          synthetic world domain B's histories are far shorter, and length alone gives AUC
          ~0.9). With its shuffled-label null and "n". None when too few lengths are shared.

    Returns {"auc": {"value", "null"}, "proxy_a_distance": {"value", "null"},
    "knn_entropy": {"value", "null", "max"}, "pair_distance": {"value", "null", "ratio",
    "n_pairs"} or None, "auc_length_matched": {"value", "null", "n"} or None, "n": rows used}."""
    return _alignment_metrics(gur, domain, user=user, overlap=overlap, length=length, seed=seed,
                              n_max=n_max, where="alignment metrics")


def _alignment_metrics(gur: Any, domain: Any, *, user: Sequence | None, overlap: Any, seed: int,
                       n_max: int, where: str, length: Any = None) -> dict:
    x, y = _check_vectors(gur, domain, where)
    counts = np.bincount(y, minlength=2)[:2]
    if counts.min() < 2:
        raise RecGuruError(f"{where}: need at least 2 users in each domain, got "
                           f"{counts[0]} in A and {counts[1]} in B")
    partner = partner_rows(y, user, overlap)
    rows = sample_rows(y, n_max, seed, partner=partner)
    xs, ys = x[rows], y[rows]
    if np.bincount(ys, minlength=2).min() < 2:
        raise RecGuruError(f"{where}: n_max={n_max} leaves fewer than 2 users of a domain in the "
                           "sample; raise n_max")
    shuffled = np.random.default_rng([seed, 1]).permutation(ys)

    auc, err = _domain_classifier(xs, ys, seed)
    auc0, err0 = _domain_classifier(xs, shuffled, seed)
    neighbours = _neighbours(xs, KNN_K)
    share_a = float((ys == 0).mean())
    return {
        "auc": {"value": auc, "null": auc0},
        "proxy_a_distance": {"value": _proxy_a_distance(err), "null": _proxy_a_distance(err0)},
        "knn_entropy": {"value": _knn_entropy(neighbours, ys),
                        "null": _knn_entropy(neighbours, shuffled),
                        "max": _binary_entropy(np.array([share_a]))[0].item()},
        "pair_distance": _pair_distance(x, y, partner, seed, n_max),
        "auc_length_matched": None if length is None else _length_matched_auc(
            x, y, to_numpy(length, np.int64), seed, n_max),
        "n": len(rows),
    }


def _length_matched_auc(x: np.ndarray, y: np.ndarray, length: np.ndarray, seed: int,
                        n_max: int) -> dict | None:
    """Domain AUC on equal numbers of A and B users at every history length."""
    if length.shape != y.shape:
        raise RecGuruError(f"'length' has shape {length.shape}, expected {y.shape}")
    rng = np.random.default_rng([seed, 3])
    pairs_a, pairs_b = [], []
    for value in np.unique(length):
        a = np.flatnonzero((length == value) & (y == 0))
        b = np.flatnonzero((length == value) & (y == 1))
        k = min(len(a), len(b))
        if k:
            pairs_a.append(rng.choice(a, k, replace=False))
            pairs_b.append(rng.choice(b, k, replace=False))
    if not pairs_a:
        return None
    a, b = np.concatenate(pairs_a), np.concatenate(pairs_b)
    if len(a) > n_max // 2:  # keep the per-length balance: drop whole (A, B) pairs
        keep = rng.choice(len(a), n_max // 2, replace=False)
        a, b = a[keep], b[keep]
    if len(a) < CV_FOLDS:
        return None
    rows = np.sort(np.concatenate([a, b]))
    xs, ys = x[rows], y[rows]
    auc, _ = _domain_classifier(xs, ys, seed)
    auc0, _ = _domain_classifier(xs, np.random.default_rng([seed, 4]).permutation(ys), seed)
    return {"value": auc, "null": auc0, "n": int(len(rows))}


def _domain_classifier(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, float]:
    """(ROC AUC, balanced error) of out-of-fold logistic-regression predictions."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    folds = int(min(CV_FOLDS, np.bincount(y, minlength=2).min()))
    # liblinear rather than the default lbfgs: the same L2 logistic regression (it also
    # penalises the intercept, immaterial on standardised features), but on problems this small
    # (<= 5,000 x 64) lbfgs spends ~2 ms per iteration in scipy overhead, 5-10x liblinear's time.
    model = make_pipeline(StandardScaler(),
                          LogisticRegression(solver="liblinear", max_iter=1000,
                                             class_weight="balanced"))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # perfectly separable folds may stop at max_iter; harmless
        warnings.simplefilter("ignore")
        p_b = cross_val_predict(model, x, y, cv=cv, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(y, p_b))
    predicted = (p_b >= 0.5).astype(np.int64)
    err = float(np.mean([(predicted[y == d] != d).mean() for d in (0, 1)]))
    return auc, err


def _proxy_a_distance(err: float) -> float:
    return float(np.clip(2.0 * (1.0 - 2.0 * err), 0.0, 2.0))


def _neighbours(x: np.ndarray, k: int) -> np.ndarray:
    """(m, k) indices of each row's k nearest rows, itself excluded (duplicates still count)."""
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(x) - 1)
    index = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(x)
    return index.kneighbors(return_distance=False)


def _binary_entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return np.nan_to_num(h, nan=0.0)


def _knn_entropy(neighbours: np.ndarray, y: np.ndarray) -> float:
    share_a = (y[neighbours] == 0).mean(axis=1)
    return float(_binary_entropy(share_a).mean())


def _pair_distance(x: np.ndarray, y: np.ndarray, partner: np.ndarray, seed: int,
                   n_max: int) -> dict | None:
    rows_a = np.flatnonzero((y == 0) & (partner >= 0))
    if len(rows_a) < 2:
        return None
    if len(rows_a) > n_max:
        rows_a = np.sort(np.random.default_rng([seed, 2]).choice(rows_a, n_max, replace=False))
    a = torch.from_numpy(x[rows_a]).double()
    b = torch.from_numpy(x[partner[rows_a]]).double()
    value = float((a - b).norm(dim=1).mean())
    # Null: every (A row of user i, B row of user j != i). Exact, so it needs no seed; chunked
    # so 5,000 pairs stay at ~40 MB.
    total = 0.0
    for lo in range(0, len(a), 1024):
        total += float(torch.cdist(a[lo:lo + 1024], b).sum())
    p = len(a)
    null = (total - value * p) / (p * (p - 1))
    return {"value": value, "null": null, "ratio": value / null if null > 0 else math.nan,
            "n_pairs": int(p)}


def compare_snapshots(snapshots: dict, **kw: Any) -> dict[str, dict]:
    """alignment_metrics for every snapshot present, keyed and ordered "before", "during_0", ...,
    "after" ("during_i" is snapshots["during"][i]); each entry also carries the snapshot's
    training "step". Keyword arguments (seed, n_max) go to alignment_metrics, so every snapshot
    is measured on the same rows and the side-by-side numbers differ only by training."""
    unknown = set(kw) - {"seed", "n_max"}
    if unknown:
        raise TypeError(f"compare_snapshots got unexpected keyword(s): {', '.join(sorted(unknown))}")
    out: dict[str, dict] = {}
    for name, snap in _require_snapshots(snapshots):
        metrics = _alignment_metrics(snap["gur"], snap["domain"], user=snap.get("user"),
                                     overlap=snap.get("overlap"), length=snap.get("length"),
                                     where=f"snapshot '{name}'",
                                     seed=kw.get("seed", 0), n_max=kw.get("n_max", 5000))
        metrics["step"] = int(snap.get("step", -1))
        out[name] = metrics
    return out


def flatten_comparison(comparison: dict[str, dict]) -> list[dict]:
    """compare_snapshots' result as one flat dict per snapshot, for a CLI table or --json."""
    rows = []
    for name, m in comparison.items():
        pair = m.get("pair_distance") or {}
        matched = m.get("auc_length_matched") or {}
        rows.append({
            "snapshot": name, "step": m.get("step"), "n": m["n"],
            "auc": m["auc"]["value"], "auc_null": m["auc"]["null"],
            "proxy_a_distance": m["proxy_a_distance"]["value"],
            "proxy_a_distance_null": m["proxy_a_distance"]["null"],
            "knn_entropy": m["knn_entropy"]["value"], "knn_entropy_null": m["knn_entropy"]["null"],
            "knn_entropy_max": m["knn_entropy"]["max"],
            "pair_distance": pair.get("value"), "pair_distance_null": pair.get("null"),
            "pair_distance_ratio": pair.get("ratio"), "n_pairs": pair.get("n_pairs", 0),
            "auc_length_matched": matched.get("value"), "auc_length_matched_null": matched.get("null"),
        })
    return rows
