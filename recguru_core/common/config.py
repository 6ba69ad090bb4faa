"""One policy for every typed config, and the training config with its presets.

Every config is a frozen dataclass (ModelConfig in model.py, next to the model it builds;
DataConfig, PreprocessConfig, SyntheticConfig next to their code; TrainConfig here) and goes
through the same three functions:

    parse_key_values   "a=1,b=2" or ["a=1", "b=2"] -> {"a": "1", "b": "2"}: the one key=value
                       parser (CLI overrides, source-spec options, synthetic keys)
    convert            text -> the type of the field's default (bool / int / float / str)
    config_from_dict   strict: an unknown key is a one-line error naming it and the valid keys;
                       a missing required field too. Absent optional fields take defaults,
                       so checkpoints written before a field existed still load.

PRESETS are the named schedules the CLI and the Train page offer (the page reads its
defaults from here through ui/store.py, never from literals of its own); PRESET_SOURCES the
default data of a preset that was sized for one (the Train page pre-fills it).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import RecGuruError

C = TypeVar("C")


def parse_key_values(
    items: str | Iterable[str], where: str, *, error: type[RecGuruError] = RecGuruError
) -> dict[str, str]:
    """'k=v,k2=v2' (or a list of 'k=v') -> {k: v} with keys stripped and lower-cased."""
    tokens = items.split(",") if isinstance(items, str) else list(items)
    out: dict[str, str] = {}
    for token in (t.strip() for t in tokens):
        if not token:
            continue
        key, sep, value = token.partition("=")
        if not sep or not key.strip():
            raise error(f"{where} {token!r}: expected key=value")
        out[key.strip().lower().replace("-", "_")] = value.strip()
    return out


def convert(
    key: str, value: Any, default: Any, where: str, *, error: type[RecGuruError] = RecGuruError
) -> Any:
    """A value that arrives as text (CLI, spec, URL) in the type of the field's default.
    Non-text values pass through unchanged (their dataclass validates them)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if isinstance(default, bool):
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)  # range and finiteness: the dataclass's own checks
    except ValueError:
        raise error(f"{where} {key}={value!r}: expected {type(default).__name__}") from None
    return text


def config_from_dict(
    cls: type[C], values: dict, where: str, *, error: type[RecGuruError] = RecGuruError
) -> C:
    """cls(**values), strictly: unknown keys and missing required fields are one-line errors."""
    if not isinstance(values, dict):
        raise error(f"{where}: expected a mapping of settings, got {type(values).__name__}")
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise error(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; valid: {', '.join(names)}")
    missing = sorted(
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
        and f.name not in values
    )
    if missing:
        raise error(f"{where}: missing field(s) {', '.join(missing)}")
    return cls(**values)


# ----------------------------------------------------------------------------- training

CRITICS = ("wgan-gp", "bce")
# how critic and l2 pull see the joint A+B GUR batch (nn.losses.joint_normalize implements them)
ADV_NORMALIZATIONS = ("whiten", "zca", "standardize", "none")


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    device: str = "auto"  # auto -> cuda, then mps, then cpu
    batch_size: int = 256
    # phase 1: autoencoder pre-training with the Noam schedule of the supplement (6.1.3)
    pretrain_epochs: int = 6
    warmup_steps: int = 200
    noam_factor: float = 1.0
    # weight of the decorrelation term (losses.decorrelation) on each phase-1 GUR batch: the
    # autoencoder's GUR on MovieLens keeps ~96 % of its variance in 3 directions without it
    pre_decor: float = 0.0
    # phase 2: adversarial multi-task training. The defaults are the recipe of the alignment
    # study (docs/design.md, benchmarks/adversarial_sweep.py); the paper's/authors' values are
    # adv_lr=critic_lr=1e-4, adv_norm=none, adv_dropout=true, critic_warmup=0.
    adv_steps: int = 300  # generator steps
    critic_iters: int = 5  # CRITIC_ITERS
    adv_lr: float = 5e-4  # generator (embeddings + encoder + decoders)
    critic_lr: float = 1e-3
    adv_beta1: float = 0.5
    adv_beta2: float = 0.9
    critic: str = "wgan-gp"  # or "bce" (eq. 8)
    # Critic and l2 compare GURs on the joint A+B batch statistics (losses.joint_normalize):
    # "zca" (standardise, then decorrelate with the shrunk correlation's inverse square root),
    # "standardize", "whiten" (Cholesky) or "none" (raw GUR space, where shrinking the GURs fakes
    # alignment: measured, the GUR spread fell 0.98 -> 0.07 in 100 steps and the AUC stayed 0.87).
    # zca with shrinkage 0.6 is the one setting of the study that aligns both the synthetic world
    # and MovieLens (3 seeds each, mean AUC after phase 2 0.628 / 0.618; standardize 0.637 /
    # 0.743): docs/design.md, "One recipe for both?".
    adv_norm: str = "zca"
    # standardize only: shrink each dimension's variance towards the mean variance by this share
    # before dividing
    adv_var_floor: float = 0.0
    # zca and whiten: covariance (zca: correlation) shrinkage share and target ("isotropic": the
    # mean variance on every direction; "diagonal": each dimension's own variance, so 1.0 equals
    # standardize). The whiten figures of the study were measured at 0.1.
    adv_shrink: float = 0.6
    adv_shrink_to: str = "isotropic"
    # zca / whiten / standardize: rescale the normalised batch to total variance d, so that
    # concentrating the spectrum cannot shrink the distances critic and l2 pull read
    # (losses.joint_normalize; the collapse study of docs/design.md)
    adv_keep_trace: bool = False
    # the l2 pull's own shrinkage (zca / whiten), -1 = adv_shrink. The pull is what collapsed
    # the GUR (docs/design.md, "Alignment, not collapse"): on a shrunk whitening it pays to discard
    # every direction in which a user's two GURs disagree; on the full whitening (0, the default)
    # every direction counts by its correlation, not its variance, and dropping one no longer pays.
    l2_shrink: float = 0.0
    # weight of VICReg's covariance term on the raw joint GUR batch in phase 2 (losses.decorrelation):
    # penalises correlated dimensions, i.e. a GUR that lives in a few directions (0.1: holds the
    # top-3 variance share where the full-whitening pull alone let it rise)
    w_decor: float = 0.1
    # weight of DirectAU's uniformity term on the raw joint GUR batch (losses.uniformity)
    w_unif: float = 0.0
    # at most this many length buckets for the adversarial batches (one bucket per batch, so
    # little padding); 1 = every batch a uniform draw over the domain's users
    adv_buckets: int = 16
    # False: the phase-2 encoder pass runs without dropout, so the game is played on the GURs that
    # snapshots, probes and phase 3 use (gradients still flow).
    adv_dropout: bool = False
    # Critic steps on the frozen pre-trained encoder before the first generator step, so the
    # generator never learns from a cold critic (W ~ 0 tells it nothing).
    critic_warmup: int = 300

    # WGAN-GP's own default (Gulrajani et al.). The authors used 0.1, which barely constrains
    # the critic's Lipschitz constant, so its "Wasserstein" estimate can grow without bound.
    gp_weight: float = 10.0
    w_rec: float = 1.0
    w_adv: float = 1.0
    w_l2: float = 1.0  # ON by default: eq. 9 (the authors' release passes overlap=False)
    adv_chunk: int = 50  # generator steps per unit (checkpoint + snapshot granularity)
    snapshots_during: int = 3
    # phase 3: CDSRec fine-tuning with BPR
    finetune_epochs: int = 20
    ft_lr: float = 1e-3
    ft_beta1: float = 0.9
    ft_beta2: float = 0.9
    bpr_negatives: int = 10
    patience: int = 3
    # phase 3's per-epoch validation (early stopping, model selection) on a fixed seeded sample
    # of at most this many users per domain; 0 = every user. The final valid/test metrics are
    # always on every user.
    valid_users: int = 0
    # schedules that follow the data (schedule.py; 0 = off): the batch shrinks until an epoch has
    # min_epoch_steps steps, phases 1 and 3 and the patience grow to their minimum steps, phase 2
    # to adv_steps_ratio x phase 1's steps. The trainer resolves them once against its data.
    min_epoch_steps: int = 0
    min_pretrain_steps: int = 0
    adv_steps_ratio: float = 0.0
    min_finetune_steps: int = 0
    min_patience_steps: int = 0
    # bookkeeping
    snapshot_users: int = 20000  # per domain, seeded sample
    eval_batch: int = 1024
    grad_clip: float = 0.0  # max gradient norm per optimiser step; 0 = no clipping
    amp: bool = True  # bf16 autocast on CUDA
    # bf16 autocast on a CPU with native bf16 matmuls (AVX-512 BF16 or AMX, torch's mkldnn check;
    # fp32 on any other CPU): matmuls are over half of every step's time and run 2-3x faster
    amp_cpu: bool = False
    compile: bool = False
    # processes the run was launched with (torchrun --nproc_per_node); set by the launch, never
    # by an override. Each rank takes 1/world_size of every epoch, batch_size rows per step.
    world_size: int = 1

    def __post_init__(self):
        if self.critic not in CRITICS:
            raise RecGuruError(f"train config: critic must be 'wgan-gp' or 'bce', got {self.critic!r}")
        if self.adv_norm not in ADV_NORMALIZATIONS:
            raise RecGuruError(
                f"train config: adv_norm must be one of "
                f"{', '.join(ADV_NORMALIZATIONS)}, got {self.adv_norm!r}"
            )
        for name in ("noam_factor", "adv_lr", "critic_lr", "ft_lr"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise RecGuruError(f"train config: {name} must be a finite number > 0, got {value!r}")
        for name in ("gp_weight", "w_rec", "w_adv", "w_l2", "w_decor", "w_unif", "pre_decor"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise RecGuruError(f"train config: {name} must be a finite number >= 0, got {value!r}")
        if not (math.isfinite(self.grad_clip) and self.grad_clip >= 0):
            raise RecGuruError(
                f"train config: grad_clip must be a finite number >= 0 (0: off), got {self.grad_clip!r}"
            )
        if self.adv_buckets < 1:
            raise RecGuruError(f"train config: adv_buckets must be >= 1, got {self.adv_buckets!r}")
        if not (self.l2_shrink == -1.0 or 0.0 <= self.l2_shrink <= 1.0):
            raise RecGuruError(
                f"train config: l2_shrink must be in [0, 1] or -1 (= adv_shrink), got {self.l2_shrink!r}"
            )
        if not 0.0 <= self.adv_shrink <= 1.0:
            raise RecGuruError(f"train config: adv_shrink must be in [0, 1], got {self.adv_shrink!r}")
        if self.adv_shrink_to not in ("isotropic", "diagonal"):
            raise RecGuruError(
                f"train config: adv_shrink_to must be 'isotropic' or 'diagonal', got {self.adv_shrink_to!r}"
            )
        if not 0.0 <= self.adv_var_floor <= 1.0:
            raise RecGuruError(f"train config: adv_var_floor must be in [0, 1], got {self.adv_var_floor!r}")
        for name in ("adv_beta1", "adv_beta2", "ft_beta1", "ft_beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise RecGuruError(f"train config: {name} must be in [0, 1), got {getattr(self, name)!r}")
        for name in (
            "batch_size",
            "critic_iters",
            "adv_chunk",
            "bpr_negatives",
            "patience",
            "warmup_steps",
            "eval_batch",
            "world_size",
            "snapshot_users",
        ):
            if getattr(self, name) < 1:
                raise RecGuruError(f"train config: {name} must be >= 1, got {getattr(self, name)}")
        if not (math.isfinite(self.adv_steps_ratio) and self.adv_steps_ratio >= 0):
            raise RecGuruError(
                f"train config: adv_steps_ratio must be a finite number >= 0, got {self.adv_steps_ratio!r}"
            )
        for name in (
            "pretrain_epochs",
            "adv_steps",
            "finetune_epochs",
            "snapshots_during",
            "critic_warmup",
            "min_epoch_steps",
            "min_pretrain_steps",
            "min_finetune_steps",
            "min_patience_steps",
            "valid_users",
        ):
            if getattr(self, name) < 0:
                raise RecGuruError(f"train config: {name} must be >= 0, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """A stored config; fields it predates take the value that reproduces how it ran
        (LEGACY_DEFAULTS), not today's default, so a resumed old run trains as it began."""
        if isinstance(values, dict):
            values = {**{k: v for k, v in LEGACY_DEFAULTS.items() if k not in values}, **values}
        return config_from_dict(cls, values, "train config")


# Fields whose default changed after checkpoints without them were written: the value such a
# run trained with (issue 18 made the rank-keeping recipe the default).
LEGACY_DEFAULTS = {"l2_shrink": -1.0, "w_decor": 0.0}


PRESET_NOTES = {
    "tiny": "teaching demo: under a minute on 2 CPU cores (small world and model)",
    "quick": "CPU demo of the full model: about 4 minutes on 2 cores",
    "paper": "the paper's schedule (GPU advised)",
}
# A preset is a set of TrainConfig and ModelConfig overrides (runs.split_overrides tells them
# apart). `quick` and `paper` keep the paper's architecture (d=64, 3 layers, 2 heads, ff 512)
# and differ in how long each phase runs; `tiny` also shrinks the model.
PRESETS: dict[str, dict] = {
    # Teaching: the synthetic world of PRESET_SOURCES["tiny"] end to end in well under a minute
    # on 2 CPU cores, fixed seed, with a clear before/after alignment change (the domain
    # classifier's AUC on the GUR snapshots drops; tuned on validation and alignment figures).
    "tiny": dict(
        pretrain_epochs=6,
        warmup_steps=50,
        adv_steps=80,
        adv_chunk=20,
        critic_warmup=100,
        adv_lr=2e-3,
        critic_lr=2e-3,
        finetune_epochs=6,
        patience=2,
        batch_size=128,
        snapshot_users=1000,
        d_model=32,
        d_ff=64,
        n_layers=1,
        cdsrec_layers=1,
        max_len=50,
        short_len=50,
    ),
    # CPU demo: 232 s wall on 2 idle cores for the synthetic default (measured 2026-12-02).
    # The min_* / ratio rules (schedule.py) leave the synthetic default as it is and give small
    # real data sets (MovieLens-100K: ~600 users a domain) smaller batches, longer phase 3 and
    # patience; phase 2 grows with phase 1 (ml-1m in batches of 64: 945 steps -> 312).
    "quick": dict(
        pretrain_epochs=15,
        warmup_steps=100,
        adv_steps=100,
        adv_chunk=20,
        finetune_epochs=15,
        patience=3,
        batch_size=256,
        min_epoch_steps=8,
        adv_steps_ratio=0.33,
        min_finetune_steps=200,
        min_patience_steps=27,
    ),
    # The paper's optimisers and schedule (supplement 6.1.3), run to convergence with early stop.
    "paper": dict(
        pretrain_epochs=60,
        warmup_steps=2000,
        adv_steps=3000,
        adv_chunk=100,
        finetune_epochs=200,
        patience=10,
        batch_size=256,
        min_epoch_steps=8,
        adv_steps_ratio=0.33,
    ),
}


# The Train page's form, written once: the page loops over this table (ui/forms.field_widget),
# defaults come from the preset over the config defaults, and every other setting of TrainConfig
# and ModelConfig goes in its "advanced: key=value" box (parse_key_values, then the configs'
# own validation, before the job starts).
@dataclass(frozen=True)
class FormField:
    name: str  # a TrainConfig or ModelConfig field
    label: str
    kind: str  # "int", "float" or "choice"
    low: float | None = None
    high: float | None = None
    step: float | None = None
    help: str = ""
    choices: tuple = ()


FORM_FIELDS: tuple[FormField, ...] = (
    FormField(
        "pretrain_epochs",
        "Pre-train epochs",
        "int",
        0,
        1000,
        1,
        "Phase 1: epochs of autoencoder pre-training (the schedule may raise it on small data).",
    ),
    FormField(
        "adv_steps",
        "Adversarial steps",
        "int",
        0,
        100_000,
        10,
        "Phase 2: generator steps against the domain critic (5 critic steps each).",
    ),
    FormField(
        "finetune_epochs",
        "Fine-tune epochs",
        "int",
        0,
        1000,
        1,
        "Phase 3: the cap on CDSRec fine-tuning epochs; early stopping on validation decides.",
    ),
    FormField(
        "w_adv",
        "Adversarial weight",
        "float",
        0.0,
        100.0,
        0.1,
        "Weight of the critic's signal on the encoder. 0 = the control run: no adversarial "
        "pressure, everything else the same (Compare it with a run at 1).",
    ),
    FormField(
        "w_l2",
        "l2 weight",
        "float",
        0.0,
        1000.0,
        0.1,
        "Weight of the pull between an overlapped user's two GURs (eq. 9).",
    ),
    FormField(
        "gp_weight",
        "Gradient-penalty weight",
        "float",
        0.0,
        1000.0,
        0.5,
        "WGAN-GP's penalty on the critic's gradient norm (10 is WGAN-GP's own default).",
    ),
    FormField(
        "critic",
        "Critic",
        "choice",
        choices=CRITICS,
        help="wgan-gp: Wasserstein critic with gradient penalty; bce: the paper's eq. 8.",
    ),
    FormField(
        "adv_lr",
        "Generator learning rate",
        "float",
        1e-6,
        1.0,
        1e-4,
        "Adam learning rate of the encoder, embeddings and decoders in phase 2.",
    ),
    FormField(
        "critic_lr",
        "Critic learning rate",
        "float",
        1e-6,
        1.0,
        1e-4,
        "Adam learning rate of the domain critic.",
    ),
    FormField(
        "ft_lr",
        "Fine-tune learning rate",
        "float",
        1e-6,
        1.0,
        1e-4,
        "Adam learning rate of CDSRec in phase 3.",
    ),
    FormField(
        "batch_size",
        "Batch size",
        "int",
        8,
        65_536,
        32,
        "Sequences per step (the schedule may lower it so small data gets enough steps).",
    ),
    FormField(
        "d_model",
        "Embedding size (d)",
        "int",
        8,
        1024,
        8,
        "Width of item embeddings, GURs and every layer; must be divisible by n_heads.",
    ),
)


# The data source a preset was sized and measured for, where it has one: the Train page
# pre-fills it when the preset is chosen (any other source still works with any preset).
PRESET_SOURCES: dict[str, str] = {"tiny": "synthetic:users=1500"}
