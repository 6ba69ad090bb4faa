"""Three-phase RecGURU training (paper Algorithm 1) as an iterator of step records.

    phase 1  pretrain   autoencoders of both domains, eq. 5, Adam + warm-up/inverse-sqrt (Noam)
    phase 2  adversarial CRITIC_ITERS critic steps, then one generator step minimising
                         w_rec (L_rec(A) + L_rec(B)) + w_adv L_gen_adv + w_l2 L_l2   (eq. 13)
    phase 3  finetune   CDSRec of each domain with BPR (eq. 12); model selection on validation
                         NDCG@10 per domain, early stopping with `patience`

`Trainer.run()` yields one flat dict per step (and per evaluation); it never prints. The CLI
draws progress bars from the records, the app feeds them to its charts. Work is cut into units
(one epoch of phase 1 or 3, `adv_chunk` generator steps of phase 2); every unit starts from
its own seed derived from (seed, phase, unit), and a checkpoint is written after each unit, so a
run killed at any point resumes from the last unit boundary and ends bit-identical on CPU to an
uninterrupted run.

Several processes (`torchrun`, see distributed.py): each rank trains on its own slice of every
epoch's batch plan (phases 1 and 3; phase 2 draws W batches per step from one shared stream and
keeps its own), gradients are averaged before every optimiser step, evaluation is sharded and
all-gathered, and only rank 0 writes checkpoints and snapshots. In one process every helper of
distributed.py is the identity, so a 1-process run is unchanged bit for bit.

No leakage (how it is ensured):
 - Training only reads each user's training history seq[:-2]; validation/test items are never
   inputs of any loss (`DomainData.history_end`).
 - Phase 3: for each training user a cut c is drawn; the GUR is encoded from seq[:c] only and
   the recommender is trained only on targets at positions >= c, so the GUR never contains the
   item being predicted or a later one. CDSRec attention is causal.
 - At evaluation the GUR and the recommender both read the history before the target only
   (valid: seq[:-2]; test: seq[:-1]). The other domain's GUR (eq. 2, overlapped users) is
   always encoded from that domain's training history seq[:-2], never its held-out items.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from ..common.config import TrainConfig
from ..common.errors import RecGuruError
from ..common.memory import check_training_fits
from ..data.domains import CrossDomainData, data_from_state, data_to_state
from ..nn import losses
from ..nn.model import Discriminator, ModelConfig, RecGURU
from . import adversarial, distributed, schedule
from .batching import Batcher, host_floats
from .phases import SEQUENCE
from .scoring import evaluate, gur_mode, score_rows, user_memory
from .snapshots import gur_snapshot, snapshot_sample

__all__ = [
    "PHASES",
    "PHASE_NUMBERS",
    "Batcher",
    "TrainConfig",
    "Trainer",
    "evaluate",
    "gur_mode",
    "noam_lr",
    "resolve_device",
    "score_rows",
    "user_memory",
]

PHASES = {phase.number: phase.name for phase in SEQUENCE}  # 1: "pretrain", ...
PHASE_NUMBERS = {name: number for number, name in PHASES.items()}


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name not in ("cpu", "cuda", "mps") and not name.startswith("cuda:"):
        raise RecGuruError(f"device {name!r}: expected auto, cpu, cuda or mps")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RecGuruError(f"device {name!r} requested but CUDA is not available")
    return torch.device(name)


def bf16_autocast(device: torch.device, *, cuda: bool, cpu: bool) -> bool:
    """Whether training steps run under bf16 autocast on `device`: CUDA when `cuda`; a CPU when
    `cpu` and it has native bf16 matmuls (otherwise bf16 is emulated and slower than fp32)."""
    if device.type == "cuda":
        return cuda
    if device.type == "cpu" and cpu:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def noam_lr(step: int, *, d_model: int, warmup: int, factor: float) -> float:
    """Warm-up then inverse square root (Vaswani et al.; the supplement's wrapped Adam)."""
    step = max(step, 1)
    return factor * d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)


def _unit_seed(seed: int, phase: int, unit: int) -> int:
    return int(np.random.SeedSequence([seed, phase, unit]).generate_state(1)[0])


# --------------------------------------------------------------------------- the trainer


class Trainer:
    """The training state (model, critic, optimisers, data, counters, snapshots, phase-3
    early-stopping state) and `run()`, the one loop over the phases of phases.py, which yields
    step records. The phases read and write this state through its public attributes and
    helpers; none touches a private name."""

    def __init__(
        self,
        data: CrossDomainData,
        model_cfg: ModelConfig,
        cfg: TrainConfig,
        *,
        save: Callable[[dict], None] | None = None,
        stop: threading.Event | None = None,
        extra: dict | None = None,
    ):
        """save: called with `state_dict()` after every unit (checkpoints.checkpoint_writer
        writes it to a file; None keeps the run in memory)."""
        # what was asked (saved: a resume resolves it again, identically) and what runs
        self.asked_cfg = cfg
        cfg, self.schedule_notes = schedule.resolve(cfg, *schedule.data_sizes(data))
        self.data, self.model_cfg, self.cfg = data, model_cfg, cfg
        self._save = save
        self.stop = stop or threading.Event()
        self.extra = extra or {}  # e.g. preprocessing config, written into the checkpoint
        if cfg.world_size != distributed.world_size():  # the plans below are cut per rank
            raise RecGuruError(
                f"train config world_size={cfg.world_size}, but this launch has "
                f"{distributed.world_size()} process(es)"
            )
        self.device = resolve_device(cfg.device)
        self.bf16 = bf16_autocast(self.device, cuda=cfg.amp, cpu=cfg.amp_cpu)
        self._own_rng = np.random.default_rng(cfg.seed)  # run() reseeds it per unit
        check_training_fits(model_cfg, cfg, data, self.device)  # refuse before allocating
        if distributed.world_size() > 1:  # ranks must train on the same data (one all-gather)
            from ..data.fingerprint import data_fingerprint

            distributed.check_same_data(data_fingerprint(data_to_state(data)))
        torch.manual_seed(cfg.seed)
        self.model = RecGURU(config=model_cfg).to(self.device)
        self.critic = Discriminator.from_config(model_cfg).to(self.device)
        self.batcher = Batcher(data, model_cfg, self.device)
        groups = self.model.parameter_groups()
        guru = groups["embeddings"] + groups["encoder"] + groups["decoders"]
        self.opt_pre = torch.optim.Adam(guru, lr=1.0, betas=(0.9, 0.98), eps=1e-9)
        self.opt_gen = torch.optim.Adam(guru, lr=cfg.adv_lr, betas=(cfg.adv_beta1, cfg.adv_beta2), eps=1e-8)
        self.opt_dis = torch.optim.Adam(
            self.critic.parameters(), lr=cfg.critic_lr, betas=(cfg.adv_beta1, cfg.adv_beta2), eps=1e-8
        )
        self.opt_ft = [
            torch.optim.Adam(
                self._finetune_params(d), lr=cfg.ft_lr, betas=(cfg.ft_beta1, cfg.ft_beta2), eps=1e-8
            )
            for d in (0, 1)
        ]
        # The adversarial losses are chosen once, here, not by string every step.
        if cfg.critic == "wgan-gp":
            self.critic_loss, self.generator_loss = losses.critic_loss_wgan, losses.generator_loss_wgan
        else:
            self.critic_loss, self.generator_loss = losses.critic_loss_bce, losses.generator_loss_bce
        self.phase, self.unit, self.global_step = 1, 0, 0
        self.history: list[dict] = []
        self.snapshots: dict[str, Any] = {"during": []}
        self.metrics: dict[str, Any] = {}
        self.ft_state = {
            "best": [-1.0, -1.0],
            "bad": [0, 0],
            "done": [False, False],
            "best_params": [None, None],
        }
        self.sample = snapshot_sample(data, cfg.snapshot_users, cfg.seed)
        # phase 3's per-epoch validation users (None: all); the final metrics use every user
        self.valid_rows = schedule.validation_rows(
            (data.a.n_users, data.b.n_users), cfg.valid_users, cfg.seed
        )
        self.elapsed = 0.0
        self._gur_cache: list[torch.Tensor] | None = None
        self._gur_partial = False  # the cache holds only the rows an epoch reads
        # Length buckets of domain A users, domain B users and (index PAIRS) overlapped pairs,
        # the pairs bucketed by their summed length, for the l2 pull's batches.
        self._buckets, self._bucket_p = [], []
        pair_length = data.a.lengths[data.overlap_a] + data.b.lengths[data.overlap_b]
        for lengths in (data.a.lengths, data.b.lengths, pair_length):
            by_length = np.argsort(lengths, kind="stable")
            # About one batch's worth of users per bucket (at most 16 buckets): a batch is drawn
            # with replacement inside one bucket, so every user stays equally likely, and a
            # coarse top bucket would pad every batch in it to max_len (measured: 2 buckets on
            # the synthetic default made a phase-2 step ~3x the cost of a phase-1 step).
            n_buckets = max(1, min(cfg.adv_buckets, len(by_length) // cfg.batch_size))
            self._buckets.append(np.array_split(by_length, n_buckets))
            sizes = np.array([len(b) for b in self._buckets[-1]], dtype=np.float64)
            self._bucket_p.append(sizes / max(sizes.sum(), 1.0))
        if cfg.compile:
            self.model.encoder.compile()
            for m in list(self.model.decoders) + list(self.model.cdsrec):
                m.compile()

    def _finetune_params(self, domain: int) -> list[torch.nn.Parameter]:
        """Phase 3 trains one domain's item table and CDSRec. Parameters shared by the two
        domains (the shared [eos] vector and position table) are left out: they belong to the
        frozen GURU encoder's input, and two optimisers stepping one tensor would each undo
        the other's moments."""
        shared = {id(p) for p in self.model.embeddings[0].parameters()} & {
            id(p) for p in self.model.embeddings[1].parameters()
        }
        own = [p for p in self.model.embeddings[domain].parameters() if id(p) not in shared]
        return own + list(self.model.cdsrec[domain].parameters())

    # -- sizes ------------------------------------------------------------------------------
    @property
    def steps_per_epoch(self) -> int:
        """Steps of one rank per epoch: the 1-process count split across ranks (floor)."""
        n = max(self.data.a.n_users, self.data.b.n_users)
        return distributed.local_steps(max(1, math.ceil(n / self.cfg.batch_size)))

    def finetune_rows(self, domain: int) -> np.ndarray:
        """The rows of a domain phase 3 trains on (users with enough history)."""
        return schedule.finetune_rows(self.data.domain(domain).lengths)

    @property
    def ft_steps_per_epoch(self) -> int:
        n = max(len(self.finetune_rows(0)), len(self.finetune_rows(1)), 1)
        return distributed.local_steps(max(1, math.ceil(n / self.cfg.batch_size)))

    def phase_totals(self) -> dict[int, int]:
        return {phase.number: phase.total_steps(self) for phase in SEQUENCE}

    def autocast(self):
        """bf16 autocast where the run asked for it and the device has bf16 matmuls (`bf16`)."""
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> Iterator[dict]:
        """Run (or continue) all phases; yields records; writes checkpoints after every unit."""
        totals = self.phase_totals()
        distributed.broadcast_parameters([self.model, self.critic])
        if self.phase == 1 and self.unit == 0:
            for text in self.schedule_notes:  # what schedule.resolve changed, said once
                yield self.record({"event": "note", "text": "schedule: " + text})
        for phase in SEQUENCE[self.phase - 1 :]:
            if self.unit == 0:
                yield self.record({"event": "phase_start", "total": totals[phase.number]})
            while self.unit < phase.units(self) and not phase.finished(self):
                if self.stopping():  # asked during an evaluation, a snapshot or a save
                    yield self.record({"event": "cancelled"})
                    return
                seed = _unit_seed(self.cfg.seed, phase.number, self.unit)
                # rng: the batch plan, alike on every rank; torch's and _own_rng: this rank's
                # own draws (dropout, negatives, penalty mixes, phase-3 cuts)
                torch.manual_seed(distributed.rank_seed(seed))
                rng = np.random.default_rng(seed)
                self._own_rng = (
                    rng
                    if distributed.world_size() == 1
                    else np.random.default_rng(distributed.rank_seed(seed))
                )
                for rec in phase.run_unit(self, rng):
                    yield rec
                    if self.stopping():
                        break
                if self.stopping():
                    # The unfinished unit is discarded: resume restarts it from its seed.
                    yield self.record({"event": "cancelled"})
                    return
                self.unit += 1
                yield from phase.after_unit(self)
                self.save()
            yield from phase.end(self)
            self.phase, self.unit = phase.number + 1, 0
            self.save()
        distributed.check_in_sync([self.model, self.critic])
        yield self.record({"event": "done"})

    def stopping(self) -> bool:
        """The stop request, agreed by all ranks (a rank stopping alone would hang the rest)."""
        if distributed.any_flag(self.stop.is_set()):
            self.stop.set()
        return self.stop.is_set()

    def optimizer_step(self, opt: torch.optim.Optimizer) -> None:
        """optimizer.step() on gradients averaged over ranks, clipped to grad_clip (0: off)."""
        params = [p for g in opt.param_groups for p in g["params"]]
        distributed.average_gradients(params)
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        opt.step()

    def record(self, values: dict, seconds: float = 0.0) -> dict:
        self.elapsed += seconds
        rec = {
            "phase": PHASES.get(self.phase, "done"),
            "step": self.global_step,
            "seconds": seconds,
            "elapsed": self.elapsed,
            **values,
        }
        if values.get("event") not in ("cancelled", "done"):
            self.history.append(rec)  # steps, evaluations, snapshots and phase starts
        return rec

    # -- phase 1 --------------------------------------------------------------------------------
    def pretrain_step(self, rows_a: np.ndarray, rows_b: np.ndarray) -> dict:
        """One phase-1 step on a batch of A rows and one of B rows, exactly as the run takes it
        (Noam learning rate, optional decorrelation, finiteness check, gradient all-reduce and
        clipping): {"rec_A", "rec_B", "lr", "tokens"}. Public so benchmarks time the real step."""
        lr = noam_lr(
            self.global_step + 1,
            d_model=self.model_cfg.d_model,
            warmup=self.cfg.warmup_steps,
            factor=self.cfg.noam_factor,
        )
        for group in self.opt_pre.param_groups:
            group["lr"] = lr
        tokens = 0
        with self.autocast():
            rec, gurs = [], []
            for domain, rows in ((0, rows_a), (1, rows_b)):
                seq = self.batcher.encoder_input(domain, rows)  # (B, L)
                tokens += seq.numel()
                gurs.append(self.model.encode(domain, seq))  # (B, d)
                rec.append(self.model.reconstruction_loss(domain, seq, gurs[-1]))
            # optional: keep the autoencoder's GUR from living in a few directions
            decor = losses.decorrelation(torch.cat(gurs)) if self.cfg.pre_decor > 0 else None
        rec_a, rec_b = host_floats(*rec)  # the step's one host sync
        self.check_finite(rec_A=rec_a, rec_B=rec_b)
        self.opt_pre.zero_grad(set_to_none=True)
        (rec[0] + rec[1] + (0.0 if decor is None else self.cfg.pre_decor * decor)).backward()
        self.optimizer_step(self.opt_pre)
        self.global_step += 1
        return {"rec_A": rec_a, "rec_B": rec_b, "lr": lr, "tokens": tokens}

    # -- phase 2 --------------------------------------------------------------------------------
    def sample_rows(self, rng, which: int) -> np.ndarray:
        """B rows of one population for an adversarial step (0: users of A, 1: users of B,
        PAIRS: overlapped pairs): a length bucket is drawn with probability proportional to its
        size, then B rows uniformly inside it, so every row is equally likely overall while a
        batch carries little padding. With W ranks, W batches are drawn from the shared `rng`
        and each rank keeps its own (all ranks' generators stay in step)."""
        buckets = self._buckets[which]
        picks = [
            buckets[k][rng.integers(0, len(buckets[k]), self.cfg.batch_size)]
            for k in (
                rng.choice(len(buckets), p=self._bucket_p[which]) for _ in range(distributed.world_size())
            )
        ]
        return picks[distributed.rank()]

    def critic_steps(self, rng) -> dict:
        """critic_iters critic updates on one fresh A and B batch (adversarial.critic_steps).
        Public so benchmarks time the real step."""
        return adversarial.critic_steps(self, rng)

    def generator_step(self, rng) -> dict:
        """One generator update on eq. 13 (adversarial.generator_step). Public so benchmarks time
        the real step."""
        return adversarial.generator_step(self, rng)

    def check_finite(self, **values: torch.Tensor) -> None:
        """Stop with one clear line when a loss is NaN or inf (a diverged run must not go on to
        write NaN weights or report metrics). The last completed unit's checkpoint is kept."""
        for name, value in values.items():
            v = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
            if not math.isfinite(v):
                raise RecGuruError(
                    f"training diverged: loss {name} = {v} in phase {self.phase} "
                    f"({PHASES[self.phase]}) at step {self.global_step + 1}; lower the learning "
                    "rate or the loss weights and retrain (the last completed unit's checkpoint "
                    "is kept)"
                )

    # -- phase 3 --------------------------------------------------------------------------------
    def gur_table(self, every_user: bool = False) -> list[torch.Tensor] | None:
        """Users' GURs in both domains from the training history (dropout-free), or None for
        SeqRec. The encoder is frozen in phase 3 and only the item tables drift, so the table of
        the previous evaluation is exactly the one the next epoch would compute: it is kept.

        While phase 3 validates on a sample (`valid_rows`), an epoch reads only the overlapped
        users' GURs (the other-domain slot of eq. 2) and the sampled users' own: only those rows
        are encoded (the rest are NaN, so a stray read shows). `every_user` asks for all rows
        (the final evaluation, the benchmark's scoring)."""
        if not self.model_cfg.use_gur:
            return None
        if self._gur_cache is None or (every_user and self._gur_partial):
            rows = None if every_user or self.valid_rows is None else self._epoch_gur_rows()
            with self.autocast(), gur_mode(self.model):
                self._gur_cache = [
                    self.batcher.all_gurs(self.model, d, rows=None if rows is None else rows[d])
                    for d in (0, 1)
                ]
            self._gur_partial = rows is not None
        return self._gur_cache

    def _epoch_gur_rows(self) -> list[np.ndarray]:
        overlap = (self.data.overlap_a, self.data.overlap_b)
        return [np.union1d(overlap[d], self.valid_rows[d]) for d in (0, 1)]

    def forget_gurs(self) -> None:
        """The item tables moved (or the best ones are back): the next gur_table() re-encodes."""
        self._gur_cache = None

    def finetune_step(self, domain: int, rows: np.ndarray, cache: list | None) -> float:
        """One phase-3 BPR step of one domain's CDSRec on `rows` (rows of `finetune_rows`),
        with the run's checks, all-reduce and clipping; `cache` is `gur_table()`. Returns the
        loss. Public so benchmarks time the real step."""
        loss = self._bpr_loss(domain, rows, self._own_rng, cache)
        self.check_finite(**{f"bpr_{'AB'[domain]}": loss})
        self.opt_ft[domain].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer_step(self.opt_ft[domain])
        return loss.item()

    def _bpr_loss(self, domain: int, rows: np.ndarray, rng, cache) -> torch.Tensor:
        gur_input, hist, target, train_on = self.batcher.finetune_batch(domain, rows, rng)
        with self.autocast():
            with torch.no_grad():  # the GUR is an input here: phase 3 trains CDSRec only
                memory, mask = user_memory(
                    self.model, self.batcher, domain, rows, own_input=gur_input, cache=cache
                )
            q = self.model.cdsrec_hidden(domain, hist, memory, mask)  # (B, W, d)
            q, target = q[train_on], target[train_on]  # (N, d), (N,)
            n_items = self.model_cfg.n_items(domain)
            neg = losses.sample_negatives(target, n_negatives=self.cfg.bpr_negatives, n_items=n_items)
            pos_scores = self.model.score_items(domain, q, target[:, None]).squeeze(-1)
            neg_scores = self.model.score_items(domain, q, neg)
            return losses.bpr_loss(pos_scores.float(), neg_scores.float())

    def domain_params(self, domain: int) -> dict:
        return {
            "embeddings": copy.deepcopy(self.model.embeddings[domain].state_dict()),
            "cdsrec": copy.deepcopy(self.model.cdsrec[domain].state_dict()),
        }

    def restore_domain(self, domain: int, params: dict) -> None:
        self.model.embeddings[domain].load_state_dict(params["embeddings"])
        self.model.cdsrec[domain].load_state_dict(params["cdsrec"])

    # -- unit and phase boundaries ----------------------------------------------------------------
    def snapshot(self) -> dict:
        """A GUR snapshot, taken on rank 0 only: only rank 0 writes the checkpoint."""
        if not distributed.is_main():
            return {}
        return gur_snapshot(self.model, self.batcher, self.sample, self.global_step)

    # -- state ----------------------------------------------------------------------------------
    # The loop owns its state (nanoGPT's train.py is the model): state_dict() is everything a
    # checkpoint holds but the file header, load_state_dict() puts a fresh Trainer exactly where
    # it left off. checkpoints.py turns the dict into a file and back.
    def state_dict(self) -> dict:
        finished = self.phase > 3
        resolved = self._resolved()
        return {
            "status": "complete" if finished else "in_progress",
            # config.train: the settings asked for; extra["schedule"]: the values schedule.py
            # resolved them to on this data (what ran), where they differ
            "config": {
                "model": self.model_cfg.to_dict(),
                "train": self.asked_cfg.to_dict(),
                "data": self.data.a.cfg.to_dict(),
                "extra": {**self.extra, **({"schedule": resolved} if resolved else {})},
            },
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "discriminator": {k: v.detach().cpu() for k, v in self.critic.state_dict().items()},
            "data": data_to_state(self.data),
            "history": list(self.history),
            "snapshots": self.snapshots,
            "metrics": self.metrics,
            # A finished run needs no optimiser state (that halves the file); an unfinished one
            # carries everything a resume needs.
            "resume": None
            if finished
            else {
                "phase": self.phase,
                "unit": self.unit,
                "global_step": self.global_step,
                "elapsed": self.elapsed,
                "optimizers": {
                    "pre": self.opt_pre.state_dict(),
                    "gen": self.opt_gen.state_dict(),
                    "dis": self.opt_dis.state_dict(),
                    "ft_A": self.opt_ft[0].state_dict(),
                    "ft_B": self.opt_ft[1].state_dict(),
                },
                "finetune": self.ft_state,
            },
        }

    def _resolved(self) -> dict:
        """The train settings schedule.resolve changed: {field: value that runs}."""
        asked = self.asked_cfg.to_dict()
        return {k: v for k, v in self.cfg.to_dict().items() if asked[k] != v}

    def load_state_dict(self, state: dict) -> None:
        """Weights, optimisers, progress, history and snapshots of a saved run."""
        self.model.load_state_dict(state["model"])
        self.critic.load_state_dict(state["discriminator"])
        r = state.get("resume") or {}
        if r:
            opts = r["optimizers"]
            self.opt_pre.load_state_dict(opts["pre"])
            self.opt_gen.load_state_dict(opts["gen"])
            self.opt_dis.load_state_dict(opts["dis"])
            self.opt_ft[0].load_state_dict(opts["ft_A"])
            self.opt_ft[1].load_state_dict(opts["ft_B"])
            self.phase, self.unit = int(r["phase"]), int(r["unit"])
            self.global_step, self.elapsed = int(r["global_step"]), float(r["elapsed"])
            self.ft_state = r["finetune"]
        elif state.get("status") == "complete":
            self.phase, self.unit = 4, 0  # nothing left to run
        self.history = list(state.get("history") or [])
        self.snapshots = dict(state.get("snapshots") or {"during": []})
        self.snapshots.setdefault("during", [])
        self.metrics = dict(state.get("metrics") or {})

    @classmethod
    def from_state(
        cls,
        state: dict,
        *,
        device: str | None = None,
        save: Callable[[dict], None] | None = None,
        stop: threading.Event | None = None,
    ) -> Trainer:
        """A Trainer rebuilt from a state_dict (e.g. a checkpoint) and positioned where it left off."""
        train = {
            **state["config"]["train"],
            **({"device": device} if device else {}),
            "world_size": distributed.world_size(),
        }  # the launch's size (resume may change it)
        trainer = cls(
            data_from_state(state["data"]),
            ModelConfig.from_dict(state["config"]["model"]),
            TrainConfig.from_dict(train),
            save=save,
            stop=stop,
            extra=state["config"].get("extra", {}),
        )
        trainer.load_state_dict(state)
        return trainer

    def save(self) -> None:
        """Rank 0 writes; the other ranks wait until the file is complete."""
        if self._save is not None:
            if distributed.is_main():
                self._save(self.state_dict())
            distributed.barrier()
