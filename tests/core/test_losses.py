import math

import pytest
import torch

from recguru_core.nn import losses
from recguru_core.nn.losses import (
    bpr_loss,
    critic_loss_bce,
    critic_loss_wgan,
    generator_loss_bce,
    generator_loss_wgan,
    gradient_penalty,
    l2_pull,
    sample_negatives,
    sampled_softmax_loss,
    wasserstein_estimate,
)
from recguru_core.nn.model import Discriminator

pytestmark = pytest.mark.usefixtures("one_thread")

# ----------------------------------------------------------------------------- sampled softmax


@pytest.mark.parametrize("V", [2, 3, 50])
def test_negatives_never_equal_the_target_and_cover_the_rest(V):
    g = torch.Generator().manual_seed(0)
    targets = torch.randint(1, V + 1, (4000,), generator=g)
    neg = sample_negatives(targets, n_negatives=20, n_items=V, generator=g)
    assert neg.shape == (4000, 20)
    assert (neg != targets[:, None]).all()
    assert neg.min() >= 1 and neg.max() <= V
    # uniform over the V-1 non-targets: with target 1, every other item appears about equally
    ones = torch.ones(5000, dtype=torch.long)
    row = sample_negatives(ones, n_negatives=20, n_items=V, generator=g).flatten()
    counts = torch.bincount(row, minlength=V + 1).float()
    assert counts[:2].sum() == 0
    assert counts[2:].min() > 0.85 * counts[2:].mean()


def test_negative_sampling_needs_two_items():
    with pytest.raises(ValueError, match="n_items"):
        sample_negatives(torch.ones(3, dtype=torch.long), n_negatives=2, n_items=1)


def test_sampled_softmax_equals_hand_computed_cross_entropy():
    torch.manual_seed(0)
    V, d = 6, 4
    weight = torch.randn(V + 2, d)
    hidden = torch.randn(3, d)
    targets = torch.tensor([1, 4, 6])
    loss = sampled_softmax_loss(
        hidden, targets, weight, n_negatives=3, n_items=V, generator=torch.Generator().manual_seed(5)
    )
    neg = sample_negatives(targets, n_negatives=3, n_items=V, generator=torch.Generator().manual_seed(5))
    expected = 0.0
    for i in range(3):
        logits = [hidden[i] @ weight[targets[i]]] + [hidden[i] @ weight[n] for n in neg[i]]
        logits = torch.stack(logits)
        expected += -(logits[0] - torch.logsumexp(logits, 0))
    torch.testing.assert_close(loss, expected / 3)


def test_sampled_softmax_of_nothing_is_zero_and_differentiable():
    hidden = torch.randn(0, 4, requires_grad=True)
    loss = sampled_softmax_loss(
        hidden, torch.zeros(0, dtype=torch.long), torch.randn(5, 4), n_negatives=2, n_items=3
    )
    loss.backward()
    assert loss.item() == 0.0


# ----------------------------------------------------------------------------- BPR


def test_bpr_value_and_gradient_sign():
    pos = torch.tensor([0.0, 1.0], requires_grad=True)
    neg = torch.tensor([[0.0, 0.0], [1.0, 3.0]], requires_grad=True)
    loss = bpr_loss(pos, neg)
    expected = (2 * math.log(2) + math.log(2) + math.log1p(math.exp(2))) / 4
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert (pos.grad < 0).all()  # descending raises the positive's score
    assert (neg.grad > 0).all()  # and lowers every negative's
    assert bpr_loss(torch.tensor([0.0]), torch.tensor([0.0])).item() == pytest.approx(math.log(2))


# ----------------------------------------------------------------------------- adversarial


def test_wgan_sign_conventions():
    d_a, d_b = torch.tensor([3.0, 1.0]), torch.tensor([0.0, -2.0])
    assert wasserstein_estimate(d_a, d_b).item() == 3.0
    assert critic_loss_wgan(d_a, d_b).item() == -3.0
    assert generator_loss_wgan(d_a, d_b).item() == 3.0


def test_bce_losses():
    a, b = torch.tensor([10.0, 8.0]), torch.tensor([-9.0])
    assert critic_loss_bce(a, b).item() < 1e-3  # A labelled 1: perfect critic
    assert generator_loss_bce(a, b).item() > 5  # the encoder is losing
    torch.testing.assert_close(generator_loss_bce(a, b), critic_loss_bce(b, a))
    torch.testing.assert_close(generator_loss_bce(a, b, form="minimax"), -critic_loss_bce(a, b))
    with pytest.raises(ValueError, match="form"):
        generator_loss_bce(a, b, form="bogus")


class Linear(torch.nn.Module):
    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(w)

    def forward(self, x):
        return x @ self.w


@pytest.mark.parametrize("norm, expected", [(2.0, 1.0), (1.0, 0.0), (0.5, 0.25)])
@pytest.mark.parametrize("autocast", [False, True])
def test_gradient_penalty_of_a_linear_critic(norm, expected, autocast):
    w = torch.randn(8)
    critic = Linear(w / w.norm() * norm)
    real, fake = torch.randn(16, 8), torch.randn(16, 8) + 3
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        gp = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0))
    assert gp.dtype == torch.float32
    assert gp.item() == pytest.approx(expected, abs=1e-5)
    gp.backward()  # create_graph: the penalty trains the critic
    if expected:
        assert critic.w.grad.norm() > 0


def two_gaussians(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, 2, generator=g) * 0.5 + torch.tensor([2.0, 0.0])
    b = torch.randn(n, 2, generator=g) * 0.5 - torch.tensor([2.0, 0.0])
    return a, b


@pytest.mark.parametrize("kind", ["wgan", "bce"])
def test_critic_separates_two_gaussians(kind):
    torch.manual_seed(0)
    critic = Discriminator(d_in=2, hidden=32, n_layers=4)
    opt = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))
    for step in range(150):
        a, b = two_gaussians(128, seed=step)
        d_a, d_b = critic(a), critic(b)
        if kind == "wgan":
            loss = critic_loss_wgan(d_a, d_b) + 10.0 * gradient_penalty(critic, a, b)
        else:
            loss = critic_loss_bce(d_a, d_b)
        opt.zero_grad()
        loss.backward()
        opt.step()
    a, b = two_gaussians(1000, seed=10_000)
    with torch.no_grad():
        d_a, d_b = critic(a), critic(b)
    if kind == "wgan":
        # the true W1 distance is 4 (a shift by 4); the penalty is a soft Lipschitz constraint, so
        # the estimate gets near it, and the critic's gradient norm between the clouds stays near 1
        assert 2.5 < wasserstein_estimate(d_a, d_b).item() < 6.0
        assert gradient_penalty(critic, a, b).item() < 0.3
    else:
        accuracy = ((d_a > 0).float().mean() + (d_b < 0).float().mean()) / 2
        assert accuracy > 0.97


# ----------------------------------------------------------------------------- l2 pull


def test_l2_pull_value_and_safe_gradient_at_zero():
    h_a = torch.tensor([[3.0, 4.0], [1.0, 1.0]], requires_grad=True)
    h_b = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    loss = l2_pull(h_a, h_b)
    assert loss.item() == pytest.approx(2.5, abs=1e-6)  # mean of 5 and 0
    loss.backward()
    assert torch.isfinite(h_a.grad).all()
    torch.testing.assert_close(h_a.grad[0], torch.tensor([0.3, 0.4]))
    assert h_a.grad[1].abs().max() == 0


def test_l2_pull_of_no_users_is_zero():
    h = torch.zeros(0, 4, requires_grad=True)
    loss = l2_pull(h, h)
    loss.backward()
    assert loss.item() == 0.0


# --- the common scale of critic and l2 pull (losses.joint_normalize) ----------------------


def _lopsided(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(16, 16, generator=g)
    return (torch.randn(n, 16, generator=g) @ mix) * torch.logspace(-2, 1, 16)


@pytest.mark.parametrize("mode", ["standardize", "whiten", "zca"])
def test_joint_normalisation_cannot_be_fooled_by_shrinking_or_shifting(mode):
    a, b = _lopsided(120, 0), _lopsided(80, 1) + 3.0
    za, zb = losses.joint_normalize(a, b, mode)
    # (a tenfold shrink of every GUR; far smaller variances meet the eps of the division)
    sa, sb = losses.joint_normalize(0.1 * a - 5.0, 0.1 * b - 5.0, mode)
    torch.testing.assert_close(torch.cat([za, zb]), torch.cat([sa, sb]), atol=2e-3, rtol=2e-3)
    assert za.shape == a.shape and zb.shape == b.shape


@pytest.mark.parametrize("mode", ["whiten", "zca"])
def test_whitening_modes_give_unit_covariance_without_shrinkage(mode):
    a, b = _lopsided(300, 2), _lopsided(200, 3)
    z = torch.cat(losses.joint_normalize(a, b, mode, shrinkage=0.0))
    cov = torch.cov(z.t(), correction=0)
    torch.testing.assert_close(cov, torch.eye(16), atol=2e-2, rtol=0)


def test_zca_moves_the_data_least_and_equals_standardize_at_full_shrinkage():
    a, b = _lopsided(300, 4), _lopsided(200, 5)
    std = torch.cat(losses.joint_normalize(a, b, "standardize"))
    zca = torch.cat(losses.joint_normalize(a, b, "zca", shrinkage=0.0))
    chol = torch.cat(losses.joint_normalize(a, b, "whiten", shrinkage=0.0))
    # both whiten; the symmetric one stays closer to the standardised input than Cholesky's
    assert (zca - std).norm() < (chol - std).norm()
    torch.testing.assert_close(torch.cat(losses.joint_normalize(a, b, "zca", shrinkage=1.0)), std)


def test_diagonal_shrinkage_target_keeps_each_dimension_scale():
    a, b = _lopsided(300, 6), _lopsided(200, 7)
    std = torch.cat(losses.joint_normalize(a, b, "standardize"))
    diag = torch.cat(losses.joint_normalize(a, b, "whiten", shrinkage=1.0, shrink_to="diagonal"))
    torch.testing.assert_close(diag, std, atol=5e-3, rtol=5e-3)  # up to the n - 1 divisor
    with pytest.raises(ValueError, match="shrink_to"):
        losses.joint_normalize(a, b, "whiten", shrink_to="nope")


def test_inverse_square_root_matches_the_eigendecomposition():
    x = _lopsided(400, 8)
    x = (x - x.mean(0)) / x.std(0, unbiased=False)
    corr = 0.9 * (x.t() @ x / len(x)) + 0.1 * torch.eye(16)
    e, v = torch.linalg.eigh(corr.double())
    expected = (v * e.rsqrt()) @ v.t()
    torch.testing.assert_close(losses.inverse_sqrt_psd(corr).double(), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("mode", ["standardize", "whiten", "zca"])
def test_gradients_flow_through_the_statistics_and_stay_finite(mode):
    h = _lopsided(64, 9).requires_grad_(True)
    za, zb = losses.joint_normalize(h[:32], h[32:], mode)
    (za[:, 0].sum() - zb[:, 1].pow(2).sum()).backward()
    assert torch.isfinite(h.grad).all() and h.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="mode"):
        losses.joint_normalize(h[:32], h[32:], "nope")
