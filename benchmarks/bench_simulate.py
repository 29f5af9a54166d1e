"""Benchmark: simulate 10,000 MIROCALS-size trials (issue 5 target: under 30 s on the dev machine).

Run by hand: `PYTHONPATH=src python benchmarks/bench_simulate.py [n_trials]`. Prints the time for
the whole run (all four tables) and, as the peer measured in the same run, the time of one
lifelines Cox fit on one simulated trial (what a power analysis spends per trial), so the
simulation cost can be read as a ratio.

`... bench_simulate.py --routes [n_trials] [rounds]`: per trial, the fast route (every table; the
tables the power engine reads; participants and survival only) against the numpy route it
replaced (tests/sim_reference.py), and the exponential design against its per-trial pandas route
(tests/exponential_reference.py), interleaved, best of `rounds`, in CPU seconds of this process
(less disturbed than wall time on a shared machine).
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np


def main(n_trials: int = 10_000) -> None:
    from lifelines import CoxPHFitter

    from mndtrial.sim import mirocals, simulate

    design = mirocals()
    simulate(design, n_trials=1, seed=0)  # warm-up (imports, first allocation)
    t0 = time.perf_counter()
    batch = simulate(design, n_trials=n_trials, seed=2026)
    sim_s = time.perf_counter() - t0
    rows = {name: len(getattr(batch, name)) for name in ("participants", "survival", "alsfrs", "biomarkers")}

    one = batch.survival[batch.survival["trial"] == 0].assign(
        il2=(batch.participants["arm"][batch.participants["trial"] == 0] == "il2_2miu").to_numpy(dtype=float))
    data = one[["time_days", "event", "il2"]]
    fits = 20
    t0 = time.perf_counter()
    for _ in range(fits):
        CoxPHFitter().fit(data, "time_days", "event")
    cox_s = (time.perf_counter() - t0) / fits

    per_trial = sim_s / n_trials
    print(f"simulate(mirocals(), n_trials={n_trials}): {sim_s:.2f} s  ({per_trial * 1e3:.2f} ms/trial)")
    print(f"rows: {rows}")
    print(f"peer, lifelines CoxPHFitter on one trial: {cox_s * 1e3:.1f} ms/fit")
    print(f"ratio simulate-one-trial / one-Cox-fit: {per_trial / cox_s:.3f}")
    print(f"peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    assert np.all(batch.participants.groupby("trial").size() == design.n_randomised)


def routes(n_trials: int = 256, rounds: int = 3) -> None:
    from pathlib import Path

    from mndtrial.power import ExponentialDesign
    from mndtrial.sim import mirocals, simulate

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from exponential_reference import reference_chunk
    from sim_reference import reference_simulate

    design, n = mirocals(), n_trials
    simulate(design, n_trials=32, seed=1)  # compile (or load) the kernels, first allocations
    reference_simulate(design, n_trials=32, seed=1)
    cases = {
        "numpy route (tests/sim_reference.py), every table": lambda: reference_simulate(design, n_trials=n, seed=3),
        "fast route, every table": lambda: simulate(design, n_trials=n, seed=3),
        "fast route, the power engine's tables (no biomarkers)":
            lambda: simulate(design, n_trials=n, seed=3, tables=("participants", "survival", "alsfrs")),
        "fast route, participants and survival": lambda: simulate(design, n_trials=n, seed=3,
                                                                  tables=("participants", "survival")),
        "exponential design, per-trial pandas route": lambda: reference_chunk(ExponentialDesign(), 0, n, seed=3),
        "exponential design, vectorised": lambda: ExponentialDesign().simulate_chunk(0, n, seed=3),
    }
    best = {k: float("inf") for k in cases}
    for _ in range(rounds):
        for k, f in cases.items():
            start = time.process_time()
            f()
            best[k] = min(best[k], time.process_time() - start)
    sim_ref, exp_ref = list(cases)[0], list(cases)[4]
    print(f"MIROCALS (n = 220), {n} trials, best of {rounds} interleaved rounds, CPU time per trial:")
    for k, v in best.items():
        ref = exp_ref if k.startswith("exponential") else sim_ref
        print(f"  {k:56s} {v / n * 1e6:8.1f} us  ({best[ref] / v:.1f}x)")


if __name__ == "__main__":
    if "--routes" in sys.argv:
        args = [int(a) for a in sys.argv[sys.argv.index("--routes") + 1:]]
        routes(*args)
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
