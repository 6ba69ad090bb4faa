"""The CPU thread-count policy (recguru_core/common/threads.py)."""

from __future__ import annotations

import pytest

from recguru_core.common import threads
from recguru_core.common.errors import RecGuruError


def test_explicit_counts_win_and_bad_ones_are_refused(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    assert threads.choose_threads(3) == 3
    assert threads.choose_threads("2") == 2
    for bad in ("many", "-1", "1.5"):
        with pytest.raises(RecGuruError, match="--threads"):
            threads.choose_threads(bad)


def test_auto_follows_omp_num_threads_then_the_free_cores(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert threads.choose_threads("auto") == 5
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(threads, "free_cores", lambda sample_s=0.25: 6)
    assert threads.choose_threads("auto") == 6
    assert threads.choose_threads(None, ranks=4) == 1  # 6 // 4
    assert threads.choose_threads("0", ranks=2) == 3


def test_free_cores_subtracts_what_others_keep_busy(monkeypatch):
    samples = iter([(0, 0), (300, 400)])  # 75 % of all jiffies busy between the two reads
    monkeypatch.setattr(threads, "cpu_times", lambda: next(samples))
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 4)
    assert threads.free_cores(sample_s=0) == 1  # 4 cores, 3 busy
    samples = iter([(0, 0), (0, 400)])
    monkeypatch.setattr(threads, "cpu_times", lambda: next(samples))
    assert threads.free_cores(sample_s=0) == 4
