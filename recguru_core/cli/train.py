"""`recguru train`: build or resume a Trainer, drive it with progress bars (or quietly), honour
SIGTERM as a clean stop, write the progress file and the checkpoint, project the snapshots at
the end. The other commands live in main.py."""

from __future__ import annotations

import sys
from pathlib import Path

from ..common.errors import RecGuruError


def parse_overrides(items: list[str]) -> dict[str, str]:
    from ..common.config import parse_key_values

    return parse_key_values(items, "override (e.g. adv_steps=500)")


class _CancelledEarly(BaseException):
    """SIGTERM before the training loop began: nothing is saved yet, so stop at once (a
    BaseException, so no `except Exception` on the way reports it as a failure)."""


def _stop_on_sigterm(stop, started=None) -> None:
    """SIGTERM asks for a clean stop. Once the training loop runs (`started` set), the trainer
    ends its current step and yields 'cancelled' (the unfinished unit is dropped; the last
    finished one is already saved). Before that (imports, data preparation, model set-up: tens
    of seconds on a large source) there is nothing to keep, and the process stops at once.
    The app's Cancel button sends it. Installed first thing, before torch is imported, so a
    cancel during the start-up is a clean stop too instead of a kill."""
    import signal
    import threading

    def on_sigterm(signum, frame):
        stop.set()
        if started is not None and not started.is_set():
            raise _CancelledEarly

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_sigterm)


def cmd_train(args) -> int:
    """Under torchrun every rank runs this; rank 0 alone draws progress, writes the --progress
    file and the checkpoint (the trainer's save), and runs --project after the group is gone."""
    import os
    import threading

    stop, started = threading.Event(), threading.Event()
    _stop_on_sigterm(stop, started)
    try:
        from ..train import distributed

        ended = False  # the normal end: the ranks leave the group together
        try:
            distributed.init(args.device)
            from ..common.threads import apply_threads

            apply_threads(args.threads, ranks=distributed.world_size())
            ranks = distributed.world_size()
            code = _train(args, main=distributed.is_main(), stop=stop, started=started)
            ended = True
        finally:
            distributed.shutdown(together=ended)
        if ranks > 1:
            # Everything is written (the checkpoint atomically, the progress file closed). Skip
            # the interpreter's teardown: gloo's worker threads can still be joinable there and
            # abort the process (SIGABRT, "terminate called without an active exception", seen
            # once in CI on rank 0 after a clean end), which would turn a finished run into a
            # failed one for torchrun.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code
    except _CancelledEarly:
        if os.environ.get("RANK", "0") == "0":
            progress = _checked_progress(args)  # a path that failed its check stays untouched
            progress.write({"event": "finished", "status": "cancelled", "out": args.out})
            progress.close()
            print("cancelled before training began; nothing new was saved", file=sys.stderr)
        return 0


def _checked_progress(args, *, strict: bool = False):
    """The --progress log, opened only once its path passed progress_log's checks (strict: a
    refusal is raised); else, for a stop during start-up, only where that is safe unchecked."""
    from ..train.progress_log import ProgressFile, check_progress_path, open_if_safe

    if not strict or args.progress is None:
        return open_if_safe(args.progress, out=args.out)
    check_progress_path(args.progress, out=args.out, source=args.source)
    return ProgressFile(args.progress)


def _train(args, *, main: bool, stop=None, started=None) -> int:
    import threading

    from ..train.checkpoints import load_checkpoint
    from ..train.progress_log import ProgressFile
    from ..train.runs import build_trainer, trainer_from_checkpoint
    from ..train.trainer import PHASE_NUMBERS

    overrides = parse_overrides(args.overrides)
    # rank 0 alone writes; before anything is loaded, so a bad path costs a second, not a run
    progress = _checked_progress(args, strict=True) if main else ProgressFile(None)
    if stop is None:
        stop = threading.Event()
        _stop_on_sigterm(stop)
    stop_after = PHASE_NUMBERS.get(args.stop_after or "", 3)

    def on_record(rec):
        progress.write(rec)
        if rec.get("event") == "phase_start" and PHASE_NUMBERS[rec["phase"]] > stop_after:
            stop.set()  # the next phase's first unit is discarded: it resumes from its start

    import torch

    from ..common.threads import parse_threads
    from ..train.outputs import check_train_output, resume_mismatch

    try:
        if args.force and args.resume:
            raise RecGuruError(
                "--force and --resume contradict each other: --resume continues the "
                "run in --out, --force replaces it"
            )
        if main:  # rank 0 alone writes: it checks the path (and removes orphaned temp files)
            check_train_output(args.out, source=args.source, force=args.force, resume=args.resume)
        if args.resume:
            if not Path(args.out).is_file():
                raise RecGuruError(f"--resume: {args.out} does not exist; run without --resume to start")
            ckpt = load_checkpoint(args.out)
            differs = resume_mismatch(
                ckpt, source=args.source, preset=args.preset, seed=args.seed, overrides=overrides
            )
            if differs:
                raise RecGuruError(
                    f"--resume: the run in {args.out} differs from this command "
                    f"({'; '.join(differs)}); resume with the saved settings, or "
                    "start a new run (another --out, or --force)"
                )
            if ckpt.get("status") == "complete":
                print(f"{args.out} is already complete; nothing to resume", file=sys.stderr)
                progress.write({"event": "finished", "status": "done", "out": args.out})
                return 0
            saved_threads = (ckpt["config"].get("extra") or {}).get("threads")
            if saved_threads and parse_threads(args.threads) is None:
                # same thread count as the saved run: CPU float reductions depend on it, and a
                # resumed run should continue bit-identically
                torch.set_num_threads(int(saved_threads))
            trainer = trainer_from_checkpoint(ckpt, out=args.out, device=args.device, stop=stop)
            saved = ckpt["config"]["train"].get("world_size", 1)
            if main and saved != trainer.cfg.world_size:
                print(
                    f"note: {args.out} was trained on {saved} process(es), resuming on "
                    f"{trainer.cfg.world_size}: batches per step change from here on",
                    file=sys.stderr,
                )
        else:
            trainer = build_trainer(
                args.source,
                preset=args.preset or "quick",
                overrides=overrides,
                out=args.out,
                seed=args.seed or 0,
                device=args.device,
                stop=stop,
            )
        trainer.extra["threads"] = torch.get_num_threads()
        if main and not args.quiet:
            print(f"CPU threads per process: {trainer.extra['threads']}", file=sys.stderr)
        progress.write({"event": "totals", "totals": {str(k): v for k, v in trainer.phase_totals().items()}})
        if started is not None:
            started.set()  # from here a SIGTERM stops at the next step (see _stop_on_sigterm)
        if main:
            drive(trainer, quiet=args.quiet, on_record=on_record)
        else:  # the other ranks run in step with rank 0, silently
            for rec in trainer.run():
                on_record(rec)
        progress.write(
            {"event": "finished", "status": "cancelled" if stop.is_set() else "done", "out": args.out}
        )
    except Exception as exc:
        line = (str(exc).strip().splitlines() or [""])[0]
        error = line if isinstance(exc, RecGuruError) else f"{type(exc).__name__}: {line}"
        progress.write({"event": "finished", "status": "failed", "error": error})
        raise
    finally:
        progress.close()
    if not main:
        return 0
    if stop.is_set():
        print(
            f"cancelled; the units finished so far are saved in {args.out}"
            if Path(args.out).is_file()
            else "cancelled before the first unit finished; nothing was saved",
            file=sys.stderr,
        )
        return 0
    if args.project:
        from ..train import distributed

        distributed.shutdown()  # projections are rank 0's alone: no collective may be pending
        project_checkpoint(args.out, users=args.project_users, method="chained-umap", quiet=args.quiet)
    print(f"checkpoint written to {args.out}", file=sys.stderr)
    return 0


def drive(trainer, quiet: bool = False, on_record=None) -> None:
    """Consume the trainer's records, drawing one progress bar per phase on stderr and handing
    each record to `on_record` (the --progress file)."""
    from tqdm import tqdm

    from ..train.trainer import PHASE_NUMBERS as index

    totals = trainer.phase_totals()
    bar, bar_phase = None, None
    try:
        for rec in trainer.run():
            if on_record is not None:
                on_record(rec)
            phase = rec["phase"]
            step = rec.get("phase_step") if "event" not in rec else None
            if phase in index and bar_phase != phase:
                if bar is not None:
                    bar.close()
                # A resumed run starts mid-phase: the steps done before count as the bar's
                # `initial`, so its speed and time left are measured on this run's steps only.
                bar = tqdm(
                    total=totals[index[phase]],
                    desc=f"phase {index[phase]} {phase}",
                    initial=max(0, int(step) - 1) if step else 0,
                    file=sys.stderr,
                    disable=quiet,
                    dynamic_ncols=True,
                )
                bar_phase = phase
            if "event" not in rec and bar is not None:
                shown = {
                    k: rec[k] for k in ("rec_A", "rec_B", "wasserstein", "l2", "bpr_A", "bpr_B") if k in rec
                }
                bar.set_postfix({k: f"{v:.3f}" for k, v in shown.items()}, refresh=False)
                if step is not None and int(step) > bar.n:
                    bar.update(int(step) - bar.n)
            elif rec.get("event") == "note" and not quiet:  # schedule.py, phase-3 cap
                tqdm.write(f"note: {rec.get('text', '')}", file=sys.stderr)
            elif rec.get("event") == "eval" and bar is not None:
                bar.write(f"  valid NDCG@10  A {rec['valid_NDCG@10_A']:.4f}   B {rec['valid_NDCG@10_B']:.4f}")
            elif rec.get("event") == "final_eval":
                if bar is not None:
                    bar.close()
                    bar = None
                print(
                    "test (1 + negatives sampled): "
                    + "  ".join(
                        f"{k.removeprefix('test_')}={v:.4f}"
                        for k, v in rec.items()
                        if k.startswith("test_") and ("NDCG@10" in k or "HR@10" in k)
                    ),
                    file=sys.stderr,
                )
    finally:
        if bar is not None:
            bar.close()


def project_checkpoint(path, *, users: int, method: str, quiet: bool) -> None:
    from ..analysis.projection import project_snapshots
    from ..train.checkpoints import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(path)
    if not quiet:
        print(f"projecting GUR snapshots ({method}, up to {users} users)...", file=sys.stderr)
    ckpt["projections"] = project_snapshots(ckpt["snapshots"], n_users=users, seed=0, method=method)
    # The alignment metrics of the snapshots, so the app shows them without recomputing.
    from ..analysis.alignment import compare_snapshots
    from ..common.rules import ALIGNMENT_N_MAX

    ckpt["alignment"] = compare_snapshots(ckpt["snapshots"], seed=0, n_max=ALIGNMENT_N_MAX)
    save_checkpoint(path, ckpt)
