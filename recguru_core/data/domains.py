"""`CrossDomainData`: per-domain sequences, leave-one-out splits, evaluation candidates, id maps.

Layout per domain (CSR by user, time-ordered): `items[offsets[r]:offsets[r+1]]` is user r's
whole sequence of item indices in 1..V (0 = pad, V+1 = eos). Leave-one-out split:

    train  history = seq[:-2]                  (the only items training ever sees)
    valid  history = seq[:-2], target seq[-2]
    test   history = seq[:-1], target seq[-1]  (the validation item is known history at test time)

Model input = the most recent `max_len` history items, left-padded with 0, eos appended; a batch
is trimmed to its own longest row, so padding costs nothing (positions are counted from the eos
end by the model, which makes trimming exact).

Evaluation candidates: per user, the target plus `n_negatives` items sampled WITHOUT replacement
(by popularity, or uniformly) from the items the user never interacted with, excluding every item
of the whole sequence (train, validation and test). One negative set per user serves both
validation and test (both targets are excluded from it), which halves memory. Fixed under a seed.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ..common.config import config_from_dict
from ..common.errors import DataError
from .preprocess import CleanDomain, PreprocessConfig, preprocess
from .raw import RawCrossDomain

SPLITS = ("train", "valid", "test")
DOMAINS = ("A", "B")


@dataclass(frozen=True)
class DataConfig:
    max_len: int = 100  # N: most recent items fed to the model
    n_negatives: int = 199  # sampled negatives per evaluated user
    negative_sampling: str = "popularity"  # "popularity" or "uniform"
    seed: int = 0

    def __post_init__(self):
        if self.negative_sampling not in ("popularity", "uniform"):
            raise DataError(
                f"negative_sampling={self.negative_sampling!r}: expected 'popularity' or 'uniform'"
            )
        if self.max_len < 1 or self.n_negatives < 1:
            raise DataError("max_len and n_negatives must be positive integers")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "DataConfig":
        return config_from_dict(cls, values, "data config", error=DataError)


def left_padded(offsets: np.ndarray, items: np.ndarray, rows: np.ndarray, ends: np.ndarray,
                max_len: int, eos: int | None) -> np.ndarray:
    """Most recent `max_len` items of each row ending (exclusive) at `ends`, left-padded with 0,
    optionally followed by `eos`; trimmed to the batch's longest row. Returns (B, L[+1]) int64."""
    starts = np.maximum(offsets[rows], ends - max_len)
    lengths = ends - starts  # (B,)
    width = max(int(lengths.max(initial=0)), 1)
    cols = np.arange(width)[None, :]  # (1, W)
    pad = cols < (width - lengths)[:, None]  # (B, W) True where padding
    index = ends[:, None] - width + cols  # (B, W) position in `items`
    out = np.where(pad, 0, items[np.clip(index, 0, max(len(items) - 1, 0))])
    if eos is not None:
        out = np.concatenate([out, np.full((len(rows), 1), eos, dtype=out.dtype)], axis=1)
    return out.astype(np.int64, copy=False)


def _alias_table(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker/Vose alias table: O(1) draws from a discrete distribution (vs. O(log V) for
    inverse-CDF search), which matters at hundreds of millions of draws."""
    n = len(p)
    scaled = p * n / p.sum()
    prob = np.ones(n)
    alias = np.arange(n)
    small = list(np.flatnonzero(scaled < 1.0))
    large = list(np.flatnonzero(scaled >= 1.0))
    while small and large:
        s, g = small.pop(), large.pop()
        prob[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return prob, alias


def sample_negatives(offsets: np.ndarray, items: np.ndarray, n_items: int, n: int,
                     weights: np.ndarray | None, seed: int) -> np.ndarray:
    """(U, n) int32 negatives per user: drawn without replacement with probability proportional
    to `weights` (uniform if None) among items 1..n_items the user never interacted with.

    Successive sampling, vectorised over a chunk of users: draws come with replacement (alias
    method), a round of `pool` draws per pending user; a draw is accepted unless the item is
    already taken for that user ("taken" starts as the user's whole history, a boolean bitmap
    per chunk) or it repeats an earlier draw of the same round, and only a row's first
    n - count acceptable draws are kept. Accepting the first new draws in order is exactly
    sampling without replacement. Rows that are still short after a round get another round.

    Why rounds over blocks (the sampler used to accept one draw column at a time over a 64 MiB
    bitmap per chunk): the random probes into that bitmap were cache misses, and with 1 M items
    every 64-user chunk zeroed 64 MiB. Now a round is decided with a few array ops (a row-wise
    sort finds each row's first occurrences) on a bitmap of a few users (<= 2 MiB, cleared
    only where it was set). The random stream, the chunks and the result are the column
    loop's, bit for bit (tests/core/test_data.py keeps that loop as the reference). What remains
    is mostly drawing: ~pool random integers and uniforms per user."""
    n_users = len(offsets) - 1
    lengths = np.diff(offsets)
    worst = int(lengths.max(initial=0))
    if n_items - worst < n:
        raise DataError(
            f"cannot sample {n} negatives: a user has {worst} of only {n_items} items; "
            f"lower n_negatives (at most {max(n_items - worst, 0)})"
        )
    p = np.ones(n_items) if weights is None else np.asarray(weights, dtype=np.float64)
    prob, alias = _alias_table(p)
    rng = np.random.default_rng(seed)
    out = np.zeros((n_users, n), dtype=np.int32)
    chunk = int(max(64, min(8192, 2**26 // (n_items + 2))))  # users per draw; fixes the stream
    # users per bitmap: <= 2 MiB stays in cache; at least 64 so that a big catalogue does not
    # cost a Python call per couple of users (measured: 2-user blocks at 750 k items)
    block = max(64, (1 << 21) // (n_items + 2))
    taken = np.zeros((max(1, min(block, n_users)), n_items + 2), dtype=bool)
    pool = n + n // 4 + 8
    for lo in range(0, n_users, chunk):
        m = min(lo + chunk, n_users) - lo
        count = np.zeros(m, dtype=np.int64)
        pending = np.arange(m)
        while len(pending):
            k = rng.integers(0, n_items, (len(pending), pool))
            draws = np.where(rng.random(k.shape) < prob[k], k, alias[k]) + 1  # (P, pool) in 1..V
            first = _first_occurrences(draws)
            for b in range(0, len(pending), block):
                _accept(taken, offsets, items, lo + pending[b:b + block], draws[b:b + block],
                        first[b:b + block], out, count[pending[b:b + block]], n)
            count[pending] = (out[lo + pending] != 0).sum(axis=1)
            pending = pending[count[pending] < n]
    return out


def _accept(taken, offsets, items, users, draws, first, out, count, n) -> None:
    """One round's acceptance for a block of users (see sample_negatives): mark their history
    and earlier picks in the small bitmap, keep each row's first new draws up to n, clear."""
    local = np.arange(len(users))[:, None]
    lengths = offsets[users + 1] - offsets[users]
    hist_rows = np.repeat(local[:, 0], lengths)
    hist_items = items[np.repeat(offsets[users] - np.cumsum(lengths) + lengths, lengths)
                       + np.arange(len(hist_rows))]
    taken[hist_rows, hist_items] = True
    taken[local, out[users]] = True  # earlier rounds' picks (unfilled slots hold 0, never drawn)
    new = first & ~taken[local, draws]
    slot = count[:, None] + np.cumsum(new, axis=1) - 1  # where each new draw would go
    r, c = np.nonzero(new & (slot < n))
    out[users[r], slot[r, c]] = draws[r, c]
    taken[hist_rows, hist_items] = False  # clear only what was set
    taken[local, out[users]] = False


def _first_occurrences(draws: np.ndarray) -> np.ndarray:
    """(P, C) bool: True where draws[r, c] does not occur in draws[r, :c]. One plain row-wise
    sort of item * C + column (unique keys, so no stable sort is needed; ~7x cheaper than a
    stable argsort): within a run of equal items the first key is the earliest column."""
    cols = draws.shape[1]
    keys = np.sort(draws * cols + np.arange(cols), axis=1)
    item, col = np.divmod(keys, cols)
    first = np.ones(draws.shape, dtype=bool)
    first[:, 1:] = item[:, 1:] != item[:, :-1]
    out = np.empty_like(first)
    out[np.arange(len(draws))[:, None], col] = first
    return out


class DomainData:
    """One domain's users, items and sequences (see module docstring for the layout)."""

    def __init__(self, clean: CleanDomain, cluster: np.ndarray | None, cfg: DataConfig,
                 domain_index: int, *, negatives: np.ndarray | None = None):
        """negatives: the fixed evaluation candidates of a saved run (None: drawn on first use
        from the data seed)."""
        self.name = clean.name
        self.index = domain_index
        self.cfg = cfg
        self.user_raw = np.asarray(clean.user_raw).astype(str)
        self.item_raw = np.asarray(clean.item_raw).astype(str)
        self.titles = np.asarray(clean.titles).astype(str)
        self.genres = np.asarray(clean.genres).astype(str)
        self.offsets = clean.offsets
        self.items = clean.items
        self.timestamps = clean.timestamps
        self.cluster = cluster  # (U,) int ground-truth taste cluster, or None
        self._negatives = negatives

    # --- sizes -------------------------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_items(self) -> int:
        return len(self.item_raw)

    @property
    def eos(self) -> int:
        return self.n_items + 1

    @cached_property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @cached_property
    def user_index(self) -> dict[str, int]:
        return {u: r for r, u in enumerate(self.user_raw)}

    @cached_property
    def popularity(self) -> np.ndarray:
        """(V,) interaction counts of items 1..V over training histories only."""
        train = self._train_mask()
        return np.bincount(self.items[train] - 1, minlength=self.n_items).astype(np.float64)

    def _train_mask(self) -> np.ndarray:
        position = np.arange(len(self.items)) - np.repeat(self.offsets[:-1], self.lengths)
        return position < np.repeat(self.lengths - 2, self.lengths)

    # --- splits ------------------------------------------------------------------------------
    def history_end(self, rows: np.ndarray, split: str) -> np.ndarray:
        """Exclusive end offset of each row's history for `split`."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}")
        drop = 1 if split == "test" else 2
        return self.offsets[rows + 1] - drop

    def targets(self, split: str, rows: np.ndarray | None = None) -> np.ndarray:
        if split not in ("valid", "test"):
            raise ValueError("targets exist for 'valid' and 'test' only")
        rows = np.arange(self.n_users) if rows is None else rows
        return self.items[self.history_end(rows, split)]

    def inputs(self, rows: np.ndarray, split: str, *, eos: bool = True,
               max_len: int | None = None) -> np.ndarray:
        """(B, L+1) encoder input: recent history, left-padded, eos appended (or (B, L) without)."""
        ends = self.history_end(rows, split)
        return left_padded(self.offsets, self.items, rows, ends,
                           max_len or self.cfg.max_len, self.eos if eos else None)

    def sequence(self, row: int) -> np.ndarray:
        return self.items[self.offsets[row]:self.offsets[row + 1]]

    # --- evaluation candidates ---------------------------------------------------------------
    @property
    def negatives(self) -> np.ndarray:
        """(U, n_negatives) evaluation negatives, drawn once (seeded) and then kept."""
        if self._negatives is None:
            weights = self.popularity + 1.0 if self.cfg.negative_sampling == "popularity" else None
            self._negatives = sample_negatives(self.offsets, self.items, self.n_items,
                                               self.cfg.n_negatives, weights,
                                               seed=self.cfg.seed * 2 + self.index)
        return self._negatives

    def candidates(self, split: str, rows: np.ndarray | None = None) -> np.ndarray:
        """(B, 1 + n_negatives) int64: column 0 is the true item."""
        rows = np.arange(self.n_users) if rows is None else rows
        return np.concatenate(
            [self.targets(split, rows)[:, None], self.negatives[rows].astype(np.int64)], axis=1
        )

    def stats(self) -> dict:
        return {
            "users": int(self.n_users),
            "items": int(self.n_items),
            "interactions": int(len(self.items)),
            "avg_len": round(float(self.lengths.mean()), 2) if self.n_users else 0.0,
        }


class CrossDomainData:
    """Both domains plus the overlapped-user pairing. Built by `CrossDomainData.build`."""

    def __init__(self, a: DomainData, b: DomainData, source: str = ""):
        self.a, self.b = a, b
        self.source = source
        shared = pd.Index(a.user_raw).intersection(pd.Index(b.user_raw))
        # Aligned row indices of overlapped users: a.user_raw[overlap_a] == b.user_raw[overlap_b].
        self.overlap_a = pd.Index(a.user_raw).get_indexer(shared).astype(np.int64)
        self.overlap_b = pd.Index(b.user_raw).get_indexer(shared).astype(np.int64)

    @classmethod
    def build(cls, raw: RawCrossDomain, prep: PreprocessConfig | None = None,
              cfg: DataConfig | None = None) -> "CrossDomainData":
        prep, cfg = prep or PreprocessConfig(), cfg or DataConfig()
        clean_a, clean_b = preprocess(raw, prep)
        domains = []
        for i, clean in enumerate((clean_a, clean_b)):
            cluster = None
            if raw.user_cluster is not None:
                cluster = raw.user_cluster.reindex(pd.Index(clean.user_raw)).fillna(-1)
                cluster = cluster.to_numpy().astype(np.int64)
            domains.append(DomainData(clean, cluster, cfg, i))
        return cls(domains[0], domains[1], raw.source)

    def domain(self, which: int | str) -> DomainData:
        if which in (0, "A", "a"):
            return self.a
        if which in (1, "B", "b"):
            return self.b
        raise ValueError(f"domain must be A or B, got {which!r}")

    @property
    def n_overlap(self) -> int:
        return len(self.overlap_a)

    def partner_rows(self, which: int) -> np.ndarray:
        """(U_which,) row of the same user in the other domain, -1 where not overlapped."""
        dom = self.domain(which)
        out = np.full(dom.n_users, -1, dtype=np.int64)
        mine, theirs = (self.overlap_a, self.overlap_b) if which == 0 else (self.overlap_b, self.overlap_a)
        out[mine] = theirs
        return out

    def stats(self) -> dict:
        return {"A": self.a.stats(), "B": self.b.stats(), "overlap_users": int(self.n_overlap),
                "names": {"A": self.a.name, "B": self.b.name}}


# --- checkpoint state: plain tensors, lists and strings only (torch.load(weights_only=True)) ----

def data_to_state(data: CrossDomainData) -> dict:
    """Everything needed to rebuild `data` without the source files (sequences, maps, titles,
    clusters and the fixed evaluation negatives)."""
    import torch

    def domain_state(d: DomainData) -> dict:
        return {
            "name": d.name,
            "user_raw": d.user_raw.tolist(),
            "item_raw": d.item_raw.tolist(),
            "titles": d.titles.tolist(),
            "genres": d.genres.tolist(),
            "offsets": torch.from_numpy(d.offsets.astype(np.int64)),
            "items": torch.from_numpy(d.items.astype(np.int32)),
            "timestamps": torch.from_numpy(d.timestamps.astype(np.int64)),
            "cluster": None if d.cluster is None else torch.from_numpy(d.cluster.astype(np.int64)),
            # int16 when the catalogue fits (lossless; halves the largest data array on disk)
            "negatives": torch.from_numpy(d.negatives.astype(np.int16 if d.n_items < 2**15 else np.int32)),
        }

    return {"A": domain_state(data.a), "B": domain_state(data.b), "source": data.source,
            "config": data.a.cfg.to_dict()}


def data_from_state(state: dict) -> CrossDomainData:
    cfg = DataConfig.from_dict(state["config"])
    domains = []
    for i, key in enumerate(DOMAINS):
        s = state[key]
        clean = CleanDomain(
            name=s["name"], user_raw=np.asarray(s["user_raw"], dtype=object),
            item_raw=np.asarray(s["item_raw"], dtype=object), offsets=s["offsets"].numpy(),
            items=s["items"].numpy().astype(np.int64), timestamps=s["timestamps"].numpy(),
            titles=np.asarray(s["titles"], dtype=object), genres=np.asarray(s["genres"], dtype=object),
        )
        cluster = None if s.get("cluster") is None else s["cluster"].numpy()
        # the fixed candidates are carried, not resampled
        domains.append(DomainData(clean, cluster, cfg, i, negatives=s["negatives"].numpy()))
    return CrossDomainData(domains[0], domains[1], state.get("source", ""))


def check_data_state(state: dict, name: str, model_config: dict | None = None) -> None:
    """Refuse a checkpoint's data section whose parts disagree (CheckpointError naming the field):
    CSR offsets that do not index the items, item ids outside the catalogue, id/title lists of
    the wrong length, users too short to split, candidates of another shape - each would
    otherwise give an IndexError or, worse, quietly different metrics."""
    import torch

    from ..common.errors import CheckpointError

    def fail(field: str, problem: str) -> None:
        raise CheckpointError(f"{name}: data.{field}: {problem}")

    if not isinstance(state, dict):
        fail("", "expected a mapping")
    for key in DOMAINS:
        s = state.get(key)
        if not isinstance(s, dict):
            fail(key, "missing or not a mapping")
        for field in ("offsets", "items", "timestamps", "negatives"):
            if not isinstance(s.get(field), torch.Tensor) or s[field].is_floating_point():
                fail(f"{key}.{field}", "expected an integer tensor")
        for field in ("user_raw", "item_raw", "titles", "genres"):
            if not isinstance(s.get(field), list):
                fail(f"{key}.{field}", "expected a list")
        if not isinstance(s.get("name"), str):
            fail(f"{key}.name", "expected a string")
        offsets, items = s["offsets"].long(), s["items"].long()
        n_users, n_items = len(offsets) - 1, len(s["item_raw"])
        if offsets.dim() != 1 or n_users < 1:
            fail(f"{key}.offsets", "expected a 1-d tensor of at least 2 offsets (no users?)")
        if n_items < 2:
            fail(f"{key}.item_raw", f"{n_items} items; at least 2 expected")
        if int(offsets[0]) != 0 or int(offsets[-1]) != len(items) or items.dim() != 1:
            fail(f"{key}.offsets", f"must run from 0 to the {len(items)} items, "
                 f"got {int(offsets[0])}..{int(offsets[-1])}")
        lengths = offsets[1:] - offsets[:-1]
        if bool((lengths < 3).any()):
            fail(f"{key}.offsets", "a user has fewer than 3 items (or offsets decrease)")
        if len(s["user_raw"]) != n_users:
            fail(f"{key}.user_raw", f"{len(s['user_raw'])} user ids for {n_users} sequences")
        if len(s["timestamps"]) != len(items):
            fail(f"{key}.timestamps", f"{len(s['timestamps'])} timestamps for {len(items)} items")
        for field in ("titles", "genres"):
            if len(s[field]) != n_items:
                fail(f"{key}.{field}", f"{len(s[field])} entries for {n_items} items")
        if len(items) and (int(items.min()) < 1 or int(items.max()) > n_items):
            fail(f"{key}.items", f"item indices must be in 1..{n_items}, got "
                 f"{int(items.min())}..{int(items.max())}")
        negatives = s["negatives"]
        if negatives.dim() != 2 or negatives.shape[0] != n_users:
            fail(f"{key}.negatives", f"expected ({n_users}, n) candidates, got {tuple(negatives.shape)}")
        if negatives.numel() and (int(negatives.min()) < 1 or int(negatives.max()) > n_items):
            fail(f"{key}.negatives", f"candidate indices must be in 1..{n_items}")
        cluster = s.get("cluster")
        if cluster is not None and (not isinstance(cluster, torch.Tensor) or len(cluster) != n_users):
            fail(f"{key}.cluster", f"expected one cluster per user ({n_users})")
        if model_config is not None:
            field = "n_items_a" if key == "A" else "n_items_b"
            if model_config.get(field) != n_items:
                fail(f"{key}.item_raw", f"{n_items} items but the model's {field} is "
                     f"{model_config.get(field)}")
