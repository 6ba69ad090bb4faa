"""C2DSR (Cao et al., CIKM'22), the reference cross-domain sequential recommender, written from
its paper as a `Recommender` (its MIT code read to understand the details). Three parts:

    graphs       two item graphs from the merged training sequences (sasrec_merged.py's merged
                 ids: A 1..V_A, B V_A+1..V_A+V_B): the cross-domain graph links consecutive
                 items of a user's merged sequence, the single-domain graph consecutive items of
                 the same domain; edges directed, rows normalised. An item's representation is
                 its embedding plus one propagation step over the graph (G e)
    encoders     three causal self-attentive encoders (layers.EncoderBlock): the merged one over
                 the merged sequence (cross-graph embeddings) and one per domain over the same
                 sequence with the other domain's items masked out (single-graph embeddings of
                 that domain's own table)
    objective    at every position whose next item is in domain d: full-softmax cross-entropy of
                 lin_d(h_merged + h_d) over d's items (h_d: d's encoder at the last d item so
                 far) and of lin_d(h_merged) alone (the shared term); plus the contrastive
                 infomax term: a bilinear critic D_A tells (A-specific summary, merged summary at
                 B positions) from the same pair whose merged sequence had its A items replaced
                 by random A items, and D_B likewise; loss = lam * prediction + (1 - lam) * infomax

Scoring (domain d, split s): the merged history of sasrec_merged (d's split history plus the other
domain's training history, never its held-out items), lin_d(h_merged at the last position + h_d
at the last d item) over d's items. Model selection: the mean validation NDCG@10 of the two
domains. Departures from the paper and its code: docs/design.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.domains import CrossDomainData, left_padded
from ..nn.layers import PAD, EncoderBlock, causal_padding_mask, positions_from_right
from .baselines import EMBED_DIM, adam, domain_generators, encode_by_length, fit_domain, length_bucketed
from .recommender import FitProgress
from .sasrec_merged import mean_valid_ndcg, merged_histories, merged_training


@dataclass(frozen=True, kw_only=True)
class C2DSRConfig:
    d_model: int = EMBED_DIM
    n_layers: int = 2
    n_heads: int = 1
    dropout: float = 0.2
    max_len: int | None = None  # None: the data's cfg.max_len
    lam: float = 0.7  # prediction vs infomax (the paper's lambda)
    lr: float = 1e-3
    batch_size: int = 64
    max_epochs: int = 200
    eval_every: int = 2
    patience: int = 3


def item_graph(offsets: np.ndarray, items: np.ndarray, n_nodes: int, split_at: int | None) -> Tensor:
    """Row-normalised (n_nodes, n_nodes) sparse graph of consecutive items of every sequence:
    all of them (split_at None), or only consecutive items of one domain (A: id <= split_at,
    B: above) taken in order within that domain."""
    seq_of = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    src, dst = [], []
    groups = [None] if split_at is None else [items <= split_at, items > split_at]
    for keep in groups:
        sel = np.ones(len(items), bool) if keep is None else keep
        it, sq = items[sel], seq_of[sel]
        same = sq[1:] == sq[:-1]  # consecutive within one sequence (and domain)
        src.append(it[:-1][same])
        dst.append(it[1:][same])
    src, dst = np.concatenate(src), np.concatenate(dst)
    keys = np.unique(src.astype(np.int64) * n_nodes + dst)  # each edge once
    src, dst = keys // n_nodes, keys % n_nodes
    degree = np.bincount(src, minlength=n_nodes).astype(np.float32)
    values = 1.0 / degree[src]
    index = torch.from_numpy(np.stack([src, dst]))
    return torch.sparse_coo_tensor(
        index, torch.from_numpy(values), (n_nodes, n_nodes), check_invariants=True
    ).coalesce()


class _Encoder(nn.Module):
    """Learned positions (from the right) + causal EncoderBlocks + LayerNorm over given inputs."""

    def __init__(self, *, max_len: int, cfg: C2DSRConfig):
        super().__init__()
        self.position = nn.Embedding(max_len, cfg.d_model)
        nn.init.normal_(self.position.weight, std=0.02)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(
            EncoderBlock(
                d_model=cfg.d_model,
                n_heads=cfg.n_heads,
                d_ff=cfg.d_model,
                dropout=cfg.dropout,
                attn_dropout=0.0,
            )
            for _ in range(cfg.n_layers)
        )
        self.ln_f = nn.LayerNorm(cfg.d_model)

    def forward(self, seq: Tensor, emb: Tensor) -> Tensor:
        """seq (B, L) ids (0 = pad/masked), emb (B, L, d) -> (B, L, d)."""
        x = self.drop(emb + self.position(positions_from_right(seq.size(1), seq.device)))
        mask = causal_padding_mask(seq)  # (B, 1, L, L)
        for block in self.blocks:
            x = block(x, mask)
        return self.ln_f(x)


class C2DSRNet(nn.Module):
    def __init__(self, *, n_a: int, n_b: int, max_len: int, cfg: C2DSRConfig, cross: Tensor, single: Tensor):
        super().__init__()
        n_nodes = n_a + n_b + 1  # pad + both catalogues
        self.n_a, self.scale = n_a, cfg.d_model**0.5
        self.emb = nn.ModuleList(nn.Embedding(n_nodes, cfg.d_model, padding_idx=PAD) for _ in range(3))
        for table in self.emb:  # merged, A, B
            nn.init.normal_(table.weight, std=0.02)
            with torch.no_grad():
                table.weight[PAD].zero_()
        self.encoders = nn.ModuleList(_Encoder(max_len=max_len, cfg=cfg) for _ in range(3))
        self.out = nn.ModuleList([nn.Linear(cfg.d_model, n_a), nn.Linear(cfg.d_model, n_b)])
        self.critics = nn.ModuleList(nn.Bilinear(cfg.d_model, cfg.d_model, 1) for _ in range(2))
        self.register_buffer("cross", cross, persistent=False)
        self.register_buffer("single", single, persistent=False)

    def tables(self) -> list[Tensor]:
        """Item representations: embedding + one propagation step (merged: cross graph; A, B: the
        single-domain graph)."""
        return [
            e.weight + torch.sparse.mm(g, e.weight)
            for e, g in zip(self.emb, (self.cross, self.single, self.single))
        ]

    def encode(self, seq: Tensor, tables: list[Tensor], parts: int = 3) -> list[Tensor]:
        """seq (B, L) merged ids -> [merged, A-specific, B-specific] features, each (B, L, d)
        (the first `parts` of them)."""
        in_a = (seq > 0) & (seq <= self.n_a)
        views = (seq, torch.where(in_a, seq, 0), torch.where(in_a, 0, seq))[:parts]
        return [enc(v, t[v] * self.scale) for enc, v, t in zip(self.encoders, views, tables)]

    @staticmethod
    def last_of(feats: Tensor, is_domain: Tensor) -> Tensor:
        """(B, L, d) -> (B, L, d): at each column the feature of the last column <= it whose item
        is in the domain (zeros before the first)."""
        cols = torch.arange(is_domain.size(1), device=feats.device).expand_as(is_domain)
        last = torch.where(is_domain, cols, -1).cummax(dim=1).values  # (B, L)
        picked = feats.gather(1, last.clamp(min=0)[..., None].expand_as(feats))
        return picked * (last >= 0)[..., None]


class C2DSR:
    """C2DSR as a Recommender (see the module docstring)."""

    name = "c2dsr"

    def __init__(self, *, config: C2DSRConfig = C2DSRConfig()):
        self.config = config
        self.net: C2DSRNet | None = None
        self.data: CrossDomainData | None = None
        self.max_len = config.max_len or 0

    # -- scoring ------------------------------------------------------------------------------
    def user_scores(self, domain: int, rows: np.ndarray, split: str) -> Tensor:
        """(B, V_d) scores of domain d's items for each row's merged history."""
        net, dom = self.net, self.data.domain(domain)
        device = net.out[0].weight.device
        tables = net.tables()

        def encode(pick: np.ndarray) -> Tensor:
            offsets, items = merged_histories(self.data, domain, pick, split)
            seq = torch.from_numpy(
                left_padded(offsets, items, np.arange(len(pick)), offsets[1:], self.max_len, None)
            ).to(device)
            merged, spec_a, spec_b = net.encode(seq, tables)
            in_a = (seq > 0) & (seq <= net.n_a)
            own = in_a if domain == 0 else (seq > net.n_a)
            spec = C2DSRNet.last_of(spec_a if domain == 0 else spec_b, own)[:, -1]
            return net.out[domain](merged[:, -1] + spec)  # (b, V_d)

        out = torch.empty(len(rows), dom.n_items, device=device)
        return encode_by_length(dom, rows, split, encode, out)

    @torch.no_grad()
    def score(self, domain: int, rows: np.ndarray, split: str, candidates: Tensor | None) -> Tensor:
        was = self.net.training
        self.net.eval()
        inner = self.user_scores(domain, np.asarray(rows), split)  # (B, V)
        self.net.train(was)
        pad = torch.full((len(rows), 1), -torch.inf, device=inner.device)
        full = torch.cat([pad, inner, pad], dim=1)  # (B, V + 2): pad and eos never ranked
        return full if candidates is None else full.gather(1, candidates.to(full.device))

    def valid_ndcg(self) -> float:
        return mean_valid_ndcg(self.data, self.score)

    # -- training -----------------------------------------------------------------------------
    def fit(
        self, data: CrossDomainData, *, device: torch.device, seed: int, progress: FitProgress | None = None
    ) -> None:
        cfg = self.config
        self.data = data
        self.max_len = cfg.max_len or data.a.cfg.max_len
        rng = domain_generators(seed, 0)
        seqs = merged_training(data)
        n_nodes = data.a.n_items + data.b.n_items + 1
        cross = item_graph(seqs.offsets, seqs.items, n_nodes, None)
        single = item_graph(seqs.offsets, seqs.items, n_nodes, data.a.n_items)
        self.net = C2DSRNet(
            n_a=data.a.n_items, n_b=data.b.n_items, max_len=self.max_len, cfg=cfg, cross=cross, single=single
        ).to(device)
        opt = adam(self.net.parameters(), lr=cfg.lr, device=device)
        users = np.flatnonzero(np.diff(seqs.offsets) >= 2)

        def report(epoch: int, message: str) -> None:
            if progress is not None:
                progress(epoch, cfg.max_epochs, f"C2DSR: {message}")

        fit_domain(
            self.net,
            train_epoch=lambda: self._epoch(seqs, users, rng, opt),
            valid_ndcg=self.valid_ndcg,
            max_epochs=cfg.max_epochs,
            eval_every=cfg.eval_every,
            patience=cfg.patience,
            report=report,
        )
        if progress is not None:
            progress(cfg.max_epochs, cfg.max_epochs, "C2DSR done")

    def _epoch(self, seqs, users: np.ndarray, rng: np.random.Generator, opt) -> float:
        net, cfg = self.net, self.config
        net.train()
        device = net.out[0].weight.device
        n_a, n_b = net.n_a, self.data.b.n_items
        total, steps = 0.0, 0
        for batch in length_bucketed(rng, users, np.diff(seqs.offsets), cfg.batch_size):
            window = left_padded(
                seqs.offsets, seqs.items, batch, seqs.offsets[batch + 1], self.max_len + 1, None
            )
            seq_np, target_np = window[:, :-1], window[:, 1:]  # column t predicts the item after it
            # the infomax negatives: each domain's items replaced by random items of that domain
            corrupt = [seq_np.copy(), seq_np.copy()]
            for d, (lo, hi) in enumerate(((1, n_a), (n_a + 1, n_a + n_b))):
                hit = (seq_np >= lo) & (seq_np <= hi)
                corrupt[d][hit] = rng.integers(lo, hi + 1, int(hit.sum()))
            seq, target = torch.from_numpy(seq_np).to(device), torch.from_numpy(target_np).to(device)
            tables = net.tables()
            merged, spec_a, spec_b = net.encode(seq, tables)
            in_a = (seq > 0) & (seq <= n_a)
            in_b = seq > n_a
            loss_pred = seq.new_zeros((), dtype=merged.dtype)
            for d, spec, own, lo in ((0, spec_a, in_a, 1), (1, spec_b, in_b, n_a + 1)):
                goal = (target >= lo) & (target < lo + (n_a if d == 0 else n_b)) & (seq > 0)
                if not goal.any():
                    continue
                h = merged[goal]  # (N, d)
                y = target[goal] - lo  # (N,) in 0..V_d-1
                specific = C2DSRNet.last_of(spec, own)[goal]
                loss_pred = loss_pred + F.cross_entropy(net.out[d](h + specific), y)
                loss_pred = loss_pred + F.cross_entropy(net.out[d](h), y)  # the shared term
            loss_mi = self._infomax(net, tables, merged, (spec_a, spec_b), (in_a, in_b), corrupt, device)
            loss = cfg.lam * loss_pred + (1 - cfg.lam) * loss_mi
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, steps = total + loss.item(), steps + 1
        return total / max(steps, 1)

    @staticmethod
    def _infomax(net, tables, merged, specs, masks, corrupt, device) -> Tensor:
        """Per domain d (other domain o): D_d tells (mean of d's encoder over d's items, mean of
        the merged encoder over o's items) from the same with d's items randomised in the merged
        sequence. Users without items of both domains in the window do not count."""

        def pool(feats: Tensor, mask: Tensor) -> Tensor:
            m = mask.float()[..., None]
            return (feats * m).sum(1) / m.sum(1).clamp(min=1.0)

        loss = merged.new_zeros(())
        both = masks[0].any(1) & masks[1].any(1)  # (B,)
        if not both.any():
            return loss
        for d in (0, 1):
            o = 1 - d
            summary = pool(specs[d], masks[d])[both]  # (n, d)
            real = pool(merged, masks[o])[both]
            fake_seq = torch.from_numpy(corrupt[d]).to(device)
            fake = pool(net.encode(fake_seq, tables, parts=1)[0], masks[o])[both]
            critic = net.critics[d]
            s_real, s_fake = critic(summary, real).squeeze(-1), critic(summary, fake).squeeze(-1)
            loss = loss + F.binary_cross_entropy_with_logits(s_real, torch.ones_like(s_real))
            loss = loss + F.binary_cross_entropy_with_logits(s_fake, torch.zeros_like(s_fake))
        return loss
