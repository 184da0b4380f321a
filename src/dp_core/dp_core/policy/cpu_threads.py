"""How many torch threads batch-1 inference should use, chosen by timing it.

Why: at batch 1 the per-op work is small, and intra-op threads that compete with other processes
for the same cores spin and wait: on a loaded 2-core machine a chunk took 581 ms with 2 threads
and 59 ms with 1. The best count depends on the machine and its load, so the policy node times
a few chunks at each candidate count during configure and keeps the fastest (or takes a fixed
count from its ``torch_threads`` parameter). Only the thread count changes: the precision and the
chunk program are chosen before and are not revisited. The thread count can still change the
order of float reductions (last-bit differences), so runs that must repeat bit for bit fix
``torch_threads`` (the demo profiles use 1).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

import torch

log = logging.getLogger(__name__)


def available_cores() -> int:
    """Cores this process may run on (its affinity mask: taskset/cgroups, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def candidate_counts(max_threads: int) -> list[int]:
    """1, 2, 4, ... up to ``max_threads``, and ``max_threads`` itself."""
    if max_threads < 1:
        raise ValueError(f"max_threads must be >= 1, got {max_threads}")
    counts, n = [], 1
    while n < max_threads:
        counts.append(n)
        n *= 2
    return counts + [max_threads]


def choose_thread_count(
    run_once: Callable[[], object],
    max_threads: int | None = None,
    runs: int = 2,
) -> tuple[int, dict[int, float]]:
    """Time ``run_once`` at each candidate count, set torch to the fastest; returns (count, {count: min ms}).

    Args:
        run_once: one batch-1 chunk (it must not change any state that matters).
        max_threads: the largest count tried (default: the cores this process may use).
        runs: timed runs per count (the minimum counts; one untimed run first).
    """
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    timings: dict[int, float] = {}
    for count in candidate_counts(max_threads or available_cores()):
        torch.set_num_threads(count)
        run_once()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            run_once()
            times.append(1e3 * (time.perf_counter() - start))
        timings[count] = round(min(times), 3)
    best = min(timings, key=timings.__getitem__)
    torch.set_num_threads(best)
    log.info("torch threads: %d (chunk ms per thread count: %s)", best, timings)
    return best, timings


def set_thread_count(count: int) -> int:
    """Use exactly ``count`` intra-op threads (a ``torch_threads`` parameter > 0)."""
    if count < 1:
        raise ValueError(f"thread count must be >= 1, got {count}")
    torch.set_num_threads(count)
    return count
