"""Cox models against R `coxph` (tests/reference/r-outputs.md) and against degenerate data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import CoxPHFitter
from lifelines.datasets import load_lung, load_rossi

from mndtrial.analysis import CoxModel, fit_cox
from mndtrial.analysis.cox import monotone_terms
from mndtrial.data import Trial
from mndtrial.errors import AnalysisError

ROSSI_TERMS = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
# R coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, rossi): coef, se(coef)
ROSSI_R = {"fin": (-0.3794222, 0.19138), "age": (-0.0574377, 0.02200), "race": (0.3138998, 0.30799),
           "wexp": (-0.1497957, 0.21222), "mar": (-0.4337039, 0.38187), "paro": (-0.0848711, 0.19576),
           "prio": (0.0914971, 0.02865)}
# ... + strata(race): the other six coefficients, printed to 4 decimals
ROSSI_STRATA_R = {"fin": -0.3788, "age": -0.0576, "wexp": -0.1427, "mar": -0.4388, "paro": -0.0858, "prio": 0.0922}


def test_lung_matches_r_coxph_to_1e6():
    lung = load_lung()[["time", "status", "age", "sex"]]  # other columns have NaNs; not needed
    res = fit_cox(lung, ["age", "sex"], duration_col="time", event_col="status")
    assert res.term("age").coef == pytest.approx(0.01704533, rel=1e-6)
    assert res.term("age").se == pytest.approx(0.009223273, rel=1e-6)
    assert res.term("sex").coef == pytest.approx(-0.51321852, rel=1e-6)
    assert res.term("sex").se == pytest.approx(0.167457962, rel=1e-6)
    assert res.term("age").z == pytest.approx(1.848078, rel=1e-6)
    assert res.term("sex").z == pytest.approx(-3.064760, rel=1e-6)
    assert res.log_likelihood == pytest.approx(-742.8482, abs=5e-5)
    assert res.log_likelihood_null == pytest.approx(-749.9098, abs=5e-5)
    assert res.lr_chi2 == pytest.approx(14.12, abs=5e-3) and res.lr_df == 2
    assert res.summary.loc["sex", "hr"] == pytest.approx(np.exp(-0.51321852), rel=1e-6)


def test_rossi_matches_r_coxph():
    res = fit_cox(load_rossi(), ROSSI_TERMS, duration_col="week", event_col="arrest")
    for term, (coef, se) in ROSSI_R.items():
        assert res.term(term).coef == pytest.approx(coef, rel=1e-6), term
        # R prints these se to 4-5 significant digits: compare to the printed precision
        assert res.term(term).se == pytest.approx(se, abs=5e-6 if se < 0.1 else 5e-5), term
    assert res.log_likelihood == pytest.approx(-658.7477, abs=5e-5)
    assert res.log_likelihood_null == pytest.approx(-675.3806, abs=5e-5)
    assert res.events == 114 and res.n == 432


def test_rossi_strata_race_matches_r():
    terms = [t for t in ROSSI_TERMS if t != "race"]
    res = fit_cox(load_rossi(), terms, duration_col="week", event_col="arrest", strata=["race"])
    for term, coef in ROSSI_STRATA_R.items():
        assert res.term(term).coef == pytest.approx(coef, abs=5e-5), term
    assert res.strata == ("race",)


def _trial(time, event, arm, **columns) -> Trial:
    ids = [f"s{i}" for i in range(len(time))]
    parts = pd.DataFrame({"subject_id": ids, "arm": arm, **columns})
    surv = pd.DataFrame({"subject_id": ids, "time_days": np.asarray(time, float), "event": event})
    return Trial(parts, surv)


def test_trial_cox_equals_lifelines_on_hand_built_table(example_trial):
    fit = CoxModel(covariates=["log(csf_pnfh)", "onset_site", "age"], strata=["country"]).fit(example_trial)
    d = example_trial.survival_by_subject()
    table = pd.DataFrame({"T": d.time_days, "E": d.event, "trt": (d.arm == "il2_2miu").astype(int),
                          "lp": np.log(d.csf_pnfh), "bulbar": (d.onset_site == "bulbar").astype(int),
                          "age": d.age, "country": d.country})
    ref = CoxPHFitter().fit(table, "T", "E", strata=["country"], fit_options={"precision": 1e-12}).summary
    got = fit.result_.summary
    for mine, theirs in [("treatment", "trt"), ("log_csf_pnfh", "lp"), ("onset_site[bulbar]", "bulbar"), ("age", "age")]:
        assert got.loc[mine, "coef"] == pytest.approx(ref.loc[theirs, "coef"], rel=1e-9)
        assert got.loc[mine, "se"] == pytest.approx(ref.loc[theirs, "se(coef)"], rel=1e-9)
    ph = fit.result_.to_dict()["ph_test"]
    assert set(ph["terms"]) == set(got.index)


def test_no_events_in_one_arm_is_monotone_likelihood_not_a_huge_hr():
    rng = np.random.default_rng(3)
    n = 40
    arm = np.repeat(["placebo", "active"], n // 2)
    time = rng.uniform(10, 500, n)
    event = np.where(arm == "placebo", rng.random(n) < 0.6, 0).astype(int)
    with pytest.raises(AnalysisError, match="monotone likelihood"):
        CoxModel().fit(_trial(time, event, arm))


def test_monotone_detection_matches_divergence_of_the_likelihood():
    # events only among x = 1 participants at every event time: the MLE is at +infinity
    d = pd.DataFrame({"time_days": [1, 2, 3, 4, 5, 6.0], "event": [1, 1, 0, 1, 0, 0], "x": [1, 1, 0, 1, 0, 1.0]})
    assert monotone_terms(d, ["x"]) == {"x": "+inf"}
    d2 = d.assign(x=[1, 0, 0, 1, 0, 1.0])
    assert monotone_terms(d2, ["x"]) == {}
    fit = fit_cox(d2, ["x"], ph_test=False)
    assert np.isfinite(fit.term("x").coef)


def test_single_arm_and_too_few_events_are_analysis_errors():
    with pytest.raises(AnalysisError, match="single arm"):
        CoxModel().fit(_trial([10, 20, 30], [1, 0, 1], ["il2"] * 3))
    with pytest.raises(AnalysisError, match="only 1 event"):
        CoxModel().fit(_trial([10, 20, 30, 40], [1, 0, 0, 0], ["placebo", "placebo", "il2", "il2"]))


def test_ph_test_flags_a_crossing_hazard_and_not_a_proportional_one():
    """Known truth: treatment harmful early, protective late (non-PH) vs a constant HR."""
    rng = np.random.default_rng(11)
    n = 600
    trt = np.repeat([0, 1], n // 2)
    # non-PH: treated hazard 3x before day 100, 1/3 after (piecewise exponential)
    base = 1 / 300
    t_early = rng.exponential(1 / (base * np.where(trt == 1, 3.0, 1.0)))
    t_late = 100 + rng.exponential(1 / (base * np.where(trt == 1, 1 / 3, 1.0)))
    t_nonph = np.where(t_early < 100, t_early, t_late)
    t_ph = rng.exponential(1 / (base * np.where(trt == 1, 0.7, 1.0)))
    for times, expect_small in ((t_nonph, True), (t_ph, False)):
        cens = np.minimum(times, 700)
        d = pd.DataFrame({"time_days": cens, "event": (times <= 700).astype(int), "treatment": trt.astype(float)})
        p = fit_cox(d, ["treatment"]).ph_test.loc["treatment", "p"]
        assert (p < 1e-4) if expect_small else (p > 0.01)


def _efron_loglik(beta: float, time: np.ndarray, event: np.ndarray, x: np.ndarray) -> float:
    """Efron partial log-likelihood of one covariate, written out loop by loop (the slow version)."""
    ll = 0.0
    for t in np.unique(time[event == 1]):
        dead, at_risk = (time == t) & (event == 1), time >= t
        d = dead.sum()
        s_risk, s_dead = np.exp(beta * x[at_risk]).sum(), np.exp(beta * x[dead]).sum()
        ll += beta * x[dead].sum() - sum(np.log(s_risk - k / d * s_dead) for k in range(d))
    return ll


def test_near_null_hazard_ratio_is_the_maximum_not_lifelines_early_stop():
    # Near HR = 1 the likelihood is flat and lifelines' default relative log-likelihood rule
    # stops its damped Newton steps short (here by ~5e-6 in log HR); fit_cox must reach the maximum.
    rng = np.random.default_rng(14)
    time = np.ceil(rng.exponential(300, 40))
    event = (time <= 640).astype(int)
    d = pd.DataFrame({"time_days": np.minimum(time, 640), "event": event, "treatment": np.repeat([0.0, 1.0], 20)})
    coef = float(fit_cox(d, ["treatment"], ph_test=False).summary.loc["treatment", "coef"])
    h = 1e-5
    score = (_efron_loglik(coef + h, d.time_days.to_numpy(), event, d.treatment.to_numpy())
             - _efron_loglik(coef - h, d.time_days.to_numpy(), event, d.treatment.to_numpy())) / (2 * h)
    assert abs(score) < 1e-6
    statsmodels = sm.PHReg(d["time_days"], d[["treatment"]], status=d["event"], ties="efron").fit()
    assert coef == pytest.approx(float(statsmodels.params[0]), abs=1e-8)
    default = CoxPHFitter().fit(d, "time_days", "event", fit_options={"precision": 1e-12}).params_["treatment"]
    assert abs(default - coef) > 1e-6  # the case does exercise the early stop


def test_results_before_fit_are_a_clear_error():
    from mndtrial.analysis.estimator import NotFittedError

    with pytest.raises(NotFittedError, match="CoxModel: not fitted yet"):
        CoxModel().summary


def test_a_covariate_listed_twice_is_a_parameter_error(example_trial):
    # ["age", "age"] used to fail deep in pandas ("truth value of a Series is ambiguous")
    from mndtrial.analysis import CoxModel
    from mndtrial.errors import ParameterError

    with pytest.raises(ParameterError, match="listed twice") as err:
        CoxModel(covariates=["age", " age"]).fit(example_trial)
    assert err.value.parameter == "covariates"
    # the same column under two transforms is two different terms, and allowed
    fit = CoxModel(covariates=["csf_pnfh", "log(csf_pnfh)"]).fit(example_trial).result_
    assert list(fit.summary.index) == ["treatment", "csf_pnfh", "log_csf_pnfh"]
