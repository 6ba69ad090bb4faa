"""Raw cross-domain interactions: what every reader returns, before any preprocessing.

Every reader (csv, amazon, movielens, recbole, synthetic) produces a `RawCrossDomain`, so
preprocessing has one input type. Ids stay as the source spells them (strings or integers).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

INTERACTION_COLUMNS = ("user_id", "item_id", "timestamp", "rating")


@dataclass
class RawDomain:
    """One domain's raw interactions.

    interactions: DataFrame with columns
        user_id   raw user id (str or int64)
        item_id   raw item id (str or int64)
        timestamp int64 (seconds, or any monotone integer clock)
        rating    float64, NaN where the source has no rating
    titles: Series indexed by raw item id -> readable title (may be empty).
    genres: Series indexed by raw item id -> genre name (may be empty).
    """

    name: str
    interactions: pd.DataFrame
    titles: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))
    genres: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))


@dataclass
class RawCrossDomain:
    """Two domains; users with the same raw id in both are the overlapped users.

    user_cluster: for synthetic data, Series indexed by raw user id -> ground-truth taste cluster
    (int); None for real data.
    """

    a: RawDomain
    b: RawDomain
    source: str = ""
    user_cluster: pd.Series | None = None
