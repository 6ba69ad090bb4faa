"""RecGURU: generalized user representations (GURU) + cross-domain sequential recommender (CDSRec).

Read top to bottom:
    ModelConfig     frozen, typed hyper-parameters; to_dict / from_dict with plain python types
    DomainEmbedding per-domain item table (V+2 rows: 0 pad, 1..V items, V+1 eos/start) + trainable
                    positions counted from the right end
    RecGURU         one shared bidirectional encoder -> GUR at the eos column (paper eq. 4);
                    per-domain reconstruction decoders (eq. 5, sampled softmax);
                    per-domain CDSRec (same structure as a decoder, section 6.1.2) over the last
                    short_len items, attending to a memory of one or two GURs (eq. 2, 10, 11)
    Discriminator   the domain critic: an MLP d -> disc_hidden -> ... -> 1 (disc_layers linear
                    layers, LeakyReLU) without normalisation

Data conventions: per domain items are 1..V, 0 = pad, V+1 = eos; sequences are int64 (B, L),
LEFT-padded; an encoder input's last column is eos. Domain 0 = A, 1 = B. Batches may be trimmed of
left padding: positions are counted from the right (see layers.py), so trimming is a no-op.

What the trainer composes (nothing here reads files, samples batches or steps optimisers):
    h   = model.encode(d, seq)                                   pre-train / adversarial
    rec = model.reconstruction_loss(d, seq, h)                   eq. 5
    mem, mask = model.cdsrec_memory(h_own, h_other, other_valid) eq. 2 (both GURs, masked)
    q   = model.cdsrec_hidden(d, history, mem, mask)             (B, L', d), q_t predicts item t+1
    s   = model.score_items(d, q, candidates)                    eq. 11, for BPR (eq. 12) / eval
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..common.config import config_from_dict
from ..common.errors import RecGuruError
from .layers import PAD, Decoder, Encoder, positions_from_right
from .losses import sampled_softmax_loss

# ----------------------------------------------------------------------------- config


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters; defaults are the paper's Amazon settings (sections 4.2, 6.1).

    max_len (N): history length the encoder reads; positions table has N+2 rows, enough for
        N items + eos (encoder), N items after the start token (decoder), N history items (CDSRec).
    cdsrec_layers: CDSRec "uses the same structure as the decoder" (6.1.2), so 3 like n_layers.
    short_len (m): CDSRec reads only the last m history items (its short-term window, 3.4); the
        long-term preference arrives through the GUR. m=50 is half of N; Amazon users average
        7-10 items, so in practice it rarely cuts anything there.
    attend_both_gurs: CDSRec of an overlapped user attends to its GURs from both domains (eq. 2);
        False: to the target domain's GUR only.
    shared_eos_position: one [eos] vector and one positional table for both domains (items stay
        per domain). The GUR is read at eos, so per-domain eos/position rows put a constant
        domain offset into every GUR that a linear probe separates perfectly (measured: domain
        AUC 1.0 after pre-training, and the adversarial phase could not remove it in hundreds of
        steps); shared, the pre-trained AUC is ~0.91 and the critic has real work to do.
    disc_dropout: dropout between critic layers; 0 by default since a stochastic critic makes
        the gradient penalty noisy (the authors used 0.2).
    use_gur: False gives the paper's "SeqRec" ablation (Table 3): CDSRec attends to a zero
        memory, i.e. a plain causal sequential recommender with no user representation.
    shared_encoder: False gives one encoder per domain (the "+Auto"/AutoRec ablation, whose GUR
        comes from an autoencoder trained on the target domain only).
    """

    n_items_a: int
    n_items_b: int
    max_len: int = 100
    d_model: int = 64
    n_heads: int = 2
    n_layers: int = 3
    d_ff: int = 512
    dropout: float = 0.1
    disc_hidden: int = 128
    disc_layers: int = 4
    disc_dropout: float = 0.0
    neg_softmax: int = 20
    cdsrec_layers: int = 3
    short_len: int = 50
    attend_both_gurs: bool = True
    shared_eos_position: bool = True
    use_gur: bool = True
    shared_encoder: bool = True

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kind = {"int": int, "float": (int, float), "bool": bool}[f.type]
            if isinstance(value, bool) != (f.type == "bool") or not isinstance(value, kind):
                raise RecGuruError(f"model config: {f.name} must be {f.type}, got {value!r}")
        positive = [
            "max_len",
            "d_model",
            "n_heads",
            "n_layers",
            "d_ff",
            "disc_hidden",
            "disc_layers",
            "neg_softmax",
            "cdsrec_layers",
            "short_len",
        ]
        for name in positive:
            if getattr(self, name) < 1:
                raise RecGuruError(f"model config: {name} must be >= 1, got {getattr(self, name)}")
        for name in ("n_items_a", "n_items_b"):
            if getattr(self, name) < 2:
                raise RecGuruError(f"model config: {name} must be >= 2, got {getattr(self, name)}")
        for name in ("dropout", "disc_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise RecGuruError(f"model config: {name} must be in [0, 1), got {getattr(self, name)}")
        if self.d_model % self.n_heads:
            raise RecGuruError(
                f"model config: d_model={self.d_model} must be divisible by n_heads={self.n_heads}"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return config_from_dict(cls, data, "model config")

    def n_items(self, domain: int) -> int:
        return (self.n_items_a, self.n_items_b)[domain]


# ----------------------------------------------------------------------------- helpers


def shift_right(items: Tensor, start_id: int) -> Tensor:
    """Teacher-forcing input: (B, L) left-padded items -> (B, L) previous item at each column,
    with start_id at each row's first real column. [0, 0, a, b, c] -> [0, 0, s, a, b]."""
    shifted = F.pad(items[:, :-1], (1, 0), value=PAD)  # (B, L)
    first = (shifted == PAD) & (items != PAD)  # (B, L) first real column of each row
    return torch.where(first, torch.full_like(items, start_id), shifted)


class DomainEmbedding(nn.Module):
    """Item embedding (V+2 rows, pad row 0 fixed at zero) + trainable positions from the right."""

    def __init__(self, *, n_items: int, n_positions: int, d_model: int, dropout: float) -> None:
        super().__init__()
        self.item = nn.Embedding(n_items + 2, d_model, padding_idx=PAD)
        self.position = nn.Embedding(n_positions, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, seq: Tensor) -> Tensor:
        """(B, L) item ids -> (B, L, d)."""
        length = seq.size(1)
        if length > self.position.num_embeddings:
            raise ValueError(
                f"sequence width {length} exceeds the {self.position.num_embeddings} positions "
                "of this model (max_len + 2)"
            )
        pos = self.position(positions_from_right(length, seq.device))  # (L, d)
        items = self.item(seq)  # (B, L, d)
        shared_eos = getattr(self, "shared_eos", None)
        if shared_eos is not None:
            eos = seq == self.item.num_embeddings - 1  # (B, L)
            items = torch.where(eos[..., None], shared_eos.to(items.dtype), items)
        return self.drop(items + pos)  # (B, L, d)


# ----------------------------------------------------------------------------- RecGURU


class RecGURU(nn.Module):
    """GURU (shared encoder, per-domain decoders) and per-domain CDSRec. See the module docstring."""

    def __init__(self, *, config: ModelConfig) -> None:
        super().__init__()
        c = self.config = config
        blocks = dict(d_model=c.d_model, n_heads=c.n_heads, d_ff=c.d_ff, dropout=c.dropout)
        self.embeddings = nn.ModuleList(
            DomainEmbedding(
                n_items=c.n_items(d), n_positions=c.max_len + 2, d_model=c.d_model, dropout=c.dropout
            )
            for d in (0, 1)
        )
        self.encoder = Encoder(n_layers=c.n_layers, **blocks)  # shared by both domains
        if not c.shared_encoder:  # the single-domain ablation: domain B gets its own encoder
            self.encoder_b = Encoder(n_layers=c.n_layers, **blocks)
        self.decoders = nn.ModuleList(Decoder(n_layers=c.n_layers, **blocks) for _ in (0, 1))
        self.cdsrec = nn.ModuleList(Decoder(n_layers=c.cdsrec_layers, **blocks) for _ in (0, 1))
        if c.shared_eos_position:
            # One [eos] vector and one position table for both domains: the GUR is read at eos,
            # so per-domain eos/position rows would add a constant domain offset to every GUR.
            self.embeddings[1].position = self.embeddings[0].position
            self.shared_eos = nn.Parameter(torch.zeros(c.d_model))
            for emb in self.embeddings:
                emb.shared_eos = self.shared_eos
        self.apply(self._init_weights)
        if c.shared_eos_position:
            nn.init.normal_(self.shared_eos, mean=0.0, std=0.02)
        with torch.no_grad():
            for emb in self.embeddings:
                emb.item.weight[PAD].zero_()

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Disjoint parameter lists by part, for per-phase optimisers. Item embeddings are shared
        (tied) by encoder, decoders and CDSRec, so they form their own group."""
        return {
            "embeddings": list(self.embeddings.parameters()),
            "encoder": list(self.encoder.parameters())
            + ([] if self.config.shared_encoder else list(self.encoder_b.parameters())),
            "decoders": list(self.decoders.parameters()),
            "cdsrec": list(self.cdsrec.parameters()),
        }

    def item_embeddings(self, domain: int) -> Tensor:
        """(V+2, d) item table of a domain (row 0 pad, row V+1 eos)."""
        return self.embeddings[self._domain(domain)].item.weight

    @staticmethod
    def _domain(domain: int) -> int:
        if domain not in (0, 1):
            raise ValueError(f"domain must be 0 (A) or 1 (B), got {domain!r}")
        return domain

    # ------------------------------------------------------------------ GURU

    def encode(self, domain: int, seq: Tensor) -> Tensor:
        """GUR (paper eq. 4): seq (B, L) left-padded, last column eos -> (B, d).

        The shared encoder's output at the eos column; pad keys are masked, so the amount of left
        padding does not matter.
        """
        d = self._domain(domain)
        x = self.embeddings[d](seq)  # (B, L, d)
        encoder = self.encoder if d == 0 or self.config.shared_encoder else self.encoder_b
        return encoder(x, seq)  # (B, d)

    def reconstruction_loss(
        self, domain: int, seq: Tensor, h: Tensor, *, generator: torch.Generator | None = None
    ) -> Tensor:
        """Eq. 5 with sampled softmax: rebuild the items of seq (B, L) (eos last) from h (B, d).

        Teacher forcing: the decoder reads [start, v_1, .., v_{n-1}] (start = the eos id) and
        predicts [v_1, .., v_n] at each column, attending to the memory h as one row (M = 1, an
        exact linear map of h, no 100 copies). Loss: cross-entropy of each real item against
        neg_softmax uniform negatives (never the item itself), scored with the tied item table;
        averaged over all real positions of the batch (a token-level mean, so long and short
        sequences weigh by their length, as in eq. 5's sum).
        """
        d = self._domain(domain)
        n_items = self.config.n_items(d)
        items = seq[:, :-1]  # (B, L-1) the items before eos
        dec_in = shift_right(items, start_id=n_items + 1)  # (B, L-1)
        x = self.embeddings[d](dec_in)  # (B, L-1, d)
        out = self.decoders[d](x, dec_in, h[:, None, :])  # (B, L-1, d)
        real = items != PAD  # (B, L-1)
        return sampled_softmax_loss(
            out[real],
            items[real],
            self.item_embeddings(d),
            n_negatives=self.config.neg_softmax,
            n_items=n_items,
            generator=generator,
        )

    # ------------------------------------------------------------------ CDSRec

    def cdsrec_memory(
        self, h_own: Tensor, h_other: Tensor | None = None, other_valid: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Memory of GURs for CDSRec (eq. 2).

        h_own (B, d): the user's GUR in the target domain (always present).
        h_other (B, d): the GUR from the other domain; other_valid (B,) bool marks the overlapped
            users for whom it exists (rows of h_other elsewhere may hold anything, e.g. zeros).
        Returns memory (B, M, d) and memory_mask (B, M) bool or None, with M = 2 (slot 0 own, slot 1
        other, masked where invalid) if config.attend_both_gurs and h_other is given, else M = 1.
        A masked slot gets attention weight exactly 0, so a non-overlapped user's output equals the
        M = 1 output.
        """
        if not self.config.use_gur:  # SeqRec: nothing to attend to but a constant zero row
            return torch.zeros_like(h_own)[:, None, :], None  # (B, 1, d)
        if h_other is None or not self.config.attend_both_gurs:
            return h_own[:, None, :], None  # (B, 1, d)
        memory = torch.stack([h_own, h_other], dim=1)  # (B, 2, d)
        if other_valid is None:
            return memory, None
        mask = torch.stack([torch.ones_like(other_valid, dtype=torch.bool), other_valid.bool()], 1)
        return memory, mask  # (B, 2, d), (B, 2)

    def cdsrec_hidden(
        self,
        domain: int,
        items: Tensor,
        memory: Tensor,
        memory_mask: Tensor | None = None,
        *,
        return_attention: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Causal CDSRec states: items (B, L) left-padded history WITHOUT eos, memory (B, M, d),
        memory_mask (B, M) bool (slot 0 must be valid) -> (B, L', d), L' = min(L, short_len).

        Only the last short_len columns are read, so the output covers those columns: output column
        j is input column L - L' + j, and its state q predicts the item that follows it (align
        targets from the right: next_items[:, -L':]). Pad columns give finite values to ignore.
        return_attention: also the last layer's self-attention weights (B, h, L', L'), for
        explanations (an argument, not a hook, so concurrent callers never see each other's).
        """
        d = self._domain(domain)
        items = items[:, -self.config.short_len :]  # (B, L')
        x = self.embeddings[d](items)  # (B, L', d)
        return self.cdsrec[d](x, items, memory, memory_mask, return_attention=return_attention)

    def cdsrec_query(
        self, domain: int, items: Tensor, memory: Tensor, memory_mask: Tensor | None = None
    ) -> Tensor:
        """The user's current preference q (eq. 10): the last column of cdsrec_hidden, (B, d),
        with the last layer computed for that column only."""
        d = self._domain(domain)
        items = items[:, -self.config.short_len :]  # (B, L')
        return self.cdsrec[d](self.embeddings[d](items), items, memory, memory_mask, last_only=True)[:, -1]

    def scores(self, domain: int, q: Tensor) -> Tensor:
        """Eq. 11 over the whole item table: q (..., d) -> (..., V+2); pad and eos columns -inf."""
        weight = self.item_embeddings(domain)  # (V+2, d)
        s = q @ weight.t().to(q.dtype)  # (..., V+2)
        # in place on the fresh product (matmul's backward does not read its output): a copy
        # would double the (B, V+2) block full ranking holds at 1 M items
        s[..., PAD] = float("-inf")
        s[..., weight.size(0) - 1] = float("-inf")
        return s

    def score_items(self, domain: int, q: Tensor, items: Tensor) -> Tensor:
        """Eq. 11 for candidates: q (..., d), items (..., C) -> (..., C) (pad candidates score 0)."""
        emb = F.embedding(items, self.item_embeddings(domain), padding_idx=PAD)  # (..., C, d)
        return (emb.to(q.dtype) @ q.unsqueeze(-1)).squeeze(-1)  # (..., C)


# ----------------------------------------------------------------------------- discriminator


class Discriminator(nn.Module):
    """Domain critic f: (B, d) -> (B,) raw scores (logits for BCE, critic values for WGAN).

    n_layers fully connected layers d -> hidden -> ... -> 1 with LeakyReLU(0.2) between them
    (no dead units, the usual GAN-critic choice) and no batch/layer normalisation: WGAN-GP's
    penalty is per sample and batch norm would couple the samples.
    """

    def __init__(self, *, d_in: int, hidden: int = 128, n_layers: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        dims = [d_in] + [hidden] * (n_layers - 1) + [1]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(a, b))
            if i < n_layers - 1:
                layers.append(nn.LeakyReLU(0.2))
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        self.net = nn.Sequential(*layers)

    @classmethod
    def from_config(cls, config: ModelConfig) -> Discriminator:
        return cls(
            d_in=config.d_model,
            hidden=config.disc_hidden,
            n_layers=config.disc_layers,
            dropout=config.disc_dropout,
        )

    def forward(self, h: Tensor) -> Tensor:
        return self.net(h).squeeze(-1)  # (B,)
