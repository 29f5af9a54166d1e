"""Inverse-normal combination of independent stage-wise statistics (Lehmacher & Wassmer 1999).

Every function is vectorised over trials: arrays may carry any leading axes (trials, design
points, ...) and the last axis is the stage. A stage that did not happen, or a population that
was not continued, is NaN; NaN propagates to that stage's and every later combined statistic,
as in rpact, so it can never count as a rejection.

The combined statistic after stage k is

    Z_k = sum_{i<=k} w_i z_i / sqrt(sum_{i<=k} w_i^2),

which is N(0, 1) under H0 whatever happened at earlier stages (the weights are fixed in advance),
and has the covariance of a group-sequential statistic with information fractions
t_k = sum_{i<=k} w_i^2 / sum_i w_i^2, so group-sequential boundaries apply to it unchanged.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from ..errors import ParameterError

__all__ = ["inverse_normal_weights", "inverse_normal_z", "inverse_normal_p", "p_to_z", "z_to_p"]

# p-values of exactly 0 or 1 would give infinite Z and freeze a combination for good; clip as
# rpact 3.3 does (C_QNORM_EPSILON, C_QNORM_THRESHOLD, C_QNORM_MAXIMUM) so results agree with it.
_P_FLOOR = 1e-100
_Z_THRESHOLD = 21.0
_Z_MAXIMUM = 21.273453560965319


def p_to_z(p: np.ndarray) -> np.ndarray:
    """One-sided p-value to Z (large Z = evidence against H0): z = Phi^{-1}(1 - p), NaN kept.

    >>> float(np.round(p_to_z(0.025), 6))
    1.959964
    """
    p = np.asarray(p, dtype=float)
    if np.any((p < 0) | (p > 1)):
        raise ParameterError("p", p, "stage-wise p-values must lie in [0, 1]")
    # -ndtri(p) keeps precision for small p (1 - p would round to 1).
    z = -ndtri(np.clip(p, _P_FLOOR, 1.0))
    return np.where(np.abs(z) > _Z_THRESHOLD, np.sign(z) * _Z_MAXIMUM, z)


def z_to_p(z: np.ndarray) -> np.ndarray:
    """One-sided p-value of a Z statistic: p = 1 - Phi(z), NaN kept.

    >>> float(np.round(z_to_p(1.959964), 6))
    0.025
    """
    return ndtr(-np.asarray(z, dtype=float))


def inverse_normal_weights(information_rates: np.ndarray) -> np.ndarray:
    """Weights w_k = sqrt(t_k - t_{k-1}) from cumulative information fractions (rpact's choice).

    >>> inverse_normal_weights([0.5, 1.0]).round(6).tolist()
    [0.707107, 0.707107]
    """
    t = np.asarray(information_rates, dtype=float)
    if t.ndim != 1 or t.size == 0 or np.any(np.diff(t) <= 0) or t[0] <= 0 or not np.isclose(t[-1], 1.0):
        raise ParameterError("information_rates", information_rates,
                             "must be strictly increasing, positive and end at 1")
    return np.sqrt(np.diff(np.concatenate([[0.0], t])))


def _weights(weights: np.ndarray, n_stages: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or w.size != n_stages:
        raise ParameterError("weights", weights, f"need one weight per stage ({n_stages})")
    if np.any(~np.isfinite(w)) or np.any(w <= 0):
        raise ParameterError("weights", weights, "weights must be finite and positive")
    return w


def inverse_normal_z(stage_z: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Cumulative inverse-normal combined Z after each stage, shape (..., K) like `stage_z`.

    `stage_z[..., i]` is the Z statistic of the data of stage i only (independent increments).

    >>> inverse_normal_z([[1.0, 2.0]], [1.0, 1.0]).round(6).tolist()
    [[1.0, 2.12132]]
    """
    z = np.asarray(stage_z, dtype=float)
    if z.ndim == 0:
        raise ParameterError("stage_z", stage_z, "need a last axis of stages")
    w = _weights(weights, z.shape[-1])
    # cumsum propagates NaN: a missing stage invalidates every later combination.
    return np.cumsum(w * z, axis=-1) / np.sqrt(np.cumsum(w**2))


def inverse_normal_p(stage_p: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Cumulative combined one-sided p-value after each stage from stage-wise one-sided p-values.

    >>> inverse_normal_p([0.025, 0.025], [1.0, 1.0]).round(6).tolist()
    [0.025, 0.002787]
    """
    return z_to_p(inverse_normal_z(p_to_z(stage_p), weights))
