"""Alpha- and beta-spending functions (Lan & DeMets 1983; Hwang, Shih & DeCani 1990; Kim & DeMets 1987).

A spending function gives the cumulative error spent by information fraction t in [0, 1], with
f(0) = 0 and f(1) = total. Names follow rpact's `typeOfDesign` / `typeBetaSpending` so a design
can be cross-checked there: "asOF"/"bsOF" (O'Brien–Fleming type), "asP"/"bsP" (Pocock type),
"asKD"/"bsKD" (Kim–DeMets power family, parameter rho = rpact's gamma), "asHSD"/"bsHSD"
(Hwang–Shih–DeCani, gamma), "asUser"/"bsUser" (user-given cumulative values at the looks).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from ..errors import ParameterError

__all__ = ["ALPHA_SPENDING_TYPES", "BETA_SPENDING_TYPES", "obrien_fleming_spending", "pocock_spending",
           "kim_demets_spending", "hsd_spending", "spending_values"]

ALPHA_SPENDING_TYPES = ("asOF", "asP", "asKD", "asHSD", "asUser")
BETA_SPENDING_TYPES = ("bsOF", "bsP", "bsKD", "bsHSD", "bsUser")


def _fractions(t) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    if np.any(~np.isfinite(t)) or np.any((t < 0) | (t > 1)):
        raise ParameterError("information_rates", t.tolist(), "information fractions must lie in [0, 1]")
    return t


def obrien_fleming_spending(t, total: float) -> np.ndarray:
    """Lan–DeMets O'Brien–Fleming type: 2 (1 - Phi(Phi^{-1}(1 - total/2) / sqrt(t))) (one-sided, as rpact).

    ref: Lan & DeMets (1983); rpact's asOF for sided = 1.

    >>> obrien_fleming_spending([0.5, 1.0], 0.025).round(6).tolist()
    [0.001525, 0.025]
    """
    t = _fractions(t)
    with np.errstate(divide="ignore"):
        return np.where(t > 0, 2.0 * ndtr(ndtri(total / 2.0) / np.sqrt(t)), 0.0)


def pocock_spending(t, total: float) -> np.ndarray:
    """Lan–DeMets Pocock type: total * log(1 + (e - 1) t).

    >>> pocock_spending([0.5, 1.0], 0.025).round(6).tolist()
    [0.015503, 0.025]
    """
    return total * np.log1p((np.e - 1.0) * _fractions(t))


def kim_demets_spending(t, total: float, rho: float) -> np.ndarray:
    """Kim–DeMets power family: total * t^rho (rho > 0; rho = 1 spends linearly).

    >>> kim_demets_spending([0.5, 1.0], 0.025, 2.0).round(6).tolist()
    [0.00625, 0.025]
    """
    if not np.isfinite(rho) or rho <= 0:
        raise ParameterError("gamma", rho, "the Kim-DeMets parameter rho must be positive")
    return total * _fractions(t) ** rho


def hsd_spending(t, total: float, gamma: float) -> np.ndarray:
    """Hwang–Shih–DeCani: total (1 - exp(-gamma t)) / (1 - exp(-gamma)); gamma = 0 is linear.

    gamma = -4 is close to O'Brien–Fleming, gamma = 1 close to Pocock.

    >>> hsd_spending([0.5, 1.0], 0.025, -4.0).round(6).tolist()
    [0.00298, 0.025]
    """
    t = _fractions(t)
    if not np.isfinite(gamma):
        raise ParameterError("gamma", gamma, "the Hwang-Shih-DeCani gamma must be finite")
    if gamma == 0:
        return total * t
    return total * np.expm1(-gamma * t) / np.expm1(-gamma)


def spending_values(kind: str, t, total: float, *, gamma: float | None = None,
                    user_values=None) -> np.ndarray:
    """Cumulative error spent at the information fractions `t` by the spending function `kind`.

    `kind` is an rpact name ("asOF", "bsHSD", ...); `gamma` is needed for KD and HSD;
    `user_values` (cumulative, increasing, last = total) for "asUser"/"bsUser".

    >>> spending_values("asHSD", [1.0], 0.025, gamma=1.0).round(9).tolist()
    [0.025]
    """
    base = kind[2:] if kind[:2] in ("as", "bs") else ""
    if kind not in ALPHA_SPENDING_TYPES + BETA_SPENDING_TYPES:
        raise ParameterError("type_of_design", kind,
                             f"must be one of {', '.join(ALPHA_SPENDING_TYPES + BETA_SPENDING_TYPES)}")
    if base == "OF":
        return obrien_fleming_spending(t, total)
    if base == "P":
        return pocock_spending(t, total)
    if base in ("KD", "HSD"):
        if gamma is None:
            raise ParameterError("gamma", None, f"{kind} needs its parameter gamma")
        return kim_demets_spending(t, total, gamma) if base == "KD" else hsd_spending(t, total, gamma)
    t = _fractions(t)
    if user_values is None:
        raise ParameterError("user_spending", None, f"{kind} needs the cumulative spending at each look")
    values = np.asarray(user_values, dtype=float)
    if values.shape != t.shape or np.any(np.diff(values) < 0) or np.any(values < 0) or values[-1] > total + 1e-12:
        raise ParameterError("user_spending", list(user_values),
                             f"need {t.size} non-decreasing cumulative values in [0, {total}]")
    return values
