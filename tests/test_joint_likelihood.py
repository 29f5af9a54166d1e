"""Double programming of the joint-model likelihood: a slow, obvious version (a plain loop over
subjects and quadrature nodes, scipy densities, the cumulative hazard in closed form per piece)
equals the vectorised one; the analytic gradient equals finite differences; the adaptive
Gauss–Hermite rule equals a brute-force 2-D integral (scipy dblquad) for single subjects."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss
from scipy import integrate, stats

from joint_helpers import joint_trial, slow_quadrature_loglik, finite_difference_gradient
from mndtrial.analysis.joint import JointModel
from mndtrial.analysis.joint_likelihood import adaptive_nodes, evaluate, make_joint_data, unpack


@pytest.fixture(scope="module")
def design():
    trial = joint_trial(40, seed=7)
    return JointModel(association="both", baseline_pieces=3).design(trial)


def parameters(data, seed=3):
    """A point away from any optimum, every parameter non-zero."""
    rng = np.random.default_rng(seed)
    theta = np.concatenate([[36.0, -1.0, 0.2, 0.3], [np.log(2.5)], [np.log(4.0), 0.1, np.log(0.8)],
                            np.log([0.01, 0.012, 0.02]), [-0.2], [-0.12, -0.4]])
    return theta + rng.normal(0, 0.02, len(theta))


def subject_log_density(theta, data, i, b):
    """log p(y_i, T_i, δ_i, b) written out plainly."""
    P = unpack(theta, data)
    beta, sigma, L = P["beta"], P["sigma"], P["L"]
    a_value, a_slope = P["alpha"]
    rows = np.flatnonzero(data.subject == i)
    intercept = data.X0[i] @ beta + b[0]
    slope = data.X1[i] @ beta + b[1]
    ll = sum(stats.norm.logpdf(data.y[j], intercept + slope * data.t[j], sigma) for j in rows)
    lp = data.W[i] @ P["gamma"] + a_value * intercept + a_slope * slope
    T, c = data.time_months[i], a_value * slope
    cumulative = 0.0
    for k in range(data.n_baseline):
        lo, hi = data.cuts_months[k], min(data.cuts_months[k + 1], T)
        if hi <= lo:
            continue
        piece = (np.exp(c * hi) - np.exp(c * lo)) / c if c != 0 else hi - lo
        cumulative += np.exp(P["log_lambda"][k] + lp) * piece
    k_T = np.searchsorted(data.cuts_months, T, side="right") - 1
    log_hazard = P["log_lambda"][k_T] + lp + a_value * slope * T
    ll += data.event[i] * log_hazard - cumulative
    return ll + stats.multivariate_normal.logpdf(b, mean=[0, 0], cov=L @ L.T)


def plain_density(theta, data, i):
    """subject_log_density with the constants hoisted, in plain numpy (dblquad calls it ~10⁵ times)."""
    P = unpack(theta, data)
    sigma, L = P["sigma"], P["L"]
    Dinv = np.linalg.inv(L @ L.T)
    log_norm_b = -np.log(2 * np.pi) - np.log(L[0, 0] * L[1, 1])
    a_value, a_slope = P["alpha"]
    rows = data.subject == i
    y, t = data.y[rows], data.t[rows]
    x0, x1 = data.X0[i] @ P["beta"], data.X1[i] @ P["beta"]
    w = data.W[i] @ P["gamma"]
    T, event = data.time_months[i], data.event[i]
    lam, cuts = np.exp(P["log_lambda"]), data.cuts_months
    k_T = np.searchsorted(cuts, T, side="right") - 1
    lo, hi = cuts[:-1], np.minimum(cuts[1:], T)
    keep = hi > lo

    def log_density(b):
        intercept, slope = x0 + b[0], x1 + b[1]
        r = y - intercept - slope * t
        ll = -0.5 * len(y) * np.log(2 * np.pi * sigma ** 2) - 0.5 * (r @ r) / sigma ** 2
        lp = w + a_value * intercept + a_slope * slope
        c = a_value * slope
        pieces = (np.exp(c * hi[keep]) - np.exp(c * lo[keep])) / c
        ll += event * (np.log(lam[k_T]) + lp + c * T) - np.exp(lp) * (lam[keep] @ pieces)
        return ll + log_norm_b - 0.5 * b @ Dinv @ b

    return log_density


def slow_loglik(theta, data, nodes, points):
    return slow_quadrature_loglik(subject_log_density, theta, data, nodes, points)


@pytest.mark.parametrize("points", [3, 5])
def test_fast_likelihood_equals_slow_loop(design, points):
    data = design.data
    theta = parameters(data)
    nodes = adaptive_nodes(theta, data, points)
    fast, _ = evaluate(theta, data, nodes, gradient=False)
    assert fast == pytest.approx(slow_loglik(theta, data, nodes, points), abs=1e-8)


def test_gradient_equals_finite_differences(design):
    data = design.data
    theta = parameters(data)
    nodes = adaptive_nodes(theta, data, 5)
    _, grad = evaluate(theta, data, nodes)
    numeric = finite_difference_gradient(evaluate, theta, data, nodes)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5)


def test_adaptive_quadrature_equals_brute_force_integral(design):
    data = design.data
    theta = parameters(data)
    nodes = adaptive_nodes(theta, data, 15)
    for i in (0, 5, int(np.argmax(data.event))):
        one = make_joint_data(data.y[data.subject == i], data.t[data.subject == i],
                              np.zeros((data.subject == i).sum(), int), data.X0[[i]], data.X1[[i]], data.W[[i]],
                              data.time_months[[i]], data.event[[i]], data.cuts_months, data.associations)
        fast = evaluate(theta, one, adaptive_nodes(theta, one, 15), gradient=False)[0]
        mu, C = nodes.centre[i], nodes.scale[i]
        shift = subject_log_density(theta, data, i, mu)   # keep the integrand near 1 for dblquad
        density = plain_density(theta, data, i)
        f = lambda z2, z1: np.exp(density(mu + C @ np.array([z1, z2])) - shift)  # noqa: E731
        value, _ = integrate.dblquad(f, -8, 8, -8, 8, epsabs=1e-10, epsrel=1e-10)
        brute = np.log(value * abs(np.linalg.det(C))) + shift
        assert fast == pytest.approx(brute, abs=1e-7)
