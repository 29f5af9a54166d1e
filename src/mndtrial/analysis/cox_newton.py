"""Newton–Raphson with step halving for one Cox model: the route a fit takes when lifelines' stops short.

lifelines' `CoxPHFitter` damps its Newton steps by a schedule and never backtracks, so on a
likelihood with a strongly prognostic binary covariate its iterate can overshoot, fall below the
null model's log-likelihood and stop there with a warning. R's `coxph` (and `mndtrial.batch.cox`)
halve a step that lowers the log-likelihood instead; this module does the same for one data set:
Efron (default) or Breslow ties, optional strata, the partial log-likelihood, its score and
information evaluated exactly, and a stop only when the full Newton step is below `tol`.

It lives in `analysis` (not imported from `batch`, which sits above it): it is the single-trial
counterpart of the batch engine's kernel, and the tests check the two agree.

References: Therneau & Grambsch (2000), §3.3 (Efron's approximation) and §3.6 (step halving in
`coxph`); Efron (1977).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["CoxNewtonFit", "cox_loglik", "newton_cox"]

# |coefficient × covariate sd| beyond which the maximum is taken to be at infinity (as the batch engine).
MONOTONE_LIMIT = 10.0


@dataclass(frozen=True)
class CoxNewtonFit:
    """Where Newton–Raphson stopped: `converged` is True only at a maximum (step below `tol`)."""

    coef: np.ndarray
    loglik: float
    loglik_null: float
    score: np.ndarray
    information: np.ndarray
    iterations: int
    converged: bool
    reason: str | None  # why not converged (None when converged)


def _strata_codes(n: int, strata: np.ndarray | None) -> np.ndarray:
    return np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata)


def cox_loglik(time: np.ndarray, event: np.ndarray, X: np.ndarray, beta: np.ndarray,
               strata: np.ndarray | None = None, ties: Literal["efron", "breslow"] = "efron"
               ) -> tuple[float, np.ndarray, np.ndarray]:
    """Partial log-likelihood, score (p,) and information (p, p) of a Cox model at `beta`.

    Example:
        >>> ll, score, info = cox_loglik(np.array([1., 2., 3.]), np.array([1, 1, 0]),
        ...                              np.array([[0.], [1.], [0.]]), np.zeros(1))
        >>> round(ll, 6)  # -log 3 - log 2
        -1.791759
    """
    time = np.asarray(time, float)
    event = np.asarray(event).astype(bool)
    X = np.asarray(X, float).reshape(len(time), -1)
    p = X.shape[1]
    codes = _strata_codes(len(time), strata)
    ll, score, info = 0.0, np.zeros(p), np.zeros((p, p))
    for code in np.unique(codes):
        rows = codes == code
        a, b, c = _stratum(time[rows], event[rows], X[rows], beta, ties == "efron")
        ll, score, info = ll + a, score + b, info + c
    return ll, score, info


def _stratum(time, event, X, beta, efron):
    if not event.any():
        return 0.0, np.zeros(X.shape[1]), np.zeros((X.shape[1], X.shape[1]))
    order = np.lexsort((~event, time))  # by time; at a tie the events come first
    time, event, X = time[order], event[order], X[order]
    # centring leaves the partial likelihood unchanged and keeps exp() in range
    Xc = X - X.mean(axis=0)
    eta = Xc @ beta
    w = np.exp(eta - eta.max())
    shift = eta.max()
    wx = w[:, None] * Xc
    wxx = wx[:, :, None] * Xc[:, None, :]
    # risk-set sums: everyone with time >= t, i.e. from the first row at t to the end
    S0 = np.cumsum(w[::-1])[::-1]
    S1 = np.cumsum(wx[::-1], axis=0)[::-1]
    S2 = np.cumsum(wxx[::-1], axis=0)[::-1]
    ev = np.flatnonzero(event)
    first = np.searchsorted(time, time[ev], side="left")  # start of each event's risk set (its tie)
    # the tied events at each event time: rows first .. first + d - 1 (events sort first in a tie)
    d = np.bincount(first, minlength=len(time))[first].astype(float)
    rank = ev - first  # 0 .. d-1 within the tie
    frac = rank / d if efron else np.zeros(len(ev))
    Dw = np.cumsum(np.concatenate([[0.0], w * event]))
    Dwx = np.cumsum(np.concatenate([np.zeros((1, X.shape[1])), wx * event[:, None]]), axis=0)
    Dwxx = np.cumsum(np.concatenate([np.zeros((1, X.shape[1], X.shape[1])), wxx * event[:, None, None]]), axis=0)
    end = (first + d).astype(int)
    d0, d1, d2 = Dw[end] - Dw[first], Dwx[end] - Dwx[first], Dwxx[end] - Dwxx[first]
    s0 = S0[first] - frac * d0
    s1 = S1[first] - frac[:, None] * d1
    s2 = S2[first] - frac[:, None, None] * d2
    mean = s1 / s0[:, None]
    ll = float(np.sum(eta[ev] - shift - np.log(s0)))
    score = (Xc[ev] - mean).sum(axis=0)
    info = (s2 / s0[:, None, None] - mean[:, :, None] * mean[:, None, :]).sum(axis=0)
    return ll, score, info


def newton_cox(time: np.ndarray, event: np.ndarray, X: np.ndarray, strata: np.ndarray | None = None,
               ties: Literal["efron", "breslow"] = "efron", max_iter: int = 100, tol: float = 1e-9,
               start: np.ndarray | None = None) -> CoxNewtonFit:
    """Maximise the partial likelihood by Newton–Raphson, halving any step that lowers it.

    Stops when the full Newton step is below `tol` (that last step is taken: the error is then
    of order tol²), when a coefficient runs off (monotone likelihood), or after `max_iter` steps.

    Example:
        >>> from lifelines.datasets import load_rossi
        >>> r = load_rossi()
        >>> fit = newton_cox(r["week"], r["arrest"], r[["fin", "age", "prio"]].to_numpy(float))
        >>> fit.converged, round(float(fit.coef[0]), 4)
        (True, -0.347)
    """
    time = np.asarray(time, float)
    event = np.asarray(event).astype(int)
    X = np.asarray(X, float).reshape(len(time), -1)
    p = X.shape[1]
    sd = X.std(axis=0)
    beta = np.zeros(p) if start is None else np.asarray(start, float).copy()
    ll_null = cox_loglik(time, event, X, np.zeros(p), strata, ties)[0]
    ll, score, info = cox_loglik(time, event, X, beta, strata, ties)
    for iteration in range(1, max_iter + 1):
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            return CoxNewtonFit(beta, ll, ll_null, score, info, iteration, False, "singular information matrix")
        if not np.all(np.isfinite(step)):
            return CoxNewtonFit(beta, ll, ll_null, score, info, iteration, False, "singular information matrix")
        if np.max(np.abs(step), initial=0.0) < tol:
            beta = beta + step
            ll, score, info = cox_loglik(time, event, X, beta, strata, ties)
            return CoxNewtonFit(beta, ll, ll_null, score, info, iteration, True, None)
        scale = 1.0
        for _ in range(40):
            trial_beta = beta + scale * step
            with np.errstate(over="ignore", invalid="ignore"):
                new = cox_loglik(time, event, X, trial_beta, strata, ties)
            if np.isfinite(new[0]) and new[0] >= ll - 1e-12 * abs(ll):
                break
            scale /= 2
        else:
            return CoxNewtonFit(beta, ll, ll_null, score, info, iteration, False,
                                "no step along the Newton direction raises the log-likelihood")
        beta, (ll, score, info) = trial_beta, new
        if np.any(np.abs(beta) * sd > MONOTONE_LIMIT):
            return CoxNewtonFit(beta, ll, ll_null, score, info, iteration, False,
                                "a coefficient runs off to infinity (monotone likelihood)")
    return CoxNewtonFit(beta, ll, ll_null, score, info, max_iter, False, f"no convergence in {max_iter} steps")
