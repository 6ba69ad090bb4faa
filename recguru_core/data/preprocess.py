"""Raw interactions -> clean, re-indexed, time-ordered cross-domain sequences (paper §6.3).

Steps, in order, each configurable in `PreprocessConfig`:
 1. keep interactions with rating > `rating_above` (only where the source has ratings);
 2. optional time window [start, end);
 3. drop immediate repeats (same user, same item, consecutive in time);
 4. iterative k-core per domain: users and items with < k interactions are removed, repeated
    until nothing changes (a single pass is not a k-core: removing items shortens users);
 5. users need >= `min_user_len` interactions (3: one train, one validation, one test item);
 6. overlap control (paper Table 4): each overlapped user stays in both domains with probability
    r, otherwise it keeps one domain at random and its other sequence is dropped;
 7. re-index items per domain 1..|V| (0 = pad, |V|+1 = eos) over the items that remain.

Everything is vectorised over integer codes (bincount / one argsort, skipped when the input is
already time-ordered per user); no Python loop runs per user or per interaction.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..common.config import config_from_dict
from ..common.errors import DataError
from .raw import RawCrossDomain, RawDomain


@dataclass(frozen=True)
class PreprocessConfig:
    rating_above: float | None = 2.0  # keep rating > this; None keeps all (NaN ratings always kept)
    start: int | None = None  # time window start (inclusive, same clock as timestamps)
    end: int | None = None  # time window end (exclusive)
    drop_repeats: bool = True
    k_core: int = 5
    min_user_len: int = 3
    overlap: float | None = None  # None keeps the natural overlap; r in [0, 1] applies step 6
    seed: int = 0

    def __post_init__(self):
        # Leave-one-out needs a validation item, a test item and at least one training item;
        # with fewer, a user's targets would be read from the neighbouring user's sequence.
        if self.min_user_len < 3:
            raise DataError(f"min_user_len={self.min_user_len}: must be >= 3 (each user needs "
                            "at least one training item, a validation item and a test item)")
        if self.k_core < 1:
            raise DataError(f"k_core={self.k_core}: must be >= 1")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "PreprocessConfig":
        return config_from_dict(cls, values, "preprocess config", error=DataError)


@dataclass
class CleanDomain:
    """One domain after preprocessing, as compact arrays (CSR by user, time-ordered)."""

    name: str
    user_raw: np.ndarray  # (U,) raw user ids, object/int
    item_raw: np.ndarray  # (V,) raw item id of item index 1..V (position i-1)
    offsets: np.ndarray  # (U+1,) int64 CSR offsets into items/timestamps
    items: np.ndarray  # (nnz,) int64 item indices in 1..V, time-ordered within each user
    timestamps: np.ndarray  # (nnz,) int64
    titles: np.ndarray  # (V,) str
    genres: np.ndarray  # (V,) str ("" where unknown)


def _filter_rows(df: pd.DataFrame, cfg: PreprocessConfig) -> pd.DataFrame:
    keep = np.ones(len(df), dtype=bool)
    if cfg.rating_above is not None and "rating" in df:
        rating = df["rating"].to_numpy(dtype=np.float64, na_value=np.nan)
        keep &= np.isnan(rating) | (rating > cfg.rating_above)
    ts = df["timestamp"].to_numpy(dtype=np.int64)
    if cfg.start is not None:
        keep &= ts >= cfg.start
    if cfg.end is not None:
        keep &= ts < cfg.end
    return df[keep] if not keep.all() else df


def _sorted_codes(df: pd.DataFrame, drop_repeats: bool):
    """Factorise ids and sort by (user, timestamp, original order); optionally drop repeats."""
    user_codes, user_uniques = pd.factorize(df["user_id"], sort=False)
    item_codes, item_uniques = pd.factorize(df["item_id"], sort=False)
    ts = df["timestamp"].to_numpy(dtype=np.int64)
    order = _time_order(user_codes, ts)
    if order is None:  # already grouped by user and time-ordered (no copy, no sort)
        u, i, t = user_codes.astype(np.int64, copy=False), item_codes.astype(np.int64, copy=False), ts
    else:
        u, i, t = user_codes[order].astype(np.int64), item_codes[order].astype(np.int64), ts[order]
    if drop_repeats and len(u) > 1:
        repeat = np.zeros(len(u), dtype=bool)
        repeat[1:] = (u[1:] == u[:-1]) & (i[1:] == i[:-1])
        u, i, t = u[~repeat], i[~repeat], t[~repeat]
    return u, i, t, np.asarray(user_uniques), np.asarray(item_uniques)


def _time_order(user_codes: np.ndarray, ts: np.ndarray) -> np.ndarray | None:
    """The permutation sorting by (user, timestamp, original position), or None when the rows
    are in that order already (files written per user, the synthetic world): an O(n) check
    instead of an O(n log n) sort. When user code and time offset fit one int64 key, one stable
    argsort of that key replaces lexsort's three passes (same permutation, ~2x faster at 10 M
    rows); otherwise lexsort."""
    if len(ts) == 0:
        return None
    span_bits = (int(ts.max()) - int(ts.min())).bit_length()
    user_bits = int(user_codes.max()).bit_length()
    if user_bits + span_bits > 62:
        return np.lexsort((np.arange(len(ts)), ts, user_codes))  # last key is primary
    key = (user_codes.astype(np.int64) << span_bits) | (ts - ts.min())
    if bool((key[1:] >= key[:-1]).all()):
        return None
    return np.argsort(key, kind="stable")


def _dense_codes(codes: np.ndarray, sorted_input: bool) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(codes, return_inverse=True) for non-negative integer codes in O(n): by runs when
    `codes` is sorted, else through a presence table (codes are < len(codes) uniques + filtered
    ones, so the table is small). Same (uniques, inverse) as np.unique, without its sort."""
    if sorted_input:
        start = np.ones(len(codes), dtype=bool)
        start[1:] = codes[1:] != codes[:-1]
        return codes[start], np.cumsum(start) - 1
    present = np.bincount(codes) > 0
    remap = np.cumsum(present) - 1
    return np.flatnonzero(present), remap[codes]


def k_core(users: np.ndarray, items: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of interactions in the iterative k-core: every remaining user and item has
    >= k remaining interactions. Iterates to the fixed point."""
    keep = np.ones(len(users), dtype=bool)
    if k <= 1 or len(users) == 0:
        return keep
    n_users, n_items = int(users.max()) + 1, int(items.max()) + 1
    while True:
        u, i = users[keep], items[keep]
        user_ok = np.bincount(u, minlength=n_users) >= k
        item_ok = np.bincount(i, minlength=n_items) >= k
        bad = ~(user_ok[u] & item_ok[i])
        if not bad.any():
            return keep
        keep[np.flatnonzero(keep)[bad]] = False


def _min_user_len(users: np.ndarray, n: int) -> np.ndarray:
    if len(users) == 0:
        return np.ones(0, dtype=bool)
    return (np.bincount(users) >= n)[users]


def _overlap_control(users_a, users_b, r: float, seed: int):
    """Which raw users to drop from A and from B so that each overlapped user stays in both
    with probability r, else keeps one domain chosen uniformly at random."""
    shared = np.intersect1d(users_a, users_b)
    if len(shared) == 0:
        raise DataError("overlap=%g requested but the two domains share no user ids" % r)
    rng = np.random.default_rng(seed)
    stays_both = rng.random(len(shared)) < r
    keeps_a = rng.random(len(shared)) < 0.5
    drop_from_a = shared[~stays_both & ~keeps_a]
    drop_from_b = shared[~stays_both & keeps_a]
    return drop_from_a, drop_from_b


def _finish_domain(raw: RawDomain, u, i, t, user_uniques, item_uniques) -> CleanDomain:
    """Re-index users/items densely (items 1..V) and build the CSR layout."""
    if len(u) == 0:
        raise DataError(f"domain {raw.name}: no interactions left after filtering")
    # Users in order of first appearance (u is sorted, so unique gives sorted codes).
    user_codes, user_new = _dense_codes(u, sorted_input=True)
    item_codes, item_new = _dense_codes(i, sorted_input=False)
    counts = np.bincount(user_new, minlength=len(user_codes))
    offsets = np.zeros(len(user_codes) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    item_raw = item_uniques[item_codes]
    titles = _lookup(raw.titles, item_raw)
    genres = _lookup(raw.genres, item_raw)
    return CleanDomain(
        name=raw.name,
        user_raw=user_uniques[user_codes],
        item_raw=item_raw,
        offsets=offsets,
        items=item_new.astype(np.int64) + 1,
        timestamps=t,
        titles=np.where(titles == "", item_raw.astype(str), titles),
        genres=genres,
    )


def _lookup(series: pd.Series, keys: np.ndarray) -> np.ndarray:
    if series is None or len(series) == 0:
        return np.full(len(keys), "", dtype=object)
    s = series[~series.index.duplicated()]
    values = s.reindex(pd.Index(keys)).to_numpy(dtype=object)
    return np.where(pd.isna(values), "", values).astype(object)


def preprocess(raw: RawCrossDomain, cfg: PreprocessConfig) -> tuple[CleanDomain, CleanDomain]:
    """Run steps 1-7 on both domains. Raises DataError for an empty domain or missing overlap."""
    if cfg.overlap is not None and not 0.0 <= cfg.overlap <= 1.0:
        raise DataError(f"overlap={cfg.overlap}: expected a fraction in [0, 1]")
    staged = []
    for raw_domain in (raw.a, raw.b):
        df = _filter_rows(raw_domain.interactions, cfg)
        if len(df) == 0:
            raise DataError(f"domain {raw_domain.name}: no interactions left after rating/time filters")
        u, i, t, user_uniques, item_uniques = _sorted_codes(df, cfg.drop_repeats)
        keep = k_core(u, i, cfg.k_core)
        u, i, t = u[keep], i[keep], t[keep]
        keep = _min_user_len(u, cfg.min_user_len)
        u, i, t = u[keep], i[keep], t[keep]
        if len(u) == 0:
            raise DataError(
                f"domain {raw_domain.name}: empty after {cfg.k_core}-core and "
                f"min_user_len={cfg.min_user_len}; lower k_core= or provide more data"
            )
        staged.append([u, i, t, user_uniques, item_uniques])

    if cfg.overlap is not None:
        raw_a = staged[0][3][np.unique(staged[0][0])]
        raw_b = staged[1][3][np.unique(staged[1][0])]
        drop_a, drop_b = _overlap_control(raw_a, raw_b, cfg.overlap, cfg.seed)
        for stage, drop in zip(staged, (drop_a, drop_b)):
            u, i, t, user_uniques, _ = stage
            dropped_codes = pd.Index(user_uniques).get_indexer(drop)
            dropped = np.zeros(len(user_uniques), dtype=bool)
            dropped[dropped_codes[dropped_codes >= 0]] = True
            keep = ~dropped[u]
            stage[0], stage[1], stage[2] = u[keep], i[keep], t[keep]

    domains = tuple(_finish_domain(rd, *stage) for rd, stage in zip((raw.a, raw.b), staged))
    return domains  # type: ignore[return-value]
