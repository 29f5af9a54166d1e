"""Timing shared by the benchmark scripts (run as `python benchmarks/bench_x.py`)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable


def best_of(fn: Callable[[], object], repeat: int = 1) -> float:
    """Fastest wall-clock time of `repeat` calls, in seconds (least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def run_r_numbers(script: str, what: str = "rpact") -> tuple[float, list[float]] | None:
    """Run an R script that prints its elapsed seconds then numbers on one line; (seconds, numbers),
    or None (with the reason printed) where Rscript is absent or the script fails."""
    if shutil.which("Rscript") is None:
        print(f"Rscript not found: the {what} side is skipped")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.R"
        path.write_text(script)
        done = subprocess.run(["Rscript", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"{what} run failed (is r-cran-{what} installed?):", done.stderr.strip()[-300:])
        return None
    values = [float(x) for x in done.stdout.split()]
    return values[0], values[1:]
