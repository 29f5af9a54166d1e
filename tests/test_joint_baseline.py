"""Weibull and B-spline baseline hazards of the joint model.

- Double programming: a slow, obvious likelihood (loops over subjects and nodes, scipy densities,
  the cumulative hazard by adaptive `scipy.integrate.quad` of a hazard written out by hand: the
  Weibull formula, or `scipy.interpolate.BSpline` evaluated directly) equals the vectorised one
  (which integrates by Gauss–Legendre on a grid); the analytic gradient equals finite differences.
- Known truth: the truth of `joint_helpers` has a constant baseline hazard, which lies in both
  families (Weibull shape 1; equal B-spline coefficients), so both fits must recover it.
- JM 1.5-2 `weibull-PH-aGH` on the stored reference trial (tests/reference/joint/references_weibull.R).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.interpolate import BSpline

from joint_helpers import TRUTH, joint_trial, slow_quadrature_loglik, finite_difference_gradient
from mndtrial.analysis.joint import JointModel
from mndtrial.analysis.joint_likelihood import adaptive_nodes, evaluate, unpack
from mndtrial.data import Trial
from mndtrial.data.info import Arm, TrialInfo
from mndtrial.errors import ParameterError


def log_baseline(data, phi):
    """The baseline's log hazard as a plain function of one time (written out, not the basis)."""
    kind = data.baseline.kind
    if kind == "weibull":
        return lambda s: phi[0] + phi[1] * np.log(s)
    knots = data.baseline.knots_months
    spline = BSpline(knots, phi, 3, extrapolate=False)
    return lambda s: float(spline(min(s, knots[-1])))


def subject_log_density(theta, data, i, b):
    P = unpack(theta, data)
    beta, sigma, L = P["beta"], P["sigma"], P["L"]
    a_value, a_slope = P["alpha"]
    rows = np.flatnonzero(data.subject == i)
    intercept, slope = data.X0[i] @ beta + b[0], data.X1[i] @ beta + b[1]
    ll = sum(stats.norm.logpdf(data.y[j], intercept + slope * data.t[j], sigma) for j in rows)
    lp = data.W[i] @ P["gamma"] + a_value * intercept + a_slope * slope
    log_base = log_baseline(data, P["log_lambda"])
    T = data.time_months[i]
    hazard = lambda s: np.exp(log_base(s) + lp + a_value * slope * s)  # noqa: E731
    cumulative = integrate.quad(hazard, 0, T, epsabs=1e-13, epsrel=1e-12, limit=200)[0]
    ll += data.event[i] * np.log(hazard(T)) - cumulative
    return ll + stats.multivariate_normal.logpdf(b, mean=[0, 0], cov=L @ L.T)


def slow_loglik(theta, data, nodes, points):
    return slow_quadrature_loglik(subject_log_density, theta, data, nodes, points)


def design(kind):
    return JointModel(association="both", baseline=kind, baseline_pieces=4, spline_knots=2).design(
        joint_trial(30, seed=7))


def parameters(data, seed=3):
    rng = np.random.default_rng(seed)
    phi = np.array([0.3, 0.25]) if data.baseline.kind == "weibull" else 0.3 + 0.2 * np.sin(np.arange(data.n_baseline))
    theta = np.concatenate([[36.0, -1.0, 0.2, 0.3], [np.log(2.5)], [np.log(4.0), 0.1, np.log(0.8)],
                            phi, [-0.2], [-0.15, -0.4]])
    return theta + rng.normal(0, 0.02, len(theta))


@pytest.mark.parametrize("kind", ["weibull", "bspline"])
def test_fast_likelihood_equals_slow_loop_with_exact_cumulative_hazard(kind):
    data = design(kind).data
    theta = parameters(data)
    nodes = adaptive_nodes(theta, data, 3)
    fast, _ = evaluate(theta, data, nodes, gradient=False)
    # the fast route integrates the cumulative hazard by 5-point Gauss–Legendre per grid interval;
    # quad is exact to ~1e-12, so what remains is that quadrature's error, summed over 30 subjects
    assert fast == pytest.approx(slow_loglik(theta, data, nodes, 3), abs=1e-6)


@pytest.mark.parametrize("kind", ["weibull", "bspline"])
def test_gradient_equals_finite_differences(kind):
    data = design(kind).data
    theta = parameters(data)
    nodes = adaptive_nodes(theta, data, 5)
    _, grad = evaluate(theta, data, nodes)
    numeric = finite_difference_gradient(evaluate, theta, data, nodes)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5)


def test_bspline_basis_is_a_partition_of_unity_and_piecewise_is_one_hot():
    d = design("bspline").data
    np.testing.assert_allclose(d.basis_gl.sum(-1), 1.0, atol=1e-12)
    p = JointModel(baseline_pieces=3).design(joint_trial(30, seed=7)).data
    assert set(np.unique(p.basis_gl)) == {0.0, 1.0} and np.all(p.basis_gl.sum(-1) == 1)


@pytest.fixture(scope="module")
def truth_fits():
    trial = joint_trial(300, seed=21)
    return {kind: JointModel(baseline=kind, curves=False).fit(trial).result_.overall
            for kind in ("piecewise", "weibull", "bspline")}


@pytest.mark.slow
def test_constant_truth_recovered_by_every_baseline(truth_fits):
    # truth: log λ(t) = log 0.006 − α·36 (the generator centres the association at 36 points)
    log_rate = np.log(TRUTH["hazard_per_month"]) - TRUTH["association"] * 36.0
    weibull = truth_fits["weibull"].parameters
    shape = weibull.loc["log_baseline_hazard:shape_minus_1"]
    assert abs(shape.estimate) < 3 * shape.se
    for kind, fit in truth_fits.items():
        d = fit.estimates.loc[("active", "slope_difference_per_month")]
        assert abs(d.estimate - TRUTH["slope_difference"]) < 3 * d.se, kind
        a = fit.estimates.loc[("all", "association_value")]
        assert abs(a.estimate - TRUTH["association"]) < 3 * a.se, kind
    # the same model in three families: the treatment estimates barely move with the baseline
    slope = [f.estimates.loc[("active", "slope_difference_per_month"), "estimate"] for f in truth_fits.values()]
    se = truth_fits["piecewise"].estimates.loc[("active", "slope_difference_per_month"), "se"]
    assert np.ptp(slope) < 0.2 * se
    spline = truth_fits["bspline"].parameters
    coef = spline.loc[spline.index.str.startswith("log_baseline_hazard:bspline")]
    assert np.all(np.abs(coef.estimate - log_rate) < 3.5 * coef.se)


def test_unknown_baseline_is_refused():
    with pytest.raises(ParameterError, match="baseline"):
        JointModel(baseline="gompertz")


REFERENCE = __import__("pathlib").Path(__file__).parent / "reference" / "joint"


def test_weibull_fit_agrees_with_jm():
    """JM 1.5-2 `weibull-PH-aGH` (5 GH points) on the stored 300-participant trial: JM writes the
    baseline σ_t·t^(σ_t−1)·exp(γ0), ours exp(φ0)·t^φ1, so φ1 = σ_t − 1 and φ0 = γ0 + log σ_t."""
    jm = json.loads((REFERENCE / "references_weibull.json").read_text())
    info = TrialInfo(name="joint reference", arms=(Arm(name="placebo", control=True), Arm(name="active")))
    trial = Trial(pd.read_csv(REFERENCE / "participants.csv"), pd.read_csv(REFERENCE / "survival.csv"),
                  pd.read_csv(REFERENCE / "alsfrs.csv"), info=info)
    ours = JointModel(association="value", baseline="weibull", curves=False).fit(trial).result_.overall
    p, se = ours.parameters["estimate"], ours.parameters["se"]
    assert ours.mle.loglik == pytest.approx(jm["loglik"], abs=0.05)
    pairs = {"Intercept": jm["betas"]["(Intercept)"], "months": jm["betas"]["months"],
             "months:arm[active]": jm["betas"]["months:active"], "association:value": jm["alpha"],
             "log_hr:arm[active]": jm["gammas"]["active"], "log_residual_sd": np.log(jm["sigma"]),
             "log_baseline_hazard:shape_minus_1": jm["sigma_t"] - 1,
             "log_baseline_hazard:log_scale": jm["gammas"]["(Intercept)"] + np.log(jm["sigma_t"])}
    for name, value in pairs.items():
        assert abs(p[name] - value) < 0.1 * se[name], name
    for name, jm_name in (("months:arm[active]", "Y.months:active"), ("association:value", "T.alpha"),
                          ("log_hr:arm[active]", "T.active")):
        assert se[name] == pytest.approx(jm["se"][jm_name], rel=2e-2), name
