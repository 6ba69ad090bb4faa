"""The three phases of Algorithm 1 as small objects over the training state `t`, a
`trainer.Trainer` (model, critic, optimisers, data, counters, snapshots, phase-3 early-stopping
state), read and written through its public attributes and helpers, never a private name.

Each phase says how many units it has (a unit ends in a checkpoint), how many steps that is,
how to run one unit (yielding a step record per step), what follows a unit and what ends the
phase. `Trainer.run()` is one loop over `PHASES`; nothing else branches on the phase number.

    1 Pretrain      epochs of autoencoder reconstruction          end: the 'before' snapshot
    2 Adversarial   chunks of adv_chunk generator steps (critic)  after a unit: 'during'
                                                                   snapshots; end: 'after'
    3 Finetune      epochs of CDSRec BPR, early stopping on valid  end: best params back,
                                                                   final evaluation
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import numpy as np

from . import adversarial
from .batching import epoch_batches
from .scoring import evaluate


def timed_snapshot(t) -> tuple[dict, dict]:
    """A GUR snapshot of the state now, and its record carrying the seconds it took."""
    t0 = time.perf_counter()
    snap = t.snapshot()
    return snap, t.record({"event": "snapshot"}, time.perf_counter() - t0)


class Phase:
    number: int = 0
    name: str = ""

    def units(self, t) -> int:
        raise NotImplementedError

    def total_steps(self, t) -> int:
        raise NotImplementedError

    def finished(self, t) -> bool:
        """True when the phase has nothing left to do before its last unit (early stopping)."""
        return False

    def run_unit(self, t, rng: np.random.Generator) -> Iterator[dict]:
        raise NotImplementedError

    def after_unit(self, t) -> Iterator[dict]:
        return iter(())

    def end(self, t) -> Iterator[dict]:
        return iter(())


class Pretrain(Phase):
    number, name = 1, "pretrain"

    def units(self, t) -> int:
        return t.cfg.pretrain_epochs

    def total_steps(self, t) -> int:
        return t.cfg.pretrain_epochs * t.steps_per_epoch

    def run_unit(self, t, rng):
        t.model.train()
        steps, batch = t.steps_per_epoch, t.cfg.batch_size
        rows_a = epoch_batches(rng, np.arange(t.data.a.n_users), t.data.a.lengths, steps, batch)
        rows_b = epoch_batches(rng, np.arange(t.data.b.n_users), t.data.b.lengths, steps, batch)
        for i in range(steps):
            t0 = time.perf_counter()
            stats = t.pretrain_step(rows_a[i], rows_b[i])
            yield t.record(
                {
                    "phase_step": t.unit * steps + i + 1,
                    "rec_A": stats["rec_A"],
                    "rec_B": stats["rec_B"],
                    "lr": stats["lr"],
                },
                time.perf_counter() - t0,
            )

    def end(self, t):
        t.snapshots["before"], rec = timed_snapshot(t)
        yield rec


class Adversarial(Phase):
    number, name = 2, "adversarial"

    def units(self, t) -> int:
        return math.ceil(t.cfg.adv_steps / t.cfg.adv_chunk)

    def total_steps(self, t) -> int:
        return t.cfg.adv_steps

    def run_unit(self, t, rng):
        return adversarial.run_unit(t, rng)  # critic and generator steps

    def after_unit(self, t):
        n_units, k = self.units(t), t.cfg.snapshots_during
        if k and t.unit < n_units:  # k 'during' snapshots, evenly spaced between the ends
            marks = {round(n_units * (j + 1) / (k + 1)) for j in range(k)}
            if t.unit in marks:
                snap, rec = timed_snapshot(t)
                t.snapshots["during"].append(snap)
                yield rec

    def end(self, t):
        t.snapshots["after"], rec = timed_snapshot(t)
        yield rec


class Finetune(Phase):
    number, name = 3, "finetune"

    def units(self, t) -> int:
        return t.cfg.finetune_epochs

    def total_steps(self, t) -> int:
        return t.cfg.finetune_epochs * t.ft_steps_per_epoch

    def finished(self, t) -> bool:
        return all(t.ft_state["done"])

    def run_unit(self, t, rng):
        t.model.train()  # the frozen encoder is read through gur_mode: no dropout noise in h
        steps = t.ft_steps_per_epoch
        order = [t.finetune_rows(d) for d in (0, 1)]
        # Other-domain GURs (eq. 2) of the whole epoch, computed once: the encoder is frozen in
        # phase 3; only the item tables drift a little within an epoch.
        cache = t.gur_table()
        batches = [
            epoch_batches(rng, r, t.data.domain(d).lengths, steps, t.cfg.batch_size) if len(r) else None
            for d, r in enumerate(order)
        ]
        for i in range(steps):
            t0 = time.perf_counter()
            rec = {"phase_step": t.unit * steps + i + 1, "lr": t.cfg.ft_lr}
            for domain, key in ((0, "A"), (1, "B")):
                if batches[domain] is None or t.ft_state["done"][domain]:
                    continue
                rec[f"bpr_{key}"] = t.finetune_step(domain, batches[domain][i], cache)
            t.global_step += 1
            yield t.record(rec, time.perf_counter() - t0)
        t.forget_gurs()  # the item tables moved: the next evaluation re-encodes

    def after_unit(self, t):
        """Validation NDCG@10 per domain (on `valid_users` sampled users when set); a domain stops
        after `patience` epochs without a new best and keeps its best CDSRec and item table."""
        t0 = time.perf_counter()
        valid = evaluate(
            t.model, t.batcher, "valid", batch_size=t.cfg.eval_batch, cache=t.gur_table(), rows=t.valid_rows
        )
        st = t.ft_state
        for domain, key in ((0, "A"), (1, "B")):
            if st["done"][domain]:
                continue
            score = valid[key]["NDCG@10"]
            if score > st["best"][domain]:
                st["best"][domain], st["bad"][domain] = score, 0
                st["best_params"][domain] = t.domain_params(domain)
            else:
                st["bad"][domain] += 1
                st["done"][domain] = st["bad"][domain] >= t.cfg.patience
        flat = {f"valid_{m}_{key}": v for key in ("A", "B") for m, v in valid[key].items()}
        yield t.record({"event": "eval", **flat}, time.perf_counter() - t0)

    def end(self, t):
        capped = [key for domain, key in ((0, "A"), (1, "B")) if not t.ft_state["done"][domain]]
        if capped and t.cfg.finetune_epochs and not t.stopping():
            yield t.record(
                {
                    "event": "note",
                    "text": (
                        f"phase 3 stopped on its cap (finetune_epochs={t.cfg.finetune_epochs}) for "
                        f"domain {' and '.join(capped)}, not on early stopping: validation NDCG@10 was "
                        "still improving within the patience; raise finetune_epochs or "
                        "min_finetune_steps"
                    ),
                }
            )
        for domain in (0, 1):
            if t.ft_state["best_params"][domain] is not None:
                t.restore_domain(domain, t.ft_state["best_params"][domain])
        t0 = time.perf_counter()
        bs = t.cfg.eval_batch
        t.forget_gurs()  # the best item tables are back: encode once for all three
        cache = t.gur_table(every_user=True)
        t.metrics = {
            "valid": evaluate(t.model, t.batcher, "valid", batch_size=bs, cache=cache),
            "test": evaluate(t.model, t.batcher, "test", batch_size=bs, cache=cache),
            "test_full": evaluate(t.model, t.batcher, "test", full_ranking=True, batch_size=bs, cache=cache),
        }
        flat = {f"test_{m}_{key}": v for key in ("A", "B") for m, v in t.metrics["test"][key].items()}
        yield t.record({"event": "final_eval", **flat}, time.perf_counter() - t0)


SEQUENCE: tuple[Phase, ...] = (Pretrain(), Adversarial(), Finetune())


# the kinds of work a run's seconds are split into (seconds_by_phase), besides each phase's steps
WORK_KINDS = {
    "critic_warmup": "critic warm-up",
    "eval": "validation",
    "final_eval": "final evaluation",
    "snapshot": "snapshots",
}


def seconds_by_phase(history: list[dict]) -> dict[str, float]:
    """Where a run's seconds went, from its step records: each phase's training steps
    ('pretrain', 'adversarial', 'finetune') and the other work ('critic warm-up', 'validation',
    'final evaluation', 'snapshots'); checkpoint writing and start-up are not in the records."""
    out = {phase.name: 0.0 for phase in SEQUENCE} | dict.fromkeys(WORK_KINDS.values(), 0.0)
    for rec in history:
        seconds = float(rec.get("seconds") or 0.0)
        if "phase_step" in rec and rec.get("phase") in out:
            out[rec["phase"]] += seconds
        elif rec.get("event") in WORK_KINDS:
            out[WORK_KINDS[rec["event"]]] += seconds
    return {k: round(v, 2) for k, v in out.items()}
