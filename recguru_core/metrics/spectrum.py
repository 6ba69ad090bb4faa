"""Is a GUR cloud still high-dimensional? Collapse measures, label-free and rotation-invariant.

A domain classifier's AUC falls both when A and B are aligned and when the encoder throws away
the directions that told them apart (dimensional collapse: Batch Spectral Penalization, ICML'19;
RankMe, ICML'23). These numbers tell the two apart; `analysis.alignment_metrics` reports them
beside every AUC.

    spectrum(x)            principal-variance spectrum of the centred cloud x (n, d):
                           effective rank (RankMe: exp of the entropy of the normalised singular
                           values), participation ratio (sum lambda)^2 / sum lambda^2, the share of
                           variance in the 1 and 3 leading directions, and the first SCREE_K
                           shares (a scree plot)
    uniformity(x)          DirectAU (KDD'22): log E exp(-2 ||u - v||^2) over pairs of the centred,
                           l2-normalised rows; lower = spread more evenly over the sphere
                           (a collapsed cloud crowds onto a low-dimensional great circle)
    mmd_test(x, y, ...)    squared MMD between two samples with an RBF kernel of median bandwidth,
                           and its permutation p-value
    spectrum_torch         the training-time twin of spectrum's effective rank and top-3 share,
                           on a batch (one (d, d) eigvalsh, no gradient), so phase 2 can log them
                           in its one host sync per step

Everything here is plain numbers (numpy in, floats and lists out), so it can go into a
checkpoint that `torch.load(..., weights_only=True)` reads.
"""

from __future__ import annotations

import math

import numpy as np
import torch

SCREE_K = 10
MMD_PER_DOMAIN = 1000
MMD_PERMUTATIONS = 200


def _eigen(x: np.ndarray) -> np.ndarray:
    """Variances along the principal directions of x (n, d), descending, clipped at 0."""
    x = np.asarray(x, dtype=np.float64)
    centred = x - x.mean(axis=0, keepdims=True)
    # singular values of the centred data; their squares are n * the principal variances
    s = np.linalg.svd(centred, compute_uv=False)
    return np.clip(s**2 / max(len(x) - 1, 1), 0.0, None)


def effective_rank_of(variances: np.ndarray) -> float:
    """RankMe's effective rank: exp(entropy of sigma / sum sigma), sigma the singular values
    (square roots of the principal variances). 1 for a line, d for an isotropic cloud."""
    sigma = np.sqrt(np.clip(np.asarray(variances, dtype=np.float64), 0.0, None))
    total = sigma.sum()
    if total <= 0:
        return 0.0
    p = sigma / total
    p = p[p > 0]
    return float(math.exp(-(p * np.log(p)).sum()))


def spectrum(x: np.ndarray) -> dict:
    """{"effective_rank", "participation_ratio", "top1_share", "top3_share", "scree" (first
    SCREE_K variance shares, descending), "dim"} of the cloud x (n, d)."""
    lam = _eigen(x)
    total = lam.sum()
    share = lam / total if total > 0 else np.zeros_like(lam)
    return {
        "effective_rank": effective_rank_of(lam),
        "participation_ratio": float(total**2 / (lam**2).sum()) if total > 0 else 0.0,
        "top1_share": float(share[:1].sum()),
        "top3_share": float(share[:3].sum()),
        "scree": [float(v) for v in share[:SCREE_K]],
        "dim": int(np.asarray(x).shape[1]),
    }


def uniformity(x: np.ndarray, *, n_max: int = 2000, seed: int = 0, t: float = 2.0) -> float:
    """losses.uniformity (log E_{i != j} exp(-t ||u_i - u_j||^2) over the centred, l2-normalised
    rows) of the cloud x (n, d), on at most n_max rows (a seeded sample).

    Centred first: GURs come out of a LayerNorm and share a large common offset, so raw rows
    would all sit near one point of the sphere and every cloud would look equally "crowded".
    About -t * 2 for a well-spread high-dimensional cloud (all pairs near-orthogonal), 0 when
    every row points the same way."""
    from ..nn.losses import uniformity as uniformity_loss

    x = np.asarray(x, dtype=np.float32)
    if len(x) > n_max:
        x = x[np.sort(np.random.default_rng([seed, 5]).choice(len(x), n_max, replace=False))]
    with torch.no_grad():
        return float(uniformity_loss(torch.from_numpy(np.ascontiguousarray(x)), t=t))


def mmd_test(
    x: np.ndarray,
    y: np.ndarray,
    *,
    seed: int = 0,
    n_max: int = MMD_PER_DOMAIN,
    permutations: int = MMD_PERMUTATIONS,
) -> dict:
    """Unbiased squared MMD between x (n, d) and y (m, d), RBF kernel exp(-||a - b||^2 / (2 s^2))
    with s the median pairwise distance of the pooled sample, and a permutation test.

    At most n_max rows per side (seeded). The kernel matrix is computed once; each permutation
    only relabels its rows. Returns {"value", "null" (mean over permutations), "p_value" ((1 +
    #perm >= value) / (1 + permutations)), "bandwidth", "n"}."""
    rng = np.random.default_rng([seed, 6])
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(x) > n_max:
        x = x[rng.choice(len(x), n_max, replace=False)]
    if len(y) > n_max:
        y = y[rng.choice(len(y), n_max, replace=False)]
    z = np.concatenate([x, y])
    sq_norm = (z**2).sum(axis=1)
    sq = np.clip(sq_norm[:, None] + sq_norm[None, :] - 2.0 * z @ z.T, 0.0, None)  # (N, N)
    iu = np.triu_indices(len(z), 1)
    median = float(np.median(np.sqrt(sq[iu])))
    bandwidth = median if median > 0 else 1.0
    k = np.exp(-sq / (2.0 * bandwidth**2))
    np.fill_diagonal(k, 0.0)  # unbiased: no i == j terms

    n, m = len(x), len(y)

    def mmd2(labels: np.ndarray) -> np.ndarray:
        """labels (N, P) with 1 = first sample: the statistic for each of the P labellings."""
        a = labels.astype(np.float64)
        b = 1.0 - a
        ka, kb = k @ a, k @ b  # (N, P)
        s_aa = (a * ka).sum(axis=0)
        s_bb = (b * kb).sum(axis=0)
        s_ab = (a * kb).sum(axis=0)
        return s_aa / (n * (n - 1)) + s_bb / (m * (m - 1)) - 2.0 * s_ab / (n * m)

    observed = float(mmd2(np.r_[np.ones(n), np.zeros(m)][:, None])[0])
    perm = np.stack([rng.permutation(np.r_[np.ones(n), np.zeros(m)]) for _ in range(permutations)], 1)
    null = mmd2(perm)
    return {
        "value": observed,
        "null": float(null.mean()),
        "p_value": float((1 + (null >= observed).sum()) / (1 + permutations)),
        "bandwidth": bandwidth,
        "n": int(n + m),
    }


@torch.no_grad()
def spectrum_torch(h: torch.Tensor, k: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """(effective rank, share of variance in the k leading directions) of a batch h (B, d), as
    0-d tensors on h's device (one (d, d) eigvalsh, no gradient), so the trainer can fetch them
    in the same host sync as its other statistics. The same numbers as `spectrum` computes."""
    x = h.detach().float()
    if x.device.type == "mps":  # no eigvalsh kernel there
        x = x.cpu()
    centred = x - x.mean(dim=0, keepdim=True)
    lam = torch.linalg.eigvalsh(centred.t() @ centred).clamp_min(0)  # ascending
    sigma = lam.sqrt()
    p = sigma / sigma.sum().clamp_min(1e-12)
    rank = torch.exp(-(p * torch.log(p.clamp_min(1e-30))).sum())
    return rank, lam[-k:].sum() / lam.sum().clamp_min(1e-12)
