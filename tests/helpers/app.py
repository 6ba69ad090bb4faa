"""Shared by the AppTest suites: the app's paths and pages, the tiny run trained once per session
through the app's own runner, pointing the app at a checkpoint folder, and small assertions."""

from __future__ import annotations

import os
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "checkpoints" / "demo.pt"
APP = str(ROOT / "app.py")
PAGES = [
    "pages/1_Train.py",
    "pages/2_Alignment.py",
    "pages/3_Training_curves.py",
    "pages/4_Recommendations.py",
    "pages/5_Evaluation.py",
    "pages/6_Compare.py",
]
TIMEOUT = 180

TINY_SOURCE = "synthetic:users=300,k_core=2"
TINY_OVERRIDES = dict(
    pretrain_epochs=1,
    adv_steps=4,
    adv_chunk=2,
    finetune_epochs=1,
    batch_size=64,
    d_model=16,
    d_ff=32,
    n_layers=1,
    cdsrec_layers=1,
    max_len=20,
    short_len=20,
    snapshots_during=1,
    device="cpu",
)
TRAIN_WAIT_S = 600


def tiny_checkpoint_file(tmp_path_factory) -> Path:
    """Train the tiny run once per pytest session with the app's background runner, then add
    a PCA layout as the shipped demo carries its aligned-UMAP layout. Returns that file; the
    raw trained file (no layout) sits next to it as tiny-raw.pt."""
    folder = tmp_path_factory.getbasetemp() / "tiny-run"
    target = folder / "tiny.pt"
    if target.is_file():
        return target
    from ui import training

    folder.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get("RECGURU_CHECKPOINT_DIR")
    os.environ["RECGURU_CHECKPOINT_DIR"] = str(folder / "trained")
    try:
        job = training.start_training(
            TINY_SOURCE,
            preset="quick",
            overrides=TINY_OVERRIDES,
            seed=0,
            device="cpu",
            owner="pytest",
        )
        job.join(TRAIN_WAIT_S)
        assert not job.active, "tiny training did not finish in time"
        assert job.state == "done", f"tiny training ended {job.state}: {job.error}"
    finally:
        if previous is None:
            os.environ.pop("RECGURU_CHECKPOINT_DIR", None)
        else:
            os.environ["RECGURU_CHECKPOINT_DIR"] = previous
    raw = folder / "tiny-raw.pt"
    job.out.replace(raw)
    add_projection(raw, target)
    return target


def add_projection(source: Path, target: Path) -> None:
    from recguru_core.analysis.projection import project_snapshots
    from recguru_core.train.checkpoints import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(source)
    ckpt["projections"] = project_snapshots(ckpt["snapshots"], n_users=400, seed=0, method="pca")
    save_checkpoint(target, ckpt)


def point_app_at(monkeypatch, tmp_path: Path, checkpoint: Path | None) -> Path:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    if checkpoint is not None:
        (folder / "demo.pt").symlink_to(checkpoint)
    monkeypatch.setenv("RECGURU_CHECKPOINT_DIR", str(folder))
    monkeypatch.setenv("RECGURU_RUNS_DIR", str(tmp_path / "runs"))
    return folder


def fresh_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def page_ok(at: AppTest, where: str) -> None:
    assert not at.exception, f"{where}: {[e.message for e in at.exception]}"


def open_page(page: str) -> AppTest:
    at = fresh_app().run()
    page_ok(at, "app.py")
    if page != "app.py":
        at.switch_page(page).run()
        page_ok(at, page)
    return at


def visible_text(elements) -> str:
    """The text as a reader sees it: markdown backslash escapes (ui.text.md) removed."""
    return re.sub(r"\\(.)", r"\1", " ".join(str(e.value) for e in elements))


def checkpoint_variant(tiny: Path, tmp_path: Path, name: str, edit) -> Path:
    """A copy of `tiny` with `edit(ckpt)` applied, saved as tmp_path/<name>.pt."""
    from recguru_core.train.checkpoints import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(tiny)
    edit(ckpt)
    out = tmp_path / f"{name}.pt"
    save_checkpoint(out, ckpt)
    return out
