"""Transformer building blocks shared by the GURU encoder, the decoders and CDSRec.

Conventions (fixed by the data layer):
    item id 0 is padding, sequences are LEFT-padded, and batches may be trimmed of left padding.
    Positions are therefore counted from the RIGHT end: column j of a width-L batch has position
    L-1-j, so trimming (or adding) left padding changes no real token's position.

Masks are boolean, shaped to broadcast against (B, heads, L_query, L_key), True = "may attend"
(the convention of F.scaled_dot_product_attention). All blocks are pre-LN (LayerNorm before each
sub-layer, one final LayerNorm after the stack): it trains without learning-rate warm-up, which
matters because the adversarial phase starts from a pre-trained model with a fresh optimiser.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PAD = 0


# ----------------------------------------------------------------------------- masks & positions


def positions_from_right(length: int, device: torch.device | None = None) -> Tensor:
    """(L,) position index of each column, counted from the right end: [L-1, ..., 1, 0]."""
    return torch.arange(length - 1, -1, -1, device=device)


def key_padding_mask(seq: Tensor) -> Tensor:
    """(B, L) item ids -> (B, 1, 1, L) bool: every query may attend to every real (non-pad) key.

    Used by the bidirectional encoder. A row must hold at least one real token (the encoder's
    input always ends with eos), otherwise its attention would be a softmax over nothing.
    """
    return (seq != PAD)[:, None, None, :]


def causal_padding_mask(seq: Tensor) -> Tensor:
    """(B, L) item ids -> (B, 1, L, L) bool: query i may attend to real keys j <= i.

    Each position may also always attend to itself, so that the query rows of left padding
    (whose earlier keys are all padding) are never fully masked (that would give NaN). Those rows
    produce finite values that are never used: no real query attends to a pad key.
    """
    length = seq.size(1)
    causal = torch.ones(length, length, dtype=torch.bool, device=seq.device).tril()  # (L, L)
    diagonal = torch.eye(length, dtype=torch.bool, device=seq.device)  # (L, L)
    real_key = (seq != PAD)[:, None, None, :]  # (B, 1, 1, L)
    return causal & (real_key | diagonal)  # (B, 1, L, L)


# ----------------------------------------------------------------------------- attention


class Attention(nn.Module):
    """Multi-head attention of queries x_q (B, Lq, d) over keys/values x_kv (B, Lk, d).

    Uses F.scaled_dot_product_attention (fused kernels on CPU and CUDA, bf16-autocast friendly).
    If x_kv has a single row (Lk == 1) the softmax weight is exactly 1, so the result is
    out(value(x_kv)) for every query: computed directly, without queries, keys or a softmax.
    """

    def __init__(self, *, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.n_heads = n_heads
        self.d_model = d_model
        self.dropout = dropout
        self.query = nn.Linear(d_model, d_model)
        self.key_value = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(
        self, x_q: Tensor, x_kv: Tensor, mask: Tensor | None = None, *, return_weights: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """-> (B, Lq, d); with return_weights also the softmax weights (B, h, Lq, Lk), computed
        explicitly (the fused kernel does not expose them; explanations ask, training never)."""
        B, Lq, d = x_q.shape
        Lk = x_kv.size(1)
        if Lk == 1:  # one key: attention is a linear map of that row (mask must allow it)
            value = F.linear(x_kv, self.key_value.weight[d:], self.key_value.bias[d:])  # (B, 1, d)
            y = self.out(value).expand(B, Lq, d)  # (B, Lq, d)
            return (y, x_q.new_ones(B, self.n_heads, Lq, 1)) if return_weights else y
        h, dh = self.n_heads, d // self.n_heads
        q = self.query(x_q).view(B, Lq, h, dh).transpose(1, 2)  # (B, h, Lq, dh)
        k, v = self.key_value(x_kv).view(B, Lk, 2, h, dh).permute(2, 0, 3, 1, 4)  # 2 x (B, h, Lk, dh)
        if return_weights:
            logits = (q @ k.transpose(-1, -2)) / dh**0.5  # (B, h, Lq, Lk)
            if mask is not None:
                logits = logits.masked_fill(~mask, float("-inf"))
            weights = F.softmax(logits, dim=-1)  # (B, h, Lq, Lk)
            y = weights @ v  # (B, h, Lq, dh)  (no dropout: only asked for in eval)
            return self.out(y.transpose(1, 2).reshape(B, Lq, d)), weights
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )  # (B, h, Lq, dh)
        return self.out(y.transpose(1, 2).reshape(B, Lq, d))  # (B, Lq, d)


class FeedForward(nn.Module):
    """Position-wise d -> d_ff -> d with GELU. Dropout is applied by the block on the residual
    branch only: a dropout on the wide (d_ff = 8d) hidden layer costs about a quarter of a CPU
    training step in random-number generation alone."""

    def __init__(self, *, d_model: int, d_ff: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


# ----------------------------------------------------------------------------- blocks


class EncoderBlock(nn.Module):
    """Pre-LN self-attention + feed-forward. Bidirectional with a key padding mask (the GURU
    encoder) or causal with a (B, 1, L, L) mask (SASRec, baselines.py).

    attn_dropout: dropout on the attention weights (default: `dropout`). SASRec turns it off:
    it draws a (B, heads, L, L) random mask per layer, about a fifth of a CPU training step.
    """

    def __init__(
        self, *, d_model: int, n_heads: int, d_ff: int, dropout: float, attn_dropout: float | None = None
    ) -> None:
        super().__init__()
        self.ln_attn = nn.LayerNorm(d_model)
        self.attn = Attention(
            d_model=d_model, n_heads=n_heads, dropout=dropout if attn_dropout is None else attn_dropout
        )
        self.ln_ff = nn.LayerNorm(d_model)
        self.ff = FeedForward(d_model=d_model, d_ff=d_ff)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor, *, last_only: bool = False) -> Tensor:
        """x (B, L, d), mask (B, 1, 1, L) or (B, 1, L, L) -> (B, L, d), or (B, 1, d) with last_only.

        last_only computes the queries, residual and feed-forward of the last column only (keys
        still cover all columns): the encoder's last layer needs nothing else. A per-query
        (causal) mask keeps only its last query row then.
        """
        h = self.ln_attn(x)  # (B, L, d)
        if last_only:
            x, q = x[:, -1:], h[:, -1:]  # (B, 1, d)
            if mask.size(-2) > 1:
                mask = mask[:, :, -1:]  # (B, 1, 1, L)
        else:
            q = h
        x = x + self.drop(self.attn(q, h, mask))
        return x + self.drop(self.ff(self.ln_ff(x)))


class DecoderBlock(nn.Module):
    """Pre-LN causal self-attention, then attention over a memory (B, M, d), then feed-forward."""

    def __init__(self, *, d_model: int, n_heads: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.ln_self = nn.LayerNorm(d_model)
        self.self_attn = Attention(d_model=d_model, n_heads=n_heads, dropout=dropout)
        self.ln_mem = nn.LayerNorm(d_model)
        self.mem_attn = Attention(d_model=d_model, n_heads=n_heads, dropout=dropout)
        self.ln_ff = nn.LayerNorm(d_model)
        self.ff = FeedForward(d_model=d_model, d_ff=d_ff)
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        mask: Tensor,
        memory: Tensor,
        memory_mask: Tensor | None,
        *,
        return_attention: bool = False,
        last_only: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """x (B, L, d), mask (B, 1, L, L), memory (B, M, d), memory_mask (B, 1, 1, M) -> (B, L, d);
        with return_attention also the self-attention weights (B, h, L, L). last_only: the last
        column's query, memory attention and feed-forward only (keys cover all columns) -> (B, 1, d)."""
        h = self.ln_self(x)
        q = h
        if last_only:
            x, q, mask = x[:, -1:], h[:, -1:], mask[:, :, -1:]  # (B, 1, d), (B, 1, 1, L)
        attended = self.self_attn(q, h, mask, return_weights=return_attention)
        if return_attention:
            attended, weights = attended
        x = x + self.drop(attended)
        x = x + self.drop(self.mem_attn(self.ln_mem(x), memory, memory_mask))
        x = x + self.drop(self.ff(self.ln_ff(x)))
        return (x, weights) if return_attention else x


class Decoder(nn.Module):
    """A stack of DecoderBlocks with a final LayerNorm: the reconstruction decoders and CDSRec."""

    def __init__(self, *, n_layers: int, d_model: int, n_heads: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            DecoderBlock(d_model=d_model, n_heads=n_heads, d_ff=d_ff, dropout=dropout)
            for _ in range(n_layers)
        )
        self.ln_f = nn.LayerNorm(d_model)

    def forward(
        self,
        x: Tensor,
        seq: Tensor,
        memory: Tensor,
        memory_mask: Tensor | None = None,
        *,
        return_attention: bool = False,
        last_only: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """x (B, L, d) embedded seq (B, L); memory (B, M, d); memory_mask (B, M) bool -> (B, L, d);
        with return_attention also the LAST block's self-attention weights (B, h, L, L).
        last_only: the last block computes the last column only (causal: the same values there)
        -> (B, 1, d); what scoring needs, a third less work with three layers."""
        mask = causal_padding_mask(seq)  # (B, 1, L, L)
        mem_mask = None if memory_mask is None else memory_mask[:, None, None, :]  # (B, 1, 1, M)
        weights = None
        for i, block in enumerate(self.blocks):
            last = i == len(self.blocks) - 1
            if return_attention and last:
                x, weights = block(x, mask, memory, mem_mask, return_attention=True)
            else:
                x = block(x, mask, memory, mem_mask, last_only=last_only and last)
        return (self.ln_f(x), weights) if return_attention else self.ln_f(x)


class Encoder(nn.Module):
    """A stack of bidirectional EncoderBlocks with a final LayerNorm, read out at the last column."""

    def __init__(self, *, n_layers: int, d_model: int, n_heads: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            EncoderBlock(d_model=d_model, n_heads=n_heads, d_ff=d_ff, dropout=dropout)
            for _ in range(n_layers)
        )
        self.ln_f = nn.LayerNorm(d_model)

    def forward(self, x: Tensor, seq: Tensor) -> Tensor:
        """x (B, L, d) embedded seq (B, L) -> (B, d): the output at the last column."""
        mask = key_padding_mask(seq)  # (B, 1, 1, L)
        for i, block in enumerate(self.blocks):
            x = block(x, mask, last_only=i == len(self.blocks) - 1)
        return self.ln_f(x[:, -1])  # (B, d)
