"""Adaptive enrichment: 10,000 patient-level trials with one interim, side by side with rpact's
`getSimulationEnrichmentSurvival` for 10,000 iterations of the same design, in the same run.

rpact simulates the normal approximation of the stage-wise log-rank statistics; mndtrial simulates
every participant (entry in calendar time, survival, cuts at event targets, log-rank on the
data). Design: S prevalence 0.5, hazard ratio 0.75 in S and R, events (150, 300), inverse-normal
O'Brien–Fleming bounds, Simes intersection test, select the best population.

Run by hand: `python benchmarks/bench_enrichment.py [n_trials] [n_workers]`. The R side is
skipped, with a message, where Rscript or rpact is missing.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from _timing import run_r_numbers

from mndtrial.design.selection import SelectionRule
from mndtrial.power.enrichment import AdaptiveEnrichmentDesign, simulate_enrichment
from mndtrial.power.enrichment_pool import ExponentialPool

R_SCRIPT = """
suppressWarnings(suppressMessages(library(rpact)))
design <- getDesignInverseNormal(kMax = 2, alpha = 0.025, typeOfDesign = "OF", informationRates = c(0.5, 1))
start <- Sys.time()
sim <- suppressWarnings(getSimulationEnrichmentSurvival(design = design,
  effectList = list(subGroups = c("S", "R"), prevalences = c(0.5, 0.5), hazardRatios = matrix(c(0.75, 0.75), ncol = 2)),
  plannedEvents = c(150, 300), directionUpper = FALSE, typeOfSelection = "best", intersectionTest = "Simes",
  maxNumberOfIterations = {n}, seed = 1))
seconds <- as.numeric(difftime(Sys.time(), start, units = "secs"))
cat(seconds, sim$rejectAtLeastOne, sum(sim$rejectedPopulationsPerStage[, 1, 1]),
    sum(sim$rejectedPopulationsPerStage[, 1, 2]), "\\n")
"""


def run_rpact(n: int) -> tuple[float, list[float]] | None:
    return run_r_numbers(R_SCRIPT.replace("{n}", str(n)))


def main(n: int = 10_000, n_workers: int = 1) -> None:
    pool = ExponentialPool(hazard_ratio_s=0.75, hazard_ratio_r=0.75, median_control_s_days=900,
                           median_control_r_days=900, log_pnfh_mean=np.log(3700), arrivals_per_day=1.0)
    design = AdaptiveEnrichmentDesign(pool, n_randomised_max=600, events=(150, 300),
                                      critical_z=(2.796510, 1.977431), intersection_test="simes",
                                      selection=SelectionRule(kind="best"))
    simulate_enrichment(design, n_trials=32, seed=99)  # imports and first-call costs out of the timing
    start = time.perf_counter()
    res = simulate_enrichment(design, n_trials=n, seed=1, n_workers=n_workers)
    ours = time.perf_counter() - start
    t = res.table.iloc[0]
    print(f"mndtrial (patient-level, {n_workers} process{'es' if n_workers > 1 else ''}): {n} trials in "
          f"{ours:.1f} s ({1000 * ours / n:.2f} ms/trial); reject any / S / F = "
          f"{t['reject_any']:.3f} / {t['reject_s']:.3f} / {t['reject_f']:.3f}")
    r = run_rpact(n)
    if r is not None:
        seconds, (any_, s, f) = r
        print(f"rpact getSimulationEnrichmentSurvival: {n} iterations in {seconds:.1f} s "
              f"({1000 * seconds / n:.2f} ms/iteration); reject any / S / F = {any_:.3f} / {s:.3f} / {f:.3f}")
        print(f"ratio rpact / mndtrial time: {seconds / ours:.2f} (> 1: mndtrial faster)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
