"""GUR snapshots: the format, their order, and conversion to plain arrays.

A snapshot is a dict recorded by the trainer at the end of pre-training ("before"), during
the adversarial phase ("during", a list) and at its end ("after"):

    gur      (n, d) float   GURs of a seeded, domain-stratified user sample (eval mode)
    domain   (n,) int64     0 = A, 1 = B
    user     list[str]      raw user ids
    overlap  (n,) bool      the user is in both domains (optional)
    cluster  (n,) int64     ground-truth taste cluster of synthetic worlds, -1 unknown (optional)
    length   (n,) int64     history length (optional; length-matched metrics)
    step     int            global step at which it was taken

`snapshot_sample` draws the sample once per run; `gur_snapshot` encodes it at a given step.
The format helpers at the top never touch torch (tensors are recognised by `detach`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..data.domains import CrossDomainData
from ..nn.model import RecGURU
from .batching import Batcher

SNAPSHOT_FIELDS = ("gur", "domain", "user", "overlap", "cluster", "length", "step")


def to_numpy(x: Any, dtype: Any = None) -> np.ndarray | None:
    """A tensor (any device, half precision included) or array-like -> numpy; None stays None."""
    if x is None:
        return None
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        if str(x.dtype) in ("torch.bfloat16", "torch.float16"):
            x = x.float()
        x = x.numpy()
    return np.asarray(x, dtype=dtype)


def ordered_snapshots(snapshots: dict | None) -> list[tuple[str, dict]]:
    """[(name, snapshot)] in training order: before, during_0.., after; absent ones skipped."""
    snapshots = snapshots or {}
    out: list[tuple[str, dict]] = []
    if snapshots.get("before") is not None:
        out.append(("before", snapshots["before"]))
    for i, snap in enumerate(snapshots.get("during") or []):
        if snap is not None:
            out.append((f"during_{i}", snap))
    if snapshots.get("after") is not None:
        out.append(("after", snapshots["after"]))
    return out


def snapshot_names(snapshots: dict | None) -> list[str]:
    """Names of the snapshots present, in training order."""
    return [name for name, _ in ordered_snapshots(snapshots)]


def plain_snapshot(snap: dict) -> dict:
    """A snapshot with numpy arrays instead of tensors (for code that must not import torch)."""
    out = {}
    for key, value in snap.items():
        out[key] = value if key in ("user", "step") else to_numpy(value)
    return out


def plain_snapshots(snapshots: dict | None) -> dict:
    """{"before", "during": [...], "after"} with every snapshot made plain."""
    snapshots = snapshots or {}
    return {
        "before": plain_snapshot(snapshots["before"]) if snapshots.get("before") is not None else None,
        "during": [plain_snapshot(s) if s is not None else None for s in snapshots.get("during") or []],
        "after": plain_snapshot(snapshots["after"]) if snapshots.get("after") is not None else None,
    }


# ----------------------------------------------------------------------------- recording


@torch.no_grad()
def gur_snapshot(model: RecGURU, batcher: Batcher, sample: dict, step: int) -> dict:
    """GURs of the fixed snapshot sample (training histories), in checkpoint format."""
    was_training = model.training
    model.eval()
    gurs = []
    for domain in (0, 1):
        rows = sample["rows"][domain]
        for lo in range(0, len(rows), 2048):
            gurs.append(
                model.encode(domain, batcher.encoder_input(domain, rows[lo : lo + 2048])).float().cpu()
            )
    model.train(was_training)
    snap = {k: v for k, v in sample.items() if k != "rows"}
    snap["gur"] = torch.cat(gurs) if gurs else torch.zeros(0, model.config.d_model)
    snap["step"] = int(step)
    return snap


def snapshot_sample(data: CrossDomainData, n_per_domain: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    rows, users, domains, overlap, cluster, length = [], [], [], [], [], []
    for domain in (0, 1):
        dom = data.domain(domain)
        r = np.sort(rng.choice(dom.n_users, size=min(n_per_domain, dom.n_users), replace=False))
        rows.append(r)
        length.append(np.minimum(dom.lengths[r] - 2, dom.cfg.max_len))  # what the encoder read
        users += dom.user_raw[r].tolist()
        domains.append(np.full(len(r), domain))
        overlap.append(data.partner_rows(domain)[r] >= 0)
        if dom.cluster is not None:
            cluster.append(dom.cluster[r])
    sample = {
        "rows": rows,
        "user": users,
        "domain": torch.from_numpy(np.concatenate(domains).astype(np.int64)),
        "overlap": torch.from_numpy(np.concatenate(overlap)),
        "length": torch.from_numpy(np.concatenate(length).astype(np.int64)),
    }
    if len(cluster) == 2:
        sample["cluster"] = torch.from_numpy(np.concatenate(cluster).astype(np.int64))
    return sample
