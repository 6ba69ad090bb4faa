"""Alignment analysis of GUR snapshots: domain-mixing metrics and the shared row sampling, as
plain data.

RecGURU's adversarial phase is meant to make a user's representation independent of the domain
it came from. This module answers "did it?" for the Alignment page and the CLI (the 2-d layouts
are in `projection`, which uses the sampling here):

* `alignment_metrics` / `compare_snapshots` measure, on the 64-d vectors themselves, how well a
  domain can be told from the representation (classifier AUC, proxy A-distance), how mixed
  local neighbourhoods are (kNN label entropy), and whether an overlapped user's two rows sit
  closer together than two random users' rows. Every number comes with a shuffled-label (or
  random-pair) null, because "AUC 0.6" only means something next to what chance gives on the
  same sample.

Everything returned is tensors, lists, numbers and strings, so results can go into a checkpoint
that `torch.load(..., weights_only=True)` accepts. scikit-learn is imported lazily: its import
must not be paid by `import recguru_core.analysis.alignment`.

Snapshot format (written by `training.gur_snapshot`): {"gur": (n, d) float, "domain": (n,) int64
with 0 = A and 1 = B, "user": n raw ids, "overlap": (n,) bool, optional "cluster": (n,) int64,
optional "length": (n,) int64 (history length the encoder read, capped at max_len),
"step": int}. All snapshots of a run hold the same rows in the same order.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..common.errors import RecGuruError
from ..metrics.spectrum import mmd_test, spectrum, uniformity
from ..train.snapshots import ordered_snapshots, to_numpy

Progress = Callable[[float, str], None]

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
        raise RecGuruError(
            "no GUR snapshots in this checkpoint (train until after pre-training to record one)"
        )
    for name, snap in present:
        if not isinstance(snap, dict) or "gur" not in snap or "domain" not in snap:
            raise RecGuruError(f"snapshot '{name}' lacks 'gur' or 'domain'")
    return present


# --------------------------------------------------------------------------- metrics


def alignment_metrics(
    gur: Any,
    domain: Any,
    *,
    user: Sequence | None = None,
    overlap: Any = None,
    length: Any = None,
    seed: int = 0,
    n_max: int = 5000,
) -> dict:
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

    Collapse (a falling AUC means nothing if the cloud lost its dimensions; spectrum.py), on
    the same sample:
      spectrum: effective rank (RankMe), participation ratio, top-1 / top-3 variance share and
          the first 10 variance shares (scree). Label-free: compare with the "before" snapshot.
      uniformity: DirectAU's log E exp(-2 ||u - v||^2) on centred, normalised rows (lower =
          spread more evenly).
      mmd: squared MMD between the A and B rows (RBF, median bandwidth) with the mean of its
          permutation null and the permutation p-value.

    Returns {"auc": {"value", "null"}, "proxy_a_distance": {"value", "null"},
    "knn_entropy": {"value", "null", "max"}, "pair_distance": {"value", "null", "ratio",
    "n_pairs"} or None, "auc_length_matched": {"value", "null", "n"} or None, "spectrum": {...},
    "uniformity": {"value"}, "mmd": {"value", "null", "p_value", "bandwidth", "n"},
    "n": rows used}."""
    return _alignment_metrics(
        gur,
        domain,
        user=user,
        overlap=overlap,
        length=length,
        seed=seed,
        n_max=n_max,
        where="alignment metrics",
    )


def _alignment_metrics(
    gur: Any,
    domain: Any,
    *,
    user: Sequence | None,
    overlap: Any,
    seed: int,
    n_max: int,
    where: str,
    length: Any = None,
) -> dict:
    x, y = _check_vectors(gur, domain, where)
    counts = np.bincount(y, minlength=2)[:2]
    if counts.min() < 2:
        raise RecGuruError(
            f"{where}: need at least 2 users in each domain, got {counts[0]} in A and {counts[1]} in B"
        )
    partner = partner_rows(y, user, overlap)
    rows = sample_rows(y, n_max, seed, partner=partner)
    xs, ys = x[rows], y[rows]
    if np.bincount(ys, minlength=2).min() < 2:
        raise RecGuruError(
            f"{where}: n_max={n_max} leaves fewer than 2 users of a domain in the sample; raise n_max"
        )
    shuffled = np.random.default_rng([seed, 1]).permutation(ys)

    auc, err = _domain_classifier(xs, ys, seed)
    auc0, err0 = _domain_classifier(xs, shuffled, seed)
    neighbours = _neighbours(xs, KNN_K)
    share_a = float((ys == 0).mean())
    return {
        "auc": {"value": auc, "null": auc0},
        "proxy_a_distance": {"value": _proxy_a_distance(err), "null": _proxy_a_distance(err0)},
        "knn_entropy": {
            "value": _knn_entropy(neighbours, ys),
            "null": _knn_entropy(neighbours, shuffled),
            "max": _binary_entropy(np.array([share_a]))[0].item(),
        },
        "pair_distance": _pair_distance(x, y, partner, seed, n_max),
        "auc_length_matched": None
        if length is None
        else _length_matched_auc(x, y, to_numpy(length, np.int64), seed, n_max),
        # collapse: label-free, so no shuffled null; read beside "before" (spectrum.py)
        "spectrum": spectrum(xs),
        "uniformity": {"value": uniformity(xs, seed=seed)},
        "mmd": mmd_test(xs[ys == 0], xs[ys == 1], seed=seed),
        "n": len(rows),
    }


def _length_matched_auc(
    x: np.ndarray, y: np.ndarray, length: np.ndarray, seed: int, n_max: int
) -> dict | None:
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
    model = make_pipeline(
        StandardScaler(), LogisticRegression(solver="liblinear", max_iter=1000, class_weight="balanced")
    )
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


def _pair_distance(x: np.ndarray, y: np.ndarray, partner: np.ndarray, seed: int, n_max: int) -> dict | None:
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
        total += float(torch.cdist(a[lo : lo + 1024], b).sum())
    p = len(a)
    null = (total - value * p) / (p * (p - 1))
    return {"value": value, "null": null, "ratio": value / null if null > 0 else math.nan, "n_pairs": int(p)}


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
        metrics = _alignment_metrics(
            snap["gur"],
            snap["domain"],
            user=snap.get("user"),
            overlap=snap.get("overlap"),
            length=snap.get("length"),
            where=f"snapshot '{name}'",
            seed=kw.get("seed", 0),
            n_max=kw.get("n_max", 5000),
        )
        metrics["step"] = int(snap.get("step", -1))
        out[name] = metrics
    return out


def flatten_comparison(comparison: dict[str, dict]) -> list[dict]:
    """compare_snapshots' result as one flat dict per snapshot, for a CLI table or --json."""
    rows = []
    for name, m in comparison.items():
        pair = m.get("pair_distance") or {}
        matched = m.get("auc_length_matched") or {}
        rows.append(
            {
                "snapshot": name,
                "step": m.get("step"),
                "n": m["n"],
                "auc": m["auc"]["value"],
                "auc_null": m["auc"]["null"],
                "proxy_a_distance": m["proxy_a_distance"]["value"],
                "proxy_a_distance_null": m["proxy_a_distance"]["null"],
                "knn_entropy": m["knn_entropy"]["value"],
                "knn_entropy_null": m["knn_entropy"]["null"],
                "knn_entropy_max": m["knn_entropy"]["max"],
                "pair_distance": pair.get("value"),
                "pair_distance_null": pair.get("null"),
                "pair_distance_ratio": pair.get("ratio"),
                "n_pairs": pair.get("n_pairs", 0),
                "auc_length_matched": matched.get("value"),
                "auc_length_matched_null": matched.get("null"),
                "effective_rank": (m.get("spectrum") or {}).get("effective_rank"),
                "top3_share": (m.get("spectrum") or {}).get("top3_share"),
                "uniformity": (m.get("uniformity") or {}).get("value"),
                "mmd": (m.get("mmd") or {}).get("value"),
                "mmd_null": (m.get("mmd") or {}).get("null"),
                "mmd_p": (m.get("mmd") or {}).get("p_value"),
            }
        )
    return rows


FLAT_COLUMNS = (
    ("auc", "AUC"),
    ("auc_null", "null"),
    ("auc_length_matched", "LM AUC"),
    ("mmd", "MMD²"),
    ("mmd_p", "p"),
    ("knn_entropy", "kNN H"),
    ("effective_rank", "eff.rank"),
    ("top3_share", "top-3"),
    ("uniformity", "unif."),
)


def format_flat_rows(rows: list[dict]) -> str:
    """flatten_comparison's rows as a text table: alignment and collapse side by side."""
    lines = [f"{'snapshot':<10}{'step':>6}" + "".join(f"{title:>10}" for _, title in FLAT_COLUMNS)]
    for r in rows:
        cells = "".join(f"{'-':>10}" if r.get(k) is None else f"{r[k]:>10.3f}" for k, _ in FLAT_COLUMNS)
        lines.append(f"{r['snapshot']:<10}{r['step']:>6}{cells}")
    return "\n".join(lines)
