"""The strategies' primary log-rank can be declared unadjusted (MIROCALS's pre-specified primary
analysis) instead of stratified by the design's strata: checked against lifelines per trial."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines.statistics import logrank_test

from mndtrial.errors import ParameterError
from mndtrial.power import design_points, family, power, strategy_analysis


@pytest.fixture(scope="module")
def mirocals_batch():
    fam = family("mirocals")
    return fam, fam.source(120, enriched=False).simulate_chunk(0, 4, seed=11)


def _lifelines_chi2(batch, trial):
    p = batch.participants.merge(batch.survival, on=["trial", "subject"])
    p = p[p["trial"] == trial]
    a, c = p[p["arm"] == "il2_2miu"], p[p["arm"] == "placebo"]
    return logrank_test(a["time_days"], c["time_days"], a["event"], c["event"]).test_statistic


def test_unadjusted_logrank_as_the_primary_criterion(mirocals_batch):
    fam, batch = mirocals_batch
    assert fam.strata == ("country", "onset_site")
    default = strategy_analysis("all-comers", fam, slope=False)
    assert default.criteria[0].test.strata == ("country", "onset_site")
    unadjusted = strategy_analysis("all-comers", fam, slope=False, primary_strata=())
    primary = unadjusted.criteria[0].test
    assert primary.strata == () and primary.name == "logrank"
    assert unadjusted.criteria[0].alpha == 0.025
    df = unadjusted.evaluate(batch)
    chi2 = np.array([_lifelines_chi2(batch, t) for t in batch.trial_index])
    np.testing.assert_allclose(df["logrank_z"] ** 2, chi2, rtol=1e-8)
    # The stratified log-rank is reported beside it, and is a different statistic.
    stratified = default.evaluate(batch)
    np.testing.assert_allclose(df["logrank_stratified_z"], stratified["logrank_stratified_z"], rtol=1e-12)
    assert not np.allclose(df["logrank_stratified_z"] ** 2, chi2, rtol=1e-6)
    # Success is the unadjusted test's one-sided p < alpha.
    np.testing.assert_array_equal(df["success"], df["logrank_p_benefit"] < 0.025)


def test_unadjusted_primary_through_design_points_and_low_group():
    fam = family("mirocals")
    points = design_points(fam, [80], ("stratified",), slope=False, primary_strata=())
    crit = points[0].analysis.criteria
    assert [c.test.strata for c in crit] == [(), ()] and [c.test.name for c in crit] == ["logrank", "logrank_low"]
    res = power(points, n_trials=3, seed=2, n_workers=1)
    assert {"reject_logrank", "reject_logrank_low", "logrank_stratified_mean"} <= set(res.table.columns)
    with pytest.raises(ParameterError):
        strategy_analysis("all-comers", fam, primary_strata="country")
