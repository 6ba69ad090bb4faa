"""Pure loss functions of RecGURU. No state, no modules: tensors in, scalar tensor out.

Notation: domain A and domain B user representations (GURs) h_a, h_b; critic / discriminator
scores d_a = f(h_a), d_b = f(h_b) as raw, unbounded reals (B,).

Adversarial sign convention. The critic is trained to score A high and B low; both h_a and h_b
come from the (shared) encoder, so the "generator" is the encoder on both sides, and it minimises
the negative of the critic's objective, pulling the two score distributions together:

    wgan:  critic    min  E f(h_b) - E f(h_a)          (= -Wasserstein estimate)
           generator min  E f(h_a) - E f(h_b)          (=  Wasserstein estimate)
    bce:   critic    min  eq. 8 with A labelled 1, B labelled 0
           generator min  eq. 8 with the labels flipped (non-saturating; see generator_loss_bce)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..common.config import ADV_NORMALIZATIONS as NORMALIZATIONS  # the settings' one list

# ----------------------------------------------------------------------------- sampled softmax


def sample_negatives(
    targets: Tensor, *, n_negatives: int, n_items: int, generator: torch.Generator | None = None
) -> Tensor:
    """(N,) target ids in 1..V -> (N, K) negatives drawn uniformly from 1..V, never the target.

    Shift trick: draw r uniformly from 1..V-1 and map r -> r + (r >= target), a bijection from
    1..V-1 onto 1..V without the target, so each negative is uniform over the V-1 non-targets
    (independently, with replacement). Needs V >= 2.
    """
    if n_items < 2:
        raise ValueError(f"negative sampling needs at least 2 items, got n_items={n_items}")
    gen_device = generator.device if generator is not None else targets.device
    r = torch.randint(1, n_items, (targets.size(0), n_negatives), generator=generator, device=gen_device).to(
        targets.device
    )  # (N, K) in 1..V-1
    return r + (r >= targets[:, None]).long()  # (N, K) in 1..V, != target


def sampled_softmax_loss(
    hidden: Tensor,
    targets: Tensor,
    weight: Tensor,
    *,
    n_negatives: int,
    n_items: int,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Mean cross-entropy of the true item against n_negatives uniform negatives.

    hidden (N, d), targets (N,) in 1..V, weight (V+2, d) the (tied) item embedding table.
    logits = hidden . weight[[target, neg_1, ..., neg_K]]; the true item is class 0.
    No log-Q correction: with a uniform proposal it would add the same constant log((V-1)/K) to
    every negative logit, turning this into an estimate of the full softmax; like the paper and the
    authors' code we optimise the sampled objective itself. Returns 0 (still on the graph) if N == 0.
    """
    if targets.numel() == 0:
        return hidden.sum() * 0.0
    negatives = sample_negatives(
        targets, n_negatives=n_negatives, n_items=n_items, generator=generator
    )  # (N, K)
    ids = torch.cat([targets[:, None], negatives], dim=1)  # (N, 1+K)
    emb = F.embedding(ids, weight, padding_idx=0)  # (N, 1+K, d)
    logits = torch.bmm(emb, hidden.unsqueeze(-1)).squeeze(-1).float()  # (N, 1+K)
    zeros = torch.zeros(logits.size(0), dtype=torch.long, device=logits.device)
    return F.cross_entropy(logits, zeros)


# ----------------------------------------------------------------------------- recommendation


def bpr_loss(pos_scores: Tensor, neg_scores: Tensor) -> Tensor:
    """BPR: mean over rows and negatives of -log sigmoid(pos - neg).

    pos_scores (N,), neg_scores (N, K) or (N,).
    Forms in circulation: the paper's eq. 12 prints -log s(pos) - log(1 - s(mean(neg))) (two
    pointwise terms); the authors' code uses -log s(pos - mean(neg)). We use the pairwise form of
    the original BPR paper, averaged over the K negatives: each negative is ranked against the
    positive on its own, so one easy negative cannot hide a hard one inside a mean.
    """
    if neg_scores.dim() == 1:
        neg_scores = neg_scores[:, None]
    diff = pos_scores[:, None].float() - neg_scores.float()  # (N, K)
    return -F.logsigmoid(diff).mean()


# ----------------------------------------------------------------------------- adversarial


def wasserstein_estimate(d_a: Tensor, d_b: Tensor) -> Tensor:
    """E f(h_a) - E f(h_b): the critic's estimate of the Wasserstein-1 distance (up to scale)."""
    return d_a.float().mean() - d_b.float().mean()


def critic_loss_wgan(d_a: Tensor, d_b: Tensor) -> Tensor:
    """Critic minimises E f(h_b) - E f(h_a), i.e. maximises the Wasserstein estimate."""
    return -wasserstein_estimate(d_a, d_b)


def generator_loss_wgan(d_a: Tensor, d_b: Tensor) -> Tensor:
    """Encoder minimises E f(h_a) - E f(h_b) = -critic objective: it shrinks the estimated distance
    by moving both domains' representations (gradients flow through d_a and d_b)."""
    return wasserstein_estimate(d_a, d_b)


def critic_loss_bce(logits_a: Tensor, logits_b: Tensor) -> Tensor:
    """Eq. 8: binary cross-entropy with A labelled 1 and B labelled 0, averaged over all samples."""
    logits = torch.cat([logits_a, logits_b]).float()
    labels = torch.cat([torch.ones_like(logits_a), torch.zeros_like(logits_b)]).float()
    return F.binary_cross_entropy_with_logits(logits, labels)


def generator_loss_bce(logits_a: Tensor, logits_b: Tensor, *, form: str = "flipped") -> Tensor:
    """Encoder's adversarial loss for the BCE critic.

    form="flipped" (default, non-saturating): eq. 8 with A labelled 0 and B labelled 1. Its
        gradient stays large when the critic is confident, where the minimax form's vanishes.
    form="minimax": -critic_loss_bce, the literal "- L_dis" of eq. 13 (saturates).
    """
    if form == "flipped":
        return critic_loss_bce(logits_b, logits_a)
    if form == "minimax":
        return -critic_loss_bce(logits_a, logits_b)
    raise ValueError(f"generator_loss_bce: form must be 'flipped' or 'minimax', got {form!r}")


def gradient_penalty(
    critic: nn.Module, real: Tensor, fake: Tensor, *, generator: torch.Generator | None = None
) -> Tensor:
    """WGAN-GP penalty E (||grad_x f(x)||_2 - 1)^2 at random interpolates of real (B, d) and fake (B, d).

    The interpolates are detached: the penalty trains the critic only. Computed in float32 with
    autocast disabled (a bf16 gradient norm is too coarse), with create_graph=True so that the
    penalty can be back-propagated into the critic's weights. Rows of real and fake are paired
    by index; with unequal batch sizes the longer one is cut.
    """
    n = min(real.size(0), fake.size(0))
    real, fake = real[:n].detach().float(), fake[:n].detach().float()
    gen_device = generator.device if generator is not None else real.device
    alpha = torch.rand(n, 1, generator=generator, device=gen_device).to(real.device)  # (n, 1)
    x = (alpha * real + (1.0 - alpha) * fake).requires_grad_(True)  # (n, d)
    with torch.autocast(device_type=x.device.type, enabled=False):
        scores = critic(x).float()  # (n,)
        (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)  # (n, d)
    norm = torch.sqrt(grad.pow(2).sum(dim=1) + 1e-12)  # (n,)
    return (norm - 1.0).pow(2).mean()


# ----------------------------------------------------------------------------- overlapped users


def l2_pull(h_a: Tensor, h_b: Tensor) -> Tensor:
    """Eq. 9 over a batch of overlapped users: mean over users of ||h_a - h_b||_2 (not squared).

    Mean rather than sum, so the weight of this term does not depend on how many overlapped users a
    batch happens to hold. The norm is sqrt(sum^2 + eps) - sqrt(eps): exactly 0 for equal rows and
    with a finite (zero) gradient there, where the plain norm's gradient is 0/0. N == 0 gives 0.
    """
    if h_a.size(0) == 0:
        return (h_a.sum() + h_b.sum()) * 0.0
    eps = 1e-12
    sq = (h_a.float() - h_b.float()).pow(2).sum(dim=-1)  # (N,)
    return (torch.sqrt(sq + eps) - eps**0.5).mean()


# ----------------------------------------------------------------------------- common scale


def inverse_sqrt_psd(a: Tensor, iterations: int = 15) -> Tensor:
    """A^(-1/2) of a symmetric positive definite (d, d) matrix by coupled Newton-Schulz.

    Scaled by its trace, A's eigenvalues lie in (0, 1], where the iteration converges; the
    smallest ones need the most steps (about log_1.5 of 1/sqrt(lambda_min), then quadratic).
    With correlation matrices shrunk by s towards I, lambda_min >= s/d: s = 0.1, d = 64 leaves a
    relative error below 1e-3 after 15 steps."""
    d = a.size(0)
    eye = torch.eye(d, device=a.device, dtype=a.dtype)
    scale = torch.diagonal(a).sum()
    y, z = a / scale, eye
    for _ in range(iterations):
        t = 0.5 * (3.0 * eye - z @ y)
        y, z = y @ t, t @ z
    return z / torch.sqrt(scale)


def joint_normalize(
    h_a: Tensor,
    h_b: Tensor,
    mode: str = "whiten",
    *,
    shrinkage: float = 0.1,
    shrink_to: str = "isotropic",
    var_floor: float = 0.0,
    keep_trace: bool = False,
    eps: float = 1e-5,
) -> tuple[Tensor, Tensor]:
    """Put A (N_a, d) and B (N_b, d) GURs on one common scale: statistics of the JOINT A+B batch.

    Why: measured in raw GUR space, the critic's distance and the l2 pull both fall when the
    encoder simply shrinks every GUR (the decoders read h linearly and absorb the scale), so the
    adversarial game can be "won" without aligning anything. Measured on statistics of both
    domains together, shrinking changes nothing; only moving A relative to B does. Gradients
    flow through the statistics, so the encoder cannot escape by rescaling or shifting.

    mode:
      "standardize": per dimension, (h - mean) / std, with the variance shrunk towards the mean
          variance: var' = (1 - var_floor) var + var_floor mean(var). var_floor = 0 is plain
          standardisation, under which a near-constant dimension is blown up to unit variance
          and a 1-Lipschitz critic can separate the domains on its noise alone.
      "whiten": (h - mean) L^-T with L L^T the shrunk covariance (Cholesky). GUR clouds are
          lopsided (a few principal directions hold almost all the variance while the domain
          signal sits in low-variance ones); whitening gives every direction unit variance, so
          a critic that is 1-Lipschitz in its input sees the low-variance directions too.
          Covariance shrinkage keeps the solve well conditioned on a few hundred rows:
          shrink_to="isotropic": (1 - s) C + s tr(C)/d I; shrink_to="diagonal": (1 - s) C +
          s diag(C), which keeps every dimension's own scale (s = 1 is "standardize" up to the n - 1
          divisor), where the
          isotropic target adds the MEAN variance to every direction and so leaves directions
          of small variance small.
      "zca": standardise, then decorrelate with the inverse square root of the (shrunk)
          correlation matrix R' = (1 - s) R + s I: z = x_std R'^(-1/2). Unlike the Cholesky
          factor, R^(-1/2) is the whitening that moves the data least (it is symmetric, so
          coordinates keep their meaning), and batch-to-batch noise in R only perturbs it a
          little; a Cholesky factor's output axes depend on every covariance entry before them,
          so the critic sees a differently rotated space each batch. s = 1 is "standardize".
          The inverse root is computed by coupled Newton-Schulz iterations (matrix products
          only, so gradients are stable where an eigendecomposition's are not: they divide by
          eigenvalue gaps).
      "none": unchanged (the paper's raw space).
    keep_trace: rescale the result so its total variance is d (mean variance 1 per dimension).
        Shrunk whitening maps a direction of correlation eigenvalue l to variance
        l / ((1 - s) l + s): concave in l, so with sum(l) = d fixed the total variance the critic
        and the l2 pull see is largest for an isotropic cloud and falls as the spectrum
        concentrates (s = 0.6: 64 for 64 equal directions, 2.4 for one). Distances, and so both
        losses, then reward collapse. With the trace held at d that reward is gone.
    Returns (z_a, z_b) float32 with the shapes of the inputs.
    """
    if mode == "none":
        return h_a.float(), h_b.float()
    if mode not in NORMALIZATIONS:
        raise ValueError(f"joint_normalize: mode must be one of {NORMALIZATIONS}, got {mode!r}")
    x = torch.cat([h_a, h_b]).float()  # (N, d)
    centred = x - x.mean(dim=0, keepdim=True)  # (N, d)
    if mode in ("standardize", "zca"):
        var = centred.pow(2).mean(dim=0, keepdim=True)  # (1, d)
        if var_floor > 0:
            var = (1.0 - var_floor) * var + var_floor * var.mean()
        z = centred / torch.sqrt(var + eps)
        if mode == "zca":
            n, d = z.shape
            eye = torch.eye(d, device=x.device, dtype=x.dtype)
            corr = (1.0 - shrinkage) * (z.t() @ z / n) + shrinkage * eye  # (d, d)
            z = z @ inverse_sqrt_psd(corr)
    else:
        n, d = x.shape
        cov = centred.t() @ centred / max(n - 1, 1)  # (d, d)
        eye = torch.eye(d, device=x.device, dtype=x.dtype)
        if shrink_to == "diagonal":
            target = torch.diag(torch.diagonal(cov))  # (d, d)
        elif shrink_to == "isotropic":
            target = torch.diagonal(cov).mean() * eye
        else:
            raise ValueError(
                f"joint_normalize: shrink_to must be 'isotropic' or 'diagonal', got {shrink_to!r}"
            )
        cov = (1.0 - shrinkage) * cov + shrinkage * target + eps * eye
        chol = torch.linalg.cholesky(cov)  # (d, d) lower
        # z = centred L^-T, i.e. solve L z^T = centred^T
        z = torch.linalg.solve_triangular(chol, centred.t(), upper=False).t()  # (N, d)
    if keep_trace:
        z = z / torch.sqrt(z.pow(2).mean(dim=0).mean() + eps)  # z is centred: trace = d
    return z[: h_a.size(0)], z[h_a.size(0) :]


def uniformity(h: Tensor, t: float = 2.0) -> Tensor:
    """DirectAU's uniformity (Wang & Isola): log E_{i != j} exp(-t ||u_i - u_j||^2) over the
    centred, l2-normalised rows u of a GUR batch h (N, d). Lower = spread more evenly over the
    sphere; a batch crowded into a few directions scores high. Centred first (GURs share a
    LayerNorm offset), so it is blind to shifts and scale, like spectrum.uniformity."""
    x = h.float()
    u = F.normalize(x - x.mean(dim=0, keepdim=True), dim=1)
    sq = (2.0 - 2.0 * (u @ u.t())).clamp_min(0.0)  # (N, N) squared distances on the sphere
    n = u.size(0)
    off = ~torch.eye(n, dtype=torch.bool, device=u.device)
    return torch.logsumexp(-t * sq[off], dim=0) - torch.log(torch.tensor(float(n * (n - 1)), device=u.device))


def decorrelation(h: Tensor, eps: float = 1e-5) -> Tensor:
    """VICReg's covariance term on the correlation matrix of a GUR batch h (N, d):
    sum over i != j of R_ij^2, divided by d. 0 when the dimensions are uncorrelated; a cloud
    collapsed onto k directions has sum R_ij^2 = sum lambda^2 - d >= d^2 / k - d, so the term
    grows as the rank falls. Scale-free (correlations), so it cannot be paid by shrinking."""
    x = h.float()
    z = (x - x.mean(dim=0, keepdim=True)) / torch.sqrt(x.var(dim=0, unbiased=False, keepdim=True) + eps)
    n, d = z.shape
    corr = z.t() @ z / n  # (d, d)
    off = corr - torch.diag(torch.diagonal(corr))
    return off.pow(2).sum() / d
