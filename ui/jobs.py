"""ONE background-job type for the app's slow work (alignment metrics, explanations,
projections, prefetch): a `Job` runs a function on a worker thread and carries its state,
progress, result or one-line error, and a cancel flag. Jobs are keyed server-wide, so a
second session asking for the same thing shares the running job instead of starting another.

Workers come from one small thread pool (concurrent.futures): its exit hook joins the
workers before the interpreter tears torch down (a thread killed inside torch aborts the
process with "terminate called without an active exception"), and two workers keep a
2-core machine from running five heavy things at once. So that exit is also quick, our own
exit hook runs first (`shutdown`): it refuses new jobs, cancels the queued ones (they never
start), asks running ones to stop (`cancelled` / `shutting_down()`) and waits for them for
at most EXIT_WAIT_S; the pool's hook then joins what is left. Work never calls st.*: it has no
script context. Training is not a thread but a subprocess (ui/training.py), so it is not here.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .text import describe_error, is_user_error

MAX_WORKERS = 2
EXIT_WAIT_S = 10.0  # how long process exit waits for running jobs to stop
MAX_JOBS = 128  # finished jobs kept (their results live in st.cache_data anyway)
THREAD_PREFIX = "recguru-job"


@dataclass
class Job:
    """State of one piece of background work. Written by its worker, read by pages."""

    key: tuple
    state: str = "running"  # running | done | failed | cancelled
    result: Any = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    fraction: float = 0.0
    message: str = "starting"
    cancel_requested: threading.Event = field(default_factory=threading.Event, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _then: list = field(default_factory=list, repr=False)
    _then_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _future: Any = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def report(self, fraction: float, message: str) -> None:
        """Progress callback handed to the work (thread-safe: two plain assignments)."""
        self.fraction, self.message = float(min(max(fraction, 0.0), 1.0)), str(message)

    def cancel(self) -> None:
        self.cancel_requested.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished; False on timeout."""
        return self._done.wait(timeout)

    def then(self, callback: Callable[[], None]) -> None:
        """Call `callback` (on the worker thread) once this job has finished, at once if it
        has. Chains heavy work one after the other without a worker waiting for another (a
        waiting worker could starve the small pool)."""
        with self._then_lock:
            if not self._done.is_set():
                self._then.append(callback)
                return
        callback()

    def _stop(self, reason: str) -> None:
        self.state, self.error, self.finished = "cancelled", reason, time.time()
        self._finish()

    def _finish(self) -> None:
        with self._then_lock:
            self._done.set()
            callbacks, self._then = self._then, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001  (a follow-up's failure is its own business)
                traceback.print_exc()

    def _run(self, fn: Callable, args: tuple, kwargs: dict) -> None:
        if _SHUTDOWN.is_set():  # queued before the exit began: never start torch work now
            self._stop("the server is shutting down")
            return
        try:
            self.result = fn(*args, **kwargs)
            self.state = "cancelled" if self.cancel_requested.is_set() else "done"
        except Exception as exc:  # noqa: BLE001  (reported on the page, one line)
            if not is_user_error(exc):
                traceback.print_exc()
            self.error = describe_error(exc)
            self.state = "failed"
        finally:
            self.finished = time.time()
            self._finish()


_SHUTDOWN = threading.Event()


def shutting_down() -> bool:
    """True once the process exits: long work checks it between steps and returns early."""
    return _SHUTDOWN.is_set()


class _Registry:
    """The server's pool and its jobs by key (one per process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs: dict[tuple, Job] = {}
        self.pool: ThreadPoolExecutor | None = None

    def executor(self) -> ThreadPoolExecutor:
        if self.pool is None:
            self.pool = ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix=THREAD_PREFIX)
            _register_exit_hook()
            # Workers call cached functions without a script context on purpose; Streamlit
            # would log "missing ScriptRunContext" for each. Silence that for our threads only.
            logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
                lambda record: not threading.current_thread().name.startswith(THREAD_PREFIX)
            )
        return self.pool


_REGISTRY = _Registry()


def _register_exit_hook() -> None:
    """Run `shutdown` at exit BEFORE the pool's own hook joins its workers: threading's exit
    hooks run last-registered first, and concurrent.futures registered its hook on import.
    `threading._register_atexit` is private, and there is no public way to run before that
    join (atexit runs after it, when a running job would already have hung the exit), so we
    keep it, and tests/ui/test_ui_jobs.py fails loudly on a Python where it is gone or its
    signature changed. (Python < 3.9 had no such hook list: fall back to atexit.)"""
    register = getattr(threading, "_register_atexit", None)
    if register is None:  # pragma: no cover
        import atexit

        atexit.register(shutdown)
        return
    try:
        register(shutdown)
    except RuntimeError:  # already exiting: nothing to register for
        pass


def shutdown(timeout: float | None = None) -> bool:
    """Stop the background work: no new jobs, queued ones cancelled, running ones asked to
    stop and waited for up to `timeout` (EXIT_WAIT_S) seconds. True when none is left running."""
    _SHUTDOWN.set()
    with _REGISTRY.lock:
        pool, running = _REGISTRY.pool, [j for j in _REGISTRY.jobs.values() if j.running]
    for job in running:
        job.cancel()
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)
    for job in running:  # a cancelled future never reaches Job._run: finish its job here
        if job._future is not None and job._future.cancelled():
            job._stop("the server is shutting down")
    deadline = time.monotonic() + (EXIT_WAIT_S if timeout is None else timeout)
    for job in running:
        job.wait(max(0.0, deadline - time.monotonic()))
    return not any(j.running for j in running)


def submit(key: tuple, fn: Callable, *args, progress: bool = False, **kwargs) -> Job:
    """The job computing fn(*args, **kwargs) under `key` (server-wide), started if new or if
    the previous one under that key failed. With progress=True, fn also receives
    `progress=job.report` and `cancelled=job.cancel_requested`."""
    with _REGISTRY.lock:
        job = _REGISTRY.jobs.get(key)
        if job is not None and job.state in ("running", "done"):
            return job
        job = Job(key=key)
        if _SHUTDOWN.is_set():
            job._stop("the server is shutting down")
            return job
        _REGISTRY.jobs[key] = job
        while len(_REGISTRY.jobs) > MAX_JOBS:  # oldest first (dicts keep insertion order)
            _REGISTRY.jobs.pop(next(iter(_REGISTRY.jobs)))
        if progress:
            kwargs = {**kwargs, "progress": job.report, "cancelled": job.cancel_requested}
        future = _REGISTRY.executor().submit(job._run, fn, args, kwargs)
        job._future = future
    return job


def finished(result: Any, key: tuple = ("done",)) -> Job:
    """A job that is already done (e.g. a value a checkpoint stores precomputed)."""
    job = Job(key=key, state="done", result=result, finished=time.time())
    job._done.set()
    return job
