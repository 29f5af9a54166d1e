"""Known truth from the simulator: with a drug that does nothing, tests reject at their nominal 5%."""

from __future__ import annotations

import numpy as np
import pytest

from mndtrial.analysis import logrank_test, rmst_test
from mndtrial.sim import DrugModel, mirocals, no_effect, simulate

N_TRIALS = 400


@pytest.mark.slow
def test_null_trials_reject_at_five_percent():
    batch = simulate(mirocals(drug=DrugModel(effect=no_effect)), n_trials=N_TRIALS, seed=20261127)
    p = {"logrank": [], "logrank_stratified": [], "rmst": []}
    for i in range(N_TRIALS):
        trial = batch.trial(i)
        p["logrank"].append(logrank_test(trial).p)
        p["logrank_stratified"].append(logrank_test(trial, strata=trial.info.strata).p)
        p["rmst"].append(rmst_test(trial, trial.info.horizon_days).difference["p"])
    sd = np.sqrt(0.05 * 0.95 / N_TRIALS)
    for name, values in p.items():
        rate = float(np.mean(np.array(values) < 0.05))
        assert abs(rate - 0.05) < 3 * sd, (name, rate)
