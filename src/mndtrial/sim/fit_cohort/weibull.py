"""The survival model (`[survival]`): Weibull proportional hazards by maximum likelihood.

The simulator's survival is `S(t | x) = exp(-(t / scale)^shape * exp(x'b))` (`CohortModel.
death_days`). In lifelines' accelerated-failure-time form (`WeibullAFTFitter`) the same model
reads `rho = shape`, `lambda = scale * exp(-x'b / shape)`, so its coefficients are `-b / shape`.

When the trial has no CSF-pNfH, the simulator's latent pNfH (correlated with ΔFS) is a frailty:
the likelihood integrates over it by Gauss-Hermite quadrature, with its coefficient and
correlation kept at their defaults, so the fitted ΔFS, onset and age effects are the
simulator's conditional ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.optimize import minimize
from scipy.special import logsumexp

from ...errors import AnalysisError

__all__ = ["WeibullPHFit", "fit_weibull_ph"]

QUADRATURE_NODES = 24


@dataclass(frozen=True)
class WeibullPHFit:
    shape: float
    scale_days: float
    coef: np.ndarray        # log hazard ratios, in the order of the columns of X
    cov: np.ndarray         # covariance of (log shape, log scale, coef)
    n: int
    deaths: int
    log_likelihood: float

    @property
    def se_shape(self) -> float:
        return self.shape * float(np.sqrt(self.cov[0, 0]))

    @property
    def se_scale_days(self) -> float:
        return self.scale_days * float(np.sqrt(self.cov[1, 1]))

    @property
    def se_coef(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov)[2:])


def _loglik_grad(theta, t, d, X, offset, c, nodes, log_w):
    log_shape, log_scale = theta[0], theta[1]
    shape = np.exp(log_shape)
    b = theta[2:]
    log_t = np.log(t)
    eta = (X @ b + offset)[:, None] + c * nodes[None, :]            # participant x node
    log_ratio = (log_t - log_scale)[:, None]
    H = np.exp(shape * log_ratio + eta)
    ll_k = d[:, None] * (log_shape - log_scale + (shape - 1) * log_ratio + eta) - H
    total = logsumexp(ll_k + log_w[None, :], axis=1)
    post = np.exp(ll_k + log_w[None, :] - total[:, None])             # posterior node weights
    g_shape = np.sum(post * (d[:, None] * (1 + shape * log_ratio) - H * shape * log_ratio))
    g_scale = np.sum(post * (-d[:, None] * shape + H * shape))
    g_b = X.T @ np.sum(post * (d[:, None] - H), axis=1)
    return float(total.sum()), np.concatenate([[g_shape, g_scale], g_b])


def fit_weibull_ph(time_days: np.ndarray, event: np.ndarray, X: np.ndarray, offset: np.ndarray | None = None,
                   frailty_sd: float = 0.0) -> WeibullPHFit:
    """Maximum-likelihood Weibull PH fit; `frailty_sd` > 0 adds a normal term `frailty_sd * u` to
    the log hazard, integrated out (the latent pNfH); `offset` is a known part of the log hazard.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(3)
        >>> x = rng.standard_normal((3000, 1))
        >>> t = 800 * (rng.standard_exponential(3000) * np.exp(-0.5 * x[:, 0])) ** (1 / 2.0)
        >>> fit = fit_weibull_ph(np.minimum(t, 900), (t <= 900).astype(float), x)
        >>> bool(abs(fit.shape - 2.0) < 4 * fit.se_shape and abs(fit.coef[0] - 0.5) < 4 * fit.se_coef[0])
        True
    """
    t = np.asarray(time_days, dtype=float)
    d = np.asarray(event, dtype=float)
    offset = np.zeros(len(t)) if offset is None else offset
    if frailty_sd > 0:
        nodes, w = hermegauss(QUADRATURE_NODES)
        log_w = np.log(w / np.sqrt(2 * np.pi))
    else:
        nodes, log_w = np.zeros(1), np.zeros(1)
    args = (t, d, X, offset, frailty_sd, nodes, log_w)
    deaths = int(d.sum())
    # Start from the exponential fit without covariates: a good scale keeps BFGS in range.
    theta0 = np.zeros(2 + X.shape[1])
    theta0[1] = np.log(t.sum() / max(deaths, 1))

    def neg(theta):
        ll, g = _loglik_grad(theta, *args)
        return -ll, -g

    res = minimize(neg, theta0, jac=True, method="BFGS", options={"gtol": 1e-6, "maxiter": 500})
    if not np.all(np.isfinite(res.x)) or np.max(np.abs(res.jac)) > 1e-2 * max(1.0, deaths ** 0.5):
        raise AnalysisError("calibrate", f"the Weibull survival fit did not converge ({res.message})")
    # Observed information by central differences of the analytic gradient.
    k = len(res.x)
    hess = np.zeros((k, k))
    for j in range(k):
        h = 1e-5 * max(1.0, abs(res.x[j]))
        e = np.zeros(k)
        e[j] = h
        hess[:, j] = (neg(res.x + e)[1] - neg(res.x - e)[1]) / (2 * h)
    hess = (hess + hess.T) / 2
    try:
        cov = np.linalg.inv(hess)
    except np.linalg.LinAlgError as exc:
        raise AnalysisError("calibrate", "the Weibull survival model is not identifiable from these data") from exc
    return WeibullPHFit(shape=float(np.exp(res.x[0])), scale_days=float(np.exp(res.x[1])), coef=res.x[2:].copy(),
                        cov=cov, n=len(t), deaths=deaths, log_likelihood=float(-res.fun))
