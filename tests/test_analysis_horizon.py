"""Survival at a horizon and RMST: against lifelines, closed forms, slow loops and simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time
from scipy import stats

from mndtrial.analysis import difference_of_rmst_test, kaplan_meier, rmst, rmst_test, survival_at_horizon
from mndtrial.analysis.horizon import km_table
from mndtrial.data import Trial
from mndtrial.errors import AnalysisError


def _sample(seed, n=80, scale=300.0):
    rng = np.random.default_rng(seed)
    t = np.round(rng.exponential(scale, n), 0) + 1  # ties
    c = rng.uniform(100, 900, n)
    return np.minimum(t, c), (t <= c).astype(int)


def slow_km(time, event, at):
    """S(at) and Greenwood's sum by the product-limit definition, one distinct time at a time."""
    s, gw = 1.0, 0.0
    for t in sorted(set(time)):
        if t > at:
            break
        n = sum(1 for x in time if x >= t)
        d = sum(1 for x, e in zip(time, event) if x == t and e == 1)
        s *= 1 - d / n
        if n > d:
            gw += d / (n * (n - d))
    return s, gw


def slow_rmst(time, event, tau):
    """RMST as the area under the KM step function (rectangle by rectangle, S re-evaluated from the
    product-limit definition), and the Greenwood-type variance sum_i A_i^2 d_i / (n_i (n_i - d_i))
    with each A_i, the area from t_i to tau, summed afresh for every event time."""
    times = sorted(set(time))
    steps = [(t, slow_km(time, event, t)[0]) for t in times if t <= tau]

    def s_of(x):
        val = 1.0
        for t, s in steps:
            if t <= x:
                val = s
        return val

    # exact integral of a step function = sum of rectangles, computed independently of horizon.py
    knots = [0.0] + [t for t, _ in steps] + [tau]
    area = sum((b - a) * s_of(a) for a, b in zip(knots, knots[1:]))
    var = 0.0
    for t in times:
        if t > tau:
            break
        n = sum(1 for x in time if x >= t)
        d = sum(1 for x, e in zip(time, event) if x == t and e == 1)
        if d == 0 or n == d:
            continue
        later = [k for k in knots if k >= t]
        a_i = sum((b - a) * s_of(a) for a, b in zip(later, later[1:]))
        var += a_i ** 2 * d / (n * (n - d))
    return area, var


@pytest.mark.parametrize("seed", [1, 2])
def test_km_table_and_loglog_ci_equal_lifelines(seed):
    time, event = _sample(seed)
    kmf = KaplanMeierFitter().fit(time, event)
    tab = km_table(time, event).set_index("time_days")
    lifelines_s = kmf.survival_function_.iloc[1:, 0]  # lifelines adds time 0
    np.testing.assert_allclose(tab["survival"].to_numpy(), lifelines_s.to_numpy(), rtol=1e-12)
    for tau in (200.0, 450.0):
        s, gw = slow_km(list(time), list(event), tau)
        assert km_table(time, event).query("time_days <= @tau")["greenwood"].iloc[-1] == pytest.approx(gw, rel=1e-12)
        ci = kmf.confidence_interval_.loc[:tau].iloc[-1]
        trial = _two_arm_trial(time, event, time, event)
        res = survival_at_horizon(trial, tau)
        row = res.per_arm.loc["placebo"]
        assert row.estimate == pytest.approx(s, rel=1e-12)
        assert row.ci_lower == pytest.approx(ci.iloc[0], rel=1e-9)
        assert row.ci_upper == pytest.approx(ci.iloc[1], rel=1e-9)


def _two_arm_trial(t0, e0, t1, e1) -> Trial:
    n0, n1 = len(t0), len(t1)
    ids = [f"p{i}" for i in range(n0)] + [f"a{i}" for i in range(n1)]
    parts = pd.DataFrame({"subject_id": ids, "arm": ["placebo"] * n0 + ["il2"] * n1})
    surv = pd.DataFrame({"subject_id": ids, "time_days": np.concatenate([t0, t1]).astype(float),
                         "event": np.concatenate([e0, e1]).astype(int)})
    return Trial(parts, surv)


def test_survival_difference_and_ratio_use_greenwood():
    t0, e0 = _sample(3)
    t1, e1 = _sample(4, scale=500)
    res = survival_at_horizon(_two_arm_trial(t0, e0, t1, e1), 365)
    s0, g0 = slow_km(list(t0), list(e0), 365)
    s1, g1 = slow_km(list(t1), list(e1), 365)
    se = np.sqrt(s0 ** 2 * g0 + s1 ** 2 * g1)
    assert res.difference["estimate"] == pytest.approx(s1 - s0, rel=1e-12)
    assert res.difference["se"] == pytest.approx(se, rel=1e-10)
    assert res.difference["p"] == pytest.approx(2 * stats.norm.sf(abs(s1 - s0) / se), rel=1e-9)
    assert res.ratio["estimate"] == pytest.approx(s1 / s0, rel=1e-12)
    lo = np.exp(np.log(s1 / s0) - 1.959963984540054 * np.sqrt(g0 + g1))
    assert res.ratio["ci"][0] == pytest.approx(lo, rel=1e-9)


@pytest.mark.parametrize("seed", [5, 6])
def test_rmst_equals_slow_integration_and_lifelines(seed):
    time, event = _sample(seed, n=50)
    tau = 500.0
    est, var = rmst(time, event, tau)
    slow_est, slow_var = slow_rmst(list(time), list(event), tau)
    assert est == pytest.approx(slow_est, rel=1e-10)
    assert var == pytest.approx(slow_var, rel=1e-10)
    kmf = KaplanMeierFitter().fit(time, event)
    assert est == pytest.approx(restricted_mean_survival_time(kmf, t=tau), rel=1e-9)


def test_rmst_without_censoring_is_the_sample_mean_with_plugin_variance():
    """Closed form: uncensored, KM is the empirical survival, so RMST = mean(min(T, tau)) and the
    Greenwood-type variance equals sum (x - mean)^2 / n^2."""
    rng = np.random.default_rng(7)
    t = np.round(rng.exponential(10, 60), 1) + 0.1
    x = np.minimum(t, 12.0)
    est, var = rmst(t, np.ones_like(t), 12.0)
    assert est == pytest.approx(x.mean(), rel=1e-12)
    assert var == pytest.approx(((x - x.mean()) ** 2).sum() / len(x) ** 2, rel=1e-10)


def test_rmst_difference_test_equals_its_definition():
    t0, e0 = _sample(8, n=40)
    t1, e1 = _sample(9, n=45, scale=450)
    tau = 400.0
    res = difference_of_rmst_test(t1, e1, t0, e0, tau)
    m1, v1 = slow_rmst(list(t1), list(e1), tau)
    m0, v0 = slow_rmst(list(t0), list(e0), tau)
    se = np.sqrt(v1 + v0)
    assert res.difference["estimate"] == pytest.approx(m1 - m0, rel=1e-10)
    assert res.difference["se"] == pytest.approx(se, rel=1e-10)
    assert res.difference["p"] == pytest.approx(2 * stats.norm.sf(abs(m1 - m0) / se), rel=1e-8)
    se_log = np.sqrt(v1 / m1 ** 2 + v0 / m0 ** 2)
    assert res.ratio["ci"][1] == pytest.approx(m1 / m0 * np.exp(1.959963984540054 * se_log), rel=1e-9)
    trial_res = rmst_test(_two_arm_trial(t0, e0, t1, e1), tau)
    assert trial_res.difference["estimate"] == pytest.approx(m1 - m0, rel=1e-10)


def test_horizon_beyond_follow_up_is_an_analysis_error():
    t0, e0 = np.array([10.0, 20, 30]), np.array([1, 0, 0])
    trial = _two_arm_trial(t0, e0, t0 * 3, e0)
    with pytest.raises(AnalysisError, match="follow-up ends at day 30"):
        rmst_test(trial, 60)
    with pytest.raises(AnalysisError, match="follow-up ends at day 30"):
        survival_at_horizon(trial, 60)


def test_km_at_risk_counts_participants_still_followed(example_trial):
    km = kaplan_meier(example_trial, at_days=[0, 200, 400])
    d = example_trial.survival_by_subject()
    for row in km.summary.itertuples():
        sel = d.loc[d.arm == row.arm]
        assert row.at_risk == int((sel.time_days >= row.day).sum())
        assert row.events_before == int(sel.event[sel.time_days <= row.day].sum())


@pytest.mark.slow
def test_rmst_difference_ci_covers_the_true_difference_95_percent():
    """Simulation with known truth: exponential survival, RMST(tau) = (1 - exp(-lam tau)) / lam."""
    rng = np.random.default_rng(2026)
    lam0, lam1, tau, n, reps = 1 / 400, 1 / 600, 500.0, 120, 1000
    truth = (1 - np.exp(-lam1 * tau)) / lam1 - (1 - np.exp(-lam0 * tau)) / lam0
    covered = 0
    for _ in range(reps):
        t0, t1 = rng.exponential(1 / lam0, n), rng.exponential(1 / lam1, n)
        c0, c1 = rng.uniform(300, 1200, n), rng.uniform(300, 1200, n)
        c0[0] = c1[0] = 1200.0  # someone followed past tau in each arm
        t0[0] = t1[0] = 1300.0
        res = difference_of_rmst_test(np.minimum(t1, c1), (t1 <= c1).astype(int),
                                      np.minimum(t0, c0), (t0 <= c0).astype(int), tau)
        lo, hi = res.difference["ci"]
        covered += lo <= truth <= hi
    # binomial sd at 95% over 1000 reps is 0.7%: allow 3 sd
    assert 0.929 <= covered / reps <= 0.971


@pytest.mark.parametrize("seed", [10, 11, 12])
def test_median_survival_equals_lifelines(seed):
    from mndtrial.analysis.horizon import median_survival

    time, event = _sample(seed, n=40, scale=200)
    assert median_survival(time, event) == KaplanMeierFitter().fit(time, event).median_survival_time_
    assert median_survival(np.array([5.0, 6, 7]), np.array([0, 0, 0])) == np.inf
