"""Paper-scale benchmark (issue 9): ingest, training steps and full-ranking evaluation with
large catalogues, one size after another, so that growth with size is visible.

    python benchmarks/scale.py [--users 100000,1000000,2000000] [--items-per-domain 1000000]
                               [--steps 5] [--adv-steps 2] [--eval-users 1000] [--eval-batch 256]
                               [--batch 256] [--device cpu|cuda]

Each size runs in its own child process, so its peak RSS (ru_maxrss) is its own. Per size:
 - generate: the synthetic world sized by users, both catalogues `--items-per-domain` items
   (not part of the ingest time);
 - ingest: CrossDomainData.build (preprocessing, 1-core so a thin catalogue keeps its items,
   split) + the evaluation negatives of every user;
 - phase 1: `--steps` timed pre-training steps (after one untimed warm-up), seq/s counts the
   A and B sequences of a step; phase 2: `--adv-steps` adversarial iterations (critic + generator);
 - full ranking: test-split ranks of `--eval-users` users per domain (a seeded sample) against
   every item, in chunks of `--eval-batch` users; users/s is measured on that sample and the
   time for ALL users is EXTRAPOLATED from it (`full_rank_all_users_s_extrapolated`).
One JSON line per size on stdout, then a table on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def one_size(args) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from recguru_core.common.config import TrainConfig
    from recguru_core.data.domains import CrossDomainData, DataConfig
    from recguru_core.data.preprocess import PreprocessConfig
    from recguru_core.data.synthetic import SyntheticConfig, generate
    from recguru_core.metrics.ranking import domain_ranks, metrics_from_ranks
    from recguru_core.nn.model import ModelConfig
    from recguru_core.train.batching import epoch_batches
    from recguru_core.train.scoring import score_rows
    from recguru_core.train.trainer import Trainer

    out = {
        "users": args.one,
        "items_per_domain": args.items_per_domain,
        "device": args.device,
        "threads": torch.get_num_threads(),
    }
    t0 = time.perf_counter()
    raw = generate(
        SyntheticConfig(users=args.one, items_a=args.items_per_domain, items_b=args.items_per_domain)
    )
    out["generate_s"] = round(time.perf_counter() - t0, 1)
    out["interactions_in"] = int(len(raw.a.interactions) + len(raw.b.interactions))
    t0 = time.perf_counter()
    data = CrossDomainData.build(raw, PreprocessConfig(k_core=1), DataConfig())
    del raw
    for dom in (data.a, data.b):
        dom.negatives  # noqa: B018 (the 199 evaluation negatives of every user)
    out["ingest_s"] = round(time.perf_counter() - t0, 1)
    out["rss_after_ingest_gib"] = round(peak_rss_gib(), 2)
    out["stats"] = {k: data.stats()[k] for k in ("A", "B", "overlap_users")}

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    mcfg = ModelConfig(n_items_a=data.a.n_items, n_items_b=data.b.n_items)
    tcfg = TrainConfig(
        batch_size=args.batch, device=args.device, snapshot_users=1000, eval_batch=args.eval_batch
    )
    trainer = Trainer(data, mcfg, tcfg)

    def sync():
        if cuda:
            torch.cuda.synchronize()

    # phase 1: one warm-up step, then timed steps (the Trainer's own pretrain_step)
    rng = np.random.default_rng(0)
    n_steps = min(trainer.steps_per_epoch, args.steps + 1)
    plan = [
        epoch_batches(rng, np.arange(dom.n_users), dom.lengths, n_steps, args.batch)
        for dom in (data.a, data.b)
    ]
    trainer.model.train()
    trainer.pretrain_step(plan[0][0], plan[1][0])
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    done = 0
    for i in range(1, n_steps):
        trainer.pretrain_step(plan[0][i], plan[1][i])
        done += 1
    sync()
    seconds = time.perf_counter() - t0
    out["phase1_step_ms"] = round(1000 * seconds / max(done, 1), 1)
    out["phase1_seq_per_s"] = round(2 * args.batch * done / seconds, 1)

    # phase 2: adversarial iterations (critic_iters critic steps + one generator step each)
    trainer.phase = 2
    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    for _ in range(args.adv_steps):
        trainer.critic_steps(rng)
        trainer.generator_step(rng)
    sync()
    out["phase2_iter_ms"] = round(1000 * (time.perf_counter() - t0) / max(args.adv_steps, 1), 1)

    # full ranking on a bounded, seeded sample of users per domain
    model, batcher = trainer.model, trainer.batcher
    model.eval()
    sample_rng = np.random.default_rng(2)
    t0, ranked, metrics, all_users = time.perf_counter(), 0, {}, 0
    for domain, key in ((0, "A"), (1, "B")):
        dom = data.domain(domain)
        rows = np.sort(sample_rng.choice(dom.n_users, min(args.eval_users, dom.n_users), replace=False))
        ranks = domain_ranks(
            dom,
            "test",
            lambda r, s, c, d=domain: score_rows(model, batcher, d, r, s, c),
            full_ranking=True,
            batch_size=args.eval_batch,
            rows=rows,
        )
        metrics[key] = round(metrics_from_ranks(ranks)["NDCG@10"], 4)
        ranked += len(rows)
        all_users += dom.n_users
    sync()
    seconds = time.perf_counter() - t0
    out["full_rank_users_per_s"] = round(ranked / seconds, 1)
    out["full_rank_sample_users"] = ranked
    out["full_rank_all_users_s_extrapolated"] = round(all_users / (ranked / seconds), 1)
    out["full_rank_sample_ndcg10"] = metrics  # an untrained model: a sanity value only
    out["peak_rss_gib"] = round(peak_rss_gib(), 2)
    if cuda:
        out["peak_cuda_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="100000,1000000,2000000")
    parser.add_argument("--items-per-domain", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--adv-steps", type=int, default=2)
    parser.add_argument("--eval-users", type=int, default=1000, help="per domain")
    parser.add_argument("--eval-batch", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per size")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one_size(args)), flush=True)
        return

    rows = []
    for users in [int(float(u)) for u in args.users.split(",") if u]:
        cmd = [sys.executable, os.path.abspath(__file__), "--one", str(users)]
        for flag in ("items_per_domain", "steps", "adv_steps", "eval_users", "eval_batch", "batch", "device"):
            cmd += ["--" + flag.replace("_", "-"), str(getattr(args, flag))]
        try:
            done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=args.timeout)
            line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
            row = (
                json.loads(line)
                if done.returncode == 0 and line
                else {"users": users, "error": f"exit {done.returncode}"}
            )
        except subprocess.TimeoutExpired:
            row = {"users": users, "error": f"timeout after {args.timeout} s"}
        print(json.dumps(row), flush=True)
        rows.append(row)

    cols = (
        "users",
        "ingest_s",
        "peak_rss_gib",
        "peak_cuda_gib",
        "phase1_seq_per_s",
        "phase2_iter_ms",
        "full_rank_users_per_s",
        "full_rank_all_users_s_extrapolated",
    )
    print(" | ".join(cols), file=sys.stderr)
    for row in rows:
        print(
            " | ".join(str(row.get(c, row.get("error", "-") if c == "ingest_s" else "-")) for c in cols),
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
