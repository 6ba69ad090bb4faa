"""AppTest over every page: the shipped demo checkpoint (when present) and a tiny fresh run."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "checkpoints" / "demo.pt"
PAGES = ["app.py", "pages/1_Train.py", "pages/2_Alignment.py", "pages/3_Training_curves.py",
         "pages/4_Recommendations.py", "pages/5_Evaluation.py"]
TIMEOUT = 120

TINY_SOURCE = "synthetic:users=300,k_core=2"
TINY_OVERRIDES = dict(pretrain_epochs=1, adv_steps=4, adv_chunk=2, finetune_epochs=1,
                      batch_size=64, d_model=16, d_ff=32, n_layers=1, cdsrec_layers=1,
                      max_len=20, short_len=20, snapshots_during=1, device="cpu")


def tiny_checkpoint_file(tmp_path_factory) -> Path:
    """Train the tiny run once per pytest session (shared with the browser test)."""
    target = tmp_path_factory.getbasetemp() / "tiny-run" / "tiny.pt"
    if not target.is_file():
        from recguru_core.runs import build_trainer

        target.parent.mkdir(parents=True, exist_ok=True)
        trainer = build_trainer(TINY_SOURCE, overrides=TINY_OVERRIDES, out=str(target), seed=0)
        for _ in trainer.run():
            pass
        with_projection = target.with_name("tiny-projected.pt")
        _add_projection(target, with_projection)
    return target.with_name("tiny-projected.pt")


def _add_projection(source: Path, target: Path) -> None:
    """Store a PCA layout in the checkpoint, as the shipped demo stores its aligned UMAP."""
    from recguru_core.analysis import project_snapshots
    from recguru_core.checkpoints import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(source)
    ckpt["projections"] = project_snapshots(ckpt["snapshots"], n_users=400, seed=0, method="pca")
    save_checkpoint(target, ckpt)
