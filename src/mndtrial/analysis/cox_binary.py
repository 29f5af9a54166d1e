"""Treatment-only Cox fits and log-rank statistics for many subsets of one trial at once.

STEPP windows, candidate cut-offs, their permutations and bootstrap resamples all ask the same
question of many subsets: the hazard ratio of a binary treatment indicator (Efron ties) and the
log-rank O − E. With one binary covariate both depend on the data only through, at each distinct
event time, the numbers at risk (n0, n1) and of deaths (d0, d1) per arm in the subset, so every
subset is a row of weights (0/1 membership, or bootstrap multiplicities: a participant drawn
twice counts twice, exactly as a duplicated row) and everything is computed for all rows in a
few matrix operations. Efron's partial likelihood at a time with d = d0 + d1 deaths is

    d1·β − Σ_{r<d} log(n0 + n1·e^β − (r/d)(d0 + d1·e^β)),

concave in β, maximised by Newton–Raphson with the step limited to 1 (log HR units). The tests
check every number against lifelines on each subset ("double programming").

References: Efron (1977), JASA 72:557; Therneau & Grambsch (2000), §3.3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["RiskCounts", "risk_counts", "logrank_statistics", "cox_treatment_fits"]

MAX_ABS_LOG_HR = 10.0  # beyond this the estimate runs off: a monotone likelihood (as cox_newton)


@dataclass(frozen=True)
class RiskCounts:
    """(subsets, event times) arrays: at risk and deaths per arm."""

    n0: np.ndarray
    n1: np.ndarray
    d0: np.ndarray
    d1: np.ndarray


def risk_counts(time: np.ndarray, event: np.ndarray, treatment: np.ndarray, weights: np.ndarray) -> RiskCounts:
    """Counts per subset (rows of `weights`, shape (K, n)) at every distinct event time of the data.

    Example:
        >>> c = risk_counts(np.array([1., 2., 3.]), np.array([1, 1, 0]), np.array([0., 1., 1.]), np.ones((1, 3)))
        >>> c.n1.tolist(), c.d0.tolist()
        ([[2.0, 2.0]], [[1.0, 0.0]])
    """
    time = np.asarray(time, float)
    event = np.asarray(event).astype(bool)
    treatment = np.asarray(treatment, float)
    W = np.atleast_2d(np.asarray(weights, float))
    order = np.argsort(time, kind="mergesort")
    t_sorted = time[order]
    Ws = W[:, order]
    event_times = np.unique(time[event])
    first = np.searchsorted(t_sorted, event_times, side="left")
    at_risk = lambda w: np.cumsum(w[:, ::-1], axis=1)[:, ::-1][:, first]  # noqa: E731  (time >= u)
    n1 = at_risk(Ws * treatment[order])
    n0 = at_risk(Ws * (1 - treatment[order]))
    # deaths per event time: the event columns sorted by time, summed over each run of equal times
    ev = np.flatnonzero(event)
    ev = ev[np.argsort(time[ev], kind="mergesort")]
    starts = np.searchsorted(time[ev], event_times, side="left")
    d1 = np.add.reduceat(W[:, ev] * treatment[ev], starts, axis=1) if len(ev) else np.zeros((len(W), 0))
    d0 = np.add.reduceat(W[:, ev] * (1 - treatment[ev]), starts, axis=1) if len(ev) else np.zeros((len(W), 0))
    return RiskCounts(n0, n1, d0, d1)


def logrank_statistics(c: RiskCounts) -> tuple[np.ndarray, np.ndarray]:
    """Log-rank O − E of the treated arm and its hypergeometric variance, per subset.

    Example:
        >>> c = risk_counts(np.array([1., 2., 3., 4.]), np.array([1, 1, 1, 0]), np.array([0., 1., 0., 1.]),
        ...                 np.ones((1, 4)))
        >>> [round(float(v[0]), 4) for v in logrank_statistics(c)]
        [-0.6667, 0.7222]
    """
    n = c.n0 + c.n1
    d = c.d0 + c.d1
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(n > 0, d * c.n1 / n, 0.0)
        var = np.where(n > 1, d * (c.n1 / n) * (c.n0 / n) * (n - d) / (n - 1), 0.0)
    return (c.d1 - expected).sum(axis=1), var.sum(axis=1)


def _efron_terms(beta: np.ndarray, c: RiskCounts):
    """Log-likelihood, score and information per subset at beta (K,)."""
    d = c.d0 + c.d1
    r_max = int(d.max(initial=0))
    eb = np.exp(beta)[:, None]
    ll = c.d1 * beta[:, None]
    score = c.d1.copy()
    info = np.zeros_like(c.d1)
    for r in range(max(r_max, 1)):
        active = r < d
        frac = np.where(active, r / np.where(d > 0, d, 1), 0.0)
        a = (c.n1 - frac * c.d1) * eb
        b = c.n0 - frac * c.d0
        s = a + b
        s_safe = np.where(active & (s > 0), s, 1.0)
        ll -= np.where(active, np.log(s_safe), 0.0)
        score -= np.where(active, a / s_safe, 0.0)
        info += np.where(active, a * b / s_safe ** 2, 0.0)
    return ll.sum(axis=1), score.sum(axis=1), info.sum(axis=1)


def cox_treatment_fits(c: RiskCounts, tol: float = 1e-10, max_iter: int = 100
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log HR (treated vs control, Efron ties), its SE and whether it is estimable, per subset.

    Not estimable (NaN): no deaths in one arm of the subset, a single death, or an estimate
    that runs off (monotone likelihood).

    Example:
        >>> from lifelines.datasets import load_rossi
        >>> r = load_rossi()
        >>> c = risk_counts(r.week.to_numpy(), r.arrest.to_numpy(), r.fin.to_numpy(), np.ones((1, len(r))))
        >>> coef, se, ok = cox_treatment_fits(c)
        >>> round(float(coef[0]), 4), bool(ok[0])
        (-0.3691, True)
    """
    K = c.d1.shape[0]
    deaths0, deaths1 = c.d0.sum(axis=1), c.d1.sum(axis=1)
    ok = (deaths0 > 0) & (deaths1 > 0) & (deaths0 + deaths1 >= 2)
    beta = np.zeros(K)
    done = ~ok
    for _ in range(max_iter):
        _, score, info = _efron_terms(beta, c)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.clip(np.where(info > 0, score / info, 0.0), -1.0, 1.0)
        step[done] = 0.0
        beta = beta + step
        done |= np.abs(step) < tol
        if done.all():
            break
    _, _, info = _efron_terms(beta, c)
    ok &= done & (np.abs(beta) < MAX_ABS_LOG_HR) & (info > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(ok, 1.0 / np.sqrt(np.where(info > 0, info, np.nan)), np.nan)
    return np.where(ok, beta, np.nan), se, ok
