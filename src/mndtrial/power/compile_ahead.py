"""The batch kernels of a run compiled side by side the first time they are needed.

A fresh install compiles its numba kernels during the first `mndtrial power`: about 12 s for
the simulator, 19 s for the batch Cox fit and 15 s for the random-slope model here, one after
the other, so a first run took ~50 s where the next takes ~5 s. When numba's cache has no entry
for two or more kinds of test in a run (`KERNELS`), `compile_cold_kernels` compiles each kind in
its own forked process on a one-trial batch, this process taking one of them: on two CPUs the
first run waits for the longest compilation, not their sum.

Nothing here changes a number. Each process writes what it compiled to numba's cache (numba
writes a file under a temporary name and renames it, so processes cannot corrupt each other's
entries), and the run then loads the kernels from the cache, or compiles any it still lacks
itself, as it always did. A kind whose kernel is cached, a kernel numba cannot cache, one CPU,
or no fork (macOS, Windows): nothing is done.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from typing import Any, Sequence

from .._forking import fork_is_safe, usable_cpus
from ..data import TrialBatch

__all__ = ["KERNELS", "cold_kinds", "compile_side_by_side", "compile_cold_kernels"]

# The compiled entry point of each kind of test (`criteria.Test.kind`) whose kernel costs seconds
# to compile: its cache entry tells whether the kind is compiled already.
KERNELS = {"cox": ("mndtrial.batch._cox_kernel", "fit_trials"),
           "slope": ("mndtrial.batch._slopes_kernel", "fit_trials"),
           "logrank": ("mndtrial.batch._logrank_kernel", "logrank_trials")}


def cold_kinds(kinds: Sequence[str]) -> list[str]:
    """The kinds among `kinds` whose kernel numba can cache but has not yet (no index file).

    Example:
        >>> cold_kinds(["survival"])  # no compiled kernel of its own
        []
    """
    cold = []
    for kind in dict.fromkeys(kinds):
        if kind not in KERNELS:
            continue
        module, name = KERNELS[kind]
        cache_file = getattr(getattr(getattr(importlib.import_module(module), name), "_cache", None),
                             "_cache_file", None)
        index = getattr(cache_file, "_index_path", None)
        if index is not None and not os.path.exists(index):
            cold.append(kind)
    return cold


def compile_side_by_side(batch: TrialBatch, tests: Sequence[Any]) -> None:
    """Run each test on `batch`, the first here and each other in its own forked process at the
    same time, and wait for them all: what each compiles lands in numba's cache. A test that
    fails is left to the run, which reports it."""
    if len(tests) < 2 or not _forks():
        return
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_run_quietly, args=(test, batch), daemon=True) for test in tests[1:]]
    for child in children:
        child.start()
    try:
        _run_quietly(tests[0], batch)
        for child in children:
            child.join()
    finally:  # stopped (Ctrl-C): the compilations still running are not waited for
        for child in children:
            if child.is_alive():
                child.terminate()
                child.join()


def compile_cold_kernels(source: Any, analyses: Sequence[Any], seed: int) -> None:
    """Compile side by side the kernels of the tests of `analyses` that numba has not cached,
    on a one-trial batch from `source` (`compile_side_by_side`); nothing when fewer than two
    kinds are cold."""
    tests: dict[str, Any] = {}
    for analysis in analyses:
        for test in getattr(analysis, "tests", ()):
            tests.setdefault(test.kind, test)
    cold = cold_kinds(list(tests))
    if len(cold) < 2 or not _forks():
        return
    from .engine import _simulate_chunk, tables_needed

    try:
        batch = _simulate_chunk(source, 0, 1, seed, tables_needed(tuple(analyses)))
    except Exception:  # noqa: BLE001 - only a head start: the run itself reports any error
        return
    compile_side_by_side(batch, [tests[kind] for kind in cold])


def _run_quietly(test: Any, batch: TrialBatch) -> None:
    try:
        test.run(batch)
    except Exception:  # noqa: BLE001 - the run compiles this kernel itself and reports any error
        pass


def _forks() -> bool:
    return usable_cpus() >= 2 and fork_is_safe()
