"""`ExponentialDesign.simulate_chunk`, vectorised across trials, equals the per-trial pandas route
it replaced (tests/exponential_reference.py) trial by trial, for every option that changes the
draws or the arithmetic; and chunks join to the whole run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from exponential_reference import reference_chunk

from mndtrial.data import TrialBatch
from mndtrial.power import ExponentialDesign

DESIGNS = {
    "default": ExponentialDesign(n_per_arm=40),
    "effect, accrual, dropout": ExponentialDesign(n_per_arm=30, hazard_ratio=0.7, accrual_days=300.0,
                                                  dropout_per_year=0.2, slope_difference_per_month=0.3),
    "enriched, effect above the cut-off, prognostic marker": ExponentialDesign(
        n_per_arm=25, enrich=True, hazard_ratio=0.6, hazard_ratio_high=1.3, biomarker_log_hr=0.5),
    "continuous times, other visits": ExponentialDesign(n_per_arm=20, time_resolution_days=0.0,
                                                        visit_interval_days=30.0, residual_sd=3.0),
}


@pytest.mark.parametrize("name", list(DESIGNS))
@pytest.mark.parametrize("first_trial, n_trials", [(0, 12), (7, 5)])
def test_vectorised_chunk_equals_the_per_trial_route(name, first_trial, n_trials):
    design = DESIGNS[name]
    fast = design.simulate_chunk(first_trial, n_trials, seed=4)
    slow = reference_chunk(design, first_trial, n_trials, seed=4)
    for table in ("participants", "survival", "alsfrs"):
        pd.testing.assert_frame_equal(getattr(fast, table), getattr(slow, table), check_exact=True)
    assert np.array_equal(fast.metadata["screened"], slow.metadata["screened"])
    assert (fast.n_trials, fast.first_trial, fast.info) == (slow.n_trials, slow.first_trial, slow.info)


def test_chunks_join_to_the_whole_run():
    design = DESIGNS["effect, accrual, dropout"]
    whole = design.simulate_chunk(0, 9, seed=2)
    joined = TrialBatch.concat([design.simulate_chunk(a, b - a, seed=2) for a, b in ((0, 4), (4, 9))])
    for table in ("participants", "survival", "alsfrs"):
        pd.testing.assert_frame_equal(getattr(whole, table), getattr(joined, table), check_exact=True)


@pytest.mark.parametrize("sds, r", [((5.0, 0.4), 0.2), ((5.0, 0.4), -0.7), ((0.0, 0.4), 0.0), ((3.0, 0.0), 0.5)])
def test_bivariate_normal_equals_numpys_multivariate_normal(sds, r):
    from mndtrial.power.exponential import _bivariate_normal

    design = ExponentialDesign(alsfrs_baseline_sd=sds[0], slope_sd_per_month=sds[1], intercept_slope_corr=r)
    sd_b, sd_s = sds
    cov = np.array([[sd_b ** 2, r * sd_b * sd_s], [r * sd_b * sd_s, sd_s ** 2]])
    numpy_draws = np.random.default_rng(5).multivariate_normal([37.0, -1.0], cov, 300)
    ours = _bivariate_normal(np.random.default_rng(5), design._effects_normal(), 300)
    assert np.array_equal(ours, numpy_draws)
