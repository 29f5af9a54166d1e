"""The ALSFRS-R decline model (`[trajectory]`): individual slopes, their covariates, residual noise.

The simulator's visit score is `baseline - slope * months + noise` (rounded), with a log-normal
individual slope whose log-mean is linear in the covariates (z CSF-pNfH, z ΔFS, centred bulbar
onset, age per 10 years). Death and dropout depend on the covariates only, not on the slope's
own residual, so conditional on the covariates the visits a participant has are unrelated to the
slope. That makes three steps consistent:

1. Each participant's least-squares slope through their baseline score (`baseline - total` on
   months at the visits after baseline): unbiased for their own slope, with variance
   `residual_sd^2 / sum(months^2)`.
2. Quasi-likelihood regression with a log link of those slopes on the covariates (score
   equations `sum w x (s - exp(x'b)) = 0`, sandwich SEs): under the log-normal model
   `E[slope | x] = exp(b0 + b'x)` exactly, whatever the spread.
3. The residual log-variance from the moments: `E[(s - mu)^2] = mu^2 (exp(s2) - 1) + noise`.

If the trial has no CSF-pNfH, the simulator's latent pNfH is integrated out: the ΔFS coefficient
then carries `b_pnfh * corr_pnfh_delta_fs` and the residual `b_pnfh^2 (1 - corr^2)`, which are
taken back out with the (kept) default pNfH coefficient and correlation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.stats import norm

from ...data.schema import DAYS_PER_MONTH
from ...errors import AnalysisError
from .estimate import Estimate
from .inputs import CohortData

__all__ = ["participant_slopes", "log_link_regression", "slope_estimates", "ParticipantSlopes"]

WEIGHTED = False
ESTIMATOR = "least-squares slope per participant, then log-link quasi-likelihood regression on the covariates"


@dataclass(frozen=True)
class ParticipantSlopes:
    """Per participant (index into the participant arrays) with at least one later visit."""

    subject: np.ndarray
    slope_per_month: np.ndarray
    sum_months_sq: np.ndarray
    residual_ss: np.ndarray
    residual_df: np.ndarray


def participant_slopes(data: CohortData) -> ParticipantSlopes:
    """Slopes through the baseline score: `sum(m d) / sum(m^2)`, d = baseline - total (points/month).

    Participants who reach the floor (a score of 0) are left out of `residual_df` (their
    residuals are not normal); their slopes are refitted by `floor_slopes`.
    """
    months = data.visit_day / DAYS_PER_MONTH
    drop = data.alsfrs_r_baseline[data.visit_subject] - data.visit_total
    subject, inv = np.unique(data.visit_subject, return_inverse=True)
    smm = np.bincount(inv, months * months)
    smd = np.bincount(inv, months * drop)
    sdd = np.bincount(inv, drop * drop)
    k = np.bincount(inv)
    slope = smd / smm
    rss = np.maximum(sdd - smd * slope, 0.0)
    at_floor = np.bincount(inv, data.visit_total == 0, minlength=len(subject)) > 0
    return ParticipantSlopes(subject, slope, smm, np.where(at_floor, 0.0, rss), np.where(at_floor, 0, k - 1))


def floor_slopes(data: CohortData, s: ParticipantSlopes, residual_sd: float) -> ParticipantSlopes:
    """Refit, by maximum likelihood with censoring, the slopes of participants with a score of 0.

    The simulator clips scores at 0, so a 0 says only `baseline - slope * months + noise < 0.5`;
    least squares through those visits would flatten the fastest declines. Participants whose
    every later visit is at 0 carry no upper bound on their slope and are left out (returned
    mask).
    """
    months = data.visit_day / DAYS_PER_MONTH
    base = data.alsfrs_r_baseline[data.visit_subject]
    floor = data.visit_total == 0
    hit = np.unique(data.visit_subject[floor])
    slope, smm, keep = s.slope_per_month.copy(), s.sum_months_sq.copy(), np.ones(len(s.subject), dtype=bool)
    where = np.searchsorted(s.subject, hit)
    rows = pd.Series(np.arange(len(data.visit_subject))).groupby(data.visit_subject).indices
    for i, pos in zip(hit, where):
        r = rows[i]
        m, d, c = months[r], (base[r] - data.visit_total[r]), floor[r]
        if c.all():
            keep[pos] = False
            continue

        def neg(b, m=m, d=d, c=c, b0=base[r][0]):
            return (np.sum((d[~c] - b * m[~c]) ** 2) / (2 * residual_sd ** 2)
                    - np.sum(norm.logcdf((0.5 - b0 + b * m[c]) / residual_sd)))

        upper = float(np.max(base[r] / np.maximum(m, 1e-9))) * 4 + 10
        slope[pos] = minimize_scalar(neg, bounds=(-10.0, upper), method="bounded").x
        smm[pos] = float(np.sum(m[~c] ** 2))
    return ParticipantSlopes(s.subject[keep], slope[keep], smm[keep], s.residual_ss[keep], s.residual_df[keep])


def log_link_regression(X: np.ndarray, y: np.ndarray, w: np.ndarray, max_iter: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Solve `sum w x (y - exp(x'b)) = 0` by Newton's method; return b and its sandwich covariance.

    y may be negative (a noisy slope); only its conditional mean must be exp(x'b).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(1)
        >>> X = np.column_stack([np.ones(4000), rng.standard_normal(4000)])
        >>> y = np.exp(0.2 + 0.3 * X[:, 1]) + rng.normal(0, 0.5, 4000)
        >>> b, cov = log_link_regression(X, y, np.ones(4000))
        >>> bool(np.all(np.abs(b - [0.2, 0.3]) < 4 * np.sqrt(np.diag(cov))))
        True
    """
    b = np.zeros(X.shape[1])
    b[0] = np.log(max(np.average(y, weights=w), 1e-6))
    for _ in range(max_iter):
        mu = np.exp(X @ b)
        score = X.T @ (w * (y - mu))
        info = (X * (w * mu)[:, None]).T @ X
        step = np.linalg.solve(info, score)
        b = b + step
        if np.max(np.abs(step)) < 1e-10:
            break
    else:
        raise AnalysisError("calibrate", "the slope regression (log link) did not converge")
    mu = np.exp(X @ b)
    bread = np.linalg.inv((X * (w * mu)[:, None]).T @ X)
    meat = (X * (w * (y - mu))[:, None]).T @ (X * (w * (y - mu))[:, None])
    return b, bread @ meat @ bread


def _residual_sd(s: ParticipantSlopes, data: CohortData) -> Estimate:
    df = int(s.residual_df.sum())
    if df < 30:
        raise AnalysisError("calibrate", f"only {df} degrees of freedom for the ALSFRS-R residual sd (table alsfrs): "
                                         "too few participants have two or more visits after baseline")
    raw = float(s.residual_ss.sum() / df)
    # Scores are whole (or half) points: rounding adds step^2 / 12 to the variance (Sheppard).
    step = 1.0 if np.all(data.visit_total == np.round(data.visit_total)) else 0.5
    var = raw - step ** 2 / 12
    sd = float(np.sqrt(var))
    return Estimate("trajectory.residual_sd_points", sd, sd / np.sqrt(2 * df),
                    f"pooled residual sd of the per-participant slopes, minus rounding to {step:g} point (Sheppard)",
                    int((s.residual_df > 0).sum()))


def slope_estimates(data: CohortData, z: dict[str, np.ndarray], cov_x: np.ndarray, names: list[str],
                    latent: tuple[float, float] | None) -> tuple[list[Estimate], ParticipantSlopes]:
    """Estimates of `[trajectory]` from the participant slopes.

    `z` holds the covariates (per participant) named in `names` (the simulator's order, without
    the intercept); `cov_x` is the covariance of all four covariates (z pNfH, z ΔFS, centred
    bulbar, age / 10) under the calibrated cohort model, for the systematic part of the log-slope
    variance; `latent` = (b_pnfh, corr_pnfh_delta_fs) when CSF-pNfH is not in the trial (then
    `names` lacks z_pnfh) and is integrated out.
    """
    s = participant_slopes(data)
    resid = _residual_sd(s, data)
    s = floor_slopes(data, s, resid.value)
    noise_var = resid.value ** 2 / s.sum_months_sq
    Xall = np.column_stack([np.ones(data.n)] + [z[k] for k in names])
    X = Xall[s.subject]
    ok = np.all(np.isfinite(X), axis=1)
    X, y, noise_var = X[ok], s.slope_per_month[ok], noise_var[ok]
    n = len(y)
    # Weights fixed before the fit (no dependence on b), so the score equations stay unbiased.
    between = max(float(np.var(y) - noise_var.mean()), 0.01 * float(np.mean(y)) ** 2)
    w = 1.0 / (between + noise_var) if WEIGHTED else np.ones(n)
    b, cov = log_link_regression(X, y, w)
    mu = np.exp(X @ b)
    denom = float(np.sum(w * mu ** 2))
    kappa = float(np.sum(w * ((y - mu) ** 2 - noise_var)) / denom)
    kappa_se = float(np.sqrt(np.sum((w * ((y - mu) ** 2 - noise_var - mu ** 2 * kappa)) ** 2)) / denom)
    coef = b[1:].copy()
    v_latent = 0.0
    if latent is not None:
        b_pnfh, r = latent
        coef[names.index("z_delta_fs")] -= b_pnfh * r
        v_latent = b_pnfh ** 2 * (1 - r ** 2)
    if kappa <= 0 or np.log1p(kappa) - v_latent <= 0:
        raise AnalysisError("calibrate", "the individual ALSFRS-R slopes vary no more than their measurement noise "
                                         "(and the covariates) explain: the log-normal slope model cannot be fitted")
    resid_log_var = float(np.log1p(kappa) - v_latent)
    full = coef if latent is None else np.concatenate([[latent[0]], coef])
    fitted = slice(0, 4) if latent is None else slice(1, 4)
    systematic = float(full @ cov_x @ full)
    log_sd = float(np.sqrt(resid_log_var + systematic))
    slope_mean = float(np.exp(b[0] - v_latent / 2 + systematic / 2))
    g = np.concatenate([[1.0], (cov_x @ full)[fitted]])  # d log(slope_mean) / d b
    # The covariates are centred and scaled by estimated cohort means and sds: their sampling
    # error moves the intercept (by b'Sigma b / n) and rescales the coefficients (1/(2n) each).
    centring_var = systematic / n
    se_mean = slope_mean * float(np.sqrt(g @ cov @ g + centring_var))
    g_sd = 2 * (cov_x @ full)[fitted]                     # d systematic / d coef
    scaling_var = float(np.sum((2 * (cov_x @ full) * full) ** 2)) / (2 * n)
    var_log_var = (kappa_se / (1 + kappa)) ** 2 + float(g_sd @ cov[1:, 1:] @ g_sd) + scaling_var
    out = [Estimate("trajectory.slope_mean_points_per_month", slope_mean, se_mean,
                    ESTIMATOR + " (population mean of the log-normal slope)", n),
           Estimate("trajectory.slope_log_sd", log_sd, float(np.sqrt(var_log_var)) / (2 * log_sd),
                    ESTIMATOR + "; residual log-variance from the moments of the slopes beyond their noise", n),
           resid]
    params = {"z_pnfh": "slope_log_per_sd_log_pnfh", "z_delta_fs": "slope_log_per_sd_log_delta_fs",
              "bulbar_c": "slope_log_bulbar", "age10": "slope_log_per_10y_age"}
    scaled = np.array([k in ("z_pnfh", "z_delta_fs") for k in names])
    se = np.sqrt(np.diag(cov)[1:] + np.where(scaled, coef ** 2 / (2 * n), 0.0))  # estimated sd of the z scale
    for j, name in enumerate(names):
        note = " (minus the kept pNfH coefficient x its correlation with ΔFS: no CSF-pNfH in the trial)" \
            if latent is not None and name == "z_delta_fs" else ""
        out.append(Estimate(f"trajectory.{params[name]}", float(coef[j]), float(se[j]), ESTIMATOR + note, n))
    return out, s
