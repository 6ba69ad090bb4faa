"""Phase 2 of the trainer: the adversarial multi-task game (paper eq. 13, WGAN-GP critic).

Pure functions over the training state `t` (a `trainer.Trainer`: model, critic, optimisers,
batcher, data, cfg and its public helpers `autocast`, `sample_rows`, `check_finite`,
`optimizer_step`, `record`), so the game reads top to bottom in one place:

    critic_steps     CRITIC_ITERS critic updates on one A and one B batch encoded once
    critic_update    one critic step: loss + gp_weight * penalty, ONE backward (the penalty's
                     graph comes from autograd.grad(create_graph=True), so under torchrun the
                     gradient averaging sees both terms)
    generator_step   one update of embeddings + encoder + decoders, the critic frozen
    warm_up_critic   critic steps on the frozen pre-trained encoder before the first generator step
    run_unit         one unit of phase 2 (`adv_chunk` critic + generator steps), as phases.py runs it

Every step also returns the health statistics of `health.py` (critic accuracy, the penalty's
share of the critic loss, the critic's gradient norm, the GUR variance per dimension), which
`recguru evaluate --health` and the app's GAN-health panel read from the history.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..metrics.spectrum import spectrum_torch
from ..nn import losses
from . import distributed, health
from .batching import host_floats
from .scoring import gur_mode

PAIRS = 2  # Trainer.sample_rows' third population: overlapped users, as indices into data.overlap_a/b


def encode(t, domain: int, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(encoder input, GUR) for the adversarial phase; dropout-free unless adv_dropout."""
    seq = t.batcher.encoder_input(domain, rows)
    if t.cfg.adv_dropout:
        return seq, t.model.encode(domain, seq)
    with gur_mode(t.model):
        return seq, t.model.encode(domain, seq)


def critic_update(t, h_a: torch.Tensor, h_b: torch.Tensor) -> dict:
    """One critic step on fixed GURs h_a (B, d), h_b (B, d); the penalty is taken on the same
    normalised inputs the critic scores."""
    z_a, z_b = normalize(t, h_a.detach().float(), h_b.detach().float())
    d_a, d_b = t.critic(z_a), t.critic(z_b)
    loss = t.critic_loss(d_a, d_b)
    gp = losses.gradient_penalty(t.critic, z_a, z_b) if t.cfg.gp_weight > 0 else torch.zeros(())
    total = loss + t.cfg.gp_weight * gp
    t.opt_dis.zero_grad(set_to_none=True)
    total.backward()
    grad = health.grad_norm(t.critic.parameters())  # before averaging and clipping
    names = ("critic", "gp", "wasserstein", "critic_acc", "gp_share", "critic_grad")
    values = dict(
        zip(
            names,
            host_floats(  # one host sync for every logged value
                loss,
                gp,
                losses.wasserstein_estimate(d_a, d_b),
                health.critic_accuracy(d_a, d_b),
                health.penalty_share(loss, gp, t.cfg.gp_weight),
                grad,
            ),
        )
    )
    t.check_finite(critic=values["critic"], gradient_penalty=values["gp"])
    t.optimizer_step(t.opt_dis)
    return values


def normalize(t, h_a: torch.Tensor, h_b: torch.Tensor, shrinkage: float | None = None):
    """The common scale critic and l2 pull compare GURs on (TrainConfig.adv_norm);
    `shrinkage` overrides adv_shrink (the l2 pull's own, l2_shrink)."""
    return losses.joint_normalize(
        h_a,
        h_b,
        t.cfg.adv_norm,
        var_floor=t.cfg.adv_var_floor,
        shrinkage=t.cfg.adv_shrink if shrinkage is None else shrinkage,
        shrink_to=t.cfg.adv_shrink_to,
        keep_trace=t.cfg.adv_keep_trace,
    )


def critic_steps(t, rng) -> dict:
    """CRITIC_ITERS critic updates. The encoder is fixed while they run, so one fresh A and
    one fresh B batch are encoded once and serve all of them (re-encoding per critic step
    would compute the same function five times; a measured alternative that drew every
    critic batch from a bank of all users' GURs aligned no better, see docs/design.md)."""
    with torch.no_grad(), t.autocast():
        _, h_a = encode(t, 0, t.sample_rows(rng, 0))
        _, h_b = encode(t, 1, t.sample_rows(rng, 1))
    for _ in range(t.cfg.critic_iters):
        stats = critic_update(t, h_a, h_b)
    return stats  # the last critic step's values are logged


def generator_step(t, rng) -> dict:
    """One update of embeddings + encoder + decoders on eq. 13; the critic is frozen.
    The adversarial term and the l2 pull read GURs normalised on the statistics of this
    step's A and B rows together (main batches and the overlapped-user batch)."""
    t.critic.requires_grad_(False)
    use_l2 = t.data.n_overlap > 0 and t.cfg.w_l2 > 0
    with t.autocast():  # the encoder and decoder passes (bf16 where the run uses it) ...
        seq_a, h_a = encode(t, 0, t.sample_rows(rng, 0))
        seq_b, h_b = encode(t, 1, t.sample_rows(rng, 1))
        rec_a = t.model.reconstruction_loss(0, seq_a, h_a)
        rec_b = t.model.reconstruction_loss(1, seq_b, h_b)
        if use_l2:
            # length-bucketed too: a uniform draw over all pairs puts a 100-item user in
            # nearly every batch and pads all rows to it (measured: a ~2x slower step)
            pick = t.sample_rows(rng, PAIRS)
            _, ha_o = encode(t, 0, t.data.overlap_a[pick])
            _, hb_o = encode(t, 1, t.data.overlap_b[pick])
    # ... and the game on the GURs in fp32: whitening a batch covariance in bf16 overflows
    # (measured: the l2 pull was inf at the first generator step under CPU bf16 autocast)
    h_a, h_b = h_a.float(), h_b.float()
    if use_l2:
        both = torch.cat([h_a, ha_o.float()]), torch.cat([h_b, hb_o.float()])
        z_a, z_b = normalize(t, *both)
        n_a, n_b = h_a.size(0), h_b.size(0)
        if t.cfg.l2_shrink >= 0 and t.cfg.l2_shrink != t.cfg.adv_shrink:
            y_a, y_b = normalize(t, *both, shrinkage=t.cfg.l2_shrink)
            l2 = losses.l2_pull(y_a[n_a:], y_b[n_b:])
        else:
            l2 = losses.l2_pull(z_a[n_a:], z_b[n_b:])
        z_a, z_b = z_a[:n_a], z_b[:n_b]
    else:
        z_a, z_b = normalize(t, h_a, h_b)
        l2 = torch.zeros((), device=t.device)
    adv = t.generator_loss(t.critic(z_a), t.critic(z_b))
    cloud = torch.cat([h_a, h_b])  # (2B, d) the raw GURs of this step
    zero = torch.zeros((), device=t.device)
    decor = losses.decorrelation(cloud) if t.cfg.w_decor > 0 else zero
    unif = losses.uniformity(cloud) if t.cfg.w_unif > 0 else zero
    # spread and spectrum of the raw GUR cloud: shrinking it or losing rank fakes alignment
    with torch.no_grad():
        spread = (cloud.std(dim=0).mean(), health.relative_min_variance(cloud), *spectrum_torch(cloud))
    names = (
        "rec_A",
        "rec_B",
        "gen_adv",
        "l2",
        "decor",
        "unif",
        "gur_std",
        "gur_min_var",
        "gur_erank",
        "gur_top3",
    )
    values = dict(zip(names, host_floats(rec_a, rec_b, adv, l2, decor, unif, *spread)))  # 1 sync
    t.check_finite(**{k: values[k] for k in names[:6]})
    loss = (
        t.cfg.w_rec * (rec_a + rec_b)
        + t.cfg.w_adv * adv
        + t.cfg.w_l2 * l2
        + t.cfg.w_decor * decor
        + t.cfg.w_unif * unif
    )
    t.opt_gen.zero_grad(set_to_none=True)
    loss.backward()
    t.optimizer_step(t.opt_gen)
    t.critic.requires_grad_(True)
    for key, weight in (("decor", t.cfg.w_decor), ("unif", t.cfg.w_unif)):
        if not weight:
            del values[key]
    return values


def warm_up_critic(t, rng):
    """`critic_warmup` critic steps on the frozen pre-trained encoder, before any generator
    step. The encoder does not change during them, so every user's GUR is encoded once and
    batches are drawn from that table. Yields a record every 10 steps."""
    with torch.no_grad(), t.autocast():
        with gur_mode(t.model):
            table = [t.batcher.all_gurs(t.model, d) for d in (0, 1)]
    t0 = time.perf_counter()
    B = t.cfg.batch_size
    for k in range(t.cfg.critic_warmup):
        lo = distributed.rank() * B  # this rank's share of W * B shared draws
        pick = [
            torch.from_numpy(rng.integers(0, len(t), B * distributed.world_size())[lo : lo + B]).to(t.device)
            for t in table
        ]
        stats = critic_update(t, table[0][pick[0]], table[1][pick[1]])
        if (k + 1) % 10 == 0 or k + 1 == t.cfg.critic_warmup:
            yield t.record(
                {"event": "critic_warmup", "warmup_step": k + 1, **stats}, time.perf_counter() - t0
            )
            t0 = time.perf_counter()


def run_unit(t, rng):
    t.model.train()
    t.critic.train()
    if t.unit == 0 and t.cfg.critic_warmup:
        yield from warm_up_critic(t, rng)
    first = t.unit * t.cfg.adv_chunk
    for k in range(first, min(first + t.cfg.adv_chunk, t.cfg.adv_steps)):
        t0 = time.perf_counter()
        critic_stats = critic_steps(t, rng)
        gen_stats = generator_step(t, rng)
        t.global_step += 1
        yield t.record(
            {"phase_step": k + 1, **critic_stats, **gen_stats, "lr": t.cfg.adv_lr}, time.perf_counter() - t0
        )
