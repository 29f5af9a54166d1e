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

`... bench_simulate.py --floor [n_trials] [rounds] [--baseline GIT_REF]`: the power engine's
tables per trial against the floor of the same run: the block's random draws alone (every normal,
uniform and exponential the simulator draws, in numpy and with the compiled normals); with
`--baseline`, the simulator of that git revision (exported to a temporary folder and imported as
`mndtrial_baseline`) interleaved with this one, for before/after figures from one run.
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


def _baseline(ref: str):
    """The `mndtrial.sim` of git revision `ref`, imported as `mndtrial_baseline.sim`."""
    import importlib
    import subprocess
    import tempfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    folder = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    archive = subprocess.run(["git", "-C", str(root), "archive", ref, "src/mndtrial"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    (folder / "src" / "mndtrial").rename(folder / "mndtrial_baseline")  # its imports are relative
    sys.path.insert(0, str(folder))
    return importlib.import_module("mndtrial_baseline.sim")


def _draws(seed: int, n_blocks: int, shape: tuple[int, int], n: int, n_visits: int, compiled: bool) -> None:
    """The random draws of `n_blocks` MIROCALS blocks alone, in the simulator's amounts."""
    from mndtrial.sim._normal import standard_normal
    from mndtrial.sim.measurement import assay_rng

    B, per_round = shape
    normal = standard_normal if compiled else (lambda g, size: g.standard_normal(size))
    for b in range(n_blocks):
        rng, assay = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(b,))), assay_rng(seed, (b,))
        normal(rng, (7, B, per_round))
        rng.random((5, B, per_round))  # sex, onset, country, riluzole, missing CSF sample
        normal(assay, (3, B, per_round))
        rng.random((B, n))  # entry
        rng.random((B, 4, -(-n // 4), 4))  # permuted blocks (4 strata, blocks of 4)
        normal(rng, (B, n))  # Treg rise
        rng.standard_exponential((2, B, n))  # death, dropout
        normal(rng, (B, n, n_visits))  # ALSFRS-R noise


def floor(n_trials: int = 256, rounds: int = 7, baseline: str | None = None) -> None:
    from mndtrial.sim import TRIALS_PER_BLOCK, mirocals, simulate
    from mndtrial.sim.screening import _per_round

    tables = ("participants", "survival", "alsfrs")
    design, n = mirocals(), n_trials
    blocks, shape = -(-n // TRIALS_PER_BLOCK), (TRIALS_PER_BLOCK, _per_round(design))
    cases = {
        "simulate, the power engine's tables": lambda s: simulate(design, n_trials=n, seed=s, tables=tables),
        "simulate, every table": lambda s: simulate(design, n_trials=n, seed=s),
        "the random draws alone, numpy": lambda s: _draws(s, blocks, shape, design.n_randomised,
                                                           len(design.alsfrs_visit_days), False),
        "the random draws alone, compiled normals": lambda s: _draws(s, blocks, shape, design.n_randomised,
                                                                      len(design.alsfrs_visit_days), True),
    }
    if baseline:
        old = _baseline(baseline)
        old_design = old.mirocals()
        cases[f"simulate at {baseline}, the power engine's tables"] = \
            lambda s: old.simulate(old_design, n_trials=n, seed=s, tables=tables)
        cases[f"simulate at {baseline}, every table"] = lambda s: old.simulate(old_design, n_trials=n, seed=s)
    for f in cases.values():
        f(1)  # compile (or load) the kernels, first allocations
    best = {k: float("inf") for k in cases}
    for r in range(rounds):
        for k, f in (cases.items() if r % 2 == 0 else reversed(cases.items())):
            start = time.process_time()
            f(3 + r)
            best[k] = min(best[k], time.process_time() - start)
    print(f"MIROCALS (n = 220), {n} trials, best of {rounds} interleaved rounds, CPU time per trial:")
    for k, v in best.items():
        print(f"  {k:56s} {v / n * 1e6:8.1f} us")


if __name__ == "__main__":
    if "--floor" in sys.argv:
        ref = None
        args = sys.argv[sys.argv.index("--floor") + 1:]
        if "--baseline" in args:
            ref = args[args.index("--baseline") + 1]
            args = args[:args.index("--baseline")]
        floor(*[int(a) for a in args], baseline=ref)
    elif "--routes" in sys.argv:
        args = [int(a) for a in sys.argv[sys.argv.index("--routes") + 1:]]
        routes(*args)
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
