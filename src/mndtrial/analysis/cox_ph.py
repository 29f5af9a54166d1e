"""Scaled Schoenfeld residuals and the proportional-hazards test of one Cox fit, without lifelines.

The same statistic as lifelines' `proportional_hazard_test(fit, df, time_transform="km")`
(Grambsch & Therneau 1994, the approximation R's `cox.zph` used before survival 3.0): for each
term j, with the scaled residuals r* = d · s · V (s the Schoenfeld residuals at the d event
times, Efron means over ties; V the inverse information at the estimate) and g the event times
transformed by 1 - KM(t) (KM of all rows, strata pooled), centred over the events,

    T_j = (sum_k g_k r*_kj)^2 / (d · V_jj · sum_k g_k^2),   p = P(chi2_1 > T_j).

`mndtrial.analysis.cox` uses it for its own Newton–Raphson fits; the tests check it against
lifelines on the same data.
"""

from __future__ import annotations

import numpy as np

from .horizon import km_table

__all__ = ["schoenfeld_residuals", "km_time_transform", "ph_test_statistics"]


def schoenfeld_residuals(time: np.ndarray, event: np.ndarray, X: np.ndarray, beta: np.ndarray,
                         strata: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Schoenfeld residuals (Efron means over tied events) at `beta`: (row index of each event, residuals).

    Example:
        >>> rows, res = schoenfeld_residuals(np.array([1., 2., 3.]), np.array([1, 1, 0]),
        ...                                  np.array([[0.], [1.], [0.]]), np.zeros(1))
        >>> rows.tolist(), [round(float(v), 4) for v in res[:, 0]]
        ([0, 1], [-0.3333, 0.5])
    """
    time = np.asarray(time, float)
    event = np.asarray(event).astype(bool)
    X = np.asarray(X, float).reshape(len(time), -1)
    codes = np.zeros(len(time), dtype=np.int64) if strata is None else np.asarray(strata)
    rows_out, res_out = [], []
    for code in np.unique(codes):
        idx = np.flatnonzero(codes == code)
        if not event[idx].any():
            continue
        order = idx[np.lexsort((~event[idx], time[idx]))]  # by time; events first within a tie
        t, e, x = time[order], event[order], X[order]
        xc = x - x.mean(axis=0)
        eta = xc @ beta
        w = np.exp(eta - eta.max())
        wx = w[:, None] * xc
        S0 = np.cumsum(w[::-1])[::-1]
        S1 = np.cumsum(wx[::-1], axis=0)[::-1]
        ev = np.flatnonzero(e)
        first = np.searchsorted(t, t[ev], side="left")
        starts, d = np.unique(first, return_counts=True)  # one tie group per distinct event time
        Dw = np.concatenate([[0.0], np.cumsum(w * e)])
        Dwx = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(wx * e[:, None], axis=0)])
        ends = starts + d
        d0, d1 = Dw[ends] - Dw[starts], Dwx[ends] - Dwx[starts]
        mean = np.zeros((len(starts), x.shape[1]))
        for l in range(int(d.max())):  # Efron: the average of the d running means of a tie
            active = l < d
            frac = np.where(active, l / d, 0.0)
            m = (S1[starts] - frac[:, None] * d1) / (S0[starts] - frac * d0)[:, None]
            mean += np.where(active[:, None], m / d[:, None], 0.0)
        group = np.searchsorted(starts, first)
        rows_out.append(order[ev])
        res_out.append(xc[ev] - mean[group])
    if not rows_out:
        return np.zeros(0, dtype=np.int64), np.zeros((0, X.shape[1]))
    return np.concatenate(rows_out), np.concatenate(res_out)


def km_time_transform(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """1 - KM(t) at each row's own time (KM of all rows, right-continuous: events at t included)."""
    time = np.asarray(time, float)
    table = km_table(time, event)
    return 1.0 - table["survival"].to_numpy()[np.searchsorted(table["time_days"].to_numpy(), time)]


def ph_test_statistics(time: np.ndarray, event: np.ndarray, X: np.ndarray, beta: np.ndarray,
                       variance: np.ndarray, strata: np.ndarray | None = None) -> np.ndarray:
    """Per-term chi-square (1 df) of the scaled Schoenfeld test, KM time transform."""
    event = np.asarray(event).astype(bool)
    rows, resid = schoenfeld_residuals(time, event, X, beta, strata)
    d = float(event.sum())
    scaled = d * resid @ variance
    g = km_time_transform(time, event)[rows]
    g = g - g.mean()
    return (g @ scaled) ** 2 / (d * np.diag(variance) * np.sum(g ** 2))
