"""Memory estimates made before anything big is allocated, so a size that cannot fit is refused
with a one-line message and the estimate, instead of an OOM kill with no message at all.

    available_bytes(device)        what the machine can give: cgroup limit, MemAvailable, or the
                                   free memory of a CUDA device
    parameter_count(model_cfg)     RecGURU's parameters, counted from the config (no allocation;
                                   a test checks it against the built model)
    training_bytes(model_cfg, cfg, longest=...)   parameters + gradients + Adam state + the
                                   largest per-step activation (sampled softmax, attention, FF)
    synthetic_bytes(cfg)           the synthetic world's arrays
    check_fits(needed, what, ...)  raise RecGuruError if `needed` exceeds what is available

The estimates are deliberately coarse (within a small factor) and err on the large side only
where it matters: they are there to catch the 10^3-too-big mistake, not to pack memory tightly.
A run that is refused but should fit can set RECGURU_NO_MEMORY_CHECK=1.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import RecGuruError

FLOAT = 4  # bytes per float32
GIB = 1 << 30


def format_bytes(n: float) -> str:
    for unit, size in (("TiB", 1 << 40), ("GiB", GIB), ("MiB", 1 << 20)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n / 1024:.1f} KiB"


def _cgroup_limit() -> int | None:
    """The container's memory limit (cgroup v2, then v1), or None when unlimited/unknown."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            return int(text)
    return None


def _host_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown platform: do not refuse anything


def _address_space_left() -> int | None:
    """What an address-space limit (`ulimit -v`, RLIMIT_AS) still allows this process to map:
    the soft limit minus the virtual size already mapped; None when unlimited/unknown."""
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return None
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return None
    mapped = 0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                mapped = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return max(0, soft - mapped)


def available_bytes(device: str = "cpu") -> int:
    """Bytes a new allocation can still get on `device` ('cpu', 'cuda', 'cuda:1', 'mps'): for
    host memory the least of MemAvailable, the cgroup limit and the address-space limit."""
    if str(device).startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            free, _total = torch.cuda.mem_get_info(torch.device(device))
            return int(free)
    limits = [_host_available(), _cgroup_limit(), _address_space_left()]
    return min(x for x in limits if x is not None)


# ----------------------------------------------------------------------------- estimates


def _attention(d: int) -> int:
    return 4 * d * d + 4 * d  # query, key+value, out projections with biases


def _feed_forward(d: int, d_ff: int) -> int:
    return 2 * d * d_ff + d + d_ff


def parameter_count(m) -> int:
    """RecGURU + critic parameters for ModelConfig `m`, computed from the config alone."""
    d = m.d_model
    encoder_block = 4 * d + _attention(d) + _feed_forward(d, m.d_ff)
    decoder_block = 6 * d + 2 * _attention(d) + _feed_forward(d, m.d_ff)
    encoder = m.n_layers * encoder_block + 2 * d
    decoder = m.n_layers * decoder_block + 2 * d
    cdsrec = m.cdsrec_layers * decoder_block + 2 * d
    positions = (m.max_len + 2) * d * (1 if m.shared_eos_position else 2)
    items = (m.n_items_a + 2 + m.n_items_b + 2) * d
    eos = d if m.shared_eos_position else 0
    encoders = encoder * (1 if m.shared_encoder else 2)
    dims = [d] + [m.disc_hidden] * (m.disc_layers - 1) + [1]
    critic = sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))
    return items + positions + eos + encoders + 2 * decoder + 2 * cdsrec + critic


def training_bytes(m, cfg, *, longest: int) -> dict[str, int]:
    """Peak training memory of ModelConfig `m` under TrainConfig `cfg`, by part (bytes).

    longest: the longest sequence the batches can hold (min(max_len, longest history) + 1).
    Parameters are held with their gradient and up to three Adam moment pairs (pre-training,
    generator and fine-tuning optimisers each keep their own state for the shared weights).
    """
    d, batch = m.d_model, cfg.batch_size
    length = max(2, min(m.max_len, longest) + 1)
    weights = parameter_count(m) * FLOAT * (2 + 2 * 3)
    tokens = batch * length
    # sampled softmax: the gathered (1 + K) item vectors per token, kept for backward, and their
    # gradient (a batch of the longest length bucket is nearly all real tokens)
    softmax = tokens * (1 + m.neg_softmax) * d * FLOAT * 2
    # phase 3's BPR: the same for its (1 + bpr_negatives) scored items per trained position
    # (phases do not overlap: the larger of the two is the peak)
    bpr = tokens * (1 + cfg.bpr_negatives) * d * FLOAT * 2
    # per layer kept for backward: ~12 (B, L, d) tensors, the FF's (B, L, d_ff) twice, and the
    # attention weights (B, heads, L, L) twice
    layers = 3 * m.n_layers + 2 * m.cdsrec_layers
    per_layer = tokens * (12 * d + 2 * m.d_ff) + 2 * batch * m.n_heads * length * length
    activations = layers * per_layer * FLOAT
    # full-ranking evaluation scores a (eval_batch, items) block at a time: float scores, a bool
    # exclusion mask and a bool comparison (evaluation.ranks_full), plus room for a float copy
    evaluation = cfg.eval_batch * (max(m.n_items_a, m.n_items_b) + 2) * (FLOAT * 2 + 2)
    return {
        "parameters and optimiser state": weights,
        "activations": max(softmax, bpr) + activations,
        "evaluation": evaluation,
    }


def synthetic_bytes(cfg) -> int:
    """The synthetic generator's peak: per-user tastes and memberships, ~10 int64/float64 arrays
    per interaction while the sequences are drawn and turned into a frame."""
    interactions = cfg.users * (cfg.mean_len_a + cfg.mean_len_b)
    return int(
        cfg.users * (cfg.dim * 4 + 64) + interactions * 10 * 8 + (cfg.items_a + cfg.items_b) * cfg.dim * 8
    )


def check_fits(
    parts: dict[str, int] | int,
    what: str,
    *,
    device: str = "cpu",
    hint: str = "",
    available: int | None = None,
) -> None:
    """Refuse (RecGuruError) when the estimate exceeds the memory available on `device`."""
    if os.environ.get("RECGURU_NO_MEMORY_CHECK") == "1":
        return
    needed = sum(parts.values()) if isinstance(parts, dict) else int(parts)
    have = available_bytes(device) if available is None else available
    if needed <= have:
        return
    detail = ""
    if isinstance(parts, dict):
        biggest = max(parts, key=parts.get)
        detail = f" ({biggest} {format_bytes(parts[biggest])})"
    raise RecGuruError(
        f"{what}: needs about {format_bytes(needed)}{detail}, more than the "
        f"{format_bytes(have)} available on {device}" + (f"; {hint}" if hint else "")
    )


def check_negatives(m, cfg) -> None:
    """Negatives are drawn from the other items of the target's domain: more of them than the
    smaller catalogue has other items is a typo (uniform draws with replacement would repeat
    items), and refused with the catalogue size."""
    smaller = min(m.n_items_a, m.n_items_b)
    for name, value in (("neg_softmax", m.neg_softmax), ("bpr_negatives", cfg.bpr_negatives)):
        if value > smaller - 1:
            raise RecGuruError(
                f"{name}={value}: more negatives than the {smaller - 1} other items of "
                f"the smaller domain ({smaller} items); use at most {max(1, smaller - 1)}"
            )


def check_training_fits(m, cfg, data, device) -> None:
    """Refuse a model/batch size that cannot fit before the Trainer allocates anything."""
    check_negatives(m, cfg)
    longest = int(max(data.a.lengths.max(initial=1), data.b.lengths.max(initial=1)))
    parts = training_bytes(m, cfg, longest=longest)
    check_fits(
        parts,
        f"training with d_model={m.d_model}, batch_size={cfg.batch_size}, "
        f"neg_softmax={m.neg_softmax}, bpr_negatives={cfg.bpr_negatives}",
        device=str(device),
        hint="lower d_model, d_ff, batch_size, max_len, neg_softmax or bpr_negatives",
    )
