"""The training runner: the project's own CLI (`python -m recguru_core train … --progress F`)
in a subprocess, one per server.

Why a subprocess and not a thread: a crash or an out-of-memory kill in training cannot take
the Streamlit server down; the child's CPU threads can be set; and the run is described by
files, so a page reload, a second browser or a restarted server finds it:

    runs/jobs/<id>.json    what was started (source, preset, overrides, out, pid, owner), atomic
    runs/jobs/<id>.jsonl   the step records, one JSON line each, appended by the child
    runs/jobs/<id>.log     the child's stderr (its one-line `error:` on failure)

State is derived from those files and the process: "finished" records say done / cancelled
/ failed; no such record and no process = the child died (killed, out of memory), which the
page reports and offers to resume from the last saved unit (`train --resume`).
Cancel sends SIGTERM: the child stops after its current step (the last finished unit is
already saved) and exits; the page says "cancelling…" from the click on.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import streamlit as st

from . import store
from .figures.style import PHASE_LABELS, PHASE_ORDER
from .state import K_ADOPTED, K_OWNER, ROOT, checkpoint_dir, runs_dir, select_checkpoint
from .text import format_seconds, md, safe_name


def jobs_dir() -> Path:
    return runs_dir() / "jobs"


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
    return f"{when:%Y%m%d-%H%M%S}-" + safe_name("-".join(parts), 48)


def progress_rows(records: Sequence[dict], totals: dict, now: float | None = None) -> list[dict]:
    """Per phase: done/total steps, fraction, ETA seconds (None until measurable), state.
    Pure function of the records (tested without Streamlit)."""
    done = {name: 0 for name, _ in PHASE_ORDER}
    secs: dict[str, list[float]] = {name: [] for name, _ in PHASE_ORDER}
    last_phase = None
    finished = False
    for rec in records:
        phase = rec.get("phase")
        if rec.get("event") == "done" or phase == "done":
            finished = True
        if phase not in done:
            continue
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


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


class TrainingJob:
    """One training subprocess and its files. Pages read `view()`; nothing here calls st.*."""

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
        resume: bool = False,
        threads: int | None = None,
        job_id: str | None = None,
    ):
        self.id = job_id or uuid.uuid4().hex[:10]
        self.source, self.preset, self.overrides = source, preset, dict(overrides)
        self.seed, self.device, self.out, self.owner = int(seed), device, Path(out), owner
        self.resume, self.threads = bool(resume), threads
        self.started = time.time()
        self.pid: int | None = None
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._records: list[dict] = []
        self._offset = 0
        self._partial = b""
        self.totals: dict = {}
        self._final: dict | None = None
        self._cancel_sent = False
        self._ended: float | None = None

    # --- files ---------------------------------------------------------------------------------
    @property
    def meta_path(self) -> Path:
        return jobs_dir() / f"{self.id}.json"

    @property
    def progress_path(self) -> Path:
        return jobs_dir() / f"{self.id}.jsonl"

    @property
    def log_path(self) -> Path:
        return jobs_dir() / f"{self.id}.log"

    def meta(self) -> dict:
        return {
            "id": self.id,
            "source": self.source,
            "preset": self.preset,
            "overrides": {k: str(v) for k, v in self.overrides.items()},
            "seed": self.seed,
            "device": self.device,
            "out": str(self.out),
            "owner": self.owner,
            "resume": self.resume,
            "pid": self.pid,
            "started": self.started,
        }

    @classmethod
    def from_meta(cls, meta: dict) -> TrainingJob:
        job = cls(
            source=meta["source"],
            preset=meta["preset"],
            overrides=meta.get("overrides") or {},
            seed=int(meta.get("seed", 0)),
            device=meta.get("device", "auto"),
            out=Path(meta["out"]),
            owner=meta.get("owner", ""),
            resume=bool(meta.get("resume")),
            job_id=meta["id"],
        )
        job.pid, job.started = meta.get("pid"), float(meta.get("started", time.time()))
        return job

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "recguru_core",
            "train",
            self.source,
            "--out",
            str(self.out),
            "--preset",
            self.preset,
            "--seed",
            str(self.seed),
            "--device",
            self.device,
            "--quiet",
            "--progress",
            str(self.progress_path),
            "--threads",
            str(self.threads) if self.threads else "auto",
        ]
        if self.resume:
            cmd.append("--resume")
        return cmd + [f"{k}={v}" for k, v in self.overrides.items()]

    def start(self) -> None:
        jobs_dir().mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        if self.threads:
            env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(int(self.threads))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                self.command(),
                cwd=str(ROOT),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        self.pid = self._proc.pid
        store.atomic_write(self.meta_path, json.dumps(self.meta()).encode())

    # --- reading -------------------------------------------------------------------------------
    def _alive(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return _pid_alive(self.pid)

    def _read(self) -> None:
        """Take in the records appended since the last read (whole lines only)."""
        with self._lock:
            try:
                with open(self.progress_path, "rb") as f:
                    f.seek(self._offset)
                    chunk = f.read()
            except OSError:
                return
            self._offset += len(chunk)
            data = self._partial + chunk
            lines = data.split(b"\n")
            self._partial = lines.pop()
            for line in lines:
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("event") == "totals":
                    self.totals = dict(rec.get("totals") or {})
                elif rec.get("event") == "finished":
                    self._final = rec
                else:
                    self._records.append(rec)

    def records(self) -> list[dict]:
        self._read()
        with self._lock:
            return list(self._records)

    @property
    def state(self) -> str:
        """starting | running | done | cancelled | failed."""
        self._read()
        if self._final is not None:
            return str(self._final.get("status", "failed"))
        if self._alive():
            return "running" if self.totals else "starting"
        self._read()  # the child may have written its last lines just before exiting
        if self._final is not None:
            return str(self._final.get("status", "failed"))
        return "failed"

    @property
    def error(self) -> str | None:
        if self._final is not None and self._final.get("status") == "failed":
            return str(self._final.get("error") or "training failed")
        if self._final is None and not self._alive():
            code = self._proc.returncode if self._proc is not None else None
            how = (
                f"killed by signal {-code}"
                if code is not None and code < 0
                else f"exit code {code}"
                if code is not None
                else "no longer running"
            )
            tail = self._log_error()
            return f"the training process ended unexpectedly ({how})" + (
                f": {tail}" if tail else "; units finished before it are saved"
            )
        return None

    def _log_error(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        errors = [ln for ln in lines if ln.startswith("error:")]
        return errors[-1].removeprefix("error:").strip()[:300] if errors else ""

    @property
    def active(self) -> bool:
        return self.state in ("starting", "running")

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_sent

    @property
    def resumable(self) -> bool:
        """A partial checkpoint exists and the run did not complete."""
        return self._resumable(self.state)

    def _resumable(self, state: str) -> bool:
        return state in ("failed", "cancelled") and self.out.is_file()

    def cancel(self) -> None:
        """Ask the child to stop after its current step (it saves, then exits)."""
        if self._alive() and self.pid:
            try:
                os.kill(int(self.pid), signal.SIGTERM)
                self._cancel_sent = True
            except ProcessLookupError:
                pass

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._alive() and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.2)
        if self._proc is not None and not self._alive():
            self._proc.wait()

    def view(self) -> dict:
        """A consistent snapshot for display: progress rows, headline, state, elapsed."""
        records = self.records()
        state = self.state
        rows = progress_rows(records + ([{"event": "done"}] if state == "done" else []), self.totals)
        running = [r for r in rows if r["state"] == "running"]
        if state in ("starting", "running"):
            self._ended = None
        elif self._ended is None:
            self._ended = time.time()
        elapsed = (self._ended or time.time()) - self.started
        if state in ("starting", "running") and self._cancel_sent:
            headline = "cancelling…"
        elif state == "starting":
            headline = "preparing data and model…"
        elif state == "running" and running:
            r = running[0]
            headline = f"{r['label']} {100 * r['fraction']:.0f}% · ETA {format_seconds(r['eta_s'])}"
        else:
            headline = state
        return {
            "id": self.id,
            "state": state,
            "error": self.error,
            "rows": rows,
            "records": records,
            "elapsed": elapsed,
            "headline": headline,
            "out": str(self.out),
            "source": self.source,
            "preset": self.preset,
            "resumable": self._resumable(state),
        }


class TrainingSlot:
    """The server-wide single training slot."""

    def __init__(self):
        self.lock = threading.Lock()
        self.job: TrainingJob | None = None
        self.folder: Path | None = None  # jobs folder last scanned

    def refresh(self) -> None:
        """After a server restart (or with another jobs folder), pick up the newest job from
        its files, so a run started before is shown (running, finished, or died)."""
        folder = jobs_dir()
        if self.folder == folder:
            return
        self.folder = folder
        if self.job is not None and self.job.active:
            return
        metas = []
        for path in folder.glob("*.json") if folder.is_dir() else []:
            try:
                metas.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
        metas = [m for m in metas if isinstance(m, dict) and {"id", "source", "out"} <= set(m)]
        if metas:
            newest = max(metas, key=lambda m: float(m.get("started", 0)))
            if self.job is None or newest["id"] != self.job.id:
                self.job = TrainingJob.from_meta(newest)


@st.cache_resource
def training_slot() -> TrainingSlot:
    return TrainingSlot()


def current_job() -> TrainingJob | None:
    slot = training_slot()
    with slot.lock:
        slot.refresh()
        return slot.job


def start_training(
    source: str,
    *,
    preset: str,
    overrides: dict,
    seed: int = 0,
    device: str = "auto",
    owner: str | None = None,
    resume: str | None = None,
    threads: int | None = None,
) -> TrainingJob:
    """Start a training subprocess unless one is already running on this server. `resume`:
    the path of a partial checkpoint to continue (its own settings apply)."""
    slot = training_slot()
    with slot.lock:
        slot.refresh()
        if slot.job is not None and slot.job.active:
            raise store.user_error(
                "a training is already running on this server (started "
                f"{format_seconds(time.time() - slot.job.started)} ago); wait for it or cancel it"
            )
        if resume:
            out = Path(resume)
        else:
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
            resume=bool(resume),
            threads=threads,
        )
        job.start()
        slot.job = job
        return job


def resume_training(job: TrainingJob, *, owner: str | None = None) -> TrainingJob:
    """Continue a cancelled or killed run from its last saved unit."""
    return start_training(
        job.source,
        preset=job.preset,
        overrides={},
        seed=job.seed,
        device=job.device,
        owner=owner or job.owner,
        resume=str(job.out),
    )


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
        st.toast(f"Training finished: now using {md(job.out.stem)}", icon=":material/check_circle:")
