"""Batched Cox, log-rank, KM and RMST against lifelines / statsmodels, trial by trial."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from batch_reference import lifelines_cox, logrank_references, survival_frame
from mndtrial.batch import BatchCox, cox_batch, logrank_batch, survival_at_horizon
from mndtrial.data import TrialBatch
from mndtrial.errors import AnalysisError, ParameterError, TrialDataError
from mndtrial.power.exponential import ExponentialDesign

# Weekly time grid: many tied event times, so Efron's correction matters.
DESIGN = ExponentialDesign(n_per_arm=60, hazard_ratio=0.7, accrual_days=300, dropout_per_year=0.1,
                           time_resolution_days=7, biomarker_log_hr=0.6)
COX_MODELS = [((), ()), (("age", "log(csf_pnfh)"), ()), (("age",), ("onset_site",))]


@pytest.fixture(scope="module")
def batch() -> TrialBatch:
    return DESIGN.simulate_chunk(0, 12, seed=11)


def check_cox_equals_lifelines(batch: TrialBatch, covariates, strata, tol=1e-6) -> None:
    res = cox_batch(batch, covariates=covariates, strata=strata)
    assert res.converged.all()
    for i in range(batch.n_trials):
        ref = lifelines_cox(batch.trial(i), covariates, strata)
        np.testing.assert_allclose(res.coef[i], ref.params_.to_numpy(), rtol=0, atol=tol)
        np.testing.assert_allclose(res.se[i], ref.standard_errors_.to_numpy(), rtol=0, atol=tol)
        assert res.loglik[i] == pytest.approx(ref.log_likelihood_, abs=1e-8)
        assert res.lr_statistic[i] == pytest.approx(ref.log_likelihood_ratio_test().test_statistic, abs=1e-6)


def check_logrank_equals_references(batch: TrialBatch, tol=1e-8) -> None:
    plain, stratified = logrank_batch(batch), logrank_batch(batch, strata=("onset_site",))
    for i in range(batch.n_trials):
        ref = logrank_references(batch.trial(i), strata="onset_site")
        assert plain.chi_square[i] == pytest.approx(ref["lifelines"], abs=tol)
        assert plain.chi_square[i] == pytest.approx(ref["statsmodels"], abs=tol)
        assert stratified.chi_square[i] == pytest.approx(ref["statsmodels_stratified"], abs=tol)


@pytest.mark.parametrize("covariates,strata", COX_MODELS)
def test_cox_equals_lifelines(batch, covariates, strata):
    check_cox_equals_lifelines(batch, covariates, strata)


def test_logrank_equals_lifelines_and_statsmodels(batch):
    check_logrank_equals_references(batch)


MIROCALS_COX = [((), ()), (("age", "delta_fs", "alsfrs_r_baseline"), ("country", "onset_site"))]


def _mirocals(n_trials: int, seed: int) -> TrialBatch:
    from mndtrial.sim import mirocals, simulate

    return simulate(mirocals(), n_trials=n_trials, seed=seed)


def check_mirocals(batch: TrialBatch) -> None:
    for covariates, strata in MIROCALS_COX:
        check_cox_equals_lifelines(batch, covariates, strata)
    res = logrank_batch(batch, strata=("country", "onset_site"))
    for i in range(batch.n_trials):
        df = survival_frame(batch.trial(i))
        ref = survdiff(df.time_days, df.event, df.treatment.astype(int),
                       strata=df.country.astype(str) + df.onset_site.astype(str))[0]
        assert res.chi_square[i] == pytest.approx(ref, abs=1e-8)


def test_simulated_mirocals_trials_equal_single_trial_route():
    check_mirocals(_mirocals(3, seed=5))


@pytest.mark.slow
def test_200_trials_equal_single_trial_route():
    big = DESIGN.simulate_chunk(0, 200, seed=2026)
    for covariates, strata in COX_MODELS:
        check_cox_equals_lifelines(big, covariates, strata)
    check_logrank_equals_references(big)
    check_mirocals(_mirocals(200, seed=2026))


def test_breslow_and_efron_equal_statsmodels_phreg(batch):
    for ties in ("breslow", "efron"):
        res = BatchCox(covariates=("age",), strata=("onset_site",), ties=ties).fit(batch).result_
        for i in range(4):
            df = survival_frame(batch.trial(i))
            ref = PHReg(df.time_days, df[["treatment", "age"]], status=df.event, ties=ties,
                        strata=df.onset_site).fit()
            np.testing.assert_allclose(res.coef[i], ref.params, atol=1e-6)
            np.testing.assert_allclose(res.se[i], ref.bse, atol=1e-6)


def test_monotone_likelihood_is_flagged_not_averaged():
    b = ExponentialDesign(n_per_arm=30).simulate_chunk(0, 3, seed=4)
    s = b.survival.copy()
    active = (b.participants["arm"] == "active").to_numpy() & (s["trial"] == 1).to_numpy()
    s.loc[active, "event"] = 0  # no deaths on the active arm of trial 1: beta -> -infinity
    s.loc[active, "event_type"] = "censored"
    broken = TrialBatch(info=b.info, n_trials=3, participants=b.participants, survival=s, alsfrs=b.alsfrs)
    res = cox_batch(broken)
    assert list(res.status) == ["converged", "monotone_likelihood", "converged"]
    assert res.coef[1, 0] < -5
    good = cox_batch(b)
    np.testing.assert_allclose(res.coef[[0, 2]], good.coef[[0, 2]], atol=1e-12)


def test_km_and_rmst_equal_lifelines_statsmodels(batch):
    horizon = 400.0
    res = survival_at_horizon(batch, horizon)
    for i in range(batch.n_trials):
        df = survival_frame(batch.trial(i))
        for k, arm in enumerate([0.0, 1.0]):
            g = df[df.treatment == arm]
            kmf = KaplanMeierFitter().fit(g.time_days, g.event)
            assert res.survival[i, k] == pytest.approx(kmf.survival_function_at_times(horizon).iloc[0], abs=1e-12)
            assert res.rmst_days[i, k] == pytest.approx(restricted_mean_survival_time(kmf, t=horizon), abs=1e-9)
            sf = SurvfuncRight(g.time_days.to_numpy(), g.event.to_numpy())
            j = np.searchsorted(sf.surv_times, horizon, side="right") - 1
            assert res.survival_se[i, k] == pytest.approx(sf.surv_prob_se[j], abs=1e-12)
            assert res.rmst_se[i, k] == pytest.approx(slow_rmst_se(g.time_days.to_numpy(), g.event.to_numpy(),
                                                                   horizon), abs=1e-9)


def slow_rmst_se(time: np.ndarray, event: np.ndarray, horizon: float) -> float:
    """RMST standard error by the textbook loop (Klein & Moeschberger 2003, eq. 4.5.1)."""
    times = np.unique(time[(event == 1) & (time <= horizon)])
    surv, s = [], 1.0
    for t in times:
        n = np.sum(time >= t)
        d = np.sum((time == t) & (event == 1))
        s *= 1 - d / n
        surv.append((t, s, n, d))
    var = 0.0
    for j, (t, _, n, d) in enumerate(surv):
        if d == n:
            continue
        points = [t] + [u for u, *_ in surv[j + 1:]] + [horizon]
        levels = [sv for _, sv, *_ in surv[j:]]
        area = sum(level * (b - a) for level, a, b in zip(levels, points[:-1], points[1:]))
        var += area ** 2 * d / (n * (n - d))
    return float(np.sqrt(var))


def test_subset_equals_fitting_the_selected_trials(batch):
    low = (batch.participants["csf_pnfh"] < 2000).to_numpy()
    res = cox_batch(batch, subset=low)
    for i in range(3):
        t = batch.trial(i)
        ids = t.participants.loc[t.participants.csf_pnfh < 2000, "subject_id"]
        ref = lifelines_cox(t.select(ids))
        assert res.coef[i, 0] == pytest.approx(ref.params_.iloc[0], abs=1e-6)


def test_bad_input_is_refused(batch):
    with pytest.raises(ParameterError):
        BatchCox(ties="exact")
    with pytest.raises(ParameterError):
        cox_batch(batch, covariates=("no_such_column",))
    p = batch.participants.copy()
    p.loc[3, "age"] = np.nan
    holed = TrialBatch(info=batch.info, n_trials=batch.n_trials, participants=p, survival=batch.survival)
    with pytest.raises(AnalysisError, match="missing"):
        cox_batch(holed, covariates=("age",))
    with pytest.raises(ParameterError):
        survival_at_horizon(batch, -1.0)


def test_inputs_are_not_modified(batch):
    before = batch.survival.copy(), batch.participants.copy()
    cox_batch(batch, covariates=("age",), strata=("onset_site",))
    logrank_batch(batch, strata=("onset_site",))
    survival_at_horizon(batch, 300.0)
    pd.testing.assert_frame_equal(batch.survival, before[0])
    pd.testing.assert_frame_equal(batch.participants, before[1])


def test_results_serialise(batch):
    res = cox_batch(batch)
    d = res.to_dict()
    assert len(d["trials"]) == batch.n_trials and d["trials"][0]["status"] == "converged"
    assert "<table" in res._repr_html_()


def test_integer_key_order_equals_lexsort_order():
    from mndtrial.batch._layout import _risk_order

    rng = np.random.default_rng(0)
    tb = np.repeat(np.arange(50), 40)
    time = rng.integers(1, 30, tb.size).astype(float)  # many ties
    event = (rng.random(tb.size) < 0.5).astype(float)
    fast = _risk_order(tb, time, event)
    np.testing.assert_array_equal(fast, np.lexsort((-event, -time, tb)))
    np.testing.assert_array_equal(_risk_order(tb, time + 0.5, event), np.lexsort((-event, -time - 0.5, tb)))


def test_missing_times_or_events_are_refused_not_left_out(batch):
    # A NaN time used to drop out of every risk set: the log-rank and Cox statistics of its
    # trial were computed without that participant, silently.
    for column, value in (("time_days", np.nan), ("time_days", -1.0), ("event", 2)):
        s = batch.survival.copy()
        s[column] = s[column].astype(float)
        s.loc[5, column] = value
        broken = dataclasses.replace(batch, survival=s)
        for estimator in (logrank_batch, cox_batch, lambda b: survival_at_horizon(b, 300.0)):
            with pytest.raises(TrialDataError, match="time_days"):
                estimator(broken)
