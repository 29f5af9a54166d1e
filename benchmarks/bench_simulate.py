"""Benchmark: simulate 10,000 MIROCALS-size trials (issue 5 target: under 30 s on the dev machine).

Run by hand: `PYTHONPATH=src python benchmarks/bench_simulate.py [n_trials]`. Prints the time for
the whole run (all four tables) and, as the peer measured in the same run, the time of one
lifelines Cox fit on one simulated trial (what a power analysis spends per trial), so the
simulation cost can be read as a ratio.
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


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
