"""The one chain from users to item scores, used by training's evaluation, the app's
inference and the benchmark:

    encode (own GUR, eval mode) -> CDSRec memory (own + other domain's GUR, eq. 2)
        -> CDSRec query q (eq. 10) -> scores on candidates or all items (eq. 11)
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from ..metrics.ranking import domain_ranks, metrics_from_ranks
from ..nn.model import RecGURU
from . import distributed
from .batching import Batcher


@contextlib.contextmanager
def gur_mode(model: RecGURU):
    """Embeddings and encoder(s) in eval mode (no dropout) for the block, gradients unaffected:
    the GUR a user gets is the dropout-free one everywhere it is read (snapshots, probes, phase 3,
    and by default the adversarial game)."""
    parts = [model.embeddings, model.encoder] + ([] if model.config.shared_encoder else [model.encoder_b])
    before = [m.training for m in parts]
    for m in parts:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(parts, before):
            m.train(mode)


def _memory(model: RecGURU, n: int, device, own, other):
    """The CDSRec memory of n users (eq. 2): own() -> their GUR (n, d) and other() -> the other
    domain's GUR and validity ((n or 1, d), (n or 1,)), both called in gur_mode; the SeqRec
    ablation (use_gur=False) attends to a zero memory and encodes nothing."""
    if not model.config.use_gur:
        return model.cdsrec_memory(torch.zeros(n, model.config.d_model, device=device))
    with gur_mode(model):
        h_own = own()
        h_other, valid = other()
    return model.cdsrec_memory(h_own, h_other.expand(n, -1).to(h_own.dtype), valid.expand(n))


def user_memory(
    model: RecGURU,
    batcher: Batcher,
    domain: int,
    rows: np.ndarray,
    *,
    own_input: torch.Tensor | None = None,
    cache: list[torch.Tensor] | None = None,
):
    """The CDSRec memory of users `rows` (eq. 2): their own GUR, encoded from `own_input` (or,
    without it, looked up in `cache`, the table of training-history GURs), and for overlapped
    users the other domain's GUR (training history; from `cache` when given). -> (memory, mask)."""
    if own_input is None:

        def own():
            return cache[domain][torch.from_numpy(np.asarray(rows)).to(batcher.device)]
    else:

        def own():
            return model.encode(domain, own_input)

    return _memory(
        model, len(rows), batcher.device, own, lambda: batcher.other_gur(model, domain, rows, cache)
    )


@torch.no_grad()
def score_rows(
    model: RecGURU,
    batcher: Batcher,
    domain: int,
    rows: np.ndarray,
    split: str,
    candidates: torch.Tensor | None,
    cache: list[torch.Tensor] | None = None,
) -> torch.Tensor:
    """CDSRec scores for users `rows` on `split`: candidate scores (B, C) or all ids (B, V+2).
    `cache`: training-history GURs of both domains (`Batcher.all_gurs`); the validation history
    is the training history, so on 'valid' the own GUR is looked up too."""
    own_input = (
        None
        if cache is not None and split in ("train", "valid")
        else batcher.encoder_input(domain, rows, split)
    )
    memory, mask = user_memory(model, batcher, domain, rows, own_input=own_input, cache=cache)
    q = model.cdsrec_query(domain, batcher.history(domain, rows, split), memory, mask)
    if candidates is None:
        return model.scores(domain, q)
    return model.score_items(domain, q, candidates.to(q.device))


@torch.no_grad()
def scores_for_inputs(
    model: RecGURU,
    domain: int,
    own_input: torch.Tensor,
    history: torch.Tensor,
    other: tuple[torch.Tensor, torch.Tensor],
) -> torch.Tensor:
    """The same chain for explicit inputs rather than user rows: N alternative encoder inputs
    (N, L) and histories (N, m) of ONE user whose other-domain GUR is `other` = (h_other (1, d),
    valid (1,)) -> all-item scores (N, V+2). The explanations' leave-one-out variants use it."""
    memory, mask = _memory(
        model, own_input.size(0), own_input.device, lambda: model.encode(domain, own_input), lambda: other
    )
    return model.scores(domain, model.cdsrec_query(domain, history, memory, mask))


def user_ranks(
    model: RecGURU,
    batcher: Batcher,
    split: str,
    *,
    full_ranking: bool = False,
    batch_size: int = 1024,
    cache: list[torch.Tensor] | None = None,
    rows: list[np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Per-user 1-based ranks of the true item per domain ({'A': (U_A,), 'B': (U_B,)}), in user
    row order (or in the order of `rows`, [rows of A, rows of B], when given). Under torchrun
    every rank ranks its contiguous share of the users and the ranks are all-gathered back into
    order (no padding), so every rank gets the ranks of one process; in one process the share
    is every user."""
    was_training = model.training
    model.eval()
    out = {}
    for domain, key in ((0, "A"), (1, "B")):
        dom = batcher.data.domain(domain)
        wanted = np.arange(dom.n_users) if rows is None else np.asarray(rows[domain])
        ranks = domain_ranks(
            dom,
            split,
            lambda part, s, cand: score_rows(model, batcher, domain, part, s, cand, cache),
            full_ranking=full_ranking,
            batch_size=batch_size,
            rows=wanted[distributed.shard_rows(len(wanted))],
        )
        out[key] = distributed.all_gather_array(ranks)
    model.train(was_training)
    return out


def evaluate(
    model: RecGURU,
    batcher: Batcher,
    split: str,
    *,
    full_ranking: bool = False,
    batch_size: int = 1024,
    cache: list[torch.Tensor] | None = None,
    rows: list[np.ndarray] | None = None,
) -> dict[str, dict[str, float]]:
    """Metrics per domain over all users, or over `rows` ([rows of A, rows of B]) when given
    ({'A': {...}, 'B': {...}}); `cache` as in score_rows."""
    ranks = user_ranks(
        model, batcher, split, full_ranking=full_ranking, batch_size=batch_size, cache=cache, rows=rows
    )
    return {key: metrics_from_ranks(r) for key, r in ranks.items()}
