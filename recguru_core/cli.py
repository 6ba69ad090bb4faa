"""Command-line interface: the same core as the app, headless.

    python -m recguru_core stats SOURCE [--json]

Every user-fixable problem ends as one line on stderr (`error: ...`) and exit status 2; no
traceback. Progress goes to stderr, results to stdout.
"""
from __future__ import annotations

import argparse
import json
import sys

from .errors import RecGuruError

SOURCE_HELP = (
    "data source: synthetic | synthetic:users=5000,overlap=0.5,seed=1 | csv:A,B | "
    "amazon:A,B | movielens:DIR | recbole:A,B; options key=value after the paths "
    "(min_rating=2, k_core=5, overlap=0.5, max_len=100, negatives=199, sampling=popularity)"
)


def _cmd_stats(args) -> int:
    from .sources import load_source

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recguru_core",
                                     description="RecGURU cross-domain user representations")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("stats", help="print the Table-1 statistics of a data source")
    p.add_argument("source", help=SOURCE_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_stats)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except RecGuruError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
