"""Training throughput per phase at the paper configuration (d=64, 3 layers, 2 heads, ff 512).

    python benchmarks/train_throughput.py [SOURCE] [--batch 256] [--device auto|cpu|cuda]
                                          [--steps 10] [--threads N|auto] [--busy N]
    python benchmarks/train_throughput.py --compare-busy [--steps 10]

--busy N keeps N other processes spinning on the CPU while measuring (a busy machine).
--compare-busy runs phase 1 in child processes: idle with all cores' threads, one core busy with
all cores' threads (the old default), one core busy with --threads auto (the thread policy of
recguru_core/common/threads.py), and one core busy with 1 thread, and prints the table.

Prints sequences/s for a phase-1 step (A+B reconstruction), a phase-2 iteration (5 critic + 1
generator step) and a phase-3 step (BPR, both domains), peak memory, and the fraction of the
device's measured matmul peak reached in phase 1 (model FLOPs counted from the real token counts
of the batches). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

import numpy as np  # noqa: E402
import torch  # noqa: E402


def matmul_peak_gflops(device: torch.device, dtype) -> float:
    n = 2048 if device.type == "cpu" else 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    sync(device)
    reps = 5 if device.type == "cpu" else 50
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def layer_flops(tokens: int, d: int, ff: int, mem_tokens: int = 0) -> float:
    """Forward FLOPs of one transformer layer over `tokens` tokens (projections + FFN)."""
    proj = 4 * 2 * tokens * d * d  # q, k, v, o
    ffn = 2 * 2 * tokens * d * ff
    return proj + ffn + (2 * 2 * tokens * d * d if mem_tokens else 0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("source", nargs="?", default="synthetic")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", default="0", help="N, auto, or 0 (torch's default)")
    parser.add_argument("--busy", type=int, default=0, help="spinning processes beside the run")
    parser.add_argument("--phases", default="1,2,3")
    parser.add_argument("--compare-busy", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--amp-cpu", action="store_true", help="bf16 autocast on a CPU with native bf16")
    args = parser.parse_args()
    if args.compare_busy:
        return compare_busy(args)
    spinners = [spin() for _ in range(args.busy)]  # the other job runs before we start
    if spinners:
        time.sleep(1.0)
    if args.threads not in ("0", ""):
        from recguru_core.common.threads import apply_threads

        apply_threads(args.threads)
    try:
        return measure(args)
    finally:
        for proc in spinners:
            proc.kill()


def spin():
    """Another job keeping one core busy (pure Python, no threads of its own)."""
    import subprocess

    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def compare_busy(args):
    import subprocess

    cores = os.cpu_count() or 1
    setups = [
        ("idle", 0, str(cores)),
        (f"1 core busy, {cores} threads", 1, str(cores)),
        ("1 core busy, --threads auto", 1, "auto"),
        ("1 core busy, 1 thread", 1, "1"),
    ]
    rows = []
    for name, busy, threads in setups:
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                args.source,
                "--batch",
                str(args.batch),
                "--steps",
                str(args.steps),
                "--threads",
                threads,
                "--busy",
                str(busy),
                "--phases",
                "1",
                "--device",
                "cpu",
            ],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        rows.append({"setup": name, "threads": result["threads"], "phase1_seq_s": result["phase1_seq_s"]})
        print(
            f"{name:<32} threads {result['threads']:>2}  phase 1 {result['phase1_seq_s']:>8.1f} seq/s",
            flush=True,
        )
    print(json.dumps({"compare_busy": rows}))


def measure(args):

    from recguru_core.data.sources import load_source
    from recguru_core.nn.model import ModelConfig
    from recguru_core.train.batching import epoch_batches
    from recguru_core.train.trainer import TrainConfig, Trainer

    data = load_source(args.source)
    mcfg = ModelConfig(n_items_a=data.a.n_items, n_items_b=data.b.n_items)  # paper defaults
    tcfg = TrainConfig(
        batch_size=args.batch,
        device=args.device,
        compile=args.compile,
        snapshot_users=1,
        amp_cpu=args.amp_cpu,
    )
    trainer = Trainer(data, mcfg, tcfg)
    device = trainer.device
    rng = np.random.default_rng(0)
    print(
        f"device={device} source={args.source} users A/B={data.a.n_users}/{data.b.n_users} "
        f"batch={args.batch} threads={torch.get_num_threads()}",
        file=sys.stderr,
    )

    # phase 1: count real (non-pad) tokens for the FLOP estimate
    steps = trainer.steps_per_epoch
    rows_a = epoch_batches(rng, np.arange(data.a.n_users), data.a.lengths, steps, args.batch)
    rows_b = epoch_batches(rng, np.arange(data.b.n_users), data.b.lengths, steps, args.batch)

    def phase1_step(i):  # the Trainer's own step: lr schedule, checks, all-reduce, clipping
        return trainer.pretrain_step(rows_a[i % steps], rows_b[i % steps])["tokens"]

    def timed(fn, n):
        fn(0)
        sync(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        total = 0
        for i in range(n):
            total += fn(i + 1) or 0
        sync(device)
        return time.perf_counter() - t0, total

    t1, tokens = timed(phase1_step, args.steps)
    phase1 = 2 * args.batch * args.steps / t1  # sequences (A and B) per second

    phases = {int(p) for p in args.phases.split(",")}
    if phases == {1}:
        result = {
            "phase1_seq_s": round(phase1, 1),
            "threads": torch.get_num_threads(),
            "busy": args.busy,
            "device": str(device),
        }
        print(
            f"phase 1: {phase1:8.1f} seq/s  ({t1 / args.steps * 1000:.0f} ms/step, A+B batches of "
            f"{args.batch}, {torch.get_num_threads()} threads, {args.busy} busy)"
        )
        print(json.dumps(result))
        return

    def phase2_iter(i):
        trainer.critic_steps(rng)  # critic_iters updates on one encoding
        trainer.generator_step(rng)

    t2, _ = timed(phase2_iter, max(2, args.steps // 2))
    # sequences encoded per iteration: 5 critic x (A+B) + generator (A+B+overlap A+B)
    phase2_seqs = (2 * tcfg.critic_iters + 4) * args.batch
    phase2 = phase2_seqs * max(2, args.steps // 2) / t2

    ft_rows = [trainer.finetune_rows(d) for d in (0, 1)]
    cache = trainer.gur_table()

    ft_steps = trainer.ft_steps_per_epoch
    ft_batches = [
        epoch_batches(rng, ft_rows[d], data.domain(d).lengths, ft_steps, args.batch) for d in (0, 1)
    ]

    def phase3_step(i):
        for d in (0, 1):
            rows = ft_batches[d][i % ft_steps]  # the trainer's length-bucketed batches
            trainer.finetune_step(d, rows, cache)

    t3, _ = timed(phase3_step, args.steps)
    phase3 = 2 * args.batch * args.steps / t3

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    peak = matmul_peak_gflops(device, dtype)
    d, ff, L = mcfg.d_model, mcfg.d_ff, mcfg.n_layers
    # encoder (L layers) + decoder (L layers with cross-attention), forward x3 for fwd+bwd
    flops = 3 * (L * layer_flops(tokens, d, ff) + L * layer_flops(tokens, d, ff, mem_tokens=1))
    achieved = flops / t1 / 1e9
    if device.type == "cuda":
        peak_mem = torch.cuda.max_memory_allocated() / 2**30
    else:
        peak_mem = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    result = {
        "phase1_seq_s": round(phase1, 1),
        "phase2_seq_s": round(phase2, 1),
        "phase3_seq_s": round(phase3, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
        "peak_device_mem_gb": round(peak_mem, 3),
        "matmul_peak_gflops": round(peak, 1),
        "phase1_achieved_gflops": round(achieved, 1),
        "phase1_fraction_of_peak": round(achieved / peak, 3),
        "device": str(device),
    }
    print(
        f"phase 1: {phase1:8.1f} seq/s  ({t1 / args.steps * 1000:.0f} ms/step, A+B batches of {args.batch})"
    )
    print(
        f"phase 2: {phase2:8.1f} seq/s  ({t2 / max(2, args.steps // 2) * 1000:.0f} ms/iteration of "
        f"{tcfg.critic_iters} critic + 1 generator steps; {phase2_seqs} sequences encoded)"
    )
    print(f"phase 3: {phase3:8.1f} seq/s  ({t3 / args.steps * 1000:.0f} ms/step)")
    print(
        f"matmul peak {peak:.1f} GFLOP/s; phase 1 reaches {achieved:.1f} GFLOP/s "
        f"({100 * achieved / peak:.1f} %)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
