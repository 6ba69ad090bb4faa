"""SASRec on the merged A+B timeline (`sasrec_merged`): the simple cross-domain baseline that
recent work (AutoCDSR, KDD'25) finds close to the state of the art. One SASRecNet (sasrec.py)
over one vocabulary holding both catalogues, one sequence per user: the user's items of both
domains in time order. Scores are restricted to the target domain's items.

    merged id    A item i -> i (1..V_A), B item j -> V_A + j (V_A+1..V_A+V_B); 0 = pad
    training     every user's training histories of both domains (seq[:-2] of each), merged
                 by timestamp; at every position the next item (of either domain) is the
                 positive, one item of that item's domain the user never interacted with in
                 training the negative, BCE (SASRec's loss)
    scoring      domain d, split s: d's history of split s (valid: seq[:-2], test: seq[:-1])
                 merged with the other domain's TRAINING history (never its valid/test
                 items), truncated to the last max_len items; hidden state of the last
                 position . item embeddings of d's catalogue
    selection    validation NDCG@10, the mean of the two domains (one model serves both)

Ties in time put the scored domain's item last. The per-domain leave-one-out split has no
cross-domain time cut-off, so other-domain training items may be later than the scored target
(RecGURU's GUR reads the same other-domain training history): see docs/design.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ..data.domains import CrossDomainData, left_padded
from ..metrics.ranking import domain_ranks, metrics_from_ranks
from ..nn.layers import PAD
from .baselines import (
    DotProductModel,
    TrainInteractions,
    adam,
    domain_generators,
    encode_by_length,
    fit_domain,
    length_bucketed,
)
from .recommender import FitProgress
from .sasrec import SASRecConfig, SASRecNet, bce_step


@dataclass(frozen=True, kw_only=True)
class MergedConfig(SASRecConfig):
    pass  # SASRec's settings; one model for both domains


def _segments(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, index): for every k, the positions starts[k] .. ends[k]-1 and k for each."""
    lengths = np.maximum(ends - starts, 0)
    owner = np.repeat(np.arange(len(starts)), lengths)
    first = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return owner, first + np.arange(len(owner))


def merged_histories(
    data: CrossDomainData, domain: int, rows: np.ndarray, split: str
) -> tuple[np.ndarray, np.ndarray]:
    """CSR (offsets (n+1,), merged ids) of each row's merged, time-ordered history: `domain`'s
    history of `split` plus, for overlapped users, the other domain's training history."""
    own, other = data.domain(domain), data.domain(1 - domain)
    base = (0, data.a.n_items)
    partner = data.partner_rows(domain)[rows]  # (n,) -1: not in the other domain
    o_owner, o_idx = _segments(own.offsets[rows], own.history_end(rows, split))
    has = partner >= 0
    p_rows = partner[has]
    x_owner, x_idx = _segments(other.offsets[p_rows], other.history_end(p_rows, "train"))
    x_owner = np.flatnonzero(has)[x_owner]
    owner = np.concatenate([o_owner, x_owner])
    time = np.concatenate([own.timestamps[o_idx], other.timestamps[x_idx]])
    items = np.concatenate([own.items[o_idx] + base[domain], other.items[x_idx] + base[1 - domain]])
    mine = np.concatenate([np.ones(len(o_owner), np.int8), np.zeros(len(x_owner), np.int8)])
    order = np.lexsort((mine, time, owner))  # by row, then time; on a tie the scored domain last
    offsets = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=len(rows)))])
    return offsets, items[order].astype(np.int64)


def mean_valid_ndcg(data: CrossDomainData, score) -> float:
    """Validation NDCG@10 of a model serving both domains, the mean of the two (score: the
    Recommender's score(domain, rows, split, candidates))."""
    return float(
        np.mean(
            [
                metrics_from_ranks(
                    domain_ranks(data.domain(d), "valid", lambda r, s, c, d=d: score(d, r, s, c))
                )["NDCG@10"]
                for d in (0, 1)
            ]
        )
    )


def merged_training(data: CrossDomainData) -> _Sequences:
    """Every user once, with both domains' training histories merged by time: the users of A
    (with their B training history where overlapped), then the users of B that are not in A."""
    alone_b = np.flatnonzero(data.partner_rows(1) < 0)
    train = [merged_histories(data, 0, np.arange(data.a.n_users), "train")]
    train.append(merged_histories(data, 1, alone_b, "train"))
    offsets = np.concatenate([train[0][0], train[0][0][-1] + train[1][0][1:]])
    items = np.concatenate([train[0][1], train[1][1]])
    # each merged user's row in each domain, -1 where none (negatives the user never saw there)
    rows_a = np.concatenate([np.arange(data.a.n_users), np.full(len(alone_b), -1)])
    rows_b = np.concatenate([data.partner_rows(0), alone_b])
    return _Sequences(offsets, items, rows_a, rows_b, data.a.n_items)


class SASRecMerged(DotProductModel):
    """SASRec over each user's merged A+B sequence (see the module docstring)."""

    name = "sasrec_merged"

    def __init__(self, *, config: MergedConfig = MergedConfig()):
        self.config = config
        self.nets = nn.ModuleList()
        self.data: CrossDomainData | None = None
        self.max_len = config.max_len or 0

    def net(self, domain: int) -> nn.Module:
        return self.nets[0]  # one model serves both domains

    def item_table(self, domain: int) -> Tensor:
        """(V_d + 2, d): pad, domain d's items, and a stand-in row for eos (scored -inf)."""
        table = self.nets[0].item.weight
        lo = 1 if domain == 0 else self.data.a.n_items + 1
        items = table[lo : lo + self.data.domain(domain).n_items]
        return torch.cat([table[:1], items, table[:1]])

    def user_vectors(self, domain: int, rows: np.ndarray, split: str) -> Tensor:
        """(B, d) last hidden state over each row's merged history."""
        dom = self.data.domain(domain)
        net = self.nets[0]
        device = net.item.weight.device

        def encode(pick: np.ndarray) -> Tensor:
            offsets, items = merged_histories(self.data, domain, pick, split)
            seq = left_padded(offsets, items, np.arange(len(pick)), offsets[1:], self.max_len, None)
            return net(torch.from_numpy(seq).to(device), last_only=True)  # (b, d)

        out = torch.empty(len(rows), net.item.embedding_dim, device=device)
        return encode_by_length(dom, rows, split, encode, out)

    def valid_ndcg(self, dom=None) -> float:
        return mean_valid_ndcg(self.data, self.score)

    def fit(
        self, data: CrossDomainData, *, device: torch.device, seed: int, progress: FitProgress | None = None
    ) -> None:
        cfg = self.config
        self.data = data
        self.max_len = cfg.max_len or data.a.cfg.max_len
        rng = domain_generators(seed, 0)
        net = SASRecNet(n_items=data.a.n_items + data.b.n_items, max_len=self.max_len, cfg=cfg).to(device)
        self.nets = nn.ModuleList([net])
        seqs = merged_training(data)
        pairs = (TrainInteractions(data.a), TrainInteractions(data.b))
        users = np.flatnonzero(np.diff(seqs.offsets) >= 2)  # at least one (input, next item) pair
        opt = adam(net.parameters(), lr=cfg.lr, device=device, betas=(0.9, 0.98))

        def report(epoch: int, message: str) -> None:
            if progress is not None:
                progress(epoch, cfg.max_epochs, f"SASRec (merged): {message}")

        fit_domain(
            net,
            train_epoch=lambda: self._epoch(seqs, pairs, users, rng, opt),
            valid_ndcg=self.valid_ndcg,
            max_epochs=cfg.max_epochs,
            eval_every=cfg.eval_every,
            patience=cfg.patience,
            report=report,
        )
        if progress is not None:
            progress(cfg.max_epochs, cfg.max_epochs, "SASRec (merged) done")

    def _epoch(self, seqs: _Sequences, pairs, users: np.ndarray, rng: np.random.Generator, opt) -> float:
        net = self.nets[0]
        net.train()
        total, steps = 0.0, 0
        for batch in length_bucketed(rng, users, np.diff(seqs.offsets), self.config.batch_size):
            window = left_padded(
                seqs.offsets, seqs.items, batch, seqs.offsets[batch + 1], self.max_len + 1, None
            )
            seq, pos = window[:, :-1], window[:, 1:]  # (B, L): column t predicts the item after it
            real = seq != PAD
            neg = seqs.negatives(rng, pairs, np.broadcast_to(batch[:, None], seq.shape)[real], pos[real])
            negs = np.zeros_like(pos)
            negs[real] = neg
            total, steps = total + bce_step(net, opt, seq, pos, negs, real), steps + 1
        return total / max(steps, 1)


@dataclass
class _Sequences:
    """The merged training sequences (CSR over merged users) and each user's domain rows."""

    offsets: np.ndarray
    items: np.ndarray  # merged ids
    rows_a: np.ndarray  # (users,) row in A, -1 where none
    rows_b: np.ndarray
    n_items_a: int

    def negatives(self, rng, pairs, users: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """(N,) one negative per position, from the target's domain, unseen by the user there."""
        out = np.empty(len(users), dtype=np.int64)
        in_b = targets > self.n_items_a
        for domain, pick, rows in ((0, ~in_b, self.rows_a), (1, in_b, self.rows_b)):
            if pick.any():
                drawn = pairs[domain].negatives(rng, rows[users[pick]], 1)[:, 0]
                out[pick] = drawn + (self.n_items_a if domain else 0)
        return out
