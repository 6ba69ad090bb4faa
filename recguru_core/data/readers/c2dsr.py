"""The C2DSR family's published CDSR splits (Food-Kitchen, Movie-Book, Entertainment-Education;
Cao et al., CIKM'22, and the papers that reuse them) as interactions.

A folder holds, under these names:

    Alist.txt, Blist.txt      one item per line; a line's first tab-separated field names it.
                              Item ids of the data files are line numbers: 0 .. n_A - 1 are
                              domain A's items, n_A .. n_A + n_B - 1 domain B's
    userlist.txt              (optional) one user per line
    traindata_new.txt         one user per line: user id, a count, then one cell per
    validdata_new.txt         interaction, tab-separated; a cell is item|timestamp (further
    testdata_new.txt          |fields are ignored). In the valid/test files a user's last item
                              in time is that user's published target

`read_c2dsr` reads every line of the three data files as interactions (the same interaction in
two files counts once) and splits them into the two domains by id range; the project's own
preprocessing and leave-one-out split follow (`c2dsr:DIR`; add `k_core=1` to keep the
published filtering as it is). Every problem is one DataError naming the file, the line and
the field.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...common.errors import DataError
from ..raw import RawCrossDomain, RawDomain
from ._common import PathLike, _shown

ITEM_LISTS = ("Alist.txt", "Blist.txt")
DATA_FILES = ("traindata_new.txt", "validdata_new.txt", "testdata_new.txt")


def _item_names(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"{path}: file not found; a C2DSR folder holds {', '.join(ITEM_LISTS + DATA_FILES)}")
    names = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            text = line.rstrip("\r\n")
            names.append(text.split("\t")[0].strip() or str(len(names)))
    if not names:
        raise DataError(f"{path}: no items; expected one item per line")
    return names


def _interactions(path: Path, n_items: int) -> tuple[list[str], list[int], list[int]]:
    """(users, items, timestamps) of every cell of one data file."""
    if not path.is_file():
        raise DataError(f"{path}: file not found; a C2DSR folder holds {', '.join(ITEM_LISTS + DATA_FILES)}")
    users: list[str] = []
    items: list[int] = []
    times: list[int] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            fields = line.rstrip("\r\n").split("\t")
            if not fields[0].strip():
                continue  # a blank line
            if len(fields) < 3:
                raise DataError(
                    f"{path} line {number}: expected a user id, a count and item|timestamp cells "
                    f"(tab-separated), got {len(fields)} field(s)"
                )
            user = fields[0].strip()
            for k, cell in enumerate(fields[2:], 3):
                parts = cell.strip().split("|")
                try:
                    item, time = int(parts[0]), int(parts[1])
                except (ValueError, IndexError):
                    raise DataError(
                        f"{path} line {number} field {k}: {_shown(cell)} is not item|timestamp "
                        "(two integers)"
                    ) from None
                if not 0 <= item < n_items:
                    raise DataError(
                        f"{path} line {number} field {k}: item {item} is outside 0..{n_items - 1} "
                        "(the ids Alist.txt and Blist.txt define)"
                    )
                users.append(user)
                items.append(item)
                times.append(time)
    return users, items, times


def _domain_names(folder: Path) -> tuple[str, str]:
    parts = folder.name.split("-")
    return (parts[0], parts[1]) if len(parts) == 2 and all(parts) else ("A", "B")


def read_c2dsr(directory: PathLike) -> RawCrossDomain:
    """A C2DSR-layout folder -> RawCrossDomain (see the module docstring)."""
    folder = Path(directory)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder; expected a C2DSR dataset folder (Alist.txt, Blist.txt, ...)")
    names_a, names_b = (_item_names(folder / name) for name in ITEM_LISTS)
    n_a = len(names_a)
    users: list[str] = []
    items: list[int] = []
    times: list[int] = []
    for name in DATA_FILES:
        u, i, t = _interactions(folder / name, n_a + len(names_b))
        users += u
        items += i
        times += t
    if not users:
        raise DataError(f"{folder}: the data files hold no interactions")
    frame = pd.DataFrame(
        {
            "user_id": pd.array(users, dtype=object),
            "item_id": np.asarray(items, dtype=np.int64),
            "timestamp": np.asarray(times, dtype=np.int64),
            "rating": np.full(len(users), np.nan),
        }
    ).drop_duplicates(["user_id", "item_id", "timestamp"], ignore_index=True)
    in_a = (frame["item_id"] < n_a).to_numpy()
    domain_a, domain_b = _domain_names(folder)
    domains = []
    for name, mask, shift, titles in ((domain_a, in_a, 0, names_a), (domain_b, ~in_a, n_a, names_b)):
        part = frame[mask].reset_index(drop=True)
        part["item_id"] = part["item_id"] - shift  # each domain's own 0-based ids
        domains.append(
            RawDomain(name=name, interactions=part, titles=pd.Series(titles, index=np.arange(len(titles))))
        )
    return RawCrossDomain(domains[0], domains[1], source=f"C2DSR split {folder.name} ({folder})")
