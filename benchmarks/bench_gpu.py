"""Benchmark the accelerated (JAX) power route against the numpy CPU route, in the same run.

Run by hand: `PYTHONPATH=src python benchmarks/bench_gpu.py [n_trials_jax] [n_trials_numpy]`
(defaults 1,000,000 and 2,000). On a GPU machine install `jax[cuda12]` first; the script prints
the device JAX used. Each route runs in its own subprocess, so its peak memory is its own.

Design: `ExponentialDesign(n_per_arm=110, hazard_ratio=0.7, accrual_days=365,
dropout_per_year=0.05)`, one-sided α = 0.025, stratified by onset site.

1. End to end, simulate + stratified log-rank + Cox (treatment only, Efron):
   - jax: `power_exponential_accelerated` (fused, compiled, chunked), n_trials_jax trials;
   - numpy: `ExponentialDesign.simulate_chunk` + `logrank_batch` + `cox_batch` (the CPU route
     the power engine runs; its simulator also draws ALSFRS-R visits), n_trials_numpy trials.
2. The analyses alone on the same 8,192 JAX-simulated trials: `survival_tests_arrays` (JAX)
   against `logrank_batch` + `cox_batch` (numba-compiled Cox kernel) on the same data, and the
   largest difference between them.
Reported: seconds, µs per trial (excluding JAX's one-off compilation, timed apart), peak RSS.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def design():
    from mndtrial.power import ExponentialDesign

    return ExponentialDesign(n_per_arm=110, hazard_ratio=0.7, accrual_days=365, dropout_per_year=0.05)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_jax(n_trials: int) -> dict:
    from mndtrial.power.accelerated import power_exponential_accelerated

    from mndtrial.batch.accelerated import jax_device

    d = design()
    chunk = 4096 if jax_device().startswith("cpu") else 32768  # the function's default
    start = time.perf_counter()
    # the first chunk: compilation (once per design shape and chunk size) and one chunk's trials
    warm = power_exponential_accelerated(d, chunk, seed=99, keep_trials=False)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    res = power_exponential_accelerated(d, n_trials, seed=1, keep_trials=False)
    seconds = time.perf_counter() - start
    return {"route": "jax", "device": warm.device, "n_trials": n_trials, "seconds": seconds,
            "first_chunk_seconds": compile_s, "chunk_trials": chunk, "us_per_trial": 1e6 * seconds / n_trials,
            "power_logrank": res.power_logrank, "power_cox": res.power_cox, "mean_events": res.mean_events,
            "peak_mib": peak_mib()}


def run_numpy(n_trials: int) -> dict:
    from scipy import stats

    from mndtrial.batch import cox_batch, logrank_batch

    d = design()
    crit = stats.norm.isf(0.025)
    d.simulate_chunk(0, 10, seed=99)  # numba kernels compiled / loaded from cache
    cox_batch(d.simulate_chunk(0, 10, seed=99), strata=("onset_site",))
    rej_lr = rej_cox = 0
    events = 0.0
    start = time.perf_counter()
    for first in range(0, n_trials, 500):
        batch = d.simulate_chunk(first, min(500, n_trials - first), seed=1)
        lr = logrank_batch(batch, strata=("onset_site",))
        cx = cox_batch(batch, strata=("onset_site",))
        rej_lr += int((lr.z < -crit).sum())
        rej_cox += int((cx.converged & (cx.z[:, 0] < -crit)).sum())
        events += float(lr.events.sum())
    seconds = time.perf_counter() - start
    return {"route": "numpy", "n_trials": n_trials, "seconds": seconds, "us_per_trial": 1e6 * seconds / n_trials,
            "power_logrank": rej_lr / n_trials, "power_cox": rej_cox / n_trials, "mean_events": events / n_trials,
            "peak_mib": peak_mib()}


def run_kernels(n_trials: int) -> dict:
    """The analyses alone, both routes on the same JAX-simulated trials."""
    import numpy as np
    import pandas as pd

    from mndtrial.batch import cox_batch, logrank_batch
    from mndtrial.batch.accelerated import jax_device, survival_tests_arrays
    from mndtrial.data import TrialBatch
    from mndtrial.power.accelerated import simulate_exponential_arrays

    d = design()
    sim = simulate_exponential_arrays(d, 0, n_trials, seed=3)
    args = (sim["time"], sim["event"], sim["active"], sim["stratum"])
    survival_tests_arrays(*args)  # compile
    start = time.perf_counter()
    out = survival_tests_arrays(*args)
    jax_s = time.perf_counter() - start
    T, n = sim["time"].shape
    base = {"trial": np.repeat(np.arange(T), n), "subject": np.tile(np.arange(n), T)}
    batch = TrialBatch(info=d.info, n_trials=T, participants=pd.DataFrame(
        {**base, "arm": np.where(sim["active"].ravel() > 0, "active", "placebo"),
         "onset_site": np.where(sim["stratum"].ravel() == 0, "bulbar", "limb")}),
        survival=pd.DataFrame({**base, "time_days": sim["time"].ravel(), "event": sim["event"].ravel().astype(int)}))
    cox_batch(batch, strata=("onset_site",))  # numba kernel loaded
    start = time.perf_counter()
    lr = logrank_batch(batch, strata=("onset_site",))
    lr_s = time.perf_counter() - start
    start = time.perf_counter()
    cx = cox_batch(batch, strata=("onset_site",))
    cox_s = time.perf_counter() - start
    z = out["observed_minus_expected"] / np.sqrt(out["variance"])
    return {"route": "kernels", "device": jax_device(), "n_trials": n_trials,
            "jax_us_per_trial": 1e6 * jax_s / T, "numpy_logrank_us_per_trial": 1e6 * lr_s / T,
            "numba_cox_us_per_trial": 1e6 * cox_s / T,
            "max_abs_diff_logrank_z": float(np.abs(z - lr.z).max()),
            "max_abs_diff_cox_coef": float(np.abs(out["coef"] - cx.coef[:, 0]).max()),
            "max_abs_diff_cox_se": float(np.nanmax(np.abs(out["se"] - cx.se[:, 0])))}


def child(route: str, n: int) -> dict:
    cmd = [sys.executable, __file__, "--one", route, str(n)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src"),
                                                                     **_env()})
    if done.returncode != 0:
        print(done.stderr[-2000:])
        raise SystemExit(f"{route} route failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        route, n = sys.argv[2], int(sys.argv[3])
        fn = {"jax": run_jax, "numpy": run_numpy, "kernels": run_kernels}[route]
        print(json.dumps(fn(n)))
        return
    n_jax = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    n_numpy = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000
    results = [child("numpy", n_numpy), child("jax", n_jax), child("kernels", 8_192)]
    for r in results:
        print(json.dumps(r, indent=1))
    np_, jx, k = results
    print(f"\nJAX device: {jx['device']}")
    print(f"end to end (simulate + stratified log-rank + Cox): jax {jx['us_per_trial']:.1f} µs/trial "
          f"({jx['n_trials']:,} trials, {jx['seconds']:.1f} s; a first chunk of "
          f"{jx['chunk_trials']:,} with compilation {jx['first_chunk_seconds']:.1f} s, "
          f"peak {jx['peak_mib']:.0f} MiB); numpy {np_['us_per_trial']:.1f} µs/trial ({np_['n_trials']:,} trials, "
          f"peak {np_['peak_mib']:.0f} MiB); ratio {np_['us_per_trial'] / jx['us_per_trial']:.1f}×")
    print(f"power log-rank: jax {jx['power_logrank']:.4f}, numpy {np_['power_logrank']:.4f}; "
          f"Cox: jax {jx['power_cox']:.4f}, numpy {np_['power_cox']:.4f}")
    print(f"analyses alone ({k['n_trials']:,} trials): jax {k['jax_us_per_trial']:.1f} µs/trial; numpy log-rank "
          f"{k['numpy_logrank_us_per_trial']:.1f} + numba Cox {k['numba_cox_us_per_trial']:.1f} µs/trial; "
          f"max |Δ| z {k['max_abs_diff_logrank_z']:.1e}, coef {k['max_abs_diff_cox_coef']:.1e}, "
          f"se {k['max_abs_diff_cox_se']:.1e}")


if __name__ == "__main__":
    main()
