"""Group-sequential survival trials simulated patient by patient: mndtrial's
`simulate_group_sequential` (calendar entry, exponential survival and dropout, cuts at event
targets, stratified log-rank on the cut data) side by side with rpact's `getSimulationSurvival`
(also patient-level) for the same design and number of trials, in the same run.

Design: 4 looks at 30/55/80/100% of 250 events, Lan-DeMets O'Brien-Fleming alpha spending with
non-binding bsOF beta-spending futility (beta 0.2), hazard ratio 0.75 in everyone, control median
900 days, 1.5 randomised a day up to 500, 5% a year dropout in each arm.

Run by hand: `python benchmarks/bench_group_sequential.py [n_trials] [n_workers]`. The R side is
skipped, with a message, where Rscript or rpact is missing.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from _timing import run_r_numbers

from mndtrial.design import group_sequential_design
from mndtrial.power.enrichment_pool import ExponentialPool
from mndtrial.power.group_sequential import GroupSequentialTrial, simulate_group_sequential

RATES = [0.3, 0.55, 0.8, 1.0]
MAX_EVENTS = 250
R_SCRIPT = """
suppressWarnings(suppressMessages(library(rpact)))
design <- getDesignGroupSequential(informationRates = c(0.3, 0.55, 0.8, 1), typeOfDesign = "asOF",
  beta = 0.2, typeBetaSpending = "bsOF", bindingFutility = FALSE)
start <- Sys.time()
sim <- getSimulationSurvival(design = design, directionUpper = FALSE, median2 = 900 / 30.4375,
  hazardRatio = 0.75, plannedEvents = ceiling(c(0.3, 0.55, 0.8, 1) * 250 - 1e-9), accrualTime = 0,
  accrualIntensity = 1.5 * 30.4375, maxNumberOfSubjects = 500, dropoutRate1 = 1 - exp(-0.05),
  dropoutRate2 = 1 - exp(-0.05), dropoutTime = 12, maxNumberOfIterations = {n}, seed = 1)
seconds <- as.numeric(difftime(Sys.time(), start, units = "secs"))
cat(seconds, sim$overallReject, sim$rejectPerStage, sim$futilityPerStage, sim$expectedNumberOfEvents, "\\n")
"""


def run_rpact(n: int) -> tuple[float, list[float]] | None:
    return run_r_numbers(R_SCRIPT.replace("{n}", str(n)))


def main(n: int = 10_000, n_workers: int = 1) -> None:
    design = group_sequential_design(information_rates=RATES, type_of_design="asOF", beta=0.2,
                                     type_beta_spending="bsOF")
    pool = ExponentialPool(hazard_ratio_s=0.75, hazard_ratio_r=0.75, median_control_s_days=900,
                           median_control_r_days=900, arrivals_per_day=1.5, dropout_per_year=0.05)
    trial = GroupSequentialTrial(pool, design, max_events=MAX_EVENTS, n_randomised_max=500)
    simulate_group_sequential(trial, n_trials=32, seed=99)  # imports and first-call costs out of the timing
    start = time.perf_counter()
    res = simulate_group_sequential(trial, n_trials=n, seed=1, n_workers=n_workers)
    ours = time.perf_counter() - start
    t, looks = res.table.iloc[0], res.looks
    print(f"mndtrial (patient-level, {n_workers} process{'es' if n_workers > 1 else ''}): {n} trials in "
          f"{ours:.1f} s ({1000 * ours / n:.2f} ms/trial); power {t['power']:.4f} (analytic "
          f"{t['power_analytic']:.4f}); expected events {t['events_mean']:.1f}")
    print("  efficacy per look", np.round(looks["p_efficacy"].to_numpy(), 4).tolist(),
          " futility per look", np.round(looks["p_futility"].to_numpy(), 4).tolist())
    r = run_rpact(n)
    if r is not None:
        seconds, values = r
        k = len(RATES)
        power, reject, futility, events = values[0], values[1:1 + k], values[1 + k:2 * k], values[2 * k]
        print(f"rpact getSimulationSurvival: {n} iterations in {seconds:.1f} s ({1000 * seconds / n:.2f} "
              f"ms/iteration); power {power:.4f}; expected events {events:.1f}")
        print("  efficacy per look", np.round(reject, 4).tolist(), " futility per look", np.round(futility, 4).tolist())
        print(f"ratio rpact / mndtrial time: {seconds / ours:.2f} (> 1: mndtrial faster)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
