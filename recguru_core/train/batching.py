"""Row indices -> model-ready tensors on the device: encoder inputs (trimmed left padding,
eos), causal histories, the other domain's GUR of overlapped users, and the leakage-free
phase-3 batch (see training.py for what may be read when)."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..data.domains import CrossDomainData, left_padded
from ..nn.model import ModelConfig, RecGURU
from . import distributed


def epoch_batches(
    rng: np.random.Generator, rows: np.ndarray, lengths: np.ndarray, n_steps: int, batch: int
) -> np.ndarray:
    """(n_steps, batch) row indices of one epoch for this rank: shuffled passes over `rows` (a
    smaller domain cycles), length-bucketed so that each batch holds users of similar length.

    Bucketing: the shuffled stream is cut into windows of 32 batches; each window is sorted
    by sequence length and split into batches, and the batch order is shuffled. Every user
    is still seen once per pass, but a batch is trimmed to far less padding (one 200-item
    user no longer pads 255 five-item users).

    Several processes (torchrun): `rng` is seeded alike on every rank, so all ranks draw the
    same plan of n_steps * world batches and each keeps its own disjoint slice of n_steps
    (`distributed.shard_batches`); in one process this is the plan itself."""
    need = n_steps * distributed.world_size() * batch
    reps = math.ceil(need / max(len(rows), 1))
    stream = np.concatenate([rows[rng.permutation(len(rows))] for _ in range(reps)])[:need]
    window = 32 * batch
    chunks = []
    for lo in range(0, need, window):
        chunk = stream[lo : lo + window]
        chunks.append(chunk[np.argsort(lengths[chunk], kind="stable")].reshape(-1, batch))
    batches = np.concatenate(chunks)
    return distributed.shard_batches(batches[rng.permutation(len(batches))])


class Batcher:
    """Turns row indices into model-ready tensors on the device (trimmed left padding)."""

    def __init__(self, data: CrossDomainData, model_cfg: ModelConfig, device: torch.device):
        self.data, self.cfg, self.device = data, model_cfg, device
        self.partner = (data.partner_rows(0), data.partner_rows(1))

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(self.device, non_blocking=True)

    def encoder_input(self, domain: int, rows: np.ndarray, split: str = "train") -> torch.Tensor:
        return self._tensor(self.data.domain(domain).inputs(rows, split, max_len=self.cfg.max_len))

    def prefix_input(self, domain: int, rows: np.ndarray, cut: np.ndarray) -> torch.Tensor:
        """Encoder input from the first `cut` items of each row (eos appended)."""
        dom = self.data.domain(domain)
        ends = dom.offsets[rows] + cut
        return self._tensor(left_padded(dom.offsets, dom.items, rows, ends, self.cfg.max_len, dom.eos))

    def history(self, domain: int, rows: np.ndarray, split: str) -> torch.Tensor:
        return self._tensor(
            self.data.domain(domain).inputs(rows, split, eos=False, max_len=self.cfg.short_len)
        )

    def other_gur(
        self, model: RecGURU, domain: int, rows: np.ndarray, cache: list[torch.Tensor] | None = None
    ):
        """GURs of the same users in the other domain (training history) and a validity mask.
        With `cache` (all_gurs of both domains) they are looked up instead of encoded."""
        partner = self.partner[domain][rows]
        valid = partner >= 0
        h_other = torch.zeros(len(rows), self.cfg.d_model, device=self.device)
        if valid.any() and self.cfg.attend_both_gurs:
            if cache is None:
                h = model.encode(1 - domain, self.encoder_input(1 - domain, partner[valid], "train"))
            else:
                h = cache[1 - domain][torch.from_numpy(partner[valid]).to(self.device)]
            h_other[torch.from_numpy(np.flatnonzero(valid)).to(self.device)] = h.float()
        return h_other, self._tensor(valid)

    @torch.no_grad()
    def all_gurs(
        self,
        model: RecGURU,
        domain: int,
        split: str = "train",
        batch: int = 2048,
        rows: np.ndarray | None = None,
    ) -> torch.Tensor:
        """(U, d) float32 GURs of every user of a domain (eval mode is the caller's job); with
        `rows`, only those rows are encoded and every other row is NaN."""
        dom = self.data.domain(domain)
        if dom.n_users == 0:
            return torch.zeros(0, self.cfg.d_model, device=self.device)
        rows = np.arange(dom.n_users) if rows is None else np.asarray(rows, dtype=np.int64)
        # shortest histories first (a batch is padded to its longest), then back in row order
        order = rows[np.argsort(dom.lengths[rows], kind="stable")]
        result = torch.full((dom.n_users, self.cfg.d_model), float("nan"), device=self.device)
        for lo in range(0, len(order), batch):
            part = order[lo : lo + batch]
            h = model.encode(domain, self.encoder_input(domain, part, split)).float()
            result[torch.from_numpy(part).to(self.device)] = h
        return result

    def finetune_batch(self, domain: int, rows: np.ndarray, rng: np.random.Generator):
        """Leakage-free phase-3 batch: GUR prefix cut, causal history, targets after the cut."""
        dom = self.data.domain(domain)
        n = dom.lengths[rows] - 2  # training history length (>= 2 for eligible rows)
        cut = rng.integers(1, n)  # GUR reads seq[:cut], targets are seq[cut:n]
        width = int(min(n.max() - 1, self.cfg.short_len))
        cols = np.arange(width)[None, :]
        pos = (n - 1)[:, None] - width + cols  # (B, W) history position of each column
        valid = pos >= 0
        base = dom.offsets[rows][:, None]
        hist = np.where(valid, dom.items[np.clip(base + pos, 0, None)], 0)
        target = np.where(valid, dom.items[np.clip(base + pos + 1, 0, None)], 0)
        train_on = valid & (pos + 1 >= cut[:, None])
        return (
            self.prefix_input(domain, rows, cut),
            self._tensor(hist),
            self._tensor(target),
            self._tensor(train_on),
        )


def host_floats(*values: torch.Tensor | float) -> list[float]:
    """Python floats of scalar tensors with ONE device->host transfer (each `.item()` or
    `float(t)` is a sync that stalls the GPU queue; a training step used to make four or five).
    Same values as `.item()` on each: float32 scalars stacked and read back unchanged."""
    tensors = [v for v in values if isinstance(v, torch.Tensor)]
    if not tensors:
        return [float(v) for v in values]
    device = tensors[0].device
    read = iter(torch.stack([t.detach().float().reshape(()).to(device) for t in tensors]).tolist())
    return [next(read) if isinstance(v, torch.Tensor) else float(v) for v in values]
