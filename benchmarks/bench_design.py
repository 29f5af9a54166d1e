"""Group-sequential designs and the closed test: time against rpact (R) measured in the same run.

1. Bounds and characteristics of a 4-look asOF design with non-binding bsOF futility:
   `group_sequential_design` vs rpact's getDesignGroupSequential + getDesignCharacteristics.
2. The closed inverse-normal test of (H_S, H_F) with Spiessens–Debois intersections for 10,000
   two-stage trials: the vectorised `closed_test` vs a per-trial Python loop of the same rules
   (rpact runs this step per trial inside getSimulationEnrichmentSurvival).
Run by hand: `python benchmarks/bench_design.py` (needs Rscript with rpact for part 1).
"""

from __future__ import annotations

import shutil
import subprocess
import time

import numpy as np
from scipy import stats

from _timing import best_of
from mndtrial.design import closed_test, group_sequential_design, intersection_p, inverse_normal_weights

R_CODE = """suppressMessages(library(rpact))
n <- 20
t0 <- Sys.time()
for (i in 1:n) {
  d <- getDesignGroupSequential(kMax = 4, typeOfDesign = "asOF", typeBetaSpending = "bsOF",
                                bindingFutility = FALSE)
  dc <- getDesignCharacteristics(d)
}
cat(as.numeric(difftime(Sys.time(), t0, units = "secs")) / n, "\\n")
"""


def bench_bounds() -> None:
    ours = best_of(lambda: group_sequential_design(k_max=4, type_beta_spending="bsOF"), repeat=5)
    print(f"group_sequential_design (4 looks, bsOF non-binding): {ours * 1000:.0f} ms")
    if shutil.which("Rscript") is None:
        print("  Rscript not found: no rpact comparison")
        return
    out = subprocess.run(["Rscript", "-e", R_CODE], capture_output=True, text=True, check=True)
    theirs = float(out.stdout.split()[-1])
    print(f"rpact getDesignGroupSequential + getDesignCharacteristics: {theirs * 1000:.0f} ms"
          f"  -> ratio rpact/mndtrial {theirs / ours:.1f}")


def slow_loop(p_s, p_f, rho, weights, crit):
    def combined(ps):
        return np.cumsum(weights * stats.norm.isf(ps)) / np.sqrt(np.cumsum(weights**2))
    out = []
    for i in range(len(p_s)):
        p_sf = np.array([float(intersection_p(p_s[i, k], p_f[i, k], "spiessens_debois", correlation=rho[i, k]))
                         for k in range(2)])
        out.append((combined(p_s[i]) >= crit, combined(p_f[i]) >= crit, combined(p_sf) >= crit))
    return out


def bench_closed_test(n: int = 10_000) -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(size=(n, 2, 2))
    rho = np.full((n, 2), 0.6)
    w = inverse_normal_weights([0.5, 1.0])
    crit = group_sequential_design(k_max=2).critical_values
    fast = best_of(lambda: closed_test(p[..., 0], p[..., 1], weights=w, critical_z=crit, method="spiessens_debois",
                                       correlation=rho), repeat=3)
    start = time.perf_counter()
    slow_loop(p[:1000, :, 0], p[:1000, :, 1], rho, w, crit)
    slow = (time.perf_counter() - start) * n / 1000
    print(f"closed_test, {n} trials, Spiessens-Debois: {fast * 1000:.1f} ms; per-trial loop (extrapolated "
          f"from 1,000): {slow:.1f} s -> ratio {slow / fast:.0f}")


if __name__ == "__main__":
    bench_bounds()
    bench_closed_test()
