"""Hostile inputs shared by the app's tests: files named .pt that are not checkpoints."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path


class _Payload:
    """Unpickling this would run `touch MARKER`: it must never be unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def hostile_checkpoints(tmp_path: Path) -> dict[str, bytes]:
    """Files that are not RecGURU checkpoints, named .pt, and what each must be refused as."""
    import torch

    marker = tmp_path / "PWNED"
    buf = io.BytesIO()
    torch.save({"format": "recguru-explorer", "evil": _Payload(marker)}, buf)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("notes.txt", "hello")
    return {
        "renamed.pt": b"user_id,item_id,timestamp\nu1,i1,1\n",
        "random.pt": os.urandom(4096),
        "archive.pt": archive.getvalue(),
        "empty.pt": b"",
        "payload-torch.pt": buf.getvalue(),
        "payload-pickle.pt": pickle.dumps(_Payload(marker)),
        "truncated.pt": buf.getvalue()[: len(buf.getvalue()) // 2],
    }
