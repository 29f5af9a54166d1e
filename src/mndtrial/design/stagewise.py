"""Inference after a group-sequential test stops: the stage-wise ordering p-value, the
median-unbiased estimate and the final confidence interval (Jennison & Turnbull 2000, §8.4).

Outcomes of a one-sided group-sequential test are ordered by the stage-wise ordering
(Armitage 1957; Fairbanks & Madsen 1982; Tsiatis, Rosner & Mehta 1984): stopping for efficacy
earlier is more extreme than stopping later, and at the same stage a larger Z is more extreme.
For an outcome (k, z) -- the trial stopped at look k with Z_k = z, or reached the last look --

    P_theta((k', Z') >= (k, z)) = sum_{j<k} P_theta(first efficacy crossing at j)
                                  + P_theta(continue to k and Z_k >= z),

computed exactly with the recursion of `recursion` (numerical integration, no simulation):

- the p-value is that probability under H0 (theta = 0);
- the median-unbiased estimate is the theta at which it is 1/2;
- the final (1 - 2 alpha) confidence interval is [theta_L, theta_U] with the probability
  alpha at theta_L and 1 - alpha at theta_U.

theta is the standardised effect: E[Z_j] = theta * a_j, with a_j the square root of the
information on rpact's scale (events for survival, a_j = sqrt(d_j)), or for an inverse-normal
combination a_j = sum_{i<=j} w_i sqrt(stage events_i) / sqrt(sum_{i<=j} w_i^2). The hazard ratio
is exp(-theta (1 + r) / sqrt(r)) (r = active:control allocation), as rpact's
getAnalysisResults (finalPValues, medianUnbiasedEstimates, finalConfidenceIntervals).
Futility bounds enter only when binding (a non-binding bound may be overruled, so it cannot be
counted on), as in rpact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from ..errors import ParameterError
from .recursion import crossing_probabilities

__all__ = ["StagewiseOrdering", "stopping_stage", "ordering_tail", "stagewise_ordering",
           "inverse_normal_information"]

# The range searched for theta * sqrt(information): rpact's -8..8 on the drift scale.
_DRIFT_RANGE = 8.0


def stopping_stage(z, critical_values, futility_bounds=None, *, binding_futility: bool = False) -> int | None:
    """First look (1-based) whose Z is at or above its efficacy bound, or (binding futility only)
    at or below its futility bound; None when the trial has not stopped by the last Z given.

    >>> stopping_stage([1.0, 2.6], [3.0, 2.5, 2.0])
    2
    >>> stopping_stage([1.0, 2.0], [3.0, 2.5, 2.0]) is None
    True
    """
    z = np.asarray(z, dtype=float)
    b = np.asarray(critical_values, dtype=float)
    if z.ndim != 1 or z.size == 0 or z.size > b.size or not np.all(np.isfinite(z)):
        raise ParameterError("z", z.tolist(), f"need 1..{b.size} finite Z statistics, one per look done")
    a = np.full(b.size, -np.inf) if futility_bounds is None else np.asarray(futility_bounds, dtype=float)
    for k in range(z.size):
        if z[k] >= b[k]:
            return k + 1
        if binding_futility and k < b.size - 1 and k < a.size and z[k] <= a[k]:
            return k + 1
    return None


def ordering_tail(theta: float, z: float, critical_values, information_rates, scale,
                  futility_bounds=None) -> float:
    """P_theta(outcome at least as extreme as stopping at look k = len(information_rates) with Z_k = z)
    in the stage-wise ordering; E[Z_j] = theta * scale[j]. `critical_values` are those of looks
    1..k-1 (or 1..k, the k-th unused); `futility_bounds` (binding) of looks 1..k-1, -inf for none.

    >>> round(ordering_tail(0.0, 1.959964, [], [1.0], [1.0]), 6)
    0.025
    """
    t = np.asarray(information_rates, dtype=float)
    k = t.size
    b = np.asarray(critical_values, dtype=float)[: k - 1]
    a = np.full(k - 1, -np.inf) if futility_bounds is None else np.asarray(futility_bounds, dtype=float)[: k - 1]
    means = float(theta) * np.asarray(scale, dtype=float)
    upper = np.concatenate([b, [z]]) - means
    lower = np.concatenate([a, [-np.inf]]) - means
    # Each Z_j - E[Z_j] is the null group-sequential process: shift the bounds instead of the drift.
    up, _ = crossing_probabilities(upper, lower, t, 0.0)
    return float(up.sum())


def inverse_normal_information(weights, stage_events) -> np.ndarray:
    """a_j of an inverse-normal combination (the mean of the combined Z_j is theta * a_j):
    cumsum(w sqrt(d_stage)) / sqrt(cumsum(w^2)), rpact's adjusted information rate.

    >>> inverse_normal_information([1.0, 1.0], [100, 100]).round(4).tolist()
    [10.0, 14.1421]
    """
    w = np.asarray(weights, dtype=float)
    d = np.asarray(stage_events, dtype=float)
    return np.cumsum(w[: d.size] * np.sqrt(d)) / np.sqrt(np.cumsum(w[: d.size] ** 2))


@dataclass(frozen=True)
class StagewiseOrdering:
    """Final inference of a group-sequential test in the stage-wise ordering.

    final_stage: the look at which the trial stopped (or the last look); p_value: one-sided;
    median_unbiased and confidence_interval on the standardised theta scale (E Z_j = theta a_j);
    hazard_ratio_* on the hazard-ratio scale (active/control).
    """

    final_stage: int
    p_value: float
    median_unbiased: float
    confidence_interval: tuple[float, float]
    allocation_ratio: float
    alpha: float

    def _hr(self, theta: float) -> float:
        r = self.allocation_ratio
        return float(np.exp(-theta * (1.0 + r) / np.sqrt(r)))

    @property
    def hazard_ratio_median_unbiased(self) -> float:
        return self._hr(self.median_unbiased)

    @property
    def hazard_ratio_confidence_interval(self) -> tuple[float, float]:
        lo, hi = self.confidence_interval
        return self._hr(hi), self._hr(lo)

    def to_dict(self) -> dict:
        lo, hi = self.hazard_ratio_confidence_interval
        return {"final_stage": self.final_stage, "p_value": self.p_value,
                "theta_median_unbiased": self.median_unbiased,
                "theta_confidence_interval": list(self.confidence_interval),
                "hazard_ratio_median_unbiased": self.hazard_ratio_median_unbiased,
                "hazard_ratio_confidence_interval": [lo, hi], "confidence_level": 1.0 - 2.0 * self.alpha}


def stagewise_ordering(z, critical_values, information_rates, scale, *, alpha: float,
                       futility_bounds=None, binding_futility: bool = False, final: bool = False,
                       allocation_ratio: float = 1.0) -> StagewiseOrdering | None:
    """Stage-wise ordering p-value, median-unbiased estimate and (1 - 2 alpha) confidence interval.

    z: the cumulative (or combined) Z at looks 1..k done so far; critical_values, information_rates:
    of the design (at least k looks; use the observed rates); scale: a_j with E[Z_j] = theta a_j
    (sqrt(events) for a survival group-sequential test; `inverse_normal_information` for an
    inverse-normal combination). Returns None if the trial has neither stopped nor reached its
    final analysis (`final=True` marks the last Z given as the final analysis).

    >>> r = stagewise_ordering([1.5, 2.3], [2.963, 1.969], [0.5, 1.0], np.sqrt([100, 200]), alpha=0.025)
    >>> round(r.p_value, 4), round(r.hazard_ratio_median_unbiased, 4)
    (0.0115, 0.7234)
    """
    z = np.asarray(z, dtype=float)
    b = np.asarray(critical_values, dtype=float)
    t = np.asarray(information_rates, dtype=float)
    a = np.asarray(scale, dtype=float)
    if t.size < z.size or b.size < z.size or a.size < z.size:
        raise ParameterError("z", z.tolist(), "more looks than critical values, information rates or scale")
    if not 0 < alpha < 0.5:
        raise ParameterError("alpha", alpha, "must lie in (0, 0.5)")
    fut = futility_bounds if binding_futility else None
    k = stopping_stage(z, b, fut, binding_futility=binding_futility)
    if k is None:
        if not final and z.size < b.size:
            return None
        k = z.size
    t_k, a_k, zk = t[:k], a[:k], float(z[k - 1])

    def tail(theta: float) -> float:
        return ordering_tail(theta, zk, b, t_k, a_k, fut)

    def root(target: float) -> float:
        # tail() increases in theta; search on the drift scale theta * a_k within rpact's -8..8.
        lo, hi = -_DRIFT_RANGE / a_k[-1], _DRIFT_RANGE / a_k[-1]
        f_lo, f_hi = tail(lo) - target, tail(hi) - target
        if f_lo * f_hi > 0:
            return float("nan")
        return float(brentq(lambda th: tail(th) - target, lo, hi, xtol=1e-13, rtol=1e-13, maxiter=200))

    return StagewiseOrdering(final_stage=k, p_value=tail(0.0), median_unbiased=root(0.5),
                             confidence_interval=(root(alpha), root(1.0 - alpha)),
                             allocation_ratio=float(allocation_ratio), alpha=float(alpha))
