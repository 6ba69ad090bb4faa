"""Where a RecGURU fit spends its seconds: one real run, timed per phase and per kind of work.

    python benchmarks/fit_profile.py [SOURCE] [--preset quick] [--threads N] [--seed 0]
                                     [--ops N] [key=value overrides...]

Trains SOURCE (default: the synthetic default) exactly as `recguru train` does (the same
`build_trainer`, the same `run()` loop, checkpoints written to a temporary file) and splits the
wall time into: data loading and model building, then per phase the training steps, the critic
warm-up, the validation passes, the final evaluation, the GUR snapshots, checkpoint writing and
anything else between records. `--ops N` then profiles N steps of each phase's public step
method with torch.profiler on a fresh trainer and prints the 12 ops with the most self CPU time
per phase. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from recguru_core.common.config import parse_key_values
from recguru_core.common.errors import RecGuruError
from recguru_core.common.threads import apply_threads
from recguru_core.train.batching import epoch_batches
from recguru_core.train.phases import WORK_KINDS
from recguru_core.train.runs import build_trainer


def kind_of(rec: dict) -> str:
    event = rec.get("event")
    return "steps" if event is None else WORK_KINDS.get(event, event)


def profile_run(args, overrides: dict) -> dict:
    seconds: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    steps: dict[str, int] = defaultdict(int)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        trainer = build_trainer(
            args.source,
            preset=args.preset,
            overrides=overrides,
            out=Path(tmp) / "run.pt",
            seed=args.seed,
            device="cpu",
        )
        setup = time.perf_counter() - t0
        save = trainer.save

        def timed_save():
            s0 = time.perf_counter()
            save()
            seconds[trainer_phase()]["checkpoint writing"] += time.perf_counter() - s0

        def trainer_phase() -> str:
            return {1: "pretrain", 2: "adversarial", 3: "finetune"}.get(trainer.phase, "end")

        trainer.save = timed_save  # the loop calls self.save() after every unit
        start = time.perf_counter()
        last = start
        for rec in trainer.run():
            now = time.perf_counter()
            phase = rec.get("phase", "end")
            work = rec.get("seconds", 0.0) or 0.0
            seconds[phase][kind_of(rec)] += work
            seconds[phase]["between records"] += max(0.0, now - last - work)
            if "phase_step" in rec:
                steps[phase] += 1
            last = time.perf_counter()
        total = time.perf_counter() - start
    # checkpoint writing ran between records: take it out of "between records"
    for phase in seconds:
        seconds[phase]["between records"] = max(
            0.0, seconds[phase]["between records"] - seconds[phase].get("checkpoint writing", 0.0)
        )
    print(f"{'phase':<12} {'kind':<20} {'seconds':>9}")
    print(f"{'setup':<12} {'data + model':<20} {setup:>9.1f}")
    for phase, kinds in seconds.items():
        for kind, value in sorted(kinds.items(), key=lambda kv: -kv[1]):
            if value >= 0.05:
                print(f"{phase:<12} {kind:<20} {value:>9.1f}")
        if steps[phase]:
            print(
                f"{phase:<12} {'(per step, ms)':<20} {1000 * kinds['steps'] / steps[phase]:>9.0f}"
                f"  ({steps[phase]} steps)"
            )
    print(f"{'total':<12} {'run() wall':<20} {total:>9.1f}   setup + run {setup + total:.1f}")
    test = trainer.metrics.get("test", {})
    full = trainer.metrics.get("test_full", {})
    quality = {
        f"{family}_{key}": round(m[key]["NDCG@10"], 4)
        for family, m in (("sampled", test), ("full", full))
        for key in ("A", "B")
        if key in m
    }
    print("test NDCG@10:", quality)
    return {
        "setup_s": round(setup, 2),
        "run_s": round(total, 2),
        "phases": {p: {k: round(v, 2) for k, v in kinds.items()} for p, kinds in seconds.items()},
        "steps": dict(steps),
        "test_ndcg10": quality,
    }


def profile_ops(args, overrides: dict, n: int) -> None:
    """torch.profiler over n steps of each phase's public step on a fresh trainer."""
    from torch.profiler import ProfilerActivity, profile

    trainer = build_trainer(
        args.source, preset=args.preset, overrides=overrides, seed=args.seed, device="cpu"
    )
    data, batch, rng = trainer.data, trainer.cfg.batch_size, np.random.default_rng(0)
    steps = trainer.steps_per_epoch
    rows_a = epoch_batches(rng, np.arange(data.a.n_users), data.a.lengths, steps, batch)
    rows_b = epoch_batches(rng, np.arange(data.b.n_users), data.b.lengths, steps, batch)
    ft = [epoch_batches(rng, trainer.finetune_rows(d), data.domain(d).lengths, steps, batch) for d in (0, 1)]
    cache = trainer.gur_table()
    work = {
        "phase 1": lambda i: trainer.pretrain_step(rows_a[i % steps], rows_b[i % steps]),
        "phase 2": lambda i: (trainer.critic_steps(rng), trainer.generator_step(rng)),
        "phase 3": lambda i: [trainer.finetune_step(d, ft[d][i % steps], cache) for d in (0, 1)],
    }
    for name, fn in work.items():
        fn(0)  # warm
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            t0 = time.perf_counter()
            for i in range(n):
                fn(i + 1)
            wall = time.perf_counter() - t0
        print(f"\n== {name}: {1000 * wall / n:.0f} ms per step over {n} steps")
        print(
            prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12, max_name_column_width=40)
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default="synthetic")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--threads", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ops", type=int, default=0, help="torch.profiler over N steps of each phase")
    parser.add_argument("--no-run", action="store_true", help="only the --ops profile")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_intermixed_args()
    apply_threads(args.threads)
    overrides = parse_key_values(args.overrides, "override")
    print(
        f"source={args.source} preset={args.preset} threads={torch.get_num_threads()} {overrides}",
        file=sys.stderr,
    )
    result = {} if args.no_run else profile_run(args, overrides)
    if args.ops:
        profile_ops(args, overrides, args.ops)
    print(
        json.dumps(
            {"source": args.source, "preset": args.preset, "threads": torch.get_num_threads(), **result}
        )
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RecGuruError as err:  # a bad source or setting: one line, as the CLI says it
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
