"""The RecGURU family behind the `Recommender` contract: the paper's Table-3 ablation ladder.

    seqrec          CDSRec alone: no autoencoder, no GUR (zero memory)      Table 3 "SeqRec"
    autorec         + a GUR from an autoencoder of the target domain only   "+Auto" (AutoRec)
                      (one encoder per domain, no adversarial phase, no l2, CDSRec attends to the
                      own-domain GUR only)
    recguru_noadv   RecGURU with w_adv = 0: shared encoder + l2 pull + phase 2 of reconstruction,
                      so what the adversarial term adds can be told from what sharing adds
    recguru         the full model                                          "+GURU"

All four are the project's one `Trainer` with settings on top of the chosen preset, so they
share data, split, candidates, architecture, optimisers and phase-3 model selection (validation
NDCG@10); only the named switches differ. With `out`, the trainer writes its checkpoint there
(atomically, after every unit), which is the checkpoint the benchmark attaches baselines to.
"""

from __future__ import annotations

import numpy as np
import torch

from ..common.config import TrainConfig
from ..data.domains import CrossDomainData
from ..nn.model import ModelConfig
from ..train.checkpoints import checkpoint_writer
from ..train.phases import seconds_by_phase
from ..train.runs import split_overrides
from ..train.scoring import score_rows
from ..train.trainer import PHASE_NUMBERS, Trainer
from .recommender import FitProgress


class _TrainerModel:
    """Fit = run the three-phase trainer with this variant's settings; score = CDSRec scores."""

    name = ""
    variant: dict = {}

    def __init__(
        self, *, preset: str = "quick", overrides: dict | None = None, out: str | None = None
    ) -> None:
        # The variant's switches win over user overrides: "autorec" with w_l2=1 would not be AutoRec.
        self.preset, self.out = preset, out
        self.overrides = {**(overrides or {}), **self.variant}
        split_overrides(preset, self.overrides)  # fail fast on a bad key, before any data work
        self.trainer: Trainer | None = None
        self._cache: list[torch.Tensor] | None = None

    def fit(
        self, data: CrossDomainData, *, device: torch.device, seed: int, progress: FitProgress | None = None
    ) -> None:
        model_over, train_over = split_overrides(self.preset, self.overrides)
        model_cfg = ModelConfig(n_items_a=data.a.n_items, n_items_b=data.b.n_items, **model_over)
        train_cfg = TrainConfig(**{**train_over, "seed": seed, "device": str(device)})
        extra = {
            "source": data.source,
            "preset": self.preset,
            "model": self.name,
            "overrides": {k: str(v) for k, v in self.overrides.items()},
        }
        self.trainer = Trainer(data, model_cfg, train_cfg, save=checkpoint_writer(self.out), extra=extra)
        totals = self.trainer.phase_totals()
        total = sum(totals.values())
        for rec in self.trainer.run():
            if progress is not None and "phase_step" in rec and rec["phase"] in PHASE_NUMBERS:
                phase = PHASE_NUMBERS[rec["phase"]]
                done = sum(totals[p] for p in range(1, phase)) + int(rec["phase_step"])
                progress(min(done, total), total, f"phase {phase} {rec['phase']}")
        self.trainer.model.eval()
        self._cache = self.trainer.gur_table(every_user=True)

    def phase_seconds(self) -> dict[str, float]:
        """The fit's seconds by phase and kind of work (phases.seconds_by_phase)."""
        return seconds_by_phase(self.trainer.history) if self.trainer is not None else {}

    def score(
        self, domain: int, rows: np.ndarray, split: str, candidates: torch.Tensor | None
    ) -> torch.Tensor:
        if self.trainer is None:
            raise RuntimeError(f"{self.name}: score() before fit()")
        return score_rows(
            self.trainer.model, self.trainer.batcher, domain, np.asarray(rows), split, candidates, self._cache
        ).float()


class SeqRec(_TrainerModel):
    name = "seqrec"
    variant = {"use_gur": False, "pretrain_epochs": 0, "adv_steps": 0, "critic_warmup": 0}


class AutoRec(_TrainerModel):
    name = "autorec"
    variant = {
        "shared_encoder": False,
        "shared_eos_position": False,
        "attend_both_gurs": False,
        "adv_steps": 0,
        "critic_warmup": 0,
        "w_l2": 0.0,
        "w_adv": 0.0,
    }


class RecGURUNoAdv(_TrainerModel):
    name = "recguru_noadv"
    variant = {"w_adv": 0.0}


class RecGURUModel(_TrainerModel):
    name = "recguru"
    variant: dict = {}
