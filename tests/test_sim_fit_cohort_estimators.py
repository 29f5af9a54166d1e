"""The calibration's estimators against independent references: lifelines (Weibull, Kaplan-Meier),
statsmodels (log-link GLM with sandwich SEs), numerical integration (frailty likelihood), and
slow, obvious re-implementations (per-participant slopes, Greenwood)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import KaplanMeierFitter, WeibullAFTFitter
from scipy import integrate

from mndtrial.sim.fit_cohort import weibull as W
from mndtrial.sim.fit_cohort.check import km_curve
from mndtrial.sim.fit_cohort.dropout import km_at
from mndtrial.sim.fit_cohort.inputs import CohortData
from mndtrial.sim.fit_cohort.slope import log_link_regression, participant_slopes


def _weibull_data(n=2500, seed=11):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.standard_normal(n), rng.random(n) < 0.3, rng.normal(0, 1.2, n)]).astype(float)
    b = np.array([0.5, 0.3, -0.2])
    t = np.ceil(820 * (rng.standard_exponential(n) * np.exp(-X @ b)) ** (1 / 1.8))
    c = rng.uniform(300, 900, n)
    return np.minimum(t, c), (t <= c).astype(float), X


def test_weibull_ph_matches_lifelines_aft_with_the_parametrisation_mapped():
    time, event, X = _weibull_data()
    fit = W.fit_weibull_ph(time, event, X)
    df = pd.DataFrame(X, columns=["a", "b", "c"]).assign(T=time, E=event)
    aft = WeibullAFTFitter().fit(df, "T", "E")
    rho = float(np.exp(aft.params_.loc[("rho_", "Intercept")]))
    lam = aft.params_.loc["lambda_"]
    # lifelines: S = exp(-(t / exp(b0 + x'beta))^rho) -> PH shape = rho, scale = exp(b0), b = -beta * rho
    assert fit.shape == pytest.approx(rho, rel=1e-4)
    assert fit.scale_days == pytest.approx(np.exp(lam["Intercept"]), rel=1e-4)
    np.testing.assert_allclose(fit.coef, -lam[["a", "b", "c"]].to_numpy() * rho, rtol=1e-3, atol=1e-5)
    assert fit.log_likelihood == pytest.approx(aft.log_likelihood_, rel=1e-7)
    # SE of log(shape) is lifelines' SE of rho_'s intercept (same parameter)
    assert np.sqrt(fit.cov[0, 0]) == pytest.approx(aft.standard_errors_.loc[("rho_", "Intercept")], rel=2e-2)


def test_frailty_likelihood_equals_numerical_integration():
    time, event, X = _weibull_data(n=12, seed=3)
    offset = np.linspace(-0.2, 0.3, 12)
    theta = np.array([np.log(1.7), np.log(800.0), 0.4, 0.2, -0.1])
    c = 0.55
    nodes, w = np.polynomial.hermite_e.hermegauss(W.QUADRATURE_NODES)
    ll, grad = W._loglik_grad(theta, time, event, X, offset, c, nodes, np.log(w / np.sqrt(2 * np.pi)))
    shape, scale, b = 1.7, 800.0, theta[2:]
    total = 0.0
    for t, d, x, o in zip(time, event, X, offset):
        def lik(u):
            eta = x @ b + o + c * u
            h = shape / scale * (t / scale) ** (shape - 1) * np.exp(eta)
            return (h if d else 1.0) * np.exp(-(t / scale) ** shape * np.exp(eta)) * np.exp(-u * u / 2) / np.sqrt(2 * np.pi)
        total += np.log(integrate.quad(lik, -12, 12, epsabs=0, epsrel=1e-12)[0])
    assert ll == pytest.approx(total, rel=1e-9)
    # the analytic gradient against central differences of the likelihood
    num = np.zeros_like(theta)
    for j in range(len(theta)):
        e = np.zeros_like(theta)
        e[j] = 1e-6
        num[j] = (W._loglik_grad(theta + e, time, event, X, offset, c, nodes, np.log(w / np.sqrt(2 * np.pi)))[0]
                  - W._loglik_grad(theta - e, time, event, X, offset, c, nodes, np.log(w / np.sqrt(2 * np.pi)))[0]) / 2e-6
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-6)


def test_frailty_fit_recovers_known_truth():
    rng = np.random.default_rng(8)
    n = 6000
    x = rng.standard_normal((n, 1))
    u = rng.standard_normal(n)
    t = 700 * (rng.standard_exponential(n) * np.exp(-(0.3 * x[:, 0] + 0.6 * u))) ** (1 / 2.0)
    fit = W.fit_weibull_ph(np.minimum(t, 800), (t <= 800).astype(float), x, frailty_sd=0.6)
    assert abs(fit.shape - 2.0) < 3 * fit.se_shape
    assert abs(fit.scale_days - 700) < 3 * fit.se_scale_days
    assert abs(fit.coef[0] - 0.3) < 3 * fit.se_coef[0]
    plain = W.fit_weibull_ph(np.minimum(t, 800), (t <= 800).astype(float), x)
    assert plain.shape < fit.shape - 3 * fit.se_shape  # ignoring the frailty flattens the hazard


def test_log_link_regression_matches_statsmodels_glm_with_sandwich():
    rng = np.random.default_rng(2)
    X = sm.add_constant(rng.standard_normal((3000, 2)))
    y = rng.gamma(2.0, np.exp(X @ [0.1, 0.3, -0.2]) / 2.0)
    b, cov = log_link_regression(X, y, np.ones(len(y)))
    ref = sm.GLM(y, X, family=sm.families.Poisson()).fit(cov_type="HC0")
    np.testing.assert_allclose(b, ref.params, rtol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), ref.bse, rtol=1e-6)
    w = rng.uniform(0.5, 2.0, len(y))
    bw, _ = log_link_regression(X, y, w)
    refw = sm.GLM(y, X, family=sm.families.Poisson(), var_weights=w).fit()
    np.testing.assert_allclose(bw, refw.params, rtol=1e-8)


def _data(subject, day, total, baseline):
    n = len(baseline)
    nan = np.full(n, np.nan)
    return CohortData(n=n, age=nan, male=nan, bulbar=nan, symptom_duration_months=nan, delta_fs=nan,
                      alsfrs_r_baseline=np.asarray(baseline, float), riluzole=nan, csf_pnfh=nan, serum_nfl=nan,
                      vital_capacity_pct=nan, time_days=nan, event=nan, withdrawal_day=None, horizon_days=640.0,
                      visit_subject=np.asarray(subject), visit_day=np.asarray(day, float),
                      visit_total=np.asarray(total, float), nfl_subject=np.zeros(0, int), nfl_value=np.zeros(0),
                      columns=frozenset())


def test_participant_slopes_equal_a_per_participant_least_squares_loop():
    rng = np.random.default_rng(5)
    n = 40
    baseline = rng.integers(25, 47, n)
    subject = np.repeat(np.arange(n), rng.integers(1, 6, n))
    day = rng.uniform(20, 600, len(subject))
    total = np.clip(np.round(baseline[subject] - day / 30.44 * rng.uniform(0.2, 2, len(subject))), 1, 48)
    s = participant_slopes(_data(subject, day, total, baseline))
    for i, slope, rss, df in zip(s.subject, s.slope_per_month, s.residual_ss, s.residual_df):
        m = day[subject == i] / 30.44
        d = baseline[i] - total[subject == i]
        coef, res, *_ = np.linalg.lstsq(m[:, None], d, rcond=None)
        assert slope == pytest.approx(coef[0], rel=1e-10)
        assert df == len(m) - 1
        assert rss == pytest.approx(float(np.sum((d - coef[0] * m) ** 2)), abs=1e-8)


def test_kaplan_meier_and_greenwood_against_lifelines_and_a_loop():
    rng = np.random.default_rng(9)
    t = np.round(rng.exponential(400, 500))
    e = (rng.random(500) < 0.7).astype(int)
    kmf = KaplanMeierFitter().fit(t, e)
    for at in (100.0, 182.625, 365.25):
        s, se = km_at(t, e, at)
        assert s == pytest.approx(float(kmf.survival_function_at_times(at).iloc[0]), rel=1e-12)
        var = 0.0
        for u in np.unique(t[(e == 1) & (t <= at)]):
            n_risk, d = np.sum(t >= u), np.sum((t == u) & (e == 1))
            var += d / (n_risk * (n_risk - d))
        assert se == pytest.approx(s * np.sqrt(var), rel=1e-12)
    grid = np.array([0.0, 50, 400, 1000])
    np.testing.assert_allclose(km_curve(t, e, grid), kmf.survival_function_at_times(grid).to_numpy(), rtol=1e-12)
