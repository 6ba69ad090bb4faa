"""The one UI helper module of RecGURU Explorer (the Streamlit app).

Pages stay short and read like a description of the screen; everything else lives here:

* paths and session-state keys (one checkpoint selection per browser session),
* caching: `st.cache_resource` for loaded runs keyed by (path, modification time),
  `st.cache_data` for frames, projections, metrics and figures,
* the domain colour map and plotly figure builders that take plain data (frames, arrays, dicts)
  and return figures, so tests can call them without a browser,
* validation of uploads (checkpoints, CSV pairs) and source specs,
* the background-training runner (one training per server, a thread that never calls st.*).

Importing this module only defines things: no files are touched, no torch is imported and no
Streamlit command runs. `recguru_core` (and through it torch) is imported lazily by the
functions that need it; umap only when a user asks for a fresh projection.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

# ----------------------------------------------------------------------------- paths and keys

ROOT = Path(__file__).resolve().parent
APP_TITLE = "RecGURU Explorer"

PAGE_HOME = "app.py"
PAGE_TRAIN = "pages/1_Train.py"
PAGE_ALIGNMENT = "pages/2_Alignment.py"
PAGE_CURVES = "pages/3_Training_curves.py"
PAGE_RECOMMENDATIONS = "pages/4_Recommendations.py"
PAGE_EVALUATION = "pages/5_Evaluation.py"

NAVIGATION = (
    (PAGE_HOME, "Home", ":material/home:"),
    (PAGE_TRAIN, "Train", ":material/model_training:"),
    (PAGE_ALIGNMENT, "Alignment", ":material/scatter_plot:"),
    (PAGE_CURVES, "Training curves", ":material/monitoring:"),
    (PAGE_RECOMMENDATIONS, "Recommendations", ":material/recommend:"),
    (PAGE_EVALUATION, "Evaluation", ":material/table_chart:"),
)

# Session-state keys (per browser session). Widget keys are prefixed by their page.
K_CHECKPOINT = "recguru.checkpoint"  # str path of the selected checkpoint
K_SELECTION = (
    "recguru.selection"  # the Alignment page's box/lasso selection (view, positions, users)
)
K_GOTO_USER = "recguru.goto_user"  # {"user", "domain"} handed to the Recommendations page
K_OWNER = "recguru.session_token"  # identifies this session as owner of a training job
K_ADOPTED = "recguru.adopted_job"  # id of the finished training already selected here
K_PROJECTIONS = "recguru.projections"  # {real path: {mtime, result}} layouts computed here
K_UPLOADED = "recguru.uploaded"  # file ids of checkpoint uploads already handled


def checkpoint_dir() -> Path:
    """Where checkpoints are listed and trained ones are written (env override for tests)."""
    return Path(os.environ.get("RECGURU_CHECKPOINT_DIR") or ROOT / "checkpoints")


def demo_checkpoint() -> Path:
    return checkpoint_dir() / "demo.pt"


def upload_dir() -> Path:
    return checkpoint_dir() / "uploads"


def data_upload_dir() -> Path:
    """Uploaded CSV pairs for training (under runs/, which git ignores)."""
    return Path(os.environ.get("RECGURU_RUNS_DIR") or ROOT / "runs") / "uploads"


# ----------------------------------------------------------------------------- colours

DOMAIN_COLORS = {"A": "#E8590C", "B": "#1C7ED6"}  # orange, blue: explicit, never themed
OVERLAP_COLORS = {"overlapped": "#2F9E44", "single-domain": "#ADB5BD"}
CLUSTER_COLORS = (
    "#7048E8",
    "#2F9E44",
    "#F08C00",
    "#D6336C",
    "#0C8599",
    "#5C940D",
    "#AE3EC9",
    "#E67700",
    "#1971C2",
    "#C92A2A",
    "#495057",
    "#087F5B",
)
PHASE_COLORS = {
    "pretrain": "rgba(134,142,150,0.10)",
    "adversarial": "rgba(232,89,12,0.10)",
    "finetune": "rgba(28,126,214,0.10)",
}
PHASE_LABELS = {
    "pretrain": "1 · pre-train",
    "adversarial": "2 · adversarial",
    "finetune": "3 · fine-tune",
}
SERIES_COLORS = {  # training-curve series; per-domain series use the domain colours
    "wasserstein": "#5F3DC4",
    "critic": "#C2255C",
    "gp": "#868E96",
    "gen_adv": "#2B8A3E",
    "l2": "#0B7285",
    "lr": "#495057",
}
TEMPLATE = "plotly_white"
FONT = dict(family="Inter, 'Source Sans Pro', sans-serif", size=13, color="#212529")

METRIC_KEYS = ("HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20")
DOMAINS = ("A", "B")


def series_color(name: str) -> str:
    if name.endswith("_A"):
        return DOMAIN_COLORS["A"]
    if name.endswith("_B"):
        return DOMAIN_COLORS["B"]
    return SERIES_COLORS.get(name, "#495057")


def domain_label(domain: str, names: dict | None = None) -> str:
    name = (names or {}).get(domain)
    return f"{domain} · {name}" if name and name != domain else domain


# ----------------------------------------------------------------------------- errors

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~$:])")


def md(text) -> str:
    """Escape data-borne text (titles, user ids) for Streamlit markdown: no accidental
    emphasis, links, LaTeX ($) or :material/...: shortcodes."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _recguru_error() -> type[Exception]:
    from recguru_core.errors import RecGuruError

    return RecGuruError


def attempt(fn: Callable, *args, **kwargs):
    """Run fn; on failure show a one-line st.error and return None (never a traceback).

    RecGuruError messages are the core's user-facing words; anything else is a bug, shown as
    one line and logged with its traceback on the server console."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001  (Streamlit's control flow is BaseException)
        if isinstance(exc, _recguru_error()):
            st.error(one_line(exc), icon=":material/error:")
        else:
            traceback.print_exc()
            st.error(
                f"Unexpected error ({type(exc).__name__}): {one_line(exc)}", icon=":material/error:"
            )
        return None


# ----------------------------------------------------------------------------- worker threads

_WORKERS: list[threading.Thread] = []
_WORKERS_LOCK = threading.Lock()
_EXIT_HOOK: list[bool] = []
EXIT_WAIT_S = 30.0


def spawn(
    target: Callable[[], None], name: str, *, stop: threading.Event | None = None
) -> threading.Thread:
    """Start a daemon worker thread that the process waits for (at most EXIT_WAIT_S, after
    setting `stop`) when it shuts down, so no thread is killed inside torch (which aborts the
    process with "terminate called without an active exception")."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.recguru_stop = stop  # type: ignore[attr-defined]
    with _WORKERS_LOCK:
        _WORKERS[:] = [t for t in _WORKERS if t.is_alive()]
        _WORKERS.append(thread)
        if not _EXIT_HOOK:
            register = getattr(threading, "_register_atexit", None)  # runs before joins
            if register is not None:
                register(_join_workers)
            # Workers call cached functions without a script context on purpose; Streamlit
            # would log "missing ScriptRunContext" for each. Silence that for our threads only.
            import logging

            logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
                lambda record: not threading.current_thread().name.startswith("recguru-")
            )
            _EXIT_HOOK.append(True)
    thread.start()
    return thread


def _join_workers() -> None:
    with _WORKERS_LOCK:
        workers = [t for t in _WORKERS if t.is_alive()]
    for t in workers:
        if getattr(t, "recguru_stop", None) is not None:
            t.recguru_stop.set()
    deadline = time.monotonic() + EXIT_WAIT_S
    for t in workers:
        t.join(max(0.0, deadline - time.monotonic()))


def wait_for_workers(timeout: float = EXIT_WAIT_S) -> bool:
    """Block until every worker thread has finished (tests); False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _WORKERS_LOCK:
            alive = [t for t in _WORKERS if t.is_alive()]
        if not alive:
            return True
        alive[0].join(max(0.0, min(1.0, deadline - time.monotonic())))
    return False


# ----------------------------------------------------------------------------- runs


def _load_run_uncached(path: str):
    from recguru_core.inference import LoadedRun

    return LoadedRun.load(path)


@st.cache_resource(max_entries=6, show_spinner=False)
def _load_run_cached(path: str, mtime: float):
    return _load_run_uncached(path)


def _spinner(message: str):
    """st.spinner on a script thread; nothing on a background thread (no script context)."""
    from contextlib import nullcontext

    from streamlit.runtime.scriptrunner import get_script_run_ctx

    return st.spinner(message) if get_script_run_ctx(suppress_warning=True) else nullcontext()


def file_mtime(path: str | Path) -> float:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return -1.0


def load_run(path: str | Path):
    """The loaded run of a checkpoint file, cached per (path, mtime). Raises RecGuruError."""
    path = str(path)
    if not Path(path).is_file():
        raise _recguru_error()(f"{path}: no such checkpoint file")
    with _spinner("Loading the checkpoint…"):
        return _load_run_cached(*_run_key(path))


# ----------------------------------------------------------------------------- checkpoints


@dataclass(frozen=True)
class CheckpointEntry:
    path: str
    label: str
    kind: str  # "demo" | "trained" | "uploaded"
    mtime: float


def available_checkpoints() -> list[CheckpointEntry]:
    """Demo first, then checkpoints trained here (newest first), then uploads."""
    out: list[CheckpointEntry] = []
    demo = demo_checkpoint()
    if demo.is_file():
        out.append(CheckpointEntry(str(demo), "Demo run (shipped)", "demo", file_mtime(demo)))
    for kind, folder in (("trained", checkpoint_dir()), ("uploaded", upload_dir())):
        if not folder.is_dir():
            continue
        files = [p for p in folder.glob("*.pt") if p.is_file() and p != demo]
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
        st.toast(
            f"{Path(path).name} is gone; using the default checkpoint.", icon=":material/info:"
        )
    path = default_checkpoint()
    st.session_state[K_CHECKPOINT] = path
    return path


def select_checkpoint(path: str | None) -> None:
    st.session_state[K_CHECKPOINT] = path
    st.session_state.pop(K_SELECTION, None)


def current_run(*, quiet: bool = False):
    """(path, run) of this session's checkpoint, or (None, None) after telling the user why."""
    path = selected_checkpoint()
    if path is None:
        if not quiet:
            st.info(
                "No checkpoint yet. Train one on the **Train** page (a few minutes on a CPU) "
                "or upload one on **Home**.",
                icon=":material/info:",
            )
            st.page_link(PAGE_TRAIN, label="Go to Train", icon=":material/model_training:")
        return None, None
    run = attempt(load_run, path)
    if run is None:
        if not quiet:
            st.page_link(PAGE_HOME, label="Pick another checkpoint on Home", icon=":material/home:")
        return None, None
    return path, run


def run_status(run) -> str:
    return str((getattr(run, "ckpt", None) or {}).get("status", "unknown"))


def run_source(run) -> str:
    ckpt = getattr(run, "ckpt", None) or {}
    extra = (ckpt.get("config") or {}).get("extra") or {}
    return str(extra.get("source") or (ckpt.get("data") or {}).get("source") or "unknown")


def handle_checkpoint_upload(file) -> None:
    """Validate + store an uploaded checkpoint once per upload, then select it."""
    if file is None:
        return
    handled = st.session_state.setdefault(K_UPLOADED, {})
    file_id = getattr(file, "file_id", None) or f"{file.name}:{getattr(file, 'size', 0)}"
    if file_id not in handled:
        try:
            path = save_uploaded_checkpoint(file.name, file.getvalue())
        except Exception as exc:  # noqa: BLE001  (shown as one line below)
            handled[file_id] = ("error", one_line(exc))
        else:
            handled[file_id] = ("ok", str(path))
            select_checkpoint(str(path))
            st.toast(f"Uploaded and selected {Path(path).stem}", icon=":material/check_circle:")
            st.rerun()
    kind, value = handled[file_id]
    if kind == "error":
        st.error(value, icon=":material/error:")


def _safe_name(text: str, limit: int = 60) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return name[:limit] or "file"


def _check_loadable(ckpt: dict, name: str) -> None:
    """Rebuild data and model from a checkpoint that passed the format checks, so that an
    upload whose sections are inconsistent is refused before it is stored."""
    from recguru_core.errors import CheckpointError, RecGuruError
    from recguru_core.inference import LoadedRun

    try:
        LoadedRun(ckpt, name)
    except RecGuruError as exc:
        raise CheckpointError(f"{name}: {one_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001  (malformed sections surface as anything)
        raise CheckpointError(
            f"{name}: inconsistent checkpoint ({type(exc).__name__}: {one_line(exc)})"
        ) from None


def save_uploaded_checkpoint(name: str, data: bytes) -> Path:
    """Validate an uploaded .pt (torch.load with weights_only=True + format checks) and only
    then place it atomically under checkpoints/uploads/. Raises CheckpointError (one line)."""
    from recguru_core.checkpoints import load_checkpoint
    from recguru_core.errors import CheckpointError

    if not name.lower().endswith(".pt"):
        raise CheckpointError(f"{name}: expected a .pt checkpoint file")
    if not data:
        raise CheckpointError(f"{name}: the file is empty")
    folder = upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            ckpt = load_checkpoint(tmp)
        except CheckpointError as exc:
            raise CheckpointError(one_line(exc).replace(tmp, name)) from None
        _check_loadable(ckpt, name)
        stem = _safe_name(Path(name).stem)
        target = folder / f"{stem}.pt"
        n = 2
        while target.exists():
            if target.stat().st_size == len(data) and target.read_bytes() == data:
                break  # the same file uploaded again: reuse it
            target = folder / f"{stem}-{n}.pt"
            n += 1
        os.replace(tmp, target)
        return target
    finally:
        Path(tmp).unlink(missing_ok=True)


# ----------------------------------------------------------------------------- data sources


def synthetic_spec(users: int, overlap: float, seed: int) -> str:
    return f"synthetic:users={int(users)},overlap={float(overlap):g},seed={int(seed)}"


def _source_mtimes(spec: str) -> tuple:
    try:
        from recguru_core.sources import parse_source

        parsed = parse_source(spec)
    except Exception:  # noqa: BLE001  (the real call reports it)
        return ()
    return tuple(file_mtime(p) for p in parsed.paths)


@st.cache_data(max_entries=16, show_spinner=False)
def _source_stats_cached(spec: str, mtimes: tuple) -> dict:
    from recguru_core.sources import load_source

    return load_source(spec).stats()


def check_source(spec: str) -> dict:
    """Table-1 statistics of a source spec, or a one-line DataError. Cached per spec + mtimes."""
    spec = (spec or "").strip()
    if not spec:
        raise _recguru_error()("enter a source spec, e.g. csv:/data/Books.csv,/data/Movies.csv")
    with _spinner("Reading the data…"):
        return _source_stats_cached(spec, _source_mtimes(spec))


def save_uploaded_tables(
    file_a: tuple[str, bytes], file_b: tuple[str, bytes], token: str | None = None
) -> str:
    """Write two uploaded tables (name, bytes) under runs/uploads/<token>/{a,b}/ keeping their
    (sanitised) names, which become the domain names; return the csv:… source spec."""
    from recguru_core.errors import DataError

    token = _safe_name(token or uuid.uuid4().hex[:12])
    paths = []
    for sub, (name, data) in (("a", file_a), ("b", file_b)):
        if not data:
            raise DataError(f"{name}: the uploaded file is empty")
        folder = data_upload_dir() / token / sub
        folder.mkdir(parents=True, exist_ok=True)
        base = _safe_name(Path(name).name) or f"{sub}.csv"
        target = folder / base
        fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
        paths.append(str(target))
    return f"csv:{paths[0]},{paths[1]}"


def uploaded_tables_spec(file_a, file_b) -> str | None:
    """Source spec for two st.file_uploader files (saved once per upload pair), or None."""
    if file_a is None or file_b is None:
        return None
    key = (getattr(file_a, "file_id", file_a.name), getattr(file_b, "file_id", file_b.name))
    saved = st.session_state.setdefault("recguru.uploaded_tables", {})
    if key not in saved:
        saved[key] = save_uploaded_tables(
            (file_a.name, file_a.getvalue()),
            (file_b.name, file_b.getvalue()),
            token=f"{session_token()[:8]}-{uuid.uuid4().hex[:6]}",
        )
    return saved[key]


def stats_frame(stats: dict) -> pd.DataFrame:
    """Table-1 layout: one row per domain."""
    names = stats.get("names") or {}
    rows = []
    for d in DOMAINS:
        s = stats.get(d) or {}
        rows.append(
            {
                "Domain": domain_label(d, names),
                "#Users": s.get("users", 0),
                "#Items": s.get("items", 0),
                "#Interactions": s.get("interactions", 0),
                "Avg. seq. len": s.get("avg_len", 0.0),
                "#Overlap": stats.get("overlap_users", 0),
            }
        )
    return pd.DataFrame(rows).set_index("Domain")


def stats_column_config() -> dict:
    """Thousands separators for the Table-1 counts."""
    return {
        c: st.column_config.NumberColumn(c, format="localized")
        for c in ("#Users", "#Items", "#Interactions", "#Overlap")
    } | {"Avg. seq. len": st.column_config.NumberColumn("Avg. seq. len", format="%.2f")}


@st.cache_data(show_spinner="Generating the synthetic default…")
def default_data_stats() -> dict:
    from recguru_core.sources import load_source

    return load_source("synthetic").stats()


ARCHITECTURE_DOT = """
digraph G {
  rankdir=LR; bgcolor="transparent"; nodesep=0.25; ranksep=0.45;
  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, color="#ADB5BD",
        fillcolor="#F8F9FA"];
  edge [color="#868E96", fontname="Helvetica", fontsize=9];
  A [label="Domain A\\nsequences", fillcolor="#FFE8CC", color="#E8590C"];
  B [label="Domain B\\nsequences", fillcolor="#D0EBFF", color="#1C7ED6"];
  E [label="Shared\\nself-attentive encoder", fillcolor="#E5DBFF", color="#7048E8"];
  G [label="GUR\\n(one vector per user)", shape=ellipse, fillcolor="#FFF9DB", color="#F08C00"];
  D [label="Decoders A / B\\n(reconstruction)"];
  C [label="Domain critic\\n(WGAN-GP)", fillcolor="#FFE3E3", color="#C92A2A"];
  R [label="CDSRec A / B\\n(next item)", fillcolor="#D3F9D8", color="#2F9E44"];
  A -> E; B -> E; E -> G;
  G -> D [label="rebuild"];
  G -> C [label="A or B?"];
  C -> E [label="fool it", style=dashed, color="#C92A2A"];
  G -> R [label="attend"];
}
"""


# ----------------------------------------------------------------------------- page frame


def setup_page(title: str, icon: str) -> None:
    """Page config + the shared sidebar (checkpoint in use, training status)."""
    st.set_page_config(page_title=f"{title} · {APP_TITLE}", page_icon=icon, layout="wide")
    adopt_finished_training()
    path = selected_checkpoint()
    with st.sidebar:
        st.markdown(f"### :material/hub: {APP_TITLE}")
        # Our own navigation: the default one would call Home "app", after app.py. If the
        # pages cannot be linked (a page run as its own entry point), keep the default one.
        try:
            for page, label, page_icon in NAVIGATION:
                st.page_link(page, label=label, icon=page_icon)
            own_navigation = True
        except st.errors.StreamlitAPIException:
            own_navigation = False
        st.set_option("client.showSidebarNavigation", not own_navigation)
        st.set_option("client.toolbarMode", "minimal")  # no "Deploy" button in a local tool
        st.divider()
        if path:
            st.caption("Checkpoint in use")
            st.markdown(f"**{checkpoint_label(path)}**")
        else:
            st.caption("No checkpoint yet: train one or upload one.")
        job = current_job()
        if job is not None and job.active and own_navigation:
            st.page_link(
                PAGE_TRAIN,
                label="A training is running",
                icon=":material/hourglass_top:",
                help="Progress on the Train page; other pages stay usable.",
            )


def checkpoint_label(path: str) -> str:
    for entry in available_checkpoints():
        if entry.path == path:
            return entry.label
    return Path(path).stem


def session_token() -> str:
    if K_OWNER not in st.session_state:
        st.session_state[K_OWNER] = uuid.uuid4().hex
    return st.session_state[K_OWNER]


# ----------------------------------------------------------------------------- cached views


def _run_key(path: str) -> tuple[str, float]:
    """Cache key of a checkpoint: its real path (links to one file share entries) + mtime."""
    return os.path.realpath(str(path)), file_mtime(path)


@st.cache_data(max_entries=16, show_spinner=False)
def _history_frame_cached(path: str, mtime: float) -> pd.DataFrame:
    return history_frame(load_run(path).history())


def run_history_frame(path: str) -> pd.DataFrame:
    return _history_frame_cached(*_run_key(path))


def history_frame(records: Sequence[dict]) -> pd.DataFrame:
    """Step and evaluation records -> one frame sorted by step (plain pandas, no Streamlit)."""
    if not records:
        return pd.DataFrame(columns=["step", "phase"])
    frame = pd.DataFrame.from_records(list(records))
    if "step" not in frame:
        frame["step"] = np.arange(len(frame))
    if "phase" not in frame:
        frame["phase"] = "unknown"
    frame["step"] = pd.to_numeric(frame["step"], errors="coerce")
    return frame.sort_values("step", kind="stable").reset_index(drop=True)


def phase_spans(frame: pd.DataFrame) -> list[tuple[str, float, float]]:
    """[(phase, start, end)] in training order, contiguous (a boundary lies half-way between
    one phase's last step and the next phase's first), for shading."""
    if frame.empty or "phase" not in frame:
        return []
    rows = frame
    if "event" in rows:
        rows = rows[rows["event"].isna()]
    raw = []
    for phase, group in rows.groupby("phase", sort=False):
        if phase in PHASE_COLORS and len(group):
            raw.append([str(phase), float(group["step"].min()), float(group["step"].max())])
    raw.sort(key=lambda s: s[1])
    for i in range(len(raw)):
        raw[i][1] = raw[i][1] - 0.5 if i == 0 else (raw[i - 1][2] + raw[i][1]) / 2
    for i in range(len(raw)):
        raw[i][2] = raw[i + 1][1] if i + 1 < len(raw) else raw[i][2] + 0.5
    return [tuple(s) for s in raw]


def ema(values: pd.Series, smoothing: float) -> pd.Series:
    """Exponential moving average over the non-missing values (0 = raw, 0.99 = very smooth)."""
    smoothing = float(min(max(smoothing, 0.0), 0.999))
    values = pd.to_numeric(values, errors="coerce")
    if smoothing <= 0:
        return values
    present = values.dropna()
    out = pd.Series(np.nan, index=values.index, dtype="float64")
    if len(present):
        out.loc[present.index] = present.ewm(alpha=1.0 - smoothing, adjust=True).mean().to_numpy()
    return out


# Groups of training curves: (title, columns, y-axis title).
CURVE_GROUPS = (
    ("Wasserstein estimate", ("wasserstein",), "D(A) − D(B)"),
    ("Critic loss & grad. penalty", ("critic", "gp"), "loss"),
    ("Generator adversarial loss", ("gen_adv",), "loss"),
    ("Reconstruction", ("rec_A", "rec_B"), "sampled softmax"),
    ("l2 pull of overlapped users", ("l2",), "‖h_A − h_B‖²"),
    ("BPR (fine-tune)", ("bpr_A", "bpr_B"), "loss"),
)
SERIES_LABELS = {
    "wasserstein": "Wasserstein",
    "critic": "critic",
    "gp": "gradient penalty",
    "gen_adv": "generator adv.",
    "rec_A": "reconstruction A",
    "rec_B": "reconstruction B",
    "l2": "l2",
    "bpr_A": "BPR A",
    "bpr_B": "BPR B",
    "lr": "learning rate",
}


def _base_layout(fig: go.Figure, *, title: str | None = None, height: int = 320) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        font=FONT,
        height=height,
        margin=dict(l=10, r=10, t=48 if title else 16, b=10),
        title=dict(text=title, x=0.0, xanchor="left", font=dict(size=15)) if title else None,
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
        hoverlabel=dict(font_size=12),
    )
    return fig


def curves_dashboard(
    frame: pd.DataFrame,
    *,
    smoothing: float = 0.0,
    log_y: bool = False,
    groups: Sequence[tuple[str, Sequence[str], str]] = CURVE_GROUPS,
    eval_metric: str = "NDCG@10",
    panel_height: int = 250,
) -> go.Figure:
    """All training curves as ONE figure: a grid of panels (the CURVE_GROUPS, then validation
    metrics when the history has evaluation records) sharing the step axis, so phase
    boundaries line up down the page; phases shaded and labelled; EMA smoothing with the raw
    values faint behind; each panel has its own small legend.

    Log scale applies per panel, only where every plotted value is positive (the panel title
    says "linear" otherwise), since e.g. the Wasserstein estimate can be negative."""
    spans = phase_spans(frame)
    ev = eval_frame(frame)
    panels = [
        (title, [c for c in cols if c in frame and frame[c].notna().any()], y_title, False)
        for title, cols, y_title in groups
    ]
    eval_cols = [f"valid_{eval_metric}_{d}" for d in DOMAINS if f"valid_{eval_metric}_{d}" in ev]
    if eval_cols and ev[eval_cols].notna().any().any():
        panels.append((f"Validation {eval_metric} (%)", eval_cols, "%", True))
    n_rows = math.ceil(len(panels) / 2)
    titles = []
    for title, cols, _, is_eval in panels:
        values = frame[cols] if cols and not is_eval else None
        if log_y and values is not None and not bool((values.dropna(how="all") > 0).all().all()):
            title += " <span style='font-size:11px;color:#868E96'>(linear: values ≤ 0)</span>"
        titles.append(title)
    fig = make_subplots(
        rows=n_rows,
        cols=2,
        subplot_titles=titles,
        shared_xaxes="all",
        horizontal_spacing=0.09,
        vertical_spacing=0.34 / max(n_rows, 1),
    )
    _base_layout(fig, height=max(panel_height * n_rows + 60, 300))
    for i, annotation in enumerate(fig.layout.annotations[: len(titles)]):  # titles left-aligned
        domain = fig.layout[f"xaxis{i + 1}" if i else "xaxis"].domain
        annotation.update(x=domain[0], xanchor="left", font={"size": 14, "color": "#212529"})
    scatter = go.Scattergl if len(frame) > 3000 else go.Scatter
    x_range = [spans[0][1], spans[-1][2]] if spans else None
    shapes, labels = [], []  # built as plain dicts: add_vrect per panel is slow in plotly
    for i, (title, cols, y_title, is_eval) in enumerate(panels):
        row, col = i // 2 + 1, i % 2 + 1
        legend = f"legend{i + 1}" if i else "legend"
        axis = str(i + 1) if i else ""
        for phase, lo, hi in spans:
            shapes.append(
                {
                    "type": "rect",
                    "xref": f"x{axis}",
                    "yref": f"y{axis} domain",
                    "x0": lo,
                    "x1": hi,
                    "y0": 0,
                    "y1": 1,
                    "line": {"width": 0},
                    "fillcolor": PHASE_COLORS.get(phase, "rgba(0,0,0,0.05)"),
                    "layer": "below",
                }
            )
            if i < 2:
                labels.append(
                    {
                        "text": PHASE_LABELS.get(phase, phase),
                        "xref": f"x{axis}",
                        "yref": f"y{axis} domain",
                        "x": lo,
                        "y": 1,
                        "xanchor": "left",
                        "yanchor": "top",
                        "showarrow": False,
                        "font": {"size": 10, "color": "#868E96"},
                    }
                )
        positive = True
        for c in cols:
            source = ev if is_eval else frame
            rows = source[source[c].notna()]
            y_raw = pd.to_numeric(rows[c], errors="coerce") * (100 if is_eval else 1)
            positive &= bool((y_raw > 0).all())
            colour = series_color(c)
            label = f"valid {c.split('_')[-1]}" if is_eval else SERIES_LABELS.get(c, c)
            if smoothing > 0 and not is_eval and len(rows) > 1:
                fig.add_trace(
                    scatter(
                        x=rows["step"],
                        y=y_raw,
                        mode="lines",
                        name=f"{label} (raw)",
                        line={"color": colour, "width": 1},
                        opacity=0.25,
                        showlegend=False,
                        hoverinfo="skip",
                    ),
                    row=row,
                    col=col,
                )
            y = y_raw if is_eval else ema(y_raw, smoothing)
            mode = "lines+markers" if is_eval else ("lines" if len(rows) > 1 else "markers")
            fig.add_trace(
                scatter(
                    x=rows["step"],
                    y=y,
                    mode=mode,
                    name=label,
                    legend=legend,
                    line={"color": colour, "width": 2},
                    marker={"color": colour, "size": 6},
                    hovertemplate=f"{label}<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>",
                ),
                row=row,
                col=col,
            )
        if not cols:
            fig.add_annotation(
                text="not logged in this run",
                showarrow=False,
                row=row,
                col=col,
                x=0.5,
                y=0.5,
                xref="x domain",
                yref="y domain",
                font={"color": "#868E96"},
            )
        fig.update_yaxes(
            title_text=y_title,
            row=row,
            col=col,
            gridcolor="#F1F3F5",
            type="log" if (log_y and cols and positive and not is_eval) else "linear",
        )
        # The panel's own legend, tucked into its top-right corner.
        xaxis = fig.layout[f"xaxis{i + 1}" if i else "xaxis"]
        yaxis = fig.layout[f"yaxis{i + 1}" if i else "yaxis"]
        fig.layout[legend] = {
            "x": xaxis.domain[1],
            "y": yaxis.domain[1],
            "xanchor": "right",
            "yanchor": "bottom",
            "orientation": "h",
            "font": {"size": 11},
            "bgcolor": "rgba(255,255,255,0)",
        }
    fig.update_layout(shapes=shapes, annotations=list(fig.layout.annotations) + labels)
    fig.update_xaxes(gridcolor="#F1F3F5", range=x_range, showticklabels=True)
    fig.update_xaxes(title_text="global step", row=n_rows)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 10}, hovermode="closest")
    return fig


def eval_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Validation/test metric columns (valid_NDCG@10_A, ...) of evaluation records."""
    cols = [c for c in frame.columns if re.match(r"^(valid|test)_.+_[AB]$", str(c))]
    if not cols:
        return pd.DataFrame(columns=["step"])
    rows = frame[frame[cols].notna().any(axis=1)]
    return rows[["step", *cols]].reset_index(drop=True)


@st.cache_data(max_entries=32, show_spinner=False)
def _dashboard_cached(path: str, mtime: float, smoothing: float, log_y: bool) -> go.Figure:
    return curves_dashboard(_history_frame_cached(path, mtime), smoothing=smoothing, log_y=log_y)


def training_curves_figure(path: str, smoothing: float, log_y: bool) -> go.Figure:
    """The curves dashboard of a checkpoint, cached per (checkpoint, smoothing, log)."""
    return _dashboard_cached(*_run_key(path), round(float(smoothing), 3), bool(log_y))


def history_csv(path: str) -> bytes:
    return run_history_frame(path).to_csv(index=False).encode()


# ----------------------------------------------------------------------------- metrics tables


def headline_metrics(metrics: dict, names: dict | None = None) -> list[dict]:
    """[{label, value, help}] for Home: test HR@10 and NDCG@10 per domain (sampled)."""
    test = (metrics or {}).get("test") or {}
    out = []
    for d in DOMAINS:
        m = test.get(d) or {}
        for key in ("HR@10", "NDCG@10"):
            if key in m and m[key] is not None and not _isnan(m[key]):
                out.append(
                    {
                        "label": f"{key} · {domain_label(d, names)}",
                        "value": f"{100 * float(m[key]):.2f}%",
                        "help": "Test split, true item ranked among 1 + 199 sampled negatives.",
                    }
                )
    return out


def _isnan(value) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def table2_frame(
    metrics: dict,
    baselines: dict | None = None,
    *,
    split: str = "test",
    names: dict | None = None,
    metric_keys: Sequence[str] = METRIC_KEYS,
    method: str = "RecGURU",
) -> pd.DataFrame:
    """Paper Table-2 layout: rows = metrics, columns = (domain, method), values in percent.
    Baselines (`{"name": {"test": {"A": {...}, "B": {...}}}}`) come first, RecGURU last."""
    columns, data = [], []
    methods: list[tuple[str, dict]] = []
    for name, result in (baselines or {}).items():
        if isinstance(result, dict) and isinstance(result.get(split), dict):
            methods.append((str(name), result[split]))
    if isinstance((metrics or {}).get(split), dict):
        methods.append((method, metrics[split]))
    for d in DOMAINS:
        for name, result in methods:
            values = (result or {}).get(d) or {}
            columns.append((domain_label(d, names), name))
            data.append(
                [
                    100 * float(values[k]) if k in values and values[k] is not None else np.nan
                    for k in metric_keys
                ]
            )
    if not columns:
        return pd.DataFrame(index=pd.Index(list(metric_keys), name="Metric"))
    frame = pd.DataFrame(
        np.array(data, dtype=float).T,
        index=pd.Index(list(metric_keys), name="Metric"),
        columns=pd.MultiIndex.from_tuples(columns, names=["Domain", "Method"]),
    )
    return frame


def style_table2(frame: pd.DataFrame):
    """Two decimals, best method per domain and metric in bold."""

    def bold_best(row: pd.Series) -> list[str]:
        out = [""] * len(row)
        if not isinstance(row.index, pd.MultiIndex):
            return out
        for domain in row.index.get_level_values(0).unique():
            part = row[domain]
            if part.notna().sum() > 1:
                best = part.max()
                for i, (dom, _) in enumerate(row.index):
                    if dom == domain and row.iloc[i] == best:
                        out[i] = "font-weight: 700; color: #1C7ED6"
        return out

    return frame.style.format("{:.2f}", na_rep="–").apply(bold_best, axis=1)


def metrics_bar_figure(frame: pd.DataFrame, *, height: int = 320) -> go.Figure:
    """Grouped bars of a Table-2 frame (methods side by side, one panel per domain)."""
    fig = go.Figure()
    if frame.empty or not isinstance(frame.columns, pd.MultiIndex):
        return _base_layout(fig, height=height)
    domains = list(frame.columns.get_level_values(0).unique())
    fig = make_subplots(rows=1, cols=len(domains), subplot_titles=domains, shared_yaxes=True)
    methods = list(frame.columns.get_level_values(1).unique())
    palette = ["#ADB5BD", "#868E96", "#74C0FC", "#B197FC", "#63E6BE", "#FFD43B", "#FFA8A8"]
    for ci, dom in enumerate(domains, start=1):
        dom_key = dom.split(" · ")[0]
        for mi, m in enumerate(methods):
            if (dom, m) not in frame:
                continue
            colour = (
                DOMAIN_COLORS.get(dom_key, "#495057")
                if m == "RecGURU"
                else palette[mi % len(palette)]
            )
            fig.add_trace(
                go.Bar(
                    x=list(frame.index),
                    y=frame[(dom, m)],
                    name=m,
                    marker_color=colour,
                    legendgroup=m,
                    showlegend=ci == 1 and len(methods) > 1,
                    text=[f"{v:.1f}" for v in frame[(dom, m)]],
                    textposition="outside",
                    hovertemplate=f"{m}<br>%{{x}}: %{{y:.2f}}%<extra></extra>",
                ),
                row=1,
                col=ci,
            )
    _base_layout(fig, height=height)
    fig.update_layout(barmode="group", bargap=0.35, margin=dict(t=40))
    fig.update_yaxes(title_text="%", row=1, col=1, gridcolor="#F1F3F5")
    return fig


# ----------------------------------------------------------------------------- alignment

COLOR_MODES = {"domain": "Domain", "overlap": "Overlap status", "cluster": "Taste cluster"}


def _np(x) -> np.ndarray:
    if x is None:
        return None
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        if str(getattr(x, "dtype", "")) in ("torch.bfloat16", "torch.float16"):
            x = x.float()
        x = x.numpy()
    return np.asarray(x)


def snapshot_meta(snap: dict) -> pd.DataFrame:
    """Per snapshot row: user, domain ('A'/'B'), overlap, cluster (-1 when unknown)."""
    domain = _np(snap.get("domain")).astype(np.int64).ravel()
    n = len(domain)
    users = [str(u) for u in (snap.get("user") or [str(i) for i in range(n)])]
    if len(users) != n:
        users = [str(i) for i in range(n)]
    overlap = snap.get("overlap")
    overlap = np.zeros(n, dtype=bool) if overlap is None else _np(overlap).astype(bool).ravel()
    cluster = snap.get("cluster")
    cluster = (
        np.full(n, -1, dtype=np.int64) if cluster is None else _np(cluster).astype(np.int64).ravel()
    )
    return pd.DataFrame(
        {
            "row": np.arange(n),
            "user": users,
            "domain": np.where(domain == 0, "A", "B"),
            "overlap": overlap[:n] if len(overlap) >= n else np.zeros(n, bool),
            "cluster": cluster[:n] if len(cluster) >= n else np.full(n, -1),
        }
    )


def snapshot_names(snapshots: dict) -> list[str]:
    """Snapshot names present, in order: before, during_0, ..., after."""
    out = []
    if (snapshots or {}).get("before") is not None:
        out.append("before")
    out += [
        f"during_{i}" for i, s in enumerate((snapshots or {}).get("during") or []) if s is not None
    ]
    if (snapshots or {}).get("after") is not None:
        out.append("after")
    return out


@dataclass
class AlignmentView:
    """Everything the Alignment page draws, as plain data (cacheable)."""

    meta: pd.DataFrame  # sample positions 0..m-1: row, user, domain, overlap, cluster
    layouts: dict[str, np.ndarray]  # "before" / "during_i" / "after" -> (m, 2)
    steps: dict[str, int]
    method: str
    seed: int
    seconds: float
    has_cluster: bool
    names: dict = field(default_factory=dict)
    ident: str = ""


def alignment_view(snapshots: dict, projection: dict, names: dict | None = None) -> AlignmentView:
    """Combine a projection result (rows into the snapshots) with the snapshot metadata."""
    present = snapshot_names(snapshots)
    if not present:
        raise _recguru_error()(
            "this checkpoint has no GUR snapshots (they are recorded at the "
            "end of pre-training and of the adversarial phase)"
        )
    first = (
        snapshots.get("before") or snapshots.get("after") or (snapshots.get("during") or [None])[0]
    )
    meta_all = snapshot_meta(first)
    rows = _np(projection.get("rows"))
    rows = np.arange(len(meta_all)) if rows is None else rows.astype(np.int64).ravel()
    if len(rows) and (rows.min() < 0 or rows.max() >= len(meta_all)):
        raise _recguru_error()("the projection does not match this checkpoint's snapshots")
    meta = meta_all.iloc[rows].reset_index(drop=True)
    layouts, steps = {}, {}
    for name in ("before", "after"):
        if projection.get(name) is not None:
            layouts[name] = _np(projection[name]).astype(np.float32)
            snap = snapshots.get(name) or {}
            steps[name] = int(snap.get("step", -1)) if isinstance(snap, dict) else -1
    during_steps = list(projection.get("during_steps") or [])
    for i, xy in enumerate(projection.get("during") or []):
        if xy is None:
            continue
        layouts[f"during_{i}"] = _np(xy).astype(np.float32)
        steps[f"during_{i}"] = int(during_steps[i]) if i < len(during_steps) else -1
    for name, xy in layouts.items():
        if xy.shape != (len(meta), 2):
            raise _recguru_error()(
                f"projection '{name}' has shape {xy.shape}, expected ({len(meta)}, 2)"
            )
    order = [
        n
        for n in [
            "before",
            *sorted(
                (k for k in layouts if k.startswith("during_")), key=lambda k: int(k.split("_")[1])
            ),
            "after",
        ]
        if n in layouts
    ]
    layouts = {k: layouts[k] for k in order}
    return AlignmentView(
        meta=meta,
        layouts=layouts,
        steps=steps,
        method=str(projection.get("method", "?")),
        seed=int(projection.get("seed", 0) or 0),
        seconds=float(projection.get("seconds", 0.0) or 0.0),
        has_cluster=bool((meta["cluster"] >= 0).any()),
        names=dict(names or {}),
    )


def snapshot_title(name: str, steps: dict) -> str:
    step = steps.get(name, -1)
    suffix = f" (step {step})" if step is not None and step >= 0 else ""
    if name == "before":
        return "Before adversarial training" + suffix
    if name == "after":
        return "After adversarial training" + suffix
    return f"During adversarial training{suffix}"


def _group_key(meta: pd.DataFrame, color_by: str) -> tuple[pd.Series, dict[str, str], list[str]]:
    """(per-point group label, colour per label, label order) for a colour mode."""
    names = meta.attrs.get("names", {})
    if color_by == "overlap":
        labels = np.where(meta["overlap"].to_numpy(), "overlapped", "single-domain")
        return (
            pd.Series(labels, index=meta.index),
            dict(OVERLAP_COLORS),
            ["overlapped", "single-domain"],
        )
    if color_by == "cluster" and (meta["cluster"] >= 0).any():
        clusters = sorted(int(c) for c in meta["cluster"].unique())
        labels = meta["cluster"].map(lambda c: f"cluster {int(c)}" if c >= 0 else "unknown")
        colours = {
            f"cluster {c}": CLUSTER_COLORS[i % len(CLUSTER_COLORS)]
            for i, c in enumerate(c for c in clusters if c >= 0)
        }
        colours["unknown"] = "#CED4DA"
        order = [f"cluster {c}" for c in clusters if c >= 0] + (
            ["unknown"] if -1 in clusters else []
        )
        return labels, colours, order
    labels = meta["domain"].map(lambda d: domain_label(d, names))
    colours = {domain_label(d, names): DOMAIN_COLORS[d] for d in DOMAINS}
    return labels, colours, [domain_label(d, names) for d in DOMAINS]


def link_pairs(meta: pd.DataFrame, max_links: int = 400, seed: int = 0) -> np.ndarray:
    """(p, 2) sample positions (A, B) of overlapped users present in both domains."""
    meta = meta.reset_index(drop=True)
    overlapped = meta["overlap"].to_numpy(dtype=bool)
    pos_a = np.flatnonzero(overlapped & (meta["domain"].to_numpy() == "A"))
    pos_b = np.flatnonzero(overlapped & (meta["domain"].to_numpy() == "B"))
    user_to_a: dict[str, int] = {}
    for pos, user in zip(pos_a, meta["user"].to_numpy()[pos_a]):
        user_to_a.setdefault(str(user), int(pos))
    pairs_list = []
    seen: set[str] = set()
    for pos, user in zip(pos_b, meta["user"].to_numpy()[pos_b]):
        user = str(user)
        if user in user_to_a and user not in seen:
            seen.add(user)
            pairs_list.append((user_to_a[user], int(pos)))
    if not pairs_list:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.array(pairs_list, dtype=np.int64)
    if len(pairs) > max_links:
        keep = np.sort(np.random.default_rng(seed).choice(len(pairs), max_links, replace=False))
        pairs = pairs[keep]
    return pairs


def _panel_range(layouts: Iterable[np.ndarray]) -> tuple[list[float], list[float]]:
    pts = (
        np.concatenate([xy for xy in layouts if xy is not None and len(xy)], axis=0)
        if any(xy is not None and len(xy) for xy in layouts)
        else np.zeros((1, 2))
    )
    pts = pts[np.isfinite(pts).all(axis=1)] if len(pts) else pts
    if not len(pts):
        return [-1, 1], [-1, 1]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = np.maximum((hi - lo) * 0.05, 1e-3)
    return [float(lo[0] - pad[0]), float(hi[0] + pad[0])], [
        float(lo[1] - pad[1]),
        float(hi[1] + pad[1]),
    ]


def alignment_figure(
    meta: pd.DataFrame,
    panels: Sequence[tuple[str, np.ndarray]],
    *,
    color_by: str = "domain",
    links: bool = False,
    selected: Iterable[int] = (),
    names: dict | None = None,
    max_links: int = 400,
    height: int = 560,
    point_size: float | None = None,
) -> go.Figure:
    """Side-by-side scatter panels of the same user sample in ONE frame (shared axis ranges,
    linked zoom). `meta` rows are sample positions (0..m-1) and every marker carries its
    position in customdata, so a box/lasso selection in either panel names the same users."""
    meta = meta.reset_index(drop=True)
    meta.attrs["names"] = dict(names or {})
    labels, colours, order = _group_key(meta, color_by)
    n_panels = max(1, len(panels))
    fig = make_subplots(
        rows=1,
        cols=n_panels,
        subplot_titles=[t for t, _ in panels] or [""],
        horizontal_spacing=0.04,
    )
    size = point_size or float(np.clip(9 - np.log10(max(len(meta), 1)) * 1.4, 3, 8))
    symbols = np.where(meta["domain"].to_numpy() == "A", "circle", "diamond")
    hover = "user %{customdata[1]}<br>%{customdata[2]}<br>%{customdata[3]}<extra></extra>"
    custom_cols = np.stack(
        [
            meta.index.to_numpy().astype(object),
            meta["user"].astype(str).to_numpy(dtype=object),
            meta["domain"].map(lambda d: f"domain {domain_label(d, names)}").to_numpy(dtype=object),
            np.where(meta["overlap"].to_numpy(), "overlapped user", "single-domain user").astype(
                object
            ),
        ],
        axis=1,
    )
    if (meta["cluster"] >= 0).any():
        custom_cols[:, 3] = [
            f"{o} · cluster {c}" if c >= 0 else o
            for o, c in zip(custom_cols[:, 3], meta["cluster"])
        ]
    point_colours = labels.map(colours).to_numpy(dtype=object)
    draw = np.random.default_rng(0).permutation(len(meta))
    pairs = link_pairs(meta, max_links=max_links) if links else np.zeros((0, 2), dtype=np.int64)
    selected = np.array(
        sorted({int(s) for s in selected if 0 <= int(s) < len(meta)}), dtype=np.int64
    )
    for ci, (_, xy) in enumerate(panels, start=1):
        if xy is None:
            continue
        if len(pairs):
            lx = np.full(len(pairs) * 3, np.nan)
            ly = np.full(len(pairs) * 3, np.nan)
            lx[0::3], lx[1::3] = xy[pairs[:, 0], 0], xy[pairs[:, 1], 0]
            ly[0::3], ly[1::3] = xy[pairs[:, 0], 1], xy[pairs[:, 1], 1]
            fig.add_trace(
                go.Scattergl(
                    x=lx,
                    y=ly,
                    mode="lines",
                    name="same user in A and B",
                    line=dict(color="rgba(73,80,87,0.35)", width=0.8),
                    hoverinfo="skip",
                    showlegend=ci == 1,
                    legendgroup="links",
                ),
                row=1,
                col=ci,
            )
        # All users in ONE trace, in a seeded random order: with one trace per domain the
        # domain drawn last would cover the other exactly where they mix, which is the point.
        marker = {"color": point_colours[draw], "size": size, "opacity": 0.75, "line": {"width": 0}}
        if color_by != "domain":
            marker["symbol"] = symbols[draw]
        fig.add_trace(
            go.Scattergl(
                x=xy[draw, 0],
                y=xy[draw, 1],
                mode="markers",
                name="users",
                showlegend=False,
                marker=marker,
                customdata=custom_cols[draw],
                hovertemplate=hover,
            ),
            row=1,
            col=ci,
        )
        if len(selected):
            fig.add_trace(
                go.Scattergl(
                    x=xy[selected, 0],
                    y=xy[selected, 1],
                    mode="markers",
                    name="selected",
                    legendgroup="selected",
                    showlegend=ci == 1,
                    marker=dict(
                        symbol="circle-open",
                        size=size + 6,
                        color="#212529",
                        line=dict(width=1.6, color="#212529"),
                    ),
                    customdata=custom_cols[selected],
                    hovertemplate=hover,
                ),
                row=1,
                col=ci,
            )
    for label in order:  # legend entries only (the points are in the shared trace above)
        if (labels == label).any():
            fig.add_trace(
                go.Scattergl(
                    x=[None],
                    y=[None],
                    mode="markers",
                    name=label,
                    marker={"color": colours[label], "size": 10},
                    hoverinfo="skip",
                ),
                row=1,
                col=1,
            )
    xr, yr = _panel_range([xy for _, xy in panels])
    frame = dict(showticklabels=False, zeroline=False, showgrid=True, gridcolor="#F1F3F5",
                 showline=True, linecolor="#DEE2E6", mirror=True)
    fig.update_xaxes(range=xr, matches="x", **frame)
    fig.update_yaxes(range=yr, matches="y", **frame)
    _base_layout(fig, height=height)
    fig.update_layout(
        dragmode="lasso",
        uirevision="alignment",
        clickmode="event+select",
        legend=dict(
            orientation="h", yanchor="top", y=-0.02, xanchor="center", x=0.5, itemsizing="constant"
        ),
        margin=dict(l=8, r=8, t=40, b=8),
    )
    if color_by != "domain":
        fig.add_annotation(
            text="● A &nbsp; ◆ B",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=1.0,
            y=1.06,
            xanchor="right",
            font=dict(size=11, color="#868E96"),
        )
    return fig


def selected_positions(event: Any, fig: go.Figure | None = None) -> list[int]:
    """Sample positions named by a plotly selection event (box, lasso or click)."""
    points = []
    try:
        selection = (
            event["selection"] if isinstance(event, dict) else getattr(event, "selection", None)
        )
        if selection is None:
            return []
        points = (
            selection["points"] if isinstance(selection, dict) else getattr(selection, "points", [])
        )
    except (KeyError, TypeError, AttributeError):
        return []
    out = set()
    for p in points or []:
        custom = p.get("customdata") if isinstance(p, dict) else None
        if isinstance(custom, (list, tuple)) and custom:
            try:
                out.add(int(custom[0]))
                continue
            except (TypeError, ValueError):
                pass
        if fig is not None and isinstance(p, dict):
            try:
                trace = fig.data[int(p.get("curve_number"))]
                idx = int(p.get("point_index", p.get("point_number")))
                if trace.customdata is not None:
                    out.add(int(trace.customdata[idx][0]))
            except (TypeError, ValueError, IndexError, KeyError):
                continue
    return sorted(out)


def selection_frame(
    meta: pd.DataFrame, positions: Sequence[int], names: dict | None = None
) -> pd.DataFrame:
    rows = meta.reset_index(drop=True).iloc[[p for p in positions if 0 <= p < len(meta)]]
    out = pd.DataFrame(
        {
            "user": rows["user"].astype(str).to_numpy(),
            "domain": rows["domain"].map(lambda d: domain_label(d, names)).to_numpy(),
            "overlapped": rows["overlap"].to_numpy(),
        }
    )
    if (meta["cluster"] >= 0).any():
        out["cluster"] = rows["cluster"].to_numpy()
    out["_domain"] = rows["domain"].to_numpy()
    return out.reset_index(drop=True)


def metrics_comparison_frame(
    comparison: dict, names: Sequence[str] = ("before", "after")
) -> pd.DataFrame:
    """Alignment metrics before vs after with their shuffled-label nulls, one row per metric."""
    rows = []

    def entry(name: str, key: str, sub: str = "value"):
        m = (comparison.get(name) or {}).get(key)
        return None if m is None else m.get(sub)

    spec = [
        ("Domain-classifier AUC", "auc", "0.5 = A and B indistinguishable"),
        ("Length-matched AUC", "auc_length_matched",
         "same classifier, equal A/B users at every history length"),
        ("Proxy A-distance", "proxy_a_distance", "0 = indistinguishable, 2 = separable"),
        ("kNN domain entropy (bits)", "knn_entropy", "higher = neighbourhoods mix A and B"),
        (
            "Overlapped pair distance",
            "pair_distance",
            "same user's A vs B GUR; null = random pairs",
        ),
    ]
    for label, key, meaning in spec:
        row = {"Metric": label}
        for name in names:
            row[name.capitalize()] = entry(name, key)
            row[f"{name.capitalize()} null"] = entry(name, key, "null")
        if key == "knn_entropy":
            m = entry(names[-1], key, "max")
            meaning = f"{meaning} (max {m:.3f})" if m is not None else meaning
        if key == "pair_distance":
            ratios = [entry(n, key, "ratio") for n in names]
            if all(r is not None for r in ratios):
                meaning = f"{meaning}; ratio {ratios[0]:.2f} → {ratios[-1]:.2f}"
        row["Reading"] = meaning
        rows.append(row)
    return pd.DataFrame(rows).set_index("Metric")


# Projections --------------------------------------------------------------------------------


def _projection_to_plain(result: dict) -> dict:
    out = {}
    for key, value in (result or {}).items():
        if key == "during":
            out[key] = [_np(v) for v in (value or [])]
        elif hasattr(value, "detach"):
            out[key] = _np(value)
        else:
            out[key] = value
    return out


@st.cache_data(max_entries=8, show_spinner=False)
def _compute_projection_cached(
    path: str, mtime: float, method: str, n_users: int, seed: int, _progress: Callable | None = None
) -> dict:
    from recguru_core.analysis import project_snapshots

    run = load_run(path)
    result = project_snapshots(
        run.snapshots(), n_users=int(n_users), seed=int(seed), method=method, progress=_progress
    )
    return _projection_to_plain(result)


def compute_projection(
    path: str,
    method: str,
    n_users: int,
    seed: int,
    *,
    on_progress: Callable[[float, str], None] | None = None,
) -> dict:
    """Run (or fetch from cache) a fresh projection. The computation happens in a worker
    thread feeding a thread-safe progress value; this (script) thread polls it and calls
    `on_progress`, because a cached function must not touch Streamlit elements made outside it."""
    key = _run_key(path)
    state = {"fraction": 0.0, "message": "starting", "result": None, "error": None}
    lock = threading.Lock()

    def report(fraction: float, message: str) -> None:
        with lock:
            state["fraction"], state["message"] = float(min(max(fraction, 0.0), 1.0)), str(message)

    def work() -> None:
        try:
            state["result"] = _compute_projection_cached(
                *key, method, int(n_users), int(seed), _progress=report
            )
        except BaseException as exc:  # noqa: BLE001  (re-raised in the script thread)
            state["error"] = exc

    worker = spawn(work, "recguru-projection")
    while worker.is_alive():
        worker.join(0.25)
        if on_progress is not None:
            with lock:
                on_progress(state["fraction"], state["message"])
    if state["error"] is not None:
        raise state["error"]
    # Kept in this session too, so an eviction from the shared cache never silently
    # recomputes a minute-long layout on a later rerun.
    remember = st.session_state.setdefault(K_PROJECTIONS, {})
    remember[key[0]] = {"mtime": key[1], "result": state["result"]}
    return state["result"]


def projection_for(path: str, run) -> tuple[dict | None, str]:
    """(projection, origin) for the page: a fresh one computed in this session for this
    checkpoint (cache hit), else the one stored in the checkpoint, else (None, "none")."""
    key = _run_key(path)
    remembered = (st.session_state.get(K_PROJECTIONS) or {}).get(key[0])
    if remembered and remembered.get("mtime") == key[1] and remembered.get("result"):
        return remembered["result"], "computed"
    stored = run.projections() if hasattr(run, "projections") else None
    if stored:
        return _projection_to_plain(stored), "stored"
    return None, "none"


def forget_projection(path: str) -> None:
    """Back to the checkpoint's stored layout (button callback)."""
    (st.session_state.get(K_PROJECTIONS) or {}).pop(_run_key(path)[0], None)


@st.cache_data(max_entries=8, show_spinner=False)
def _alignment_view_cached(
    path: str, mtime: float, origin: str, method: str, seed: int, n_rows: int, _projection: dict
) -> AlignmentView:
    run = load_run(path)
    stats = run.stats() if hasattr(run, "stats") else {}
    return alignment_view(run.snapshots(), _projection, (stats or {}).get("names"))


def alignment_data(path: str, run, projection: dict, origin: str) -> AlignmentView:
    rows = projection.get("rows")
    n_rows = len(rows) if rows is not None else -1
    key = _run_key(path)
    method, seed = str(projection.get("method")), int(projection.get("seed", 0) or 0)
    view = _alignment_view_cached(*key, origin, method, seed, n_rows, _projection=projection)
    view.ident = f"{key[0]}|{key[1]}|{origin}|{method}|{seed}|{n_rows}"
    return view


@st.cache_data(max_entries=32, show_spinner=False)
def _alignment_figure_cached(
    ident: str,
    left: str,
    right: str,
    color_by: str,
    links: bool,
    selected: tuple,
    _view: AlignmentView,
) -> go.Figure:
    panels = [
        (snapshot_title(n, _view.steps), _view.layouts[n])
        for n in (left, right)
        if n in _view.layouts
    ]
    return alignment_figure(
        _view.meta, panels, color_by=color_by, links=links, selected=selected, names=_view.names
    )


def alignment_chart(
    path: str,
    view: AlignmentView,
    left: str,
    right: str,
    color_by: str,
    links: bool,
    selected: Sequence[int],
) -> go.Figure:
    """The two-panel figure for a view (cached per view, panels, colouring and selection)."""
    if left == right:
        right = None
    return _alignment_figure_cached(
        view.ident or str(path),
        left,
        str(right),
        color_by,
        bool(links),
        tuple(sorted(selected)),
        _view=view,
    )


@st.cache_data(max_entries=8, show_spinner=False)
def _alignment_metrics_cached(path: str, mtime: float, n_max: int) -> dict:
    from recguru_core.analysis import compare_snapshots

    snaps = load_run(path).snapshots() or {}
    subset = {k: snaps[k] for k in ("before", "after") if snaps.get(k) is not None}
    return compare_snapshots(subset, seed=0, n_max=n_max)


ALIGNMENT_N_MAX = 2000
DEFAULT_K = 10
DEFAULT_SMOOTHING = 0.6


def _stored_alignment(run) -> dict | None:
    stored = (getattr(run, "ckpt", None) or {}).get("alignment")
    if isinstance(stored, dict) and (stored.get("after") or stored.get("before")):
        return stored
    return None


def alignment_metrics(path: str, n_max: int = ALIGNMENT_N_MAX) -> dict:
    """compare_snapshots on the before/after snapshots (same rows, seed 0), cached, blocking.
    A checkpoint may carry them precomputed under "alignment" (same format); those are used."""
    stored = _stored_alignment(load_run(path))
    if stored:
        return stored
    with _spinner("Measuring alignment…"):
        return _alignment_metrics_cached(*_run_key(path), int(n_max))


def start_alignment_metrics(path: str, n_max: int = ALIGNMENT_N_MAX) -> dict:
    """The background job measuring alignment (done at once when the checkpoint stores it)."""
    stored = _stored_alignment(load_run(path))
    if stored:
        return {"state": "done", "result": stored, "error": None, "started": time.time()}
    key = _run_key(path)
    return background(("alignment", *key, int(n_max)), _alignment_metrics_cached, *key, int(n_max))


@st.cache_resource
def _prefetched() -> dict:
    return {"lock": threading.Lock(), "done": set()}


def prefetch(path: str | None) -> None:
    """Warm the slow caches of a checkpoint in a background thread, once per checkpoint
    version per server: history frame, alignment metrics, then the recommendations and the
    explanation the Recommendations page opens with. Only fills caches; no Streamlit calls."""
    if not path:
        return
    key = _run_key(path)
    state = _prefetched()
    with state["lock"]:
        if key in state["done"]:
            return
        state["done"].add(key)

    def work() -> None:
        try:
            _dashboard_cached(*key, DEFAULT_SMOOTHING, False)  # also fills the history frame
            run = load_run(key[0])
            if snapshot_names(run.snapshots()):
                job = start_alignment_metrics(key[0])
                deadline = time.monotonic() + 600
                while job["state"] == "running" and time.monotonic() < deadline:
                    time.sleep(0.2)  # one heavy thing at a time on a small machine
            user = _default_user(run)  # what Recommendations opens with
            if user and user in set(run.users("A")):
                _recommend_cached(*key, user, "A", DEFAULT_K)
                start_explanation(key[0], user, "A", DEFAULT_K)
        except Exception:  # noqa: BLE001  (the page computes it again and reports the error)
            pass

    spawn(work, "recguru-prefetch")


ALIGNMENT_HELP = (
    "**Layout.** The stored demo layout is an *aligned UMAP*: one UMAP per snapshot, fitted "
    "jointly with a regulariser that ties each user's position across snapshots, so both panels "
    "share one coordinate frame and a point that moves between panels moved in GUR space (two "
    "independent UMAPs could flip or rotate freely). The same seeded user sample is drawn in "
    "every panel. *Procrustes* instead fits separate UMAPs and rotates them onto the last one; "
    "*PCA* is one linear frame, instant and exact but less able to show local structure.\n\n"
    "**Metrics** are computed on the 64-d GURs, not on the picture: a domain classifier's AUC "
    "(0.5 = domains indistinguishable), proxy A-distance (0 = indistinguishable), the entropy of "
    "domain labels among each point's 15 nearest neighbours (higher = better mixed), and the "
    "distance between an overlapped user's A and B GURs relative to random pairs. Each has a "
    "null from shuffled labels (random pairs), i.e. what perfect mixing looks like on this sample."
)
PROJECTION_CHOICES = {
    "aligned-umap": "Aligned UMAP (one frame, ~1 min)",
    "procrustes": "UMAP + Procrustes",
    "pca": "PCA (instant)",
}


def alignment_selection(view: AlignmentView, event: Any) -> list[int]:
    """Sample positions selected in the chart, kept in session state per view, so the
    selection survives reruns (the chart is redrawn to highlight it in both panels) and is
    only replaced by a new, non-empty selection or the Clear button."""
    positions = selected_positions(event)
    stored = st.session_state.get(K_SELECTION) or {}
    if (
        positions
        and positions != stored.get("ignore")
        and (stored.get("view") != view.ident or positions != stored.get("positions"))
    ):
        meta = view.meta
        users = [
            {"user": str(meta.at[p, "user"]), "domain": str(meta.at[p, "domain"])}
            for p in positions
            if 0 <= p < len(meta)
        ]
        stored = {"view": view.ident, "positions": positions, "users": users}
        st.session_state[K_SELECTION] = stored
    if stored.get("view") != view.ident:
        return []
    return list(stored.get("positions") or [])


def clear_alignment_selection(view: AlignmentView, event: Any) -> None:
    st.session_state[K_SELECTION] = {
        "view": view.ident,
        "positions": [],
        "users": [],
        "ignore": selected_positions(event),
    }


def selected_users() -> list[dict]:
    """[{"user", "domain"}] chosen on the Alignment page in this session."""
    return list((st.session_state.get(K_SELECTION) or {}).get("users") or [])


def _fmt(value, digits: int = 3) -> str:
    return "–" if value is None or _isnan(value) else f"{float(value):.{digits}f}"


def alignment_metrics_panel(path: str, run) -> None:
    """Metric cards (after, with the change since before) and their shuffled-label nulls."""
    st.markdown("**Alignment metrics** (GUR space)")
    comparison = when_ready(start_alignment_metrics(path), "Measuring alignment")
    if not comparison:
        return
    before, after = comparison.get("before"), comparison.get("after")
    if after is None:
        st.caption("No 'after' snapshot yet: the adversarial phase has not finished.")
        after, before = before, None
    if after is None:
        return
    cards = [
        (
            "Domain-classifier AUC",
            "auc",
            "value",
            "inverse",
            (
                "Logistic regression predicting the domain from the GUR (5-fold, out of fold). "
                "0.5 = A and B indistinguishable."
            ),
        ),
        (
            "kNN domain entropy (bits)",
            "knn_entropy",
            "value",
            "normal",
            "Entropy of domain labels among each user's 15 nearest GURs. Higher = better mixed.",
        ),
        (
            "Proxy A-distance",
            "proxy_a_distance",
            "value",
            "inverse",
            "2(1 − 2·balanced error) of the same classifier: 0 = indistinguishable, 2 = separable.",
        ),
        (
            "Pair distance ratio",
            "pair_distance",
            "ratio",
            "inverse",
            (
                "Mean distance between an overlapped user's A and B GURs divided by that of random "
                "A/B pairs. < 1: the same person's two GURs are closer than strangers'."
            ),
        ),
    ]
    for label, key, sub, colour, help_text in cards:
        now = (after.get(key) or {}).get(sub) if after.get(key) else None
        if now is None:
            continue
        was = ((before or {}).get(key) or {}).get(sub) if before else None
        delta = None if was is None else f"{float(now) - float(was):+.3f} vs before"
        st.metric(label, _fmt(now), delta=delta, delta_color=colour, help=help_text, border=True)
        null = (after.get(key) or {}).get("null")
        extra = (after.get(key) or {}).get("max")
        bits = [f"before {_fmt(was)}"] if was is not None else []
        if key == "pair_distance":
            bits.append("null = 1.0 (random pairs)")
        elif null is not None:
            bits.append(f"shuffled null {_fmt(null)}")
        if extra is not None:
            bits.append(f"max {_fmt(extra)}")
        st.caption(" · ".join(bits))
    with st.popover("All numbers", icon=":material/table:", width="stretch"):
        names = [n for n in ("before", "after") if comparison.get(n) is not None]
        st.dataframe(metrics_comparison_frame(comparison, names), width="stretch")
        st.caption(f"Sample: {after.get('n', '?')} GURs per snapshot, seed 0.")


def selection_panel(view: AlignmentView, positions: Sequence[int]) -> None:
    """The users of the current box/lasso selection, with a way into their recommendations."""
    if not positions:
        st.caption(
            "Nothing selected. Use the box or lasso tool in the chart's toolbar (lasso is "
            "the default drag) on either panel; the selection is highlighted in both."
        )
        return
    frame = selection_frame(view.meta, positions, view.names)
    table_col, action_col = st.columns([3, 2], gap="medium")
    with table_col:
        event = st.dataframe(
            frame.drop(columns="_domain"),
            hide_index=True,
            width="stretch",
            height=min(38 + 35 * len(frame), 320),
            on_select="rerun",
            selection_mode="single-row",
            key="align.table",
        )
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    pick = int(rows[0]) if rows and 0 <= int(rows[0]) < len(frame) else 0
    user, domain = str(frame.at[pick, "user"]), str(frame.at[pick, "_domain"])
    with action_col:
        st.markdown(
            f"**{len(frame):,}** points selected "
            f"({frame['_domain'].eq('A').sum():,} in A, {frame['_domain'].eq('B').sum():,} in B). "
            "Pick a row to choose whose recommendations to open."
        )
        if st.button(
            f"Recommendations for user {md(user)} ({md(domain_label(domain, view.names))})",
            key="align.goto",
            type="primary",
            icon=":material/arrow_forward:",
        ):
            goto_recommendations(user, domain)
        if st.button("Clear selection", key="align.clear", icon=":material/deselect:"):
            clear_alignment_selection(view, st.session_state.get("align.chart"))
            st.rerun()


# ----------------------------------------------------------------------------- recommendations


@st.cache_resource(max_entries=16)
def _model_lock(path: str, mtime: float) -> threading.Lock:
    """One model call at a time per loaded run: sessions and the prefetch thread share the
    run, and its attention read-out briefly hooks a module (a concurrent call would leak into
    the captured inputs)."""
    return threading.Lock()


@st.cache_data(max_entries=64, show_spinner=False)
def _recommend_cached(path: str, mtime: float, user: str, domain: str, k: int) -> dict:
    with _model_lock(path, mtime):
        return _plain(load_run(path).recommend(user, domain, k=k))


@st.cache_data(max_entries=64, show_spinner=False)
def _explain_cached(path: str, mtime: float, user: str, domain: str, k: int) -> dict:
    with _model_lock(path, mtime):
        return _plain(load_run(path).explain(user, domain, k=k))


def _plain(value):
    """numpy scalars (np.str_, np.float32) -> Python ones, recursively, for tables and JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def recommend(path: str, user: str, domain: str, k: int) -> dict:
    return _recommend_cached(*_run_key(path), str(user), domain, int(k))


def explain(path: str, user: str, domain: str, k: int) -> dict:
    """Explanations, computed on this thread (blocking). Pages use `explanation_panel`."""
    with _spinner("Explaining (leave-one-out over the history)…"):
        return _explain_cached(*_run_key(path), str(user), domain, int(k))


# ----------------------------------------------------------------------------- background work

# Alignment metrics and explanations cost seconds (classifiers with cross-validation; a
# leave-one-out batch and, once per run, the GURs of every user), so pages never wait for them:
# a worker thread computes them (filling the st.cache_data caches) while the page shows a small
# placeholder that refreshes itself and redraws the page when the result is there.
_MAX_JOBS = 128


@st.cache_resource
def _jobs() -> dict:
    return {"lock": threading.Lock(), "jobs": {}}


def background(key: tuple, fn: Callable, *args) -> dict:
    """The job computing fn(*args) under `key` (server-wide), started if new:
    {"state": "running" | "done" | "failed", "result", "error", "started"}."""
    store = _jobs()
    with store["lock"]:
        job = store["jobs"].get(key)
        if job is not None:
            return job
        job = {"state": "running", "result": None, "error": None, "started": time.time()}
        store["jobs"][key] = job
        while len(store["jobs"]) > _MAX_JOBS:  # oldest first (dicts keep insertion order)
            store["jobs"].pop(next(iter(store["jobs"])))

    def work() -> None:
        try:
            job["result"] = fn(*args)
            job["state"] = "done"
        except Exception as exc:  # noqa: BLE001  (reported on the page, one line)
            recguru = isinstance(exc, _recguru_error())
            if not recguru:
                traceback.print_exc()
            job["error"] = one_line(exc) if recguru else f"{type(exc).__name__}: {one_line(exc)}"
            job["state"] = "failed"

    spawn(work, f"recguru-{key[0]}")
    return job


def when_ready(job: dict, waiting: str):
    """The job's result when done; otherwise None after drawing a one-line error (failed) or
    a self-refreshing placeholder (running)."""
    if job["state"] == "done":
        return job["result"]
    if job["state"] == "failed":
        st.error(job["error"], icon=":material/error:")
    else:
        _wait_for_job(job, waiting)
    return None


@st.fragment(run_every=1.0)
def _wait_for_job(job: dict, waiting: str) -> None:
    if job["state"] != "running":
        st.rerun()  # the whole page, which then draws the result
    st.info(f"{waiting}… {time.time() - job['started']:.0f}s", icon=":material/hourglass_top:")


def start_explanation(path: str, user: str, domain: str, k: int) -> dict:
    key = _run_key(path)
    return background(
        ("explain", *key, str(user), domain, int(k)),
        _explain_cached,
        *key,
        str(user),
        domain,
        int(k),
    )


def explanation_panel(path: str, user: str, domain: str, k: int, names: dict | None = None) -> None:
    """The explanation tabs when ready; until then a placeholder (the page stays usable)."""
    result = when_ready(
        start_explanation(path, user, domain, k),
        "Explaining the top recommendation (leave-one-out over the history)",
    )
    if result is not None:
        explanation_tabs(result, domain, names)


def find_user(run, raw: str) -> dict:
    raw = (raw or "").strip()
    if not raw:
        raise _recguru_error()("enter a user id")
    found = run.find_user(raw)
    if not any(found.values()):
        raise _recguru_error()(f"user {raw!r} is in neither domain of this checkpoint")
    return found


def random_user(run, domain: str, seed: int) -> str:
    users = run.users(domain)
    if not users:
        raise _recguru_error()(f"domain {domain} has no users")
    return str(users[np.random.default_rng(seed).integers(len(users))])


def history_table(records: Sequence[dict]) -> pd.DataFrame:
    if not records:
        return pd.DataFrame(columns=["#", "title", "genre", "when", "split"])
    frame = pd.DataFrame.from_records(list(records))
    when = pd.to_datetime(
        pd.to_numeric(frame.get("timestamp"), errors="coerce"), unit="s", errors="coerce"
    )
    out = pd.DataFrame(
        {
            "#": np.arange(1, len(frame) + 1),
            "title": frame.get("title", frame.get("item_id")).astype(str),
            "genre": frame.get("genre", pd.Series([""] * len(frame))).astype(str),
            "when": when.dt.strftime("%Y-%m-%d"),
            "split": frame.get("split", pd.Series([""] * len(frame))).astype(str),
        }
    )
    return out.iloc[::-1].reset_index(drop=True)  # newest first: test, valid, then training


def recommendation_table(rec: dict) -> pd.DataFrame:
    items = rec.get("items") or []
    test_id = str((rec.get("test_item") or {}).get("item_id"))
    if not items:
        return pd.DataFrame(columns=["rank", "title", "genre", "score", "held-out"])
    frame = pd.DataFrame.from_records(items)
    return pd.DataFrame(
        {
            "rank": frame["rank"].astype(int),
            "title": frame["title"].astype(str),
            "genre": frame.get("genre", pd.Series([""] * len(frame))).astype(str),
            "score": frame["score"].astype(float),
            "held-out": frame["item_id"].astype(str) == test_id,
        }
    )


def scores_figure(rec: dict, domain: str, *, height: int | None = None) -> go.Figure:
    """Horizontal bars of the top-k scores; the held-out test item highlighted if present."""
    items = rec.get("items") or []
    test_id = str((rec.get("test_item") or {}).get("item_id"))
    titles = [f"{int(i['rank'])}. {str(i['title'])[:48]}" for i in items]
    colours = [
        "#2F9E44" if str(i["item_id"]) == test_id else DOMAIN_COLORS.get(domain, "#495057")
        for i in items
    ]
    fig = go.Figure(
        go.Bar(
            x=[float(i["score"]) for i in items],
            y=titles,
            orientation="h",
            marker_color=colours,
            customdata=[[str(i.get("genre", ""))] for i in items],
            hovertemplate="%{y}<br>%{customdata[0]}<br>score %{x:.3f}<extra></extra>",
        )
    )
    _base_layout(fig, height=height or max(220, 28 * len(items) + 60))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="score", gridcolor="#F1F3F5")
    return fig


def _position(row: dict, fallback: int) -> int:
    position = row.get("position")
    return int(position) if isinstance(position, (int, np.integer)) else fallback


def influence_figure(
    influence: Sequence[dict], *, height: int | None = None, top: int = 20
) -> go.Figure:
    """Leave-one-out Δscore of history items on the top recommendation: the `top` most
    influential (largest |Δscore|), in history order."""
    rows = list(influence or [])
    if len(rows) > top:
        strength = [abs(float(r.get("delta_score", 0.0))) for r in rows]
        keep = sorted(range(len(rows)), key=lambda i: -strength[i])[:top]
        rows = [rows[i] for i in sorted(keep)]
    labels = [f"{_position(r, i) + 1}. {str(r.get('title', ''))[:44]}" for i, r in enumerate(rows)]
    deltas = [float(r.get("delta_score", 0.0)) for r in rows]
    ranks = [r.get("delta_rank", "") for r in rows]
    colours = ["#2F9E44" if d > 0 else "#C92A2A" for d in deltas]
    fig = go.Figure(
        go.Bar(
            x=deltas,
            y=labels,
            orientation="h",
            marker_color=colours,
            customdata=[[r] for r in ranks],
            hovertemplate="%{y}<br>Δscore %{x:.4f}<br>Δrank %{customdata[0]}<extra></extra>",
        )
    )
    _base_layout(fig, height=height or max(220, 24 * len(rows) + 70))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(
        title_text="score drop when the item is removed (Δscore)",
        gridcolor="#F1F3F5",
        zeroline=True,
        zerolinecolor="#868E96",
    )
    return fig


def attention_figure(
    attention: Sequence[dict], domain: str, *, height: int | None = None
) -> go.Figure:
    rows = list(attention or [])
    labels = [f"{str(r.get('title', r.get('item_id', '')))[:44]}" for r in rows]
    weights = [float(r.get("weight", 0.0)) for r in rows]
    fig = go.Figure(
        go.Bar(
            x=weights,
            y=[f"{i + 1}. {t}" for i, t in enumerate(labels)],
            orientation="h",
            marker_color=DOMAIN_COLORS.get(domain, "#495057"),
            hovertemplate="%{y}<br>weight %{x:.3f}<extra></extra>",
        )
    )
    _base_layout(fig, height=height or max(220, 24 * len(rows) + 70))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="attention weight", gridcolor="#F1F3F5")
    return fig


def influence_table(influence: Sequence[dict]) -> pd.DataFrame:
    rows = list(influence or [])
    if not rows:
        return pd.DataFrame(columns=["position", "title", "Δscore", "Δrank"])
    frame = pd.DataFrame.from_records(rows)
    return pd.DataFrame(
        {
            "position": frame.get("position"),
            "title": frame.get("title"),
            "Δscore": frame.get("delta_score"),
            "Δrank": frame.get("delta_rank"),
        }
    )


def neighbours_table(neighbours: Sequence[dict]) -> pd.DataFrame:
    rows = list(neighbours or [])
    if not rows:
        return pd.DataFrame(columns=["user", "distance", "recent titles"])
    return pd.DataFrame(
        {
            "user": [str(r.get("user")) for r in rows],
            "distance": [float(r.get("distance", np.nan)) for r in rows],
            "recent titles": [", ".join(map(str, (r.get("titles") or [])[:5])) for r in rows],
        }
    )


def goto_recommendations(user: str, domain: str) -> None:
    """Hand a user to the Recommendations page and switch to it."""
    st.session_state[K_GOTO_USER] = {"user": str(user), "domain": domain}
    st.switch_page(PAGE_RECOMMENDATIONS)


K_LAST_USER = "recguru.last_user"


def _default_user(run) -> str:
    """A user present in both domains (the most interesting one to show first)."""
    try:
        users_b = set(run.users("B"))
        for u in run.users("A"):
            if u in users_b:
                return str(u)
        return str((run.users("A") or run.users("B") or [""])[0])
    except Exception:  # noqa: BLE001  (an empty box is a fine default)
        return ""


def prepare_user_widgets(run) -> None:
    """Fill the Recommendations widgets before they are drawn: a user handed over from the
    Alignment page wins, else the last user shown in this session, else a default user."""
    goto = st.session_state.pop(K_GOTO_USER, None)
    last = st.session_state.get(K_LAST_USER) or {}
    if goto:
        st.session_state["rec.user"] = goto["user"]
        st.session_state["rec.domain"] = goto["domain"]
    else:
        if "rec.user" not in st.session_state:
            st.session_state["rec.user"] = last.get("user") or _default_user(run)
        if "rec.domain" not in st.session_state:
            st.session_state["rec.domain"] = last.get("domain") or "A"
    st.session_state[K_LAST_USER] = {
        "user": st.session_state["rec.user"],
        "domain": st.session_state["rec.domain"],
    }


def pick_random_user(run) -> None:
    """Button callback: a random user of the chosen domain (a new one on every click)."""
    draws = st.session_state.get("recguru.random_draws", 0) + 1
    st.session_state["recguru.random_draws"] = draws
    domain = st.session_state.get("rec.domain") or "A"
    try:
        st.session_state["rec.user"] = random_user(run, domain, seed=draws)
    except Exception as exc:  # noqa: BLE001  (shown on the page's next run)
        st.session_state["rec.user"] = ""
        st.toast(one_line(exc), icon=":material/error:")


def use_selected_user(picked: Sequence[dict]) -> None:
    i = st.session_state.get("rec.from_selection")
    if i is not None and 0 <= int(i) < len(picked):
        st.session_state["rec.user"] = picked[int(i)]["user"]
        st.session_state["rec.domain"] = picked[int(i)]["domain"]


_SPLIT_STYLES = {"valid": "background-color: #FFF3BF", "test": "background-color: #D3F9D8"}


def style_history(frame: pd.DataFrame):
    """History table with the validation (yellow) and test (green) items highlighted."""
    return frame.style.map(lambda v: _SPLIT_STYLES.get(v, ""), subset=["split"])


def explanation_tabs(explanation: dict, domain: str, names: dict | None = None) -> None:
    top = explanation.get("top_item") or {}
    if top:
        st.markdown(
            f"Top recommendation: **{md(top.get('title', '?'))}** ({md(top.get('genre', ''))}), "
            f"score {float(top.get('score', float('nan'))):.3f}"
        )
    other = "B" if domain == "A" else "A"
    tabs = st.tabs(
        [
            "Influence (faithful)",
            "Attention (indicative)",
            f"Share of {domain_label(other, names)}",
            f"Nearest users in {domain_label(other, names)}",
        ]
    )
    with tabs[0]:
        st.caption(
            "Leave-one-out: each history item is removed from both the GUR input and the "
            "recommender input, and the top item re-scored. This measures what the model "
            "actually uses: the **faithful** explanation. Green = the item supports the "
            "recommendation (score drops without it)."
        )
        influence = explanation.get("influence") or []
        if influence:
            if len(influence) > 20:
                st.caption(f"The 20 most influential of {len(influence)} history items, in order.")
            st.plotly_chart(
                influence_figure(influence),
                theme=None,
                key="rec.influence",
                config={"displayModeBar": False},
            )
            with st.expander("Table", icon=":material/table:"):
                st.dataframe(influence_table(influence), hide_index=True, width="stretch")
        else:
            st.info(
                "The history is too short for a leave-one-out explanation.", icon=":material/info:"
            )
    with tabs[1]:
        st.caption(
            "CDSRec's last-layer self-attention from the final position over the history, "
            "averaged over heads. **Indicative only**: attention weights are not a faithful "
            "account of why a score is high."
        )
        attention = explanation.get("attention") or []
        if attention:
            st.plotly_chart(
                attention_figure(attention, domain),
                theme=None,
                key="rec.attention",
                config={"displayModeBar": False},
            )
        else:
            st.info("No attention weights for this user.", icon=":material/info:")
    with tabs[2]:
        share = explanation.get("other_domain")
        if not share:
            st.info(
                f"This user has no history in {domain_label(other, names)}, so CDSRec attends to "
                "this domain's GUR only.",
                icon=":material/info:",
            )
        else:
            st.caption(
                f"The top item scored with the user's {domain_label(other, names)} GUR in "
                "CDSRec's memory (eq. 2) versus without it."
            )
            c1, c2 = st.columns(2)
            c1.metric(
                "Score with other domain",
                f"{share['score_with']:.3f}",
                delta=f"{share['score_with'] - share['score_without']:+.3f} vs without",
                border=True,
            )
            c2.metric(
                "Rank with other domain",
                f"#{share['rank_with']}",
                delta=f"{share['rank_without'] - share['rank_with']:+d} places vs without",
                border=True,
            )
            st.caption(
                f"Without: score {share['score_without']:.3f}, rank #{share['rank_without']}."
            )
    with tabs[3]:
        st.caption(
            f"Users of {domain_label(other, names)} whose GURs lie nearest to this user's: "
            "if the adversarial alignment worked, they should share tastes across domains."
        )
        st.dataframe(
            neighbours_table(explanation.get("neighbours") or []), hide_index=True, width="stretch"
        )


# ----------------------------------------------------------------------------- training


def preset_values(preset: str) -> dict:
    """Default values of the main hyper-parameters under a preset (from the core's presets)."""
    from recguru_core.runs import PRESETS
    from recguru_core.training import TrainConfig

    base = TrainConfig()
    values = {
        k: getattr(base, k)
        for k in ("pretrain_epochs", "adv_steps", "finetune_epochs", "gp_weight", "w_l2", "critic")
    }
    values.update({k: v for k, v in PRESETS.get(preset, {}).items() if k in values})
    return values


def checkpoint_name_for(source: str, when: _dt.datetime | None = None) -> str:
    """'20261127-0230-synthetic-users3000-overlap0.5' style file name (no extension)."""
    when = when or _dt.datetime.now()
    kind, _, rest = source.partition(":")
    parts = [kind or "run"]
    if kind == "synthetic":
        parts += [re.sub(r"[=]", "", t) for t in rest.split(",") if t]
    else:
        for token in rest.split(","):
            token = token.strip()
            if token and "=" not in token:
                parts.append(Path(token).name.split(".")[0])
    return f"{when:%Y%m%d-%H%M%S}-" + _safe_name("-".join(parts), 48)


PHASE_ORDER = (("pretrain", 1), ("adversarial", 2), ("finetune", 3))


def progress_rows(records: Sequence[dict], totals: dict, now: float | None = None) -> list[dict]:
    """Per phase: done/total steps, fraction, ETA seconds (None until measurable), state.
    Pure function of the records (tested without Streamlit)."""
    done = {name: 0 for name, _ in PHASE_ORDER}
    secs: dict[str, list[float]] = {name: [] for name, _ in PHASE_ORDER}
    started: set[str] = set()
    last_phase = None
    finished = False
    for rec in records:
        phase = rec.get("phase")
        if rec.get("event") == "done" or phase == "done":
            finished = True
        if phase not in done:
            continue
        started.add(phase)
        last_phase = phase
        if rec.get("event") is None and rec.get("phase_step") is not None:
            done[phase] = max(done[phase], int(rec["phase_step"]))
            if rec.get("seconds"):
                secs[phase].append(float(rec["seconds"]))
    order = [name for name, _ in PHASE_ORDER]
    current = order.index(last_phase) if last_phase in order else -1
    out = []
    for i, (name, number) in enumerate(PHASE_ORDER):
        total = int((totals or {}).get(number, (totals or {}).get(str(number), 0)) or 0)
        state = "waiting"
        if finished or i < current:
            state = "done"
        elif i == current:
            state = "running"
        n = done[name]
        if state == "done":
            fraction = 1.0
        else:
            fraction = min(n / total, 1.0) if total else 0.0
        eta = None
        if state == "running" and secs[name]:
            recent = secs[name][-25:]
            eta = max(total - n, 0) * float(np.mean(recent))
        out.append(
            {
                "phase": name,
                "label": PHASE_LABELS[name],
                "done": n,
                "total": total,
                "fraction": fraction,
                "eta_s": eta,
                "state": state,
            }
        )
    return out


def format_seconds(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {(seconds % 3600) // 60:02d}m"


class TrainingJob:
    """One background training. The thread only appends records under a lock; pages read
    copies. Never calls st.* (it has no script context)."""

    def __init__(
        self,
        *,
        source: str,
        preset: str,
        overrides: dict,
        seed: int,
        device: str,
        out: Path,
        owner: str,
    ):
        self.id = uuid.uuid4().hex[:10]
        self.source, self.preset, self.overrides = source, preset, dict(overrides)
        self.seed, self.device, self.out, self.owner = int(seed), device, Path(out), owner
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._records: list[dict] = []
        self.totals: dict[int, int] = {}
        self.state = "starting"  # starting | running | done | cancelled | failed
        self.error: str | None = None
        self.started = time.time()
        self.finished: float | None = None
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self.state in ("starting", "running")

    def start(self) -> None:
        self._thread = spawn(self._run, f"recguru-train-{self.id}", stop=self.stop)

    def _run(self) -> None:
        try:
            from recguru_core.runs import build_trainer

            trainer = build_trainer(
                self.source,
                preset=self.preset,
                overrides=self.overrides,
                out=str(self.out),
                seed=self.seed,
                device=self.device,
                stop=self.stop,
            )
            self.totals = dict(trainer.phase_totals())
            self.state = "running"
            for rec in trainer.run():
                with self._lock:
                    self._records.append(dict(rec))
                if rec.get("event") == "cancelled":
                    self.state = "cancelled"
            if self.state != "cancelled":
                self.state = "cancelled" if self.stop.is_set() else "done"
        except Exception as exc:  # noqa: BLE001  (reported to the page, one line)
            recguru = False
            try:
                recguru = isinstance(exc, _recguru_error())
            except Exception:  # noqa: BLE001
                pass
            if not recguru:
                traceback.print_exc()
            self.error = one_line(exc) if recguru else f"{type(exc).__name__}: {one_line(exc)}"
            self.state = "failed"
        finally:
            self.finished = time.time()

    def records(self) -> list[dict]:
        with self._lock:
            return list(self._records)

    def cancel(self) -> None:
        self.stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def view(self) -> dict:
        """A consistent snapshot for display: progress rows, headline, state, elapsed."""
        records = self.records()
        rows = progress_rows(records, self.totals)
        running = [r for r in rows if r["state"] == "running"]
        elapsed = (self.finished or time.time()) - self.started
        if self.state == "starting":
            headline = "preparing data and model…"
        elif self.state == "running" and running:
            r = running[0]
            eta = format_seconds(r["eta_s"])
            headline = f"{r['label']} {100 * r['fraction']:.0f}% · ETA {eta}"
        else:
            headline = self.state
        return {
            "id": self.id,
            "state": self.state,
            "error": self.error,
            "rows": rows,
            "records": records,
            "elapsed": elapsed,
            "headline": headline,
            "out": str(self.out),
            "source": self.source,
            "preset": self.preset,
        }


class TrainingSlot:
    """The server-wide single training slot."""

    def __init__(self):
        self.lock = threading.Lock()
        self.job: TrainingJob | None = None


@st.cache_resource
def training_slot() -> TrainingSlot:
    return TrainingSlot()


def current_job() -> TrainingJob | None:
    return training_slot().job


def start_training(
    source: str,
    *,
    preset: str,
    overrides: dict,
    seed: int = 0,
    device: str = "auto",
    owner: str | None = None,
) -> TrainingJob:
    """Start a background training unless one is already running on this server."""
    slot = training_slot()
    with slot.lock:
        if slot.job is not None and slot.job.active:
            raise _recguru_error()(
                "a training is already running on this server (started "
                f"{format_seconds(time.time() - slot.job.started)} ago); wait for it or cancel it"
            )
        folder = checkpoint_dir()
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / f"{checkpoint_name_for(source)}.pt"
        job = TrainingJob(
            source=source,
            preset=preset,
            overrides=overrides,
            seed=seed,
            device=device,
            out=out,
            owner=owner or "",
        )
        slot.job = job
        job.start()
        return job


def adopt_finished_training() -> None:
    """Select the checkpoint of a training this session started, once it has finished."""
    job = current_job()
    if job is None or job.state != "done" or job.owner != st.session_state.get(K_OWNER):
        return
    if st.session_state.get(K_ADOPTED) == job.id:
        return
    st.session_state[K_ADOPTED] = job.id
    if job.out.is_file():
        select_checkpoint(str(job.out))
        st.toast(f"Training finished: now using {job.out.stem}", icon=":material/check_circle:")


def live_curves_figure(
    records: Sequence[dict], *, height: int = 320, max_points: int = 1500
) -> go.Figure:
    """Compact live view while training: reconstruction, Wasserstein and BPR on one chart
    (two y axes: losses left, Wasserstein right)."""
    steps = [r for r in records if r.get("event") is None]
    if len(steps) > max_points:  # refreshed every 1.5 s: keep the figure light
        stride = math.ceil(len(steps) / max_points)
        steps = steps[::stride] + steps[-1:]
    frame = history_frame(steps)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for phase, lo, hi in phase_spans(frame):
        fig.add_vrect(
            x0=lo,
            x1=hi,
            fillcolor=PHASE_COLORS.get(phase),
            line_width=0,
            layer="below",
            annotation_text=PHASE_LABELS.get(phase, phase),
            annotation_position="top left",
            annotation=dict(font_size=10, font_color="#868E96"),
        )
    for col in ("rec_A", "rec_B", "bpr_A", "bpr_B", "wasserstein"):
        if col in frame and frame[col].notna().any():
            rows = frame[frame[col].notna()]
            dash = "dot" if col.startswith("bpr") else None
            fig.add_trace(
                go.Scatter(
                    x=rows["step"],
                    y=ema(rows[col], 0.6),
                    mode="lines",
                    name=SERIES_LABELS.get(col, col),
                    line=dict(color=series_color(col), width=2, dash=dash),
                ),
                secondary_y=col == "wasserstein",
            )
    _base_layout(fig, height=height)
    fig.update_xaxes(title_text="global step", gridcolor="#F1F3F5")
    fig.update_yaxes(title_text="loss (EMA 0.6)", secondary_y=False, gridcolor="#F1F3F5")
    fig.update_yaxes(title_text="Wasserstein", secondary_y=True, showgrid=False)
    return fig


# ----------------------------------------------------------------------------- training monitor


def training_monitor() -> None:
    """Progress of the server's training: live (auto-refreshing fragment) while it runs."""
    job = current_job()
    if job is None:
        st.caption("No training has run on this server since it started.")
        return
    if job.active:
        _monitor_live()
    else:
        _monitor_static()


@st.fragment(run_every=1.5)
def _monitor_live() -> None:
    _render_monitor(live=True)


@st.fragment
def _monitor_static() -> None:
    _render_monitor(live=False)


_STATE_ICONS = {
    "waiting": ":material/schedule:",
    "running": ":material/play_circle:",
    "done": ":material/check_circle:",
}


def _render_monitor(*, live: bool) -> None:
    job = current_job()
    if job is None:
        return
    view = job.view()
    mine = job.owner == st.session_state.get(K_OWNER)
    who = "started in this session" if mine else "started by another session"
    st.markdown(
        f"**`{view['source']}`** · preset **{view['preset']}** · {who} · "
        f"elapsed {format_seconds(view['elapsed'])}"
    )
    for row in view["rows"]:
        total = row["total"] or "?"
        eta = f" · ETA {format_seconds(row['eta_s'])}" if row["state"] == "running" else ""
        st.progress(
            float(row["fraction"]),
            text=f"{_STATE_ICONS[row['state']]} {row['label']}: {row['done']}/{total} steps{eta}",
        )
    if view["state"] == "starting":
        st.caption("Preparing data and model…")
    elif view["state"] == "failed":
        st.error(f"Training failed: {view['error']}", icon=":material/error:")
    elif view["state"] == "cancelled":
        st.warning(
            f"Cancelled. Units completed before the cancel are saved in "
            f"`{Path(view['out']).name}` (status in progress).",
            icon=":material/cancel:",
        )
    elif view["state"] == "done":
        if mine and st.session_state.get(K_CHECKPOINT) == view["out"]:
            st.success(
                f"Finished: `{Path(view['out']).name}` is now this session's checkpoint.",
                icon=":material/check_circle:",
            )
        else:
            st.success(f"Finished: `{Path(view['out']).name}`.", icon=":material/check_circle:")
            if Path(view["out"]).is_file() and st.button("Use this checkpoint", key="train.use"):
                select_checkpoint(view["out"])
                st.rerun()
    if job.active:
        st.button(
            "Cancel training",
            key="train.cancel",
            icon=":material/stop_circle:",
            on_click=job.cancel,
            disabled=job.stop.is_set(),
            help="Stops after the current step; units already finished stay saved.",
        )
        if job.stop.is_set():
            st.caption("Cancelling…")
    records = view["records"]
    if any(r.get("event") is None for r in records):
        st.plotly_chart(
            live_curves_figure(records),
            theme=None,
            key="train.live_curves",
            config={"displayModeBar": False},
        )
    if live and not job.active:
        st.rerun()  # whole page: switch to the static view and select the finished checkpoint


def run_baselines(run) -> dict:
    ckpt = getattr(run, "ckpt", None) or {}
    baselines = ckpt.get("baselines")
    return baselines if isinstance(baselines, dict) else {}
