"""How many intra-op threads a torch process should use: the cores that are actually free.

Why this matters (issue 9, measured in benchmarks/train_throughput.py --busy): torch's CPU ops
each split their work over all intra-op threads and wait for the slowest one at the end of the
op. RecGURU's steps are thousands of small ops (d=64, short sequences), so with 2 threads on 2
cores and one core busy with another job, every op waits for a thread the OS has descheduled,
and the step time explodes instead of halving. One thread per *free* core avoids the stall: the
process then runs as fast as the free cores allow.

    free_cores(sample_s)      cores this process may use (affinity) minus those busy right now
                              (one /proc/stat sample; the load average lags by a minute)
    choose_threads(request)   'auto' -> max(1, free cores // ranks); a number -> that number
    apply_threads(request)    torch.set_num_threads(choose_threads(...)); returns the count
"""

from __future__ import annotations

import os
import time

from .errors import RecGuruError


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies over all cores from /proc/stat, or None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def free_cores(sample_s: float = 0.25) -> int:
    """Usable cores minus the cores other processes keep busy (rounded), at least 1."""
    cores = usable_cores()
    first = cpu_times()
    if first is None:
        return cores
    time.sleep(sample_s)
    second = cpu_times()
    busy, total = second[0] - first[0], second[1] - first[1]
    if total <= 0:
        return cores
    machine = os.cpu_count() or cores
    busy_cores = busy / total * machine
    return max(1, min(cores, round(machine - busy_cores)))


def parse_threads(text: str | int | None) -> int | None:
    """'auto' / None / 0 -> None (decide from the free cores); a positive number -> itself."""
    if text is None or str(text).strip().lower() in ("auto", "0", ""):
        return None
    try:
        value = int(str(text).strip())
    except ValueError:
        raise RecGuruError(f"--threads {text!r}: expected a whole number >= 1 or 'auto'") from None
    if value < 1:
        raise RecGuruError(f"--threads {value}: expected a whole number >= 1 or 'auto'")
    return value


def choose_threads(request: str | int | None = "auto", *, ranks: int = 1) -> int:
    explicit = parse_threads(request)
    if explicit is not None:
        return explicit
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():  # the user (or torchrun) decided
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    return max(1, free_cores() // max(1, ranks))


def apply_threads(request: str | int | None = "auto", *, ranks: int = 1) -> int:
    import torch

    n = choose_threads(request, ranks=ranks)
    torch.set_num_threads(n)
    return n
