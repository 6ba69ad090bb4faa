"""Every session-state key, page path and folder of the app in one place, and the
checkpoint selection (one per browser session)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from recguru_core.common.rules import ALIGNMENT_N_MAX  # noqa: F401  (the store and pages read it here)

from .text import md

ROOT = Path(__file__).resolve().parent.parent  # the project folder (ui/ is inside it)


APP_TITLE = "RecGURU Explorer"


PAGE_HOME = "app.py"


PAGE_TRAIN = "pages/1_Train.py"


PAGE_ALIGNMENT = "pages/2_Alignment.py"


PAGE_CURVES = "pages/3_Training_curves.py"


PAGE_RECOMMENDATIONS = "pages/4_Recommendations.py"


PAGE_EVALUATION = "pages/5_Evaluation.py"


PAGE_COMPARE = "pages/6_Compare.py"


NAVIGATION = (
    (PAGE_HOME, "Home", ":material/home:"),
    (PAGE_TRAIN, "Train", ":material/model_training:"),
    (PAGE_ALIGNMENT, "Alignment", ":material/scatter_plot:"),
    (PAGE_CURVES, "Training curves", ":material/monitoring:"),
    (PAGE_RECOMMENDATIONS, "Recommendations", ":material/recommend:"),
    (PAGE_EVALUATION, "Evaluation", ":material/table_chart:"),
    (PAGE_COMPARE, "Compare runs", ":material/compare:"),
)


# Session-state keys (per browser session). Widget keys are prefixed by their page.
K_CHECKPOINT = "recguru.checkpoint"  # str path of the selected checkpoint


K_SELECTION = "recguru.selection"  # the Alignment page's box/lasso selection (view, positions, users)


K_GOTO_USER = "recguru.goto_user"  # {"user", "domain"} handed to the Recommendations page


K_OWNER = "recguru.session_token"  # identifies this session as owner of a training job


K_ADOPTED = "recguru.adopted_job"  # id of the finished training already selected here


K_PROJECTIONS = "recguru.projections"  # {real path: {mtime, result}} layouts computed here


K_UPLOADED = "recguru.uploaded"  # file ids of checkpoint uploads already handled


K_LAST_USER = "recguru.last_user"


K_TOUR = "recguru.tour_seen"  # the Home page's guided tour was shown open once this session


DEFAULT_K = 10
K_RANGE = (1, 100)  # the Recommendations page's top-k: widget, links and clamp read this one pair


TRAIN_DEFAULT_PRESET = "tiny"  # the Train page's preset on a first visit (teaching mode)


DEFAULT_SMOOTHING = 0.6


def checkpoint_dir() -> Path:
    """Where checkpoints are listed and trained ones are written (env override for tests)."""
    return Path(os.environ.get("RECGURU_CHECKPOINT_DIR") or ROOT / "checkpoints")


def demo_checkpoint() -> Path:
    return checkpoint_dir() / "demo.pt"


def control_checkpoint() -> Path:
    """The shipped control run: the demo's data and schedule with w_adv=0 (no adversarial
    term). Listed second, so it is never the default selection; Compare opens with both."""
    return checkpoint_dir() / "control_no_adv.pt"


def upload_root() -> Path:
    """Uploaded checkpoints of every session (one folder per session inside)."""
    return checkpoint_dir() / "uploads"


def session_folder_name(session: str | None = None) -> str:
    """The per-session upload folder's name: this session's token (or `session`), shortened."""
    token = session or session_token()
    return "".join(c for c in token if c.isalnum())[:16] or "session"


def upload_dir(session: str | None = None) -> Path:
    """This session's uploaded checkpoints (only this session lists them)."""
    return upload_root() / session_folder_name(session)


def runs_dir() -> Path:
    """Working files of the app (uploads, training jobs); git ignores runs/."""
    return Path(os.environ.get("RECGURU_RUNS_DIR") or ROOT / "runs")


def data_upload_dir() -> Path:
    """Uploaded CSV pairs for training, of every session (runs/uploads/<session>/<pair>/)."""
    return runs_dir() / "uploads"


def _env_number(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, "") or default)
    except ValueError:
        return default
    return value if value > 0 else default


def upload_max_bytes() -> int:
    """Largest accepted upload (RECGURU_UPLOAD_MAX_MB, default 200; Streamlit's own
    server.maxUploadSize applies before it)."""
    return int(_env_number("RECGURU_UPLOAD_MAX_MB", 200) * 1024 * 1024)


def upload_max_files() -> int:
    """Uploaded files one session may hold (RECGURU_UPLOAD_MAX_FILES, default 20)."""
    return int(_env_number("RECGURU_UPLOAD_MAX_FILES", 20))


def upload_max_age_s() -> float:
    """Uploads older than this are removed (RECGURU_UPLOAD_MAX_AGE_H, default 24 hours)."""
    return _env_number("RECGURU_UPLOAD_MAX_AGE_H", 24) * 3600


def file_mtime(path: str | Path) -> float:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return -1.0


@dataclass(frozen=True)
class CheckpointEntry:
    path: str
    label: str
    kind: str  # "demo" | "control" | "trained" | "uploaded"
    mtime: float


def available_checkpoints() -> list[CheckpointEntry]:
    """Demo first, then the shipped control run, then checkpoints trained here (newest
    first), then this session's uploads."""
    out: list[CheckpointEntry] = []
    demo, control = demo_checkpoint(), control_checkpoint()
    if demo.is_file():
        out.append(CheckpointEntry(str(demo), "Demo run (shipped)", "demo", file_mtime(demo)))
    if control.is_file():
        out.append(
            CheckpointEntry(
                str(control), "Control run: no adversarial term (shipped)", "control", file_mtime(control)
            )
        )
    for kind, folder in (("trained", checkpoint_dir()), ("uploaded", upload_dir())):
        if not folder.is_dir():
            continue
        files = [p for p in folder.glob("*.pt") if p.is_file() and p not in (demo, control)]
        for p in sorted(files, key=file_mtime, reverse=True):
            prefix = "Uploaded: " if kind == "uploaded" else ""
            out.append(CheckpointEntry(str(p), prefix + p.stem, kind, file_mtime(p)))
    return out


def default_checkpoint() -> str | None:
    entries = available_checkpoints()
    return entries[0].path if entries else None


def selected_checkpoint() -> str | None:
    """This session's checkpoint; falls back to the default when unset or deleted."""
    path = st.session_state.get(K_CHECKPOINT)
    if path and Path(path).is_file():
        return path
    if path:
        st.toast(f"{md(Path(path).name)} is gone; using the default checkpoint.", icon=":material/info:")
    path = default_checkpoint()
    st.session_state[K_CHECKPOINT] = path
    return path


def select_checkpoint(path: str | None) -> None:
    st.session_state[K_CHECKPOINT] = path
    st.session_state.pop(K_SELECTION, None)


def checkpoint_label(path: str) -> str:
    for entry in available_checkpoints():
        if entry.path == path:
            return entry.label
    return Path(path).stem


def session_token() -> str:
    if K_OWNER not in st.session_state:
        st.session_state[K_OWNER] = uuid.uuid4().hex
    return st.session_state[K_OWNER]


def goto_recommendations(user: str, domain: str) -> None:
    """Hand a user to the Recommendations page and switch to it."""
    st.session_state[K_GOTO_USER] = {"user": str(user), "domain": domain}
    st.switch_page(PAGE_RECOMMENDATIONS)
