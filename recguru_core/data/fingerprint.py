"""A fingerprint of a run's data: two runs (or two torchrun ranks) hold the same data when their
fingerprints are equal, i.e. the same domain names, raw user and item ids and every user's item
sequence (hence the same leave-one-out split). The fixed evaluation negatives are left out on
purpose, so a run with another `negative_sampling` still counts as the same data (its sampled
metrics then use other candidates; full ranking does not depend on them).

    data_fingerprint(data)      16 hex digits of a `data` section (or a whole checkpoint)
    data_difference(a, b)       the first part in which two runs' data differ, in words
"""
from __future__ import annotations

import hashlib

import numpy as np

from ..common.errors import RecGuruError


def _int64(x) -> np.ndarray:
    """A tensor (any device) or array-like -> int64 numpy; None -> empty."""
    if x is None:
        return np.zeros(0, dtype=np.int64)
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(np.asarray(x, dtype=np.int64))


def _data_parts(data: dict):
    """(what, bytes) for every part of a data section that makes it 'the same data', in the
    order the fingerprint hashes them; `what` names the part for a refusal."""
    for key in ("A", "B"):
        part = data[key]
        yield f"domain {key}'s name differs", f"{key}:{part.get('name', '')}\x1e".encode()
        for field, what in (("user_raw", "user ids"), ("item_raw", "item ids")):
            text = "\x1f".join(str(v) for v in part.get(field) or [])
            yield f"domain {key}'s {what} differ", text.encode() + b"\x1e"
        chunks = [_int64(part.get(field)).tobytes() for field in ("offsets", "items")]
        yield f"domain {key}'s sequences differ", chunks[0] + b"\x1e" + chunks[1] + b"\x1e"


def _data_section(data: dict) -> dict:
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        data = data["data"]
    if not isinstance(data, dict) or not all(isinstance(data.get(k), dict) for k in ("A", "B")):
        raise RecGuruError("the checkpoint has no data section to compare")
    return data


def data_fingerprint(data: dict) -> str:
    """A short hex digest of a checkpoint's data (its `data` section, or the whole checkpoint):
    domain names, raw user and item ids and every user's item sequence, per domain. Equal
    fingerprints = the same users, items, sequences and so the same split."""
    digest = hashlib.sha256()
    for _what, chunk in _data_parts(_data_section(data)):
        digest.update(chunk)
    return digest.hexdigest()[:16]


def data_difference(a: dict, b: dict) -> str | None:
    """In words, the first part in which two runs' data differ ("domain A's user ids
    differ"); None when they hold the same data."""
    for (what, one), (_, other) in zip(_data_parts(_data_section(a)), _data_parts(_data_section(b))):
        if one != other:
            return what
    return None
