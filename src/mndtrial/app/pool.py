"""The explorer's worker processes: started once with the app, warm, shared by every run.

A run that started its own processes paid for them each time a field changed: the processes
themselves, and in each of them the first call of every compiled (numba) kernel of the simulator
and the batch analyses, loaded from numba's cache. The app instead warms this process once
(`warm_up`: a few trials of each family through the same code as a run, and one figure drawn),
then starts a `mndtrial.power.WorkerPool`, whose workers are forked from the warm process where
the platform forks (Linux), so they start with every module and kernel already loaded; where it
spawns, each worker runs `warm_up` as it starts.

Example:
    >>> pool = start_pool(1, warm=False)
    >>> pool.n_workers
    1
    >>> pool.terminate()
"""

from __future__ import annotations

import io
import multiprocessing
import time
from typing import Any

__all__ = ["warm_up", "start_pool"]

WARM_TRIALS = 32  # one simulation block: every kernel runs once


def warm_up(figure: bool = True) -> float:
    """Run a few trials of each family's design points (both primary tests) in this process and
    draw one figure; returns the seconds it took."""
    from ..power import power
    from .spec import parse_form
    from .views import power_curve_figure

    start = time.perf_counter()
    for family, primary in (("mirocals", "stratified-logrank"), ("mirocals", "cox"), ("exponential", "logrank")):
        spec = parse_form({"family": family, "n_min": 100, "n_max": 100, "primary": primary, "n_trials": WARM_TRIALS,
                           "strategies": ("all-comers", "enriched", "stratified")})
        res = power(spec.points(), n_trials=WARM_TRIALS, seed=1, n_workers=1, progress=False)
    if figure:  # Shiny draws the figure as PNG the same way (fonts, the Agg canvas)
        power_curve_figure(res.table, 0.8, title="warm-up").savefig(io.BytesIO(), format="png")
    return time.perf_counter() - start


def _warm_worker() -> None:
    warm_up(figure=False)


def start_pool(n_workers: int, warm: bool = True) -> Any:
    """A started `WorkerPool` of `n_workers`, warm (this process first, see the module docstring)."""
    from ..power import WorkerPool

    forks = multiprocessing.get_start_method(allow_none=False) == "fork"
    if warm:
        warm_up()
    return WorkerPool(n_workers, warm=_warm_worker if warm and not forks else None).start()
