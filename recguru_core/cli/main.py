"""The parser and every command but `train` (train.py); `main()` turns a RecGuruError into one
line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..common.errors import RecGuruError
from .train import cmd_train, parse_overrides, project_checkpoint

SOURCE_HELP = (
    "data source: synthetic | synthetic:users=5000,overlap=0.5,seed=1 | csv:A,B | "
    "amazon:A,B | movielens:DIR | recbole:A,B; options key=value after the paths "
    "(min_rating=2, k_core=5, overlap=0.5, max_len=100, negatives=199, sampling=popularity)"
)


def _cmd_stats(args) -> int:
    from ..data.sources import load_source

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


def _cmd_slim(args) -> int:

    from ..train.checkpoints import compact_checkpoint, load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(args.path)  # a missing or foreign file: one line, nothing written
    before = Path(args.path).stat().st_size
    save_checkpoint(args.path, compact_checkpoint(ckpt))
    after = Path(args.path).stat().st_size
    print(f"{args.path}: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB", file=sys.stderr)
    return 0


def _cmd_project(args) -> int:
    project_checkpoint(args.path, users=args.users, method=args.method, quiet=False)
    print(f"projections stored in {args.path}", file=sys.stderr)
    return 0


def _warn_if_unfinished(path: str, ckpt: dict) -> None:
    """One line on stderr when a checkpoint is not a finished run (its numbers are not final)."""
    from ..train.checkpoints import status_text

    text = status_text(ckpt)
    if text != "complete":
        print(
            f"warning: {path} is an {text}: continue it with train --resume; its numbers are not final",
            file=sys.stderr,
        )


def _print_alignment(args) -> int:
    """`evaluate --alignment`: analysis.flatten_comparison of every snapshot, the app's sample."""
    from ..analysis.alignment import compare_snapshots, flatten_comparison, format_flat_rows
    from ..common.rules import ALIGNMENT_N_MAX
    from ..train.checkpoints import load_checkpoint

    ckpt = load_checkpoint(args.path)
    _warn_if_unfinished(args.path, ckpt)
    rows = flatten_comparison(compare_snapshots(ckpt.get("snapshots"), seed=0, n_max=ALIGNMENT_N_MAX))
    print(json.dumps(rows) if args.json else format_flat_rows(rows))
    return 0


def _cmd_evaluate(args) -> int:
    from ..analysis.inference import LoadedRun

    if args.health:
        from ..train.checkpoints import load_checkpoint
        from ..train.health import diagnose, format_health

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
        print(
            f"{'domain':<7}{'group':<30}{'users':>7}  {'ranking':<8}{'metric':<9}{'value':>8}  95 % interval"
        )
        for r in rows:
            print(
                f"{r['domain']:<7}{r['group']:<30}{r['users']:>7}  {r['ranking']:<8}{r['metric']:<9}"
                f"{r['value']:>8.4f}  [{r['low']:.4f}, {r['high']:.4f}]"
            )
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
    from ..analysis.inference import LoadedRun

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

    from ..analysis.compare import compare_runs, comparison_text
    from ..analysis.inference import LoadedRun
    from ..common.rules import unique_labels

    if len(args.paths) < 2:  # before loading anything
        raise RecGuruError(f"compare needs at least two checkpoints (got {len(args.paths)})")
    runs = [LoadedRun.load(path) for path in args.paths]  # each refused with one line if bad
    for path, run in zip(args.paths, runs):
        _warn_if_unfinished(path, run.ckpt)
    result = compare_runs(runs, unique_labels([Path(p).stem for p in args.paths]))
    print(json.dumps(result) if args.json else comparison_text(result))
    return 0


def _cmd_benchmark(args) -> int:
    from ..bench.harness import (
        parse_overlaps,
        parse_seeds,
        prepare_output,
        run_benchmark,
        source_with_overlap,
    )
    from ..bench.registry import parse_model_list
    from ..data.sources import parse_source

    if args.report:
        return _benchmark_report(args.out)
    if args.source is None:
        raise RecGuruError("benchmark: give a data source (e.g. synthetic), or --report")
    models = parse_model_list(args.models)
    overlaps = parse_overlaps(args.overlap)
    seeds = parse_seeds(args.seeds)
    overrides = parse_overrides(args.overrides)
    paths = prepare_output(args.out)
    for overlap in overlaps or [None]:
        parse_source(source_with_overlap(args.source, overlap))  # a bad spec fails before training
    from ..train.trainer import resolve_device

    device = resolve_device(args.device)
    from ..common.threads import apply_threads

    apply_threads(args.threads)
    result = run_benchmark(
        args.source,
        models,
        out=args.out,
        overlaps=overlaps,
        seeds=len(seeds),
        preset=args.preset,
        overrides=overrides,
        device=device,
        quiet=args.quiet,
    )
    print(result.markdown, end="")
    print(
        f"results written to {paths.json} and {paths.md} (per-user ranks and checkpoints in {paths.dir})",
        file=sys.stderr,
    )
    return 0


def _benchmark_report(out: str) -> int:
    """--report: the .md rewritten from every row of the results file, trains nothing."""
    from ..bench.harness import rewrite_report

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
        self.exit(2, f"error: {command or 'command'}: {message} (see --help)\n")


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
    from ..common.config import PRESET_NOTES  # torch-free: the one text of each preset

    parser = OneLineParser(prog=PROG, description="RecGURU cross-domain user representations")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("stats", help="print the Table-1 statistics of a data source")
    p.add_argument("source", help=SOURCE_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_stats)

    p = sub.add_parser("train", help="train RecGURU (three phases) and write a checkpoint")
    p.add_argument("source", help=SOURCE_HELP)
    p.add_argument("--out", required=True, help="checkpoint path (written atomically after every unit)")
    p.add_argument(
        "--preset",
        default=None,
        help="; ".join(f"{k}: {v}" for k, v in PRESET_NOTES.items()) + " (default quick)",
    )
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, mps")
    p.add_argument("--seed", type=seed_int, default=None, help="model seed (default 0)")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    p.add_argument("--force", action="store_true", help="replace a checkpoint that already exists at --out")
    p.add_argument(
        "--threads", default="auto", help="intra-op CPU threads: a number, or auto (the cores free at start)"
    )
    p.add_argument(
        "--stop-after",
        default=None,
        choices=("pretrain", "adversarial"),
        help="stop cleanly once this phase is done (resumable with --resume)",
    )
    p.add_argument(
        "--project",
        action="store_true",
        help="afterwards store 2-d projections of the GUR snapshots (for the app)",
    )
    p.add_argument("--project-users", type=positive_int, default=5000)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--progress",
        default=None,
        metavar="FILE",
        help="append every step record to FILE as JSON lines (for the app)",
    )
    p.add_argument(
        "overrides",
        nargs="*",
        help="key=value for any model/training setting, "
        "e.g. adv_steps=500 gp_weight=10 critic=bce w_l2=0 d_model=32",
    )
    p.set_defaults(overrides=[])
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="HR/NDCG/MRR per domain over all users")
    p.add_argument("path")
    p.add_argument("--json", action="store_true")
    p.add_argument("--full-ranking", action="store_true", help="rank against all items, not 1 + negatives")
    p.add_argument("--split", default="test", choices=("test", "valid"))
    p.add_argument(
        "--groups",
        action="store_true",
        help="metrics by user group (overlapped or not, short or long history), "
        "sampled and full ranking, with bootstrap 95 %% intervals",
    )
    p.add_argument(
        "--health",
        action="store_true",
        help="instead: is the adversarial phase healthy? verdicts from the step records",
    )
    p.add_argument(
        "--alignment",
        action="store_true",
        help="instead: alignment AND collapse of every GUR snapshot (AUC, MMD, effective "
        "rank, top-3 variance share, uniformity, ... with their nulls)",
    )
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("recommend", help="top-k items for one user")
    p.add_argument("path")
    p.add_argument("--user", required=True, help="raw user id as in the data")
    p.add_argument("--domain", required=True, choices=("A", "B", "a", "b"))
    p.add_argument("--k", type=positive_int, default=10)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_recommend)

    p = sub.add_parser(
        "slim",
        help="store a checkpoint compactly for shipping (float16 "
        "snapshots, int16 candidates); weights and metrics unchanged",
    )
    p.add_argument("path")
    p.set_defaults(func=_cmd_slim)

    p = sub.add_parser("project", help="store 2-d projections of a checkpoint's GUR snapshots")
    p.add_argument("path")
    p.add_argument("--users", type=positive_int, default=5000)
    p.add_argument(
        "--method", default="chained-umap", choices=("chained-umap", "aligned-umap", "procrustes", "pca")
    )
    p.set_defaults(func=_cmd_project)

    p = sub.add_parser(
        "compare",
        help="runs of the same data side by side: metrics, alignment "
        "after the adversarial phase, training; differences to the first run",
    )
    p.add_argument(
        "paths", nargs="+", metavar="RUN.pt", help="two or more checkpoints; the first is the reference"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("benchmark", help="train and evaluate several models; Table 2/3 as JSON + Markdown")
    p.add_argument("source", nargs="?", default=None, help=SOURCE_HELP + " (not with --report)")
    p.add_argument(
        "--out",
        required=True,
        help="results JSON (tables next to it in .md, side files in .d/); an interrupted run resumes from it",
    )
    p.add_argument(
        "--models",
        default="all",
        help="comma-separated: pop, bprmf, sasrec, sasrec_merged, bert4rec, emcdr, c2dsr, seqrec, "
        "autorec, recguru_noadv, recguru, or all (default)",
    )
    p.add_argument(
        "--overlap",
        default=None,
        help="comma-separated overlap ratios in [0, 1] "
        "(Table 3 ablation); default: the data's natural overlap",
    )
    p.add_argument("--seeds", default="1", help="number of model seeds (0..N-1), default 1")
    p.add_argument("--preset", default="quick", help="quick (CPU demo) or paper (RecGURU family)")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, mps")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--threads", default="auto", help="intra-op CPU threads: a number, or auto (the cores free at start)"
    )
    p.add_argument(
        "--report",
        action="store_true",
        help="train nothing: rewrite the .md tables "
        "from every row of --out (all models, overlaps and seeds it holds)",
    )
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
        print(
            f"error: out of memory ({text[:120] or 'MemoryError'}); what was saved before is kept; "
            "lower batch_size, d_model, max_len or the negatives, or free memory",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
