"""Trials drawn exactly from a shared-parameter joint model (known truth), for the joint-model tests.

Independent of `mndtrial.analysis.joint*`: the death time is the closed-form inverse of the
cumulative hazard h(t) = λ·exp(γ·arm + α·(m(t) − 36)) with m(t) linear, so the baseline hazard
is constant (inside the fitted piecewise-constant family) and the truth is the model's own.
Totals are rounded to whole points (`whole_points`), as a real ALSFRS-R is; the rounding error
(variance 1/12) adds to the residual variance (no test here compares a residual SD with TRUTH).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mndtrial.data import Trial
from mndtrial.data.info import Arm, TrialInfo

# ALS-like: slopes ~ N(-1, 0.8²)/month (PRO-ACT spread), ALSFRS-R noise sd 2.5, ~40% dead by 18 months;
# the hazard doubles per ~5 points lost, so the fast decliners leave early (informative dropout).
TRUTH = {"intercept": 36.0, "slope_placebo": -1.0, "arm_intercept": 0.0, "slope_difference": 0.3,
         "sd_intercept": 4.0, "sd_slope": 0.8, "corr": 0.2, "residual_sd": 2.5, "hazard_per_month": 0.006,
         "log_hr_direct": -0.2, "association": -0.15}
DAYS_PER_MONTH = 30.44
# Rounding to whole points adds a uniform(−½, ½) error of variance 1/12 to the residual, so the
# residual SD a fit should recover is sqrt(residual_sd² + 1/12) (2.5 → 2.517), not residual_sd.


def whole_points(y: float) -> float:
    """An ALSFRS-R total as a real scale gives it: whole points in 0–48.

    The data model accepts only whole or half points, so the continuous model value is rounded
    (then clipped to the scale, as the generator did before rounding; at TRUTH the clip binds for
    ~2% of totals, almost all at 48: participants with a high start and a positive slope).
    """
    return float(np.clip(np.round(y), 0, 48))


def joint_arrays(n: int, seed: int, truth: dict = TRUTH, horizon_months: float = 18.0,
                 visit_months: tuple = (0, 3, 6, 9, 12, 15, 18)) -> dict:
    rng = np.random.default_rng(seed)
    arm = np.arange(n) % 2
    sd0, sd1, r = truth["sd_intercept"], truth["sd_slope"], truth["corr"]
    D = np.array([[sd0 ** 2, r * sd0 * sd1], [r * sd0 * sd1, sd1 ** 2]])
    b = rng.multivariate_normal([0.0, 0.0], D, size=n)
    u = truth["intercept"] + truth["arm_intercept"] * arm + b[:, 0]
    v = truth["slope_placebo"] + truth["slope_difference"] * arm + b[:, 1]
    a = truth["association"]
    c = np.log(truth["hazard_per_month"]) + truth["log_hr_direct"] * arm + a * (u - 36.0)
    e = rng.standard_exponential(n)
    # H(T) = exp(c)·(exp(a·v·T) − 1)/(a·v) = e  ⇒  T = log(1 + e·a·v·exp(−c))/(a·v)
    arg = 1 + e * a * v * np.exp(-c)
    death = np.where(arg > 0, np.log(np.where(arg > 0, arg, 1.0)) / (a * v), np.inf)
    event = death <= horizon_months
    time = np.where(event, death, horizon_months)
    rows = []
    for i in range(n):
        for m in visit_months:
            if m <= time[i] and m <= horizon_months:
                y = u[i] + v[i] * m + truth["residual_sd"] * rng.standard_normal()
                rows.append((i, m, whole_points(y)))
    return {"arm": arm, "time_months": time, "event": event.astype(int), "visits": rows}


def joint_trial(n: int = 200, seed: int = 1, truth: dict = TRUTH, horizon_months: float = 18.0) -> Trial:
    x = joint_arrays(n, seed, truth, horizon_months)
    ids = [f"J{i:04d}" for i in range(n)]
    arms = np.where(x["arm"] == 1, "active", "placebo")
    participants = pd.DataFrame({"subject_id": ids, "arm": arms})
    survival = pd.DataFrame({"subject_id": ids, "time_days": np.round(x["time_months"] * DAYS_PER_MONTH, 4),
                             "event": x["event"]})
    alsfrs = pd.DataFrame([(ids[i], round(m * DAYS_PER_MONTH, 4), y) for i, m, y in x["visits"]],
                          columns=["subject_id", "day", "total"])
    info = TrialInfo(name="joint truth", arms=(Arm(name="placebo", control=True), Arm(name="active")),
                     horizon_days=round(horizon_months * DAYS_PER_MONTH, 4))
    return Trial(participants, survival, alsfrs, info=info)


def slow_quadrature_loglik(subject_log_density, theta, data, nodes, points: int) -> float:
    """Σ_i log Σ_q w_q·p(y_i, T_i, δ_i, μ_i + C_i z_q): the adaptive rule written as a plain loop
    (the double-programming reference of the vectorised likelihood; the density is the test's)."""
    from numpy.polynomial.hermite_e import hermegauss

    z, w = hermegauss(points)
    total = 0.0
    for i in range(data.n):
        mu, C = nodes.centre[i], nodes.scale[i]
        contribution = 0.0
        for k1 in range(points):
            for k2 in range(points):
                zz = np.array([z[k1], z[k2]])
                weight = w[k1] * w[k2] * np.exp(zz @ zz / 2) * abs(np.linalg.det(C))
                contribution += weight * np.exp(subject_log_density(theta, data, i, mu + C @ zz))
        total += np.log(contribution)
    return total


def finite_difference_gradient(evaluate, theta, data, nodes) -> np.ndarray:
    """Central differences of the log-likelihood with the nodes held fixed."""
    numeric = np.empty_like(theta)
    for j in range(len(theta)):
        h = 1e-6 * max(1, abs(theta[j]))
        e = np.zeros_like(theta)
        e[j] = h
        numeric[j] = (evaluate(theta + e, data, nodes, False)[0] - evaluate(theta - e, data, nodes, False)[0]) / (2 * h)
    return numeric
