"""Command-line interface: the same core as the app, headless.

    python -m recguru_core stats SOURCE [--json]
    python -m recguru_core train SOURCE --out PATH [--preset quick|tiny|paper] [--device auto|cpu|cuda]
                                 [--seed N] [--resume] [--stop-after PHASE] [key=value overrides...]
    torchrun --nproc_per_node=N -m recguru_core train ...   (several processes: distributed.py)
    python -m recguru_core evaluate PATH [--json] [--full-ranking] [--split test|valid] [--groups] [--health]
    python -m recguru_core recommend PATH --user RAW_ID --domain A|B [--k 10] [--json]
    python -m recguru_core project PATH [--users 5000] [--method chained-umap|aligned-umap|procrustes|pca]
    python -m recguru_core compare RUN1.pt RUN2.pt [RUN3.pt ...] [--json]
    python -m recguru_core benchmark SOURCE --out results.json [--models pop,...,recguru|all]
                                 [--overlap 0.1,0.3,0.5,0.75] [--seeds 3] [--preset quick|paper]
                                 [--device auto|cpu|cuda] [--quiet] [key=value overrides...]

Every user-fixable problem ends as one line on stderr (`error: ...`) and exit status 2; no
traceback. Progress goes to stderr, results to stdout.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common.errors import RecGuruError

SOURCE_HELP = (
    "data source: synthetic | synthetic:users=5000,overlap=0.5,seed=1 | csv:A,B | "
    "amazon:A,B | movielens:DIR | recbole:A,B; options key=value after the paths "
    "(min_rating=2, k_core=5, overlap=0.5, max_len=100, negatives=199, sampling=popularity)"
)


def _cmd_stats(args) -> int:
    from .data.sources import load_source

    data = load_source(args.source)
    stats = data.stats()
    if args.json:
        print(json.dumps({"A": stats["A"], "B": stats["B"], "overlap_users": stats["overlap_users"]}))
    else:
        print(format_stats_table(stats))
    return 0


def format_stats_table(stats: dict) -> str:
    header = f"{'domain':<24}{'users':>10}{'items':>10}{'interactions':>14}{'avg_len':>9}"
    lines = [header, "-" * len(header)]
    for key in ("A", "B"):
        s = stats[key]
        name = f"{key} ({stats.get('names', {}).get(key, key)})"
        lines.append(f"{name:<24}{s['users']:>10}{s['items']:>10}{s['interactions']:>14}{s['avg_len']:>9.2f}")
    lines.append(f"overlapped users: {stats['overlap_users']}")
    return "\n".join(lines)


def _parse_overrides(items: list[str]) -> dict[str, str]:
    from .common.config import parse_key_values

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


def _cmd_train(args) -> int:
    """Under torchrun every rank runs this; rank 0 alone draws progress, writes the --progress
    file and the checkpoint (the trainer's save), and runs --project after the group is gone."""
    import os
    import threading

    stop, started = threading.Event(), threading.Event()
    _stop_on_sigterm(stop, started)
    try:
        from .train import distributed

        try:
            distributed.init(args.device)
            from .common.threads import apply_threads

            apply_threads(args.threads, ranks=distributed.world_size())
            return _train(args, main=distributed.is_main(), stop=stop, started=started)
        finally:
            distributed.shutdown()
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
    from .train.progress_log import ProgressFile, check_progress_path, open_if_safe

    if not strict or args.progress is None:
        return open_if_safe(args.progress, out=args.out)
    check_progress_path(args.progress, out=args.out, source=args.source)
    return ProgressFile(args.progress)


def _train(args, *, main: bool, stop=None, started=None) -> int:
    import threading

    from .train.checkpoints import load_checkpoint
    from .train.progress_log import ProgressFile
    from .train.runs import build_trainer, trainer_from_checkpoint
    from .train.trainer import PHASE_NUMBERS

    overrides = _parse_overrides(args.overrides)
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

    from .common.threads import parse_threads
    from .train.outputs import check_train_output, resume_mismatch

    try:
        if args.force and args.resume:
            raise RecGuruError("--force and --resume contradict each other: --resume continues the "
                               "run in --out, --force replaces it")
        if main:  # rank 0 alone writes: it checks the path (and removes orphaned temp files)
            check_train_output(args.out, source=args.source, force=args.force, resume=args.resume)
        if args.resume:

            if not Path(args.out).is_file():
                raise RecGuruError(f"--resume: {args.out} does not exist; run without --resume to start")
            ckpt = load_checkpoint(args.out)
            differs = resume_mismatch(ckpt, source=args.source, preset=args.preset, seed=args.seed,
                                      overrides=overrides)
            if differs:
                raise RecGuruError(f"--resume: the run in {args.out} differs from this command "
                                   f"({'; '.join(differs)}); resume with the saved settings, or "
                                   "start a new run (another --out, or --force)")
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
                print(f"note: {args.out} was trained on {saved} process(es), resuming on "
                      f"{trainer.cfg.world_size}: batches per step change from here on", file=sys.stderr)
        else:
            trainer = build_trainer(args.source, preset=args.preset or "quick", overrides=overrides,
                                    out=args.out, seed=args.seed or 0, device=args.device, stop=stop)
        trainer.extra["threads"] = torch.get_num_threads()
        if main and not args.quiet:
            print(f"CPU threads per process: {trainer.extra['threads']}", file=sys.stderr)
        progress.write({"event": "totals", "totals": {str(k): v for k, v in trainer.phase_totals().items()}})
        if started is not None:
            started.set()  # from here a SIGTERM stops at the next step (see _stop_on_sigterm)
        if main:
            _drive(trainer, quiet=args.quiet, on_record=on_record)
        else:  # the other ranks run in step with rank 0, silently
            for rec in trainer.run():
                on_record(rec)
        progress.write({"event": "finished", "status": "cancelled" if stop.is_set() else "done",
                        "out": args.out})
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

        print(f"cancelled; the units finished so far are saved in {args.out}"
              if Path(args.out).is_file() else "cancelled before the first unit finished; "
              "nothing was saved", file=sys.stderr)
        return 0
    if args.project:
        from .train import distributed

        distributed.shutdown()  # projections are rank 0's alone: no collective may be pending
        _project(args.out, users=args.project_users, method="chained-umap", quiet=args.quiet)
    print(f"checkpoint written to {args.out}", file=sys.stderr)
    return 0


def _drive(trainer, quiet: bool = False, on_record=None) -> None:
    """Consume the trainer's records, drawing one progress bar per phase on stderr and handing
    each record to `on_record` (the --progress file)."""
    from tqdm import tqdm

    from .train.trainer import PHASE_NUMBERS as index

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
                bar = tqdm(total=totals[index[phase]], desc=f"phase {index[phase]} {phase}",
                           initial=max(0, int(step) - 1) if step else 0,
                           file=sys.stderr, disable=quiet, dynamic_ncols=True)
                bar_phase = phase
            if "event" not in rec and bar is not None:
                shown = {k: rec[k] for k in ("rec_A", "rec_B", "wasserstein", "l2", "bpr_A", "bpr_B")
                         if k in rec}
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
                print("test (1 + negatives sampled): "
                      + "  ".join(f"{k.removeprefix('test_')}={v:.4f}" for k, v in rec.items()
                                  if k.startswith("test_") and ("NDCG@10" in k or "HR@10" in k)),
                      file=sys.stderr)
    finally:
        if bar is not None:
            bar.close()


def _project(path, *, users: int, method: str, quiet: bool) -> None:
    from .analysis.projection import project_snapshots
    from .train.checkpoints import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(path)
    if not quiet:
        print(f"projecting GUR snapshots ({method}, up to {users} users)...", file=sys.stderr)
    ckpt["projections"] = project_snapshots(ckpt["snapshots"], n_users=users, seed=0, method=method)
    # The alignment metrics of the snapshots, so the app shows them without recomputing.
    from .analysis.alignment import compare_snapshots
    from .common.rules import ALIGNMENT_N_MAX

    ckpt["alignment"] = compare_snapshots(ckpt["snapshots"], seed=0, n_max=ALIGNMENT_N_MAX)
    save_checkpoint(path, ckpt)


def _cmd_slim(args) -> int:

    from .train.checkpoints import compact_checkpoint, load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(args.path)  # a missing or foreign file: one line, nothing written
    before = Path(args.path).stat().st_size
    save_checkpoint(args.path, compact_checkpoint(ckpt))
    after = Path(args.path).stat().st_size
    print(f"{args.path}: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB", file=sys.stderr)
    return 0


def _cmd_project(args) -> int:
    _project(args.path, users=args.users, method=args.method, quiet=False)
    print(f"projections stored in {args.path}", file=sys.stderr)
    return 0


def _warn_if_unfinished(path: str, ckpt: dict) -> None:
    """One line on stderr when a checkpoint is not a finished run (its numbers are not final)."""
    from .train.checkpoints import status_text

    text = status_text(ckpt)
    if text != "complete":
        print(f"warning: {path} is an {text}: continue it with train --resume; its numbers "
              "are not final", file=sys.stderr)


def _print_alignment(args) -> int:
    """`evaluate --alignment`: analysis.flatten_comparison of every snapshot, the app's sample."""
    from .analysis.alignment import compare_snapshots, flatten_comparison, format_flat_rows
    from .common.rules import ALIGNMENT_N_MAX
    from .train.checkpoints import load_checkpoint

    ckpt = load_checkpoint(args.path)
    _warn_if_unfinished(args.path, ckpt)
    rows = flatten_comparison(compare_snapshots(ckpt.get("snapshots"), seed=0, n_max=ALIGNMENT_N_MAX))
    print(json.dumps(rows) if args.json else format_flat_rows(rows))
    return 0


def _cmd_evaluate(args) -> int:
    from .analysis.inference import LoadedRun

    if args.health:
        from .train.checkpoints import load_checkpoint
        from .train.health import diagnose, format_health

        ckpt = load_checkpoint(args.path)
        _warn_if_unfinished(args.path, ckpt)
        snaps = ckpt.get("snapshots")
        rows = diagnose(ckpt.get("history") or [], snaps if isinstance(snaps, dict) else None)
        print(json.dumps(rows) if args.json else format_health(rows))
        return 0
    if args.alignment:
        return _print_alignment(args)
    run = LoadedRun.load(args.path)
    _warn_if_unfinished(args.path, run.ckpt)
    if args.groups:
        rows = run.evaluate_groups(args.split)
        if args.json:
            print(json.dumps(rows))
            return 0
        print(f"{'domain':<7}{'group':<30}{'users':>7}  {'ranking':<8}{'metric':<9}{'value':>8}  95 % interval")
        for r in rows:
            print(f"{r['domain']:<7}{r['group']:<30}{r['users']:>7}  {r['ranking']:<8}{r['metric']:<9}"
                  f"{r['value']:>8.4f}  [{r['low']:.4f}, {r['high']:.4f}]")
        return 0
    metrics = run.evaluate(args.split, full_ranking=args.full_ranking)
    if args.json:
        print(json.dumps(metrics))
    else:
        names = list(metrics["A"])
        print(f"{'metric':<10}{'A (' + run.data.a.name + ')':>20}{'B (' + run.data.b.name + ')':>20}")
        for m in names:
            print(f"{m:<10}{metrics['A'][m]:>20.4f}{metrics['B'][m]:>20.4f}")
    return 0


def _cmd_recommend(args) -> int:
    from .analysis.inference import LoadedRun

    run = LoadedRun.load(args.path)
    _warn_if_unfinished(args.path, run.ckpt)
    rec = run.recommend(args.user, args.domain, k=args.k)
    if args.json:
        print(json.dumps(rec))
        return 0
    for item in rec["items"]:
        print(f"{item['rank']:>3}. {item['title']:<40} {item['genre']:<22} score {item['score']:.3f}")
    t = rec["test_item"]
    print(f"held-out test item: {t['title']} (rank {t['rank']})")
    return 0


def _cmd_compare(args) -> int:

    from .analysis.compare import compare_runs, comparison_text
    from .analysis.inference import LoadedRun
    from .common.rules import unique_labels

    if len(args.paths) < 2:  # before loading anything
        raise RecGuruError(f"compare needs at least two checkpoints (got {len(args.paths)})")
    runs = [LoadedRun.load(path) for path in args.paths]  # each refused with one line if bad
    for path, run in zip(args.paths, runs):
        _warn_if_unfinished(path, run.ckpt)
    result = compare_runs(runs, unique_labels([Path(p).stem for p in args.paths]))
    print(json.dumps(result) if args.json else comparison_text(result))
    return 0


def _cmd_benchmark(args) -> int:
    from .bench.harness import parse_overlaps, parse_seeds, prepare_output, run_benchmark, source_with_overlap
    from .bench.registry import parse_model_list
    from .data.sources import parse_source

    if args.report:
        return _benchmark_report(args.out)
    if args.source is None:
        raise RecGuruError("benchmark: give a data source (e.g. synthetic), or --report")
    models = parse_model_list(args.models)
    overlaps = parse_overlaps(args.overlap)
    seeds = parse_seeds(args.seeds)
    overrides = _parse_overrides(args.overrides)
    paths = prepare_output(args.out)
    for overlap in overlaps or [None]:
        parse_source(source_with_overlap(args.source, overlap))  # a bad spec fails before training
    from .train.trainer import resolve_device

    device = resolve_device(args.device)
    from .common.threads import apply_threads

    apply_threads(args.threads)
    result = run_benchmark(args.source, models, out=args.out, overlaps=overlaps, seeds=len(seeds),
                           preset=args.preset, overrides=overrides, device=device, quiet=args.quiet)
    print(result.markdown, end="")
    print(f"results written to {paths.json} and {paths.md} (per-user ranks and checkpoints in "
          f"{paths.dir})", file=sys.stderr)
    return 0


def _benchmark_report(out: str) -> int:
    """--report: the .md rewritten from every row of the results file, trains nothing."""
    from .bench.harness import rewrite_report

    paths, markdown = rewrite_report(out)
    print(markdown, end="")
    print(f"tables of every row of {paths.json} written to {paths.md}", file=sys.stderr)
    return 0


# `recguru ...` (the installed console command) or `python -m recguru_core ...`: usage says which
PROG = "recguru" if Path(sys.argv[0]).name == "recguru" else "python -m recguru_core"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one `error:` line (naming the command and pointing at
    --help) and exit 2, like every other user error, instead of a usage block."""

    def error(self, message: str):
        command = self.prog.removeprefix(PROG).strip()
        self.exit(2, f"error: {command or 'command'}: "
                     f"{message} (see --help)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def seed_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected a whole number in 0..2^32-1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from .common.config import PRESET_NOTES  # torch-free: the one text of each preset
    parser = OneLineParser(prog=PROG,
                           description="RecGURU cross-domain user representations")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("stats", help="print the Table-1 statistics of a data source")
    p.add_argument("source", help=SOURCE_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_stats)

    p = sub.add_parser("train", help="train RecGURU (three phases) and write a checkpoint")
    p.add_argument("source", help=SOURCE_HELP)
    p.add_argument("--out", required=True, help="checkpoint path (written atomically after every unit)")
    p.add_argument("--preset", default=None, help="; ".join(f"{k}: {v}" for k, v in PRESET_NOTES.items())
                   + " (default quick)")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, mps")
    p.add_argument("--seed", type=seed_int, default=None, help="model seed (default 0)")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    p.add_argument("--force", action="store_true",
                   help="replace a checkpoint that already exists at --out")
    p.add_argument("--threads", default="auto",
                   help="intra-op CPU threads: a number, or auto (the cores free at start)")
    p.add_argument("--stop-after", default=None, choices=("pretrain", "adversarial"),
                   help="stop cleanly once this phase is done (resumable with --resume)")
    p.add_argument("--project", action="store_true",
                   help="afterwards store 2-d projections of the GUR snapshots (for the app)")
    p.add_argument("--project-users", type=positive_int, default=5000)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--progress", default=None, metavar="FILE",
                   help="append every step record to FILE as JSON lines (for the app)")
    p.add_argument("overrides", nargs="*", help="key=value for any model/training setting, "
                   "e.g. adv_steps=500 gp_weight=10 critic=bce w_l2=0 d_model=32")
    p.set_defaults(overrides=[])
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="HR/NDCG/MRR per domain over all users")
    p.add_argument("path")
    p.add_argument("--json", action="store_true")
    p.add_argument("--full-ranking", action="store_true", help="rank against all items, not 1 + negatives")
    p.add_argument("--split", default="test", choices=("test", "valid"))
    p.add_argument("--groups", action="store_true",
                   help="metrics by user group (overlapped or not, short or long history), "
                   "sampled and full ranking, with bootstrap 95 %% intervals")
    p.add_argument("--health", action="store_true",
                   help="instead: is the adversarial phase healthy? verdicts from the step records")
    p.add_argument("--alignment", action="store_true",
                   help="instead: alignment AND collapse of every GUR snapshot (AUC, MMD, effective "
                   "rank, top-3 variance share, uniformity, ... with their nulls)")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("recommend", help="top-k items for one user")
    p.add_argument("path")
    p.add_argument("--user", required=True, help="raw user id as in the data")
    p.add_argument("--domain", required=True, choices=("A", "B", "a", "b"))
    p.add_argument("--k", type=positive_int, default=10)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_recommend)

    p = sub.add_parser("slim", help="store a checkpoint compactly for shipping (float16 "
                       "snapshots, int16 candidates); weights and metrics unchanged")
    p.add_argument("path")
    p.set_defaults(func=_cmd_slim)

    p = sub.add_parser("project", help="store 2-d projections of a checkpoint's GUR snapshots")
    p.add_argument("path")
    p.add_argument("--users", type=positive_int, default=5000)
    p.add_argument("--method", default="chained-umap", choices=("chained-umap", "aligned-umap", "procrustes", "pca"))
    p.set_defaults(func=_cmd_project)

    p = sub.add_parser("compare", help="runs of the same data side by side: metrics, alignment "
                       "after the adversarial phase, training; differences to the first run")
    p.add_argument("paths", nargs="+", metavar="RUN.pt", help="two or more checkpoints; the first "
                   "is the reference")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("benchmark", help="train and evaluate several models; Table 2/3 as JSON + Markdown")
    p.add_argument("source", nargs="?", default=None, help=SOURCE_HELP + " (not with --report)")
    p.add_argument("--out", required=True, help="results JSON (tables next to it in .md, side files "
                   "in .d/); an interrupted run resumes from it")
    p.add_argument("--models", default="all", help="comma-separated: pop, bprmf, sasrec, bert4rec, emcdr, seqrec, "
                   "autorec, recguru_noadv, recguru, or all (default)")
    p.add_argument("--overlap", default=None, help="comma-separated overlap ratios in [0, 1] "
                   "(Table 3 ablation); default: the data's natural overlap")
    p.add_argument("--seeds", default="1", help="number of model seeds (0..N-1), default 1")
    p.add_argument("--preset", default="quick", help="quick (CPU demo) or paper (RecGURU family)")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, mps")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--threads", default="auto",
                   help="intra-op CPU threads: a number, or auto (the cores free at start)")
    p.add_argument("--report", action="store_true", help="train nothing: rewrite the .md tables "
                   "from every row of --out (all models, overlaps and seeds it holds)")
    p.add_argument("overrides", nargs="*", help="key=value settings for the RecGURU family, as for train")
    p.set_defaults(overrides=[])
    p.set_defaults(func=_cmd_benchmark)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may appear anywhere after `train SOURCE` / `benchmark SOURCE` (argparse
    # would only take them contiguously); anything else unknown is an error.
    takes_overrides = args.command in ("train", "benchmark")
    stray = [a for a in extra if "=" not in a or a.startswith("-") or not takes_overrides]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if takes_overrides:
        args.overrides = list(args.overrides) + extra
    try:
        return args.func(args)
    except RecGuruError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as exc:  # the allocator, past the memory pre-checks
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if not isinstance(exc, MemoryError) and "allocate" not in text:
            raise
        print(f"error: out of memory ({text[:120] or 'MemoryError'}); what was saved before is kept; "
              "lower batch_size, d_model, max_len or the negatives, or free memory", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
