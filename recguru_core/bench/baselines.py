"""The paper's baselines as `Recommender`s: POP, BPRMF and the EMCDR-style MFEM here, SASRec in
sasrec.py and BERT4Rec in bert4rec.py (on the shared helpers of this module).

All four follow the benchmark protocol of `recommender.py`: the same data, leave-one-out split,
candidates and metrics as RecGURU, embedding size 64, training on each user's training history
seq[:-2] only, and model selection (early stopping) on validation NDCG@10 only.

    Pop     item popularity in the training histories; no parameters
    BPRMF   matrix factorisation with the pairwise BPR loss (Rendle et al. 2009)
    SASRec  causal self-attention over the item sequence, BCE with one negative per position
            (Kang & McAuley 2018)
    EMCDR   "MFEM" of the paper: BPRMF in each domain, an MLP mapping a user's target-domain
            embedding to its source-domain embedding learned on overlapped users, then a linear
            layer over [target ; source] user embeddings fine-tuned with BPR (section 4.1)

Each learned model holds two independent sub-models, one per domain (0 = A, 1 = B), trained one
after the other. Everything that is not model-specific lives once in this module:

    TrainInteractions   the (user, item) pairs of the training histories, and "has the user
                        seen this item?" for drawing negatives the user never interacted with
    EarlyStopping       keep the best state_dict on validation NDCG@10, stop after `patience`
    fit_domain          the epoch loop: train, evaluate every few epochs, restore the best
    DotProductModel     score = user vector . item vector, over candidates or all ids

Determinism: every domain's sub-model starts from torch.manual_seed and a numpy Generator
derived from (seed, domain), so two fits under one seed give identical scores on CPU.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.domains import CrossDomainData, DomainData
from ..metrics.ranking import domain_ranks, metrics_from_ranks
from ..nn.layers import PAD
from ..nn.losses import bpr_loss
from .recommender import FitProgress

EMBED_DIM = 64  # the benchmark protocol: one embedding size for every model


# ----------------------------------------------------------------------------- configs


@dataclass(frozen=True, kw_only=True)
class BPRMFConfig:
    d_model: int = EMBED_DIM
    lr: float = 1e-2
    # L2 as Adam weight decay on the whole tables: cheaper than penalising the rows a batch
    # gathers (the BPR paper's form) and as good here.
    weight_decay: float = 1e-5
    n_negatives: int = 2  # per (user, item) pair; the loss averages over them
    batch_size: int = 4096
    max_epochs: int = 200
    eval_every: int = 2
    patience: int = 5  # evaluations without improvement before stopping


@dataclass(frozen=True, kw_only=True)
class EMCDRConfig:
    mf: BPRMFConfig = field(default_factory=BPRMFConfig)  # the per-domain embeddings
    map_hidden: int = 2 * EMBED_DIM
    map_lr: float = 1e-3
    map_epochs: int = 100
    map_batch_size: int = 256
    lr: float = 1e-3  # fine-tuning of the cross-domain user layer and the item table
    batch_size: int = 4096
    max_epochs: int = 100
    eval_every: int = 1
    patience: int = 3


# ----------------------------------------------------------------------------- shared helpers


def domain_generators(seed: int, domain: int) -> np.random.Generator:
    """Seed torch's global RNG (initialisation, dropout) and return the numpy Generator (batches,
    negatives) of one domain's sub-model: the two domains never share a random stream."""
    torch.manual_seed(int(np.random.SeedSequence([seed, domain]).generate_state(1)[0]))
    return np.random.default_rng([seed, domain])


class TrainInteractions:
    """One domain's training interactions: every (row, item) of every seq[:-2].

    `seen(rows, items)` answers membership through one sorted array of row * (V+2) + item keys
    (a binary search per query), which costs O(interactions) memory instead of a U x V bitmap.
    """

    def __init__(self, dom: DomainData):
        ends = dom.history_end(np.arange(dom.n_users), "train")
        counts = np.maximum(ends - dom.offsets[:-1], 0)  # (U,) training history lengths
        self.rows = np.repeat(np.arange(dom.n_users), counts)  # (N,)
        starts = np.repeat(dom.offsets[:-1] - np.cumsum(np.concatenate([[0], counts[:-1]])), counts)
        self.items = dom.items[np.arange(len(self.rows)) + starts].astype(np.int64)  # (N,)
        self.n_items = dom.n_items
        self._keys = np.sort(self.rows * (dom.n_items + 2) + self.items)

    def __len__(self) -> int:
        return len(self.rows)

    def seen(self, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = rows * (self.n_items + 2) + items
        at = np.minimum(np.searchsorted(self._keys, keys), max(len(self._keys) - 1, 0))
        return self._keys[at] == keys if len(self._keys) else np.zeros(keys.shape, dtype=bool)

    def negatives(self, rng: np.random.Generator, rows: np.ndarray, k: int, rounds: int = 8) -> np.ndarray:
        """(N, k) items drawn uniformly from 1..V among those row never interacted with in
        training. Collisions are redrawn a few rounds; a user who has seen almost every item may
        keep one (harmless, and it keeps the cost bounded)."""
        rows = np.broadcast_to(rows[:, None], (len(rows), k))
        out = rng.integers(1, self.n_items + 1, rows.shape)
        for _ in range(rounds):
            bad = self.seen(rows, out)
            if not bad.any():
                break
            out[bad] = rng.integers(1, self.n_items + 1, int(bad.sum()))
        return out


def length_bucketed(
    rng: np.random.Generator, rows: np.ndarray, lengths: np.ndarray, batch_size: int
) -> list[np.ndarray]:
    """One shuffled pass over `rows` in batches of users of similar length: the shuffled stream
    is cut into windows of 32 batches, each sorted by length, and the batches shuffled. A batch is
    trimmed to its longest row, so this keeps padding (wasted attention) small."""
    stream = rows[rng.permutation(len(rows))]
    batches = []
    for lo in range(0, len(stream), 32 * batch_size):
        window = stream[lo : lo + 32 * batch_size]
        window = window[np.argsort(lengths[window], kind="stable")]
        batches += [window[i : i + batch_size] for i in range(0, len(window), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def encode_by_length(
    dom: DomainData,
    rows: np.ndarray,
    split: str,
    encode: Callable[[np.ndarray], Tensor],
    out: Tensor,
    chunk: int = 256,
) -> Tensor:
    """Fill out[i, :k] with encode(rows[pick]) (b, k) for every row, in chunks of similar history
    length, so a batch of mostly short users is not padded to the longest. Returns `out`."""
    order = np.argsort(dom.history_end(rows, split) - dom.offsets[rows], kind="stable")
    for lo in range(0, len(rows), chunk):
        pick = order[lo : lo + chunk]
        encoded = encode(rows[pick])  # (b, k)
        out[torch.from_numpy(pick).to(out.device), : encoded.size(1)] = encoded
    return out


def adam(params, *, lr: float, device: torch.device, **kwargs) -> torch.optim.Adam:
    """Adam, fused where PyTorch has the kernel: on CPU the default per-tensor loop costs more
    than a whole small-model step."""
    fused = torch.device(device).type in ("cpu", "cuda")
    return torch.optim.Adam(params, lr=lr, fused=fused or None, **kwargs)


def dot_scores(users: Tensor, item_table: Tensor, candidates: Tensor | None) -> Tensor:
    """users (B, d), item_table (V+2, d) -> (B, C) scores of candidates (B, C), or (B, V+2) over
    all ids with pad (0) and eos (V+1) at -inf."""
    if candidates is None:
        scores = users @ item_table.T  # (B, V+2)
        scores[:, 0] = -math.inf
        scores[:, -1] = -math.inf
        return scores
    candidates = candidates.to(users.device)
    if item_table.size(0) <= 16 * candidates.size(1):
        # One (B, d) x (d, V+2) GEMM and a gather: on CPU far faster than B tiny batched
        # matrix-vector products, and the catalogue is small compared with the candidates.
        return (users @ item_table.T).gather(1, candidates)  # (B, C)
    return (item_table[candidates] * users[:, None]).sum(-1)  # (B, C)


class EarlyStopping:
    """Model selection on validation: keeps a copy of the best state_dict and counts the
    evaluations since it last improved."""

    def __init__(self, module: nn.Module, patience: int):
        self.module, self.patience = module, patience
        self.best, self.bad, self.best_state = -math.inf, 0, None

    def update(self, score: float) -> bool:
        """Record one validation score; True when training should stop."""
        if score > self.best:
            self.best, self.bad = score, 0
            self.best_state = copy.deepcopy(self.module.state_dict())
        else:
            self.bad += 1
        return self.bad >= self.patience

    def restore(self) -> None:
        if self.best_state is not None:
            self.module.load_state_dict(self.best_state)


def fit_domain(
    module: nn.Module,
    *,
    train_epoch: Callable[[], float],
    valid_ndcg: Callable[[], float],
    max_epochs: int,
    eval_every: int,
    patience: int,
    report: Callable[[int, str], None],
    evaluate_first: bool = False,
) -> float:
    """The epoch loop shared by every learned baseline: train, evaluate validation NDCG@10 every
    `eval_every` epochs (and after the last), stop after `patience` evaluations without
    improvement, and leave the best weights in `module`. `evaluate_first` also scores the
    starting weights, so a fine-tuned model can never end below its initialisation.
    Returns the best validation NDCG@10."""
    stopper = EarlyStopping(module, patience)
    if evaluate_first:
        stopper.update(valid_ndcg())
    for epoch in range(1, max_epochs + 1):
        loss = train_epoch()
        if epoch % eval_every and epoch != max_epochs:
            report(epoch, f"epoch {epoch} loss {loss:.4f}")
            continue
        score = valid_ndcg()
        report(
            epoch,
            f"epoch {epoch} loss {loss:.4f} valid NDCG@10 {score:.4f} (best {max(score, stopper.best):.4f})",
        )
        if stopper.update(score):
            break
    stopper.restore()
    return stopper.best


def domain_reporter(
    progress: FitProgress | None, domain: int, offset: int, per_domain: int, total: int, label: str
) -> Callable[[int, str], None]:
    """report(epoch, message) -> progress(done, total, message) for one domain's loop, where the
    domain's loop owns the units offset + domain * per_domain + 1 .. + per_domain."""

    def report(epoch: int, message: str) -> None:
        if progress is not None:
            done = offset + domain * per_domain + epoch
            progress(done, total, f"{label} {'AB'[domain]}: {message}")

    return report


# ----------------------------------------------------------------------------- POP


class Pop:
    """Recommends by popularity: the count of each item in the training histories."""

    name = "pop"

    def __init__(self) -> None:
        self.counts: list[Tensor] = []  # per domain (V+2,) with -inf at pad and eos

    def fit(
        self, data: CrossDomainData, *, device: torch.device, seed: int, progress: FitProgress | None = None
    ) -> None:
        self.counts = []
        for d in (0, 1):
            pop = torch.from_numpy(data.domain(d).popularity).float()  # (V,)
            inf = torch.tensor([-math.inf])
            self.counts.append(torch.cat([inf, pop, inf]).to(device))  # (V+2,)
        if progress is not None:
            progress(1, 1, "popularity counted")

    def score(self, domain: int, rows: np.ndarray, split: str, candidates: Tensor | None) -> Tensor:
        counts = self.counts[domain]
        if candidates is None:
            return counts.expand(len(rows), -1).clone()  # (B, V+2)
        return counts[candidates.to(counts.device)]  # (B, C)


# ----------------------------------------------------------------------------- dot-product base


class DotProductModel:
    """A recommender that scores user vector . item vector with one sub-model per domain.
    Subclasses provide `user_vectors(domain, rows, split)` (B, d) and `item_table(domain)`
    (V+2, d); scoring, validation and the BPR epoch are shared."""

    name = ""
    nets: nn.ModuleList

    def user_vectors(self, domain: int, rows: np.ndarray, split: str) -> Tensor:
        raise NotImplementedError

    def net(self, domain: int) -> nn.Module:
        """The sub-model that scores `domain` (sasrec_merged: one for both)."""
        return self.nets[domain]

    def item_table(self, domain: int) -> Tensor:
        return self.nets[domain].item.weight

    @torch.no_grad()
    def score(self, domain: int, rows: np.ndarray, split: str, candidates: Tensor | None) -> Tensor:
        net = self.net(domain)
        was_training = net.training
        net.eval()
        scores = dot_scores(
            self.user_vectors(domain, np.asarray(rows), split), self.item_table(domain), candidates
        )
        net.train(was_training)
        return scores

    def valid_ndcg(self, dom: DomainData) -> float:
        ranks = domain_ranks(dom, "valid", lambda r, s, c: self.score(dom.index, r, s, c))
        return metrics_from_ranks(ranks)["NDCG@10"]

    def bpr_epoch(
        self,
        domain: int,
        pairs: TrainInteractions,
        rng: np.random.Generator,
        opt: torch.optim.Optimizer,
        *,
        batch_size: int,
        n_negatives: int,
    ) -> float:
        """One shuffled pass over all training (user, item) pairs with the BPR loss against
        `n_negatives` items the user never interacted with. Returns the mean loss."""
        net = self.nets[domain]
        net.train()
        device = self.item_table(domain).device
        order = rng.permutation(len(pairs))
        total, steps = 0.0, 0
        for lo in range(0, len(order), batch_size):
            pick = order[lo : lo + batch_size]
            rows, pos = pairs.rows[pick], pairs.items[pick]
            neg = pairs.negatives(rng, rows, n_negatives)  # (N, K)
            user = self.user_vectors(domain, rows, "train")  # (N, d)
            table = self.item_table(domain)
            pos_emb = table[torch.from_numpy(pos).to(device)]  # (N, d)
            neg_emb = table[torch.from_numpy(neg).to(device)]  # (N, K, d)
            pos_scores = (user * pos_emb).sum(-1)  # (N,)
            neg_scores = (neg_emb * user[:, None]).sum(-1)  # (N, K)
            loss = bpr_loss(pos_scores, neg_scores)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, steps = total + loss.item(), steps + 1
        return total / max(steps, 1)


# ----------------------------------------------------------------------------- BPRMF


class MatrixFactorization(nn.Module):
    """One domain's user and item embeddings; score(u, i) = <user_u, item_i>."""

    def __init__(self, *, n_users: int, n_items: int, d_model: int):
        super().__init__()
        self.user = nn.Embedding(n_users, d_model)
        self.item = nn.Embedding(n_items + 2, d_model, padding_idx=PAD)
        # Small initial vectors (as in BPR-pytorch): scores start near 0, where the BPR
        # gradient is largest, instead of N(0, 1) dot products of size ~sqrt(d).
        nn.init.normal_(self.user.weight, std=0.01)
        nn.init.normal_(self.item.weight, std=0.01)
        with torch.no_grad():
            self.item.weight[PAD].zero_()


class BPRMF(DotProductModel):
    """Matrix factorisation trained with BPR: one epoch = every (user, training item) pair once,
    in shuffled batches, each against `n_negatives` unseen items; Adam; early stopping on
    validation NDCG@10. A user's vector is the same for 'valid' and 'test' (MF has no notion of
    the validation item being known history)."""

    name = "bprmf"

    def __init__(self, *, config: BPRMFConfig = BPRMFConfig()):
        self.config = config
        self.nets = nn.ModuleList()

    def user_vectors(self, domain: int, rows: np.ndarray, split: str) -> Tensor:
        net = self.nets[domain]
        return net.user(torch.as_tensor(rows, device=net.user.weight.device))  # (B, d)

    def fit(
        self, data: CrossDomainData, *, device: torch.device, seed: int, progress: FitProgress | None = None
    ) -> None:
        cfg = self.config
        total = 2 * cfg.max_epochs
        self.nets = nn.ModuleList()
        for d in (0, 1):
            dom = data.domain(d)
            rng = domain_generators(seed, d)
            net = MatrixFactorization(n_users=dom.n_users, n_items=dom.n_items, d_model=cfg.d_model).to(
                device
            )
            self.nets.append(net)
            pairs = TrainInteractions(dom)
            opt = adam(net.parameters(), lr=cfg.lr, device=device, weight_decay=cfg.weight_decay)
            fit_domain(
                net,
                train_epoch=lambda: self.bpr_epoch(
                    d, pairs, rng, opt, batch_size=cfg.batch_size, n_negatives=cfg.n_negatives
                ),
                valid_ndcg=lambda: self.valid_ndcg(dom),
                max_epochs=cfg.max_epochs,
                eval_every=cfg.eval_every,
                patience=cfg.patience,
                report=domain_reporter(progress, d, 0, cfg.max_epochs, total, "BPRMF"),
            )
        if progress is not None:
            progress(total, total, "BPRMF done")


# ----------------------------------------------------------------------------- EMCDR / MFEM


class EmbeddingMap(nn.Module):
    """The EMCDR mapping function: an MLP from a user's target-domain embedding to its
    source-domain embedding, fitted on overlapped users with MSE."""

    def __init__(self, *, d_model: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_model, hidden), nn.Tanh(), nn.Linear(hidden, d_model))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # (B, d)


class CrossDomainMF(nn.Module):
    """Target-domain recommender over a cross-domain user embedding (the paper's transfer
    baselines, section 4.2): user = Linear([own ; other]) where own is the user's target BPRMF
    embedding and other its source embedding (real or mapped); both are fixed inputs here.

    The linear layer starts as [I | 0] and the item table as the BPRMF one, so fine-tuning starts
    exactly at the BPRMF model; with validation early stopping that includes the starting point,
    the source domain can only be used where it helps on validation. (A randomly initialised
    layer, tried, ends below BPRMF on validation in both synthetic domains: the own embedding
    already fits the training pairs, so BPR leaves the source half little to learn from.)"""

    def __init__(self, *, own: Tensor, other: Tensor, item: Tensor):
        super().__init__()
        d = own.size(1)
        self.register_buffer("own", own.clone())  # (U, d)
        self.register_buffer("other", other.clone())  # (U, d)
        self.combine = nn.Linear(2 * d, d)
        self.item = nn.Embedding.from_pretrained(item.clone(), freeze=False, padding_idx=PAD)
        with torch.no_grad():
            self.combine.weight.copy_(torch.cat([torch.eye(d), torch.zeros(d, d)], dim=1))
            self.combine.bias.zero_()

    def user_vectors(self, rows: Tensor) -> Tensor:
        return self.combine(torch.cat([self.own[rows], self.other[rows]], dim=-1))  # (B, d)


class EMCDR(DotProductModel):
    """MFEM / EMCDR-style transfer. For each target domain t with source s:

    1. BPRMF in both domains separately (a `BPRMF` fitted on the data, its own early stopping);
    2. an `EmbeddingMap` target -> source fitted on the overlapped users' embedding pairs (MSE);
    3. the source part of every target user's embedding: the real source embedding for an
       overlapped user, the mapped target embedding for everyone else;
    4. `CrossDomainMF` fine-tuned with BPR on domain t, early stopping on t's validation.

    With no overlapped users there is nothing to fit the map on: the source part is zero, and the
    model is the target BPRMF with a fine-tuned linear user layer (it starts at BPRMF exactly).
    Source embeddings come from BPRMF trained on the source training histories, so no held-out
    item of either domain is used."""

    name = "emcdr"

    def __init__(self, *, config: EMCDRConfig = EMCDRConfig()):
        self.config = config
        self.nets = nn.ModuleList()

    def user_vectors(self, domain: int, rows: np.ndarray, split: str) -> Tensor:
        net = self.nets[domain]
        return net.user_vectors(torch.as_tensor(rows, device=net.own.device))  # (B, d)

    def fit(
        self, data: CrossDomainData, *, device: torch.device, seed: int, progress: FitProgress | None = None
    ) -> None:
        cfg = self.config
        mf_units = 2 * cfg.mf.max_epochs
        total = mf_units + 2 * cfg.max_epochs

        def mf_progress(done: int, _total: int, message: str) -> None:
            if progress is not None:
                progress(done, total, f"EMCDR/{message}")

        mf = BPRMF(config=cfg.mf)
        mf.fit(data, device=device, seed=seed, progress=mf_progress)
        self.nets = nn.ModuleList()
        for t in (0, 1):
            dom = data.domain(t)
            rng = domain_generators(seed + 1, t)  # streams distinct from the BPRMF stage
            own = mf.nets[t].user.weight.detach()  # (U_t, d)
            other = self.source_part(data, t, own, mf.nets[1 - t].user.weight.detach(), rng)
            net = CrossDomainMF(own=own, other=other, item=mf.nets[t].item.weight.detach())
            self.nets.append(net.to(device))
            pairs = TrainInteractions(dom)
            opt = adam(
                [p for p in net.parameters() if p.requires_grad],
                lr=cfg.lr,
                device=device,
                weight_decay=cfg.mf.weight_decay,
            )
            fit_domain(
                net,
                train_epoch=lambda: self.bpr_epoch(
                    t, pairs, rng, opt, batch_size=cfg.batch_size, n_negatives=cfg.mf.n_negatives
                ),
                valid_ndcg=lambda: self.valid_ndcg(dom),
                max_epochs=cfg.max_epochs,
                eval_every=cfg.eval_every,
                patience=cfg.patience,
                report=domain_reporter(progress, t, mf_units, cfg.max_epochs, total, "EMCDR"),
                evaluate_first=True,
            )
        if progress is not None:
            progress(total, total, "EMCDR done")

    def source_part(
        self, data: CrossDomainData, t: int, own: Tensor, source_users: Tensor, rng: np.random.Generator
    ) -> Tensor:
        """(U_t, d) source-domain embedding of every target user: real where overlapped, mapped
        from the target embedding otherwise; zeros if there are no overlapped users."""
        partner = torch.from_numpy(data.partner_rows(t)).to(own.device)  # (U_t,) -1: not shared
        shared = partner >= 0
        other = torch.zeros_like(own)
        if not bool(shared.any()):
            return other
        mapping = self.fit_map(own[shared], source_users[partner[shared]], rng)
        with torch.no_grad():
            other[~shared] = mapping(own[~shared])
        other[shared] = source_users[partner[shared]]
        return other

    def fit_map(self, x: Tensor, y: Tensor, rng: np.random.Generator) -> EmbeddingMap:
        """Fit the target -> source map on overlapped users' (x, y) embedding pairs, MSE.
        A fixed number of epochs: there is no recommendation metric to select it on."""
        cfg = self.config
        mapping = EmbeddingMap(d_model=x.size(1), hidden=cfg.map_hidden).to(x.device)
        opt = adam(mapping.parameters(), lr=cfg.map_lr, device=x.device)
        for _ in range(cfg.map_epochs):
            order = torch.from_numpy(rng.permutation(len(x))).to(x.device)
            for lo in range(0, len(x), cfg.map_batch_size):
                pick = order[lo : lo + cfg.map_batch_size]
                loss = F.mse_loss(mapping(x[pick]), y[pick])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        return mapping.eval()
