"""Calibration of the power engine, run by hand: type I error and Schoenfeld's power.

`PYTHONPATH=src python benchmarks/calibrate_power.py [n_trials]` prints
1. the rejection rate of each one-sided test at alpha = 0.025 under no effect (MIROCALS design
   with the drug effect removed, 220 randomised), with its Monte Carlo SE;
2. the simulated log-rank power against Schoenfeld's closed form for an exponential design with
   everyone followed to death (events = participants), HR 0.7, for several numbers of events.
"""

from __future__ import annotations

import sys

import numpy as np


def main(n_trials: int = 4000) -> None:
    from mndtrial.power import (Analysis, Criterion, ExponentialDesign, Test, family, logrank_analysis, power,
                                schoenfeld_power)

    fam = family("mirocals").without_effect()
    tests = [Test("logrank", strata=fam.strata), Test("cox"),
             Test("cox", covariates=fam.adjust_covariates, strata=fam.strata), Test("slope"),
             Test("logrank", population=fam.low, strata=fam.strata)]
    analysis = Analysis(tuple(Criterion(t, alpha=0.025) for t in tests), combine="any")
    res = power(fam.source(220, False), analysis, n_trials=n_trials, seed=11)
    row = res.table.iloc[0]
    mcse = np.sqrt(0.025 * 0.975 / n_trials)
    print(f"type I error, MIROCALS without effect, n=220, {n_trials} trials, one-sided alpha 0.025 "
          f"(MC SE {mcse:.4f}):")
    for t in tests:
        print(f"  {t.name:28s} {row[f'reject_{t.name}']:.4f}   not converged: {row[f'{t.name}_not_converged']}")

    print(f"log-rank power vs Schoenfeld, HR 0.7, one-sided 0.025, {n_trials} trials, no censoring:")
    for events in (100, 200, 330):
        design = ExponentialDesign(n_per_arm=events // 2, hazard_ratio=0.7, follow_up_days=1e7,
                                   time_resolution_days=0.0, visit_interval_days=1e7)
        r = power(design, logrank_analysis(), n_trials=n_trials, seed=5).table.iloc[0]
        print(f"  events {events:4d}: simulated {r['power']:.4f} (MC SE {r['power_mcse']:.4f}), "
              f"Schoenfeld {schoenfeld_power(events, 0.7):.4f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4000)
