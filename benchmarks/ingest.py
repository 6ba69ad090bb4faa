"""Ingest benchmark: build everything (preprocess, k-core, split, negatives, statistics) for
about 10 million interactions, and report time and peak memory.

    python benchmarks/ingest.py [--interactions 10000000] [--csv DIR]

Default input: the synthetic world sized to the requested number of interactions (generated
first, not timed). With --csv DIR the same interactions are also written as two CSV files in the
generic format and the timed part starts from reading them (readers included).
Target (issue #2): under a minute and under 4 GiB on 2 cores. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--interactions", type=int, default=10_000_000)
    parser.add_argument("--csv", default=None, help="directory for the CSV round trip")
    args = parser.parse_args()

    from recguru_core.data.domains import CrossDomainData, DataConfig
    from recguru_core.data.preprocess import PreprocessConfig
    from recguru_core.data.synthetic import SyntheticConfig, generate

    # With these catalogue sizes the world yields ~24 interactions per user (A and B together).
    users = max(1000, int(args.interactions / 24.0))
    t0 = time.perf_counter()
    raw = generate(SyntheticConfig(users=users, items_a=20000, items_b=10000))
    n = len(raw.a.interactions) + len(raw.b.interactions)
    print(
        f"generated {n:,} interactions ({users:,} users) in {time.perf_counter() - t0:.1f} s", file=sys.stderr
    )
    if args.csv:
        from recguru_core.data.sources import load_source

        os.makedirs(args.csv, exist_ok=True)
        paths = []
        for dom in (raw.a, raw.b):
            path = os.path.join(args.csv, f"{dom.name}.csv")
            dom.interactions[["user_id", "item_id", "timestamp"]].to_csv(path, index=False)
            paths.append(path)
        del raw
        t0 = time.perf_counter()
        data = load_source(f"csv:{paths[0]},{paths[1]}")
    else:
        t0 = time.perf_counter()
        data = CrossDomainData.build(raw, PreprocessConfig(), DataConfig())
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    for dom in (data.a, data.b):
        dom.negatives  # noqa: B018 (materialise the 199 negatives of every user)
    negatives = time.perf_counter() - t1
    stats = data.stats()
    total = time.perf_counter() - t0
    print(f"build {build:.1f} s + negatives {negatives:.1f} s = {total:.1f} s; peak RSS {peak_gib():.2f} GiB")
    print(
        json.dumps(
            {
                "interactions_in": n,
                "seconds": round(total, 1),
                "build_s": round(build, 1),
                "negatives_s": round(negatives, 1),
                "peak_rss_gib": round(peak_gib(), 2),
                "from_csv": bool(args.csv),
                "stats": stats,
            }
        )
    )


if __name__ == "__main__":
    main()
