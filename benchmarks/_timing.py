"""Timing shared by the benchmark scripts (run as `python benchmarks/bench_x.py`)."""

from __future__ import annotations

import time
from typing import Callable


def best_of(fn: Callable[[], object], repeat: int = 1) -> float:
    """Fastest wall-clock time of `repeat` calls, in seconds (least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
