"""Solving group-sequential bounds from spending functions or classical shapes.

Each bound is found look by look with `recursion` (numerical integration, not Monte Carlo):
the efficacy bound b_k so that P_H0(first crossing at look k) equals the alpha to spend there
(Lan & DeMets 1983), the futility bound a_k so that P_H1(first futility stop at look k) equals
the beta to spend there (Pampallona, Tsiatis & Kim 2001; rpact's typeBetaSpending). The drift
under H1 for beta spending is the one for which the last futility and efficacy bounds meet.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtri

from ..errors import ParameterError
from .recursion import GRID_R, crossing_probabilities, first_look, next_look

__all__ = ["spending_bounds", "classical_bounds", "beta_spending_bounds", "drift_for_power"]

# rpact treats a Z bound above 8 as "no efficacy stop" and below -6 as "no futility stop".
Z_UPPER_MAX = 8.0
_XTOL = 1e-12


def _solve(fun, lo: float, hi: float) -> float:
    f_lo, f_hi = fun(lo), fun(hi)
    if f_lo * f_hi > 0:
        return lo if abs(f_lo) < abs(f_hi) else hi
    return brentq(fun, lo, hi, xtol=_XTOL, rtol=1e-14, maxiter=200)


def spending_bounds(alpha_cumulative, information_rates, futility_bounds=None, r: int = GRID_R) -> np.ndarray:
    """Efficacy bounds spending `alpha_cumulative[k]` by look k under H0.

    `futility_bounds` (K, -inf for none) are honoured as binding; pass None for non-binding.
    """
    spent = np.asarray(alpha_cumulative, dtype=float)
    t = np.asarray(information_rates, dtype=float)
    lower = np.full(t.size, -np.inf) if futility_bounds is None else np.asarray(futility_bounds, dtype=float)
    increments = np.diff(np.concatenate([[0.0], spent]))
    if np.any(increments < -1e-15):
        raise ParameterError("alpha_spent", spent.tolist(), "cumulative alpha must not decrease")
    bounds = np.empty(t.size)
    dens = None
    for k in range(t.size):
        target = max(increments[k], 0.0)
        if k == 0:
            bounds[0] = min(-ndtri(target), Z_UPPER_MAX) if target > 0 else Z_UPPER_MAX
            _, _, dens = first_look(t[0], lower[0], bounds[0], 0.0, r)
            continue
        prev = dens
        if target <= 0:
            bounds[k] = Z_UPPER_MAX
        else:
            bounds[k] = _solve(lambda b: float(prev.cross_upper(t[k], b)) - target, -10.0, Z_UPPER_MAX)
        _, _, dens = next_look(prev, t[k], lower[k], bounds[k], r)
    return bounds


def classical_bounds(delta_wt: float, alpha: float, information_rates, futility_bounds=None,
                     r: int = GRID_R) -> np.ndarray:
    """Wang–Tsiatis shape b_k = c t_k^(delta - 1/2): delta = 0 O'Brien–Fleming, 0.5 Pocock.

    c is solved so that the total type I error is alpha (futility binding if given).
    """
    t = np.asarray(information_rates, dtype=float)
    lower = np.full(t.size, -np.inf) if futility_bounds is None else np.asarray(futility_bounds, dtype=float)
    shape = t ** (delta_wt - 0.5)

    def excess(c: float) -> float:
        up, _ = crossing_probabilities(c * shape, lower, t, 0.0, r)
        return float(up.sum()) - alpha
    c = _solve(excess, 0.0, 2 * Z_UPPER_MAX)
    return c * shape


def _futility_bounds_at_drift(beta_cumulative, information_rates, upper, drift: float, r: int) -> np.ndarray:
    t = np.asarray(information_rates, dtype=float)
    increments = np.diff(np.concatenate([[0.0], beta_cumulative]))
    lower = np.empty(t.size)
    lower[0] = ndtri(beta_cumulative[0]) + drift * np.sqrt(t[0]) if beta_cumulative[0] > 0 else -np.inf
    _, _, dens = first_look(t[0], lower[0], upper[0], drift, r)
    for k in range(1, t.size):
        prev = dens
        target = increments[k]
        lower[k] = _solve(lambda a: float(prev.cross_lower(t[k], a)) - target, -10.0, 10.0) if target > 0 else -np.inf
        _, _, dens = next_look(prev, t[k], lower[k], upper[k], r)
    return lower


def beta_spending_bounds(alpha_cumulative, beta_cumulative, information_rates, *, binding: bool,
                         classical_delta: float | None = None, alpha: float | None = None,
                         r: int = GRID_R) -> tuple[np.ndarray, np.ndarray, float]:
    """Efficacy and futility bounds with beta-spending futility; returns (upper, lower, drift).

    The drift (sqrt of rpact's `shift`) is solved so that the last futility bound equals the last
    efficacy bound, which makes the design's power exactly 1 - beta. Non-binding: efficacy bounds
    ignore the futility bounds; binding: they are recomputed with them (rpact's algorithm).
    """
    t = np.asarray(information_rates, dtype=float)
    beta_cum = np.asarray(beta_cumulative, dtype=float)

    def bounds_at(drift: float) -> tuple[np.ndarray, np.ndarray]:
        if not binding:
            lower = _futility_bounds_at_drift(beta_cum, t, upper_nonbinding, drift, r)
            return upper_nonbinding, lower
        # Binding: efficacy bound k depends on futility bounds 1..k-1, and vice versa.
        upper = np.empty(t.size)
        lower = np.full(t.size, -np.inf)
        for k in range(t.size):
            upper[: k + 1] = spending_bounds(np.asarray(alpha_cumulative)[: k + 1], t[: k + 1], lower[: k + 1], r)
            lower[: k + 1] = _futility_bounds_at_drift(beta_cum[: k + 1], t[: k + 1], upper[: k + 1], drift, r)
        return upper, lower

    upper_nonbinding = spending_bounds(alpha_cumulative, t, None, r) if not binding else None
    drift = _solve(lambda d: float(np.subtract(*bounds_at(d))[-1]), -4.0, 10.0)
    upper, lower = bounds_at(drift)
    return upper, lower, drift


def drift_for_power(upper, lower, information_rates, power: float, r: int = GRID_R) -> float:
    """Drift (E Z at full information) giving total efficacy-crossing probability `power`."""
    def excess(d: float) -> float:
        up, _ = crossing_probabilities(upper, lower, information_rates, d, r)
        return float(up.sum()) - power
    return _solve(excess, -2.0, 15.0)
