"""Schedules that follow the data: a preset's phase lengths and batch size, resolved against the
data set it meets (TrainConfig's `min_*` fields), so a 600-user MovieLens split gets as many
updates as a 3,000-user synthetic world instead of three steps an epoch.

    resolve(cfg, data) -> (TrainConfig, notes)

The resolved config holds concrete values (the trainer, the checkpoint and a resume all read
them); resolving it again changes nothing. Each rule only ever raises a length or lowers the
batch size, and is off at 0:

    min_epoch_steps     batch_size shrinks (not below MIN_BATCH) until an epoch of the larger
                        domain has at least this many steps
    min_pretrain_steps  pretrain_epochs grows until phase 1 has at least this many steps
    adv_steps_ratio     adv_steps grows to at least this share of phase 1's steps: the critic
                        game needs time in proportion to how far pre-training moved the encoder
                        (ml-1m pre-trains ~6x longer than ml-100k)
    min_finetune_steps  finetune_epochs (a cap: early stopping still decides) grows until the cap
                        allows at least this many steps
    min_patience_steps  patience (in evaluations) grows until it spans this many steps

`notes` say in words what changed, for the run's history and the CLI.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

MIN_BATCH = 32


def _steps(n_rows: int, batch: int) -> int:
    return max(1, math.ceil(n_rows / batch))


def resolve(cfg, n_users: int, n_ft_rows: int):
    """(resolved TrainConfig, list of notes) for data whose larger domain has n_users users and
    n_ft_rows phase-3 training rows (see the module docstring)."""
    changes: dict = {}
    notes: list[str] = []
    batch = cfg.batch_size
    if cfg.min_epoch_steps and _steps(n_users, batch) < cfg.min_epoch_steps:
        batch = max(min(batch, MIN_BATCH), min(batch, n_users // cfg.min_epoch_steps))
        if batch != cfg.batch_size:
            changes["batch_size"] = batch
            notes.append(
                f"batch_size {cfg.batch_size} -> {batch} so an epoch of {n_users:,} users "
                f"has {_steps(n_users, batch)} steps (min_epoch_steps={cfg.min_epoch_steps})"
            )
    per_epoch = _steps(n_users, batch)
    ft_epoch = _steps(max(n_ft_rows, 1), batch)

    def grow(field: str, rule: str, per_unit: int, what: str) -> int:
        """Raise `field` (counted in units of per_unit steps) to span at least `rule` steps."""
        value, minimum = getattr(cfg, field), getattr(cfg, rule)
        if minimum and value and value * per_unit < minimum:
            changes[field] = math.ceil(minimum / per_unit)
            notes.append(f"{field} {value} -> {changes[field]} ({what}; {rule}={minimum})")
        return changes.get(field, value)

    pre = grow("pretrain_epochs", "min_pretrain_steps", per_epoch, f"{per_epoch} steps an epoch")
    adv = cfg.adv_steps
    if cfg.adv_steps_ratio and adv and adv < math.ceil(cfg.adv_steps_ratio * pre * per_epoch):
        changes["adv_steps"] = math.ceil(cfg.adv_steps_ratio * pre * per_epoch)
        notes.append(
            f"adv_steps {adv} -> {changes['adv_steps']} ({cfg.adv_steps_ratio:g} x the "
            f"{pre * per_epoch} pre-training steps)"
        )
    grow("finetune_epochs", "min_finetune_steps", ft_epoch, f"the cap; {ft_epoch} steps an epoch")
    grow("patience", "min_patience_steps", ft_epoch, f"evaluations of {ft_epoch} steps")
    return (dataclasses.replace(cfg, **changes) if changes else cfg), notes


def finetune_rows(lengths: np.ndarray) -> np.ndarray:
    """The users phase 3 trains on, from a domain's history lengths (validation and test items
    included): those with >= 2 items before their cut (the Trainer's rule, defined here)."""
    return np.flatnonzero(lengths - 2 >= 2)


def data_sizes(data) -> tuple[int, int]:
    """(users of the larger domain, phase-3 training rows of the larger domain) of a
    CrossDomainData, as the trainer counts them."""
    n_users = max(data.a.n_users, data.b.n_users)
    n_ft = max(len(finetune_rows(data.domain(d).lengths)) for d in (0, 1))
    return n_users, n_ft


def validation_rows(n_users: tuple[int, int], n: int, seed: int) -> list[np.ndarray] | None:
    """Phase 3's per-epoch validation users (TrainConfig.valid_users): a fixed seeded sample of
    at most n rows per domain, sorted; None (every user) when n is 0 or covers both domains."""
    if n <= 0 or max(n_users) <= n:
        return None
    rng = np.random.default_rng([seed, 3, 1])
    return [np.sort(rng.choice(u, size=min(n, u), replace=False)) for u in n_users]
