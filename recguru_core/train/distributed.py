"""Multi-process training on torch.distributed: all the plumbing the trainer and the CLI need.

    torchrun --nproc_per_node=N -m recguru_core train SOURCE --out PATH ...

`init()` joins the process group that torchrun describes in its environment (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT); without those variables it does nothing and every
helper below is the identity of a 1-process run, so single-process training is untouched
bit for bit. Importing this module has no side effect. Backend: gloo for CPU training, nccl
for CUDA (each process then drives GPU LOCAL_RANK).

Gradient averaging: one explicit all-reduce, not DistributedDataParallel. The trainer calls
`average_gradients(params)` on an optimiser's parameters after `backward()` and before
`step()`. Why not the DDP wrappers:
 - RecGURU alternates updates of disjoint parameter sets that share one forward graph:
   critic steps with the encoder frozen, generator steps with the critic frozen, and in
   phase 3 one domain's item table + CDSRec at a time while the encoder is frozen. A DDP
   module whose parameters receive no gradient in a step waits forever for their all-reduce
   (or needs find_unused_parameters, which costs a graph walk per step); separate wrappers
   only help if every step goes through exactly the right one.
 - The WGAN-GP penalty is a double backward (`torch.autograd.grad(create_graph=True)` inside
   `losses.gradient_penalty`); the critic step runs ONE backward of critic loss + penalty, and
   averaging the resulting `.grad` afterwards covers both terms by construction. No `no_sync`
   is ever involved: every optimiser step averages exactly the gradients it is about to apply.
 - The model is small (d=64): one flat all-reduce per step is as fast as DDP's bucketing and
   there is nothing to overlap.
Since all ranks start from the same weights (same seed; resume loads the same file and
`broadcast_parameters` re-asserts it) and apply the same averaged gradients with identical
optimisers, weights and Adam moments stay identical on every rank without ever being sent.

A parameter whose `.grad` is None on every rank stays None (Adam skips it, as in one process);
presence is all-reduced together with the values, in the same single collective.

Data: each rank takes its slice of a batch plan drawn from the SAME seeded generator on every
rank (`shard_batches`), so every rank runs the same number of steps (a rank with one step more
would wait in a collective forever). Randomness that must differ per rank (dropout, negatives,
phase-3 cuts) comes from per-rank seeds (`rank_seed`). Evaluation scores a contiguous shard of
users per rank and `all_gather_array` puts the per-user ranks back in user order with no
padding, so metrics equal the 1-process ones.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence

import numpy as np
import torch
import torch.distributed as dist

from ..common.errors import RecGuruError

__all__ = [
    "active",
    "all_gather_array",
    "any_flag",
    "average_gradients",
    "barrier",
    "broadcast_parameters",
    "check_in_sync",
    "init",
    "is_main",
    "launched",
    "local_steps",
    "rank",
    "rank_seed",
    "shard_batches",
    "shard_rows",
    "shutdown",
    "world_size",
]

_state: dict = {"device": None}  # the collectives' device once init() ran


def launched() -> bool:
    """True in a process started by torchrun (its environment names a world)."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def init(device: str = "auto") -> None:
    """Join torchrun's process group (no-op outside torchrun, or if already joined).
    device: the training device setting (--device); cpu -> gloo, cuda -> nccl + GPU LOCAL_RANK."""
    if not launched() or active():
        return
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        if not torch.cuda.is_available():
            raise RecGuruError(f"device {device!r} requested but CUDA is not available")
        if local >= torch.cuda.device_count():
            raise RecGuruError(
                f"LOCAL_RANK {local} but only {torch.cuda.device_count()} GPU(s); lower --nproc_per_node"
            )
        torch.cuda.set_device(local)  # "cuda" now means this rank's GPU
        _state["device"] = torch.device("cuda", local)
        backend = "nccl"
    elif device == "mps":
        raise RecGuruError("multi-process training runs on cpu (gloo) or cuda (nccl), not mps")
    else:
        _state["device"] = torch.device("cpu")
        backend = "gloo"
    # A long rank-0 save keeps the others at a barrier: allow it generously.
    dist.init_process_group(backend=backend, timeout=_dt.timedelta(minutes=60))


def shutdown(together: bool = True) -> None:
    """Leave the group. together (the normal end): every rank first meets at a barrier, so no
    rank exits and closes its sockets while a peer is still in a collective or in its own
    teardown (CI once saw rank 0 abort in gloo's teardown after rank 1 had left first). After a
    failure, leave at once: the peers may be inside another collective, and a barrier would
    keep them waiting for the group's timeout instead of failing on the closed connection."""
    if active():
        try:
            if together:
                barrier()
        finally:
            dist.destroy_process_group()
    _state["device"] = None


def barrier() -> None:
    if active():
        if _state["device"] is not None and _state["device"].type == "cuda":
            dist.barrier(device_ids=[_state["device"].index])
        else:
            dist.barrier()


def _device() -> torch.device:
    return _state["device"] or torch.device("cpu")


# ----------------------------------------------------------------------------- collectives


def average_gradients(params: Sequence[torch.nn.Parameter]) -> None:
    """Replace every `.grad` of `params` by its mean over ranks, in one all-reduce of a flat
    buffer: [values of every parameter (zeros where .grad is None) | one presence flag per
    parameter]. A gradient present on no rank stays None. No-op in a 1-process run."""
    if world_size() == 1 or not params:
        return
    ref = params[0]
    sizes = [p.numel() for p in params]
    flat = torch.zeros(sum(sizes) + len(params), dtype=torch.float32, device=ref.device)
    offset = 0
    for k, (p, n) in enumerate(zip(params, sizes)):
        if p.grad is not None:
            flat[offset : offset + n] = p.grad.detach().reshape(-1).float()
            flat[sum(sizes) + k] = 1.0
        offset += n
    dist.all_reduce(flat)
    flat /= world_size()
    offset, total = 0, sum(sizes)
    for k, (p, n) in enumerate(zip(params, sizes)):
        if flat[total + k] > 0:
            value = flat[offset : offset + n].view_as(p).to(p.dtype)
            if p.grad is None:
                p.grad = value.clone()
            else:
                p.grad.copy_(value)
        offset += n


def broadcast_parameters(modules: Sequence[torch.nn.Module]) -> None:
    """Rank 0's parameters and buffers to every rank (they are equal already by construction;
    this makes it a guarantee rather than an assumption)."""
    if world_size() == 1:
        return
    for module in modules:
        for tensor in list(module.parameters()) + list(module.buffers()):
            with torch.no_grad():
                dist.broadcast(tensor.data, src=0)


def check_in_sync(modules: Sequence[torch.nn.Module]) -> None:
    """Raise if the ranks' weights differ (they never should: see the module docstring).
    One all-reduce of per-tensor sums, compared by max and min over ranks."""
    if world_size() == 1:
        return
    tensors = [t for m in modules for t in list(m.parameters()) + list(m.buffers())]
    sums = torch.stack([t.detach().double().sum() for t in tensors]).to(_device())
    both = torch.cat([sums, -sums])
    dist.all_reduce(both, op=dist.ReduceOp.MAX)
    if not torch.equal(both[: len(sums)], -both[len(sums) :]):
        raise RecGuruError(
            "the ranks' weights diverged (a gradient was not averaged); the last checkpoint is kept"
        )


def check_same_data(fingerprint: str) -> None:
    """Refuse, on every rank, a launch whose ranks loaded different data (a file that differs
    between machines, a source spec with a rank-dependent path): their gradients would be
    averaged and rank 0's data saved as if it were the whole run's. `fingerprint`: this rank's
    fingerprint.data_fingerprint (16 hex digits), gathered once before the first step."""
    if world_size() == 1:
        return
    mine = torch.tensor(
        [int.from_bytes(bytes.fromhex(fingerprint), "big", signed=True)], dtype=torch.int64, device=_device()
    )
    prints = [torch.zeros_like(mine) for _ in range(world_size())]
    dist.all_gather(prints, mine)
    texts = [int(t.item()).to_bytes(8, "big", signed=True).hex() for t in prints]
    odd = [r for r, t in enumerate(texts) if t != texts[0]]
    if odd:
        ranks = ", ".join(map(str, odd))
        raise RecGuruError(
            f"rank(s) {ranks} loaded other data than rank 0 (data fingerprint "
            f"{texts[odd[0]]} vs {texts[0]}); every rank must read the same source "
            "files; nothing was trained or saved"
        )


def any_flag(flag: bool) -> bool:
    """True on every rank if `flag` is True on any rank (a stop request seen by one rank stops
    all of them at the same step)."""
    if world_size() == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def all_gather_array(array: np.ndarray) -> np.ndarray:
    """Concatenation, in rank order, of a 1-d numeric array whose length differs per rank.
    Lengths are gathered first; each rank pads to the longest and the padding is cut off again,
    so no element appears twice (unlike a DistributedSampler's padded shards)."""
    array = np.asarray(array)
    if world_size() == 1:
        return array
    device = _device()
    n = torch.tensor([len(array)], dtype=torch.int64, device=device)
    lengths = [torch.zeros_like(n) for _ in range(world_size())]
    dist.all_gather(lengths, n)
    lengths = [int(x.item()) for x in lengths]
    longest = max(lengths)
    local = torch.zeros(longest, dtype=torch.float64, device=device)  # int64 ranks fit exactly
    local[: len(array)] = torch.from_numpy(array.astype(np.float64)).to(device)
    parts = [torch.zeros_like(local) for _ in range(world_size())]
    dist.all_gather(parts, local)
    out = np.concatenate([p[:k].cpu().numpy() for p, k in zip(parts, lengths)])
    return out.astype(array.dtype)


# ----------------------------------------------------------------------------- sharding


def shard_batches(batches: np.ndarray) -> np.ndarray:
    """(n_steps * W, B) batch plan identical on every rank -> this rank's (n_steps, B) slice:
    batches rank, rank + W, rank + 2W, ... Disjoint across ranks, equal counts everywhere.
    The caller makes the plan a multiple of W long (`local_steps`)."""
    w = world_size()
    if w == 1:
        return batches
    return batches[rank() :: w][: len(batches) // w]


def local_steps(total: int) -> int:
    """Steps per rank for a phase whose 1-process epoch has `total` steps: floor(total / W),
    at least 1, the same on every rank."""
    return max(1, total // world_size())


def shard_rows(n: int) -> np.ndarray:
    """This rank's contiguous share of rows 0..n-1 (array_split: sizes differ by at most 1)."""
    if world_size() == 1:
        return np.arange(n)
    return np.array_split(np.arange(n), world_size())[rank()]


def rank_seed(seed: int) -> int:
    """A seed for this rank's own randomness: `seed` itself on rank 0 (a 1-process run keeps
    its exact random streams), a distinct derived seed on every other rank."""
    r = rank()
    if r == 0:
        return seed
    return int(np.random.SeedSequence([seed, r]).generate_state(1)[0])
