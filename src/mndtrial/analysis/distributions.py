"""Normal, chi-square and t tails and quantiles, midranks and the Mann–Whitney test, without scipy.stats.

Importing `scipy.stats` costs 0.5–1 s (it loads most of scipy), more than a whole trial's
analysis; every analysis here needs only a few distribution functions. These are the special
functions `scipy.stats` itself calls for them (scipy 1.11–1.17: `norm._sf` is `ndtr(-x)`,
`norm._ppf` `ndtri`, `chi2._sf` `chdtrc`, `t._sf` `stdtr(df, -x)`, `t._ppf` `stdtrit`), so the
values are the same to the last bit; `tests/test_distributions.py` holds them to `scipy.stats`.

Example:
    >>> round(float(chi2_sf(3.841458820694124, 1)), 6), round(float(norm_ppf(0.975)), 6)
    (0.05, 1.959964)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import special

__all__ = ["norm_cdf", "norm_sf", "norm_ppf", "norm_isf", "chi2_sf", "t_sf", "t_ppf", "rankdata", "mann_whitney", "MannWhitney"]


def norm_cdf(x):
    """P(Z <= x) for a standard normal Z (`scipy.stats.norm.cdf`)."""
    return special.ndtr(np.asarray(x, dtype=float))


def norm_sf(x):
    """P(Z > x) for a standard normal Z (`scipy.stats.norm.sf`)."""
    return special.ndtr(-np.asarray(x, dtype=float))


def norm_ppf(q):
    """The standard normal quantile (`scipy.stats.norm.ppf`)."""
    return special.ndtri(np.asarray(q, dtype=float))


def norm_isf(q):
    """The standard normal upper quantile (`scipy.stats.norm.isf`: `-ndtri(q)`)."""
    return -special.ndtri(np.asarray(q, dtype=float))


def chi2_sf(x, df):
    """P(X > x) for X chi-square on `df` degrees of freedom (`scipy.stats.chi2.sf`).

    A statistic below 0 (the rounding of a difference of log-likelihoods) has tail 1, as in scipy.
    """
    x = np.asarray(x, dtype=float)
    return np.where(x < 0, 1.0, special.chdtrc(np.asarray(df, dtype=float), np.maximum(x, 0.0)))[()]


def t_sf(x, df):
    """P(T > x) for Student's t on `df` degrees of freedom (`scipy.stats.t.sf`)."""
    return special.stdtr(np.asarray(df, dtype=float), -np.asarray(x, dtype=float))


def t_ppf(q, df):
    """Student's t quantile (`scipy.stats.t.ppf`)."""
    return special.stdtrit(np.asarray(df, dtype=float), np.asarray(q, dtype=float))


def rankdata(values) -> np.ndarray:
    """Ranks 1..n with ties given their mean rank (`scipy.stats.rankdata`, method "average").

    Example:
        >>> rankdata([10, 30, 20, 20]).tolist()
        [1.0, 4.0, 2.5, 2.5]
    """
    values = np.asarray(values)
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    first = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, len(values)))
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(starts + 1 + (counts - 1) / 2, counts)
    return ranks


class MannWhitney(NamedTuple):
    statistic: float  # U of the first sample
    pvalue: float


def mann_whitney(x, y) -> MannWhitney:
    """Two-sided Mann–Whitney U test, normal approximation with tie and continuity corrections.

    `scipy.stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic",
    use_continuity=True)`: U1 = R1 − n1(n1+1)/2, z = (max(U1, U2) − n1n2/2 − ½) / σ with
    σ² = n1n2/12 · ((n+1) − Σ(t³−t)/(n(n−1))), p = min(1, 2·P(Z > z)).

    Example:
        >>> r = mann_whitney([1, 2, 3, 4], [3, 5, 6, 7, 8])
        >>> r.statistic, round(r.pvalue, 4)
        (1.5, 0.0491)
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n1, n2 = len(x), len(y)
    n = n1 + n2
    both = np.concatenate([x, y])
    ranks = rankdata(both)
    u1 = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2)
    u = max(u1, n1 * n2 - u1)
    ties = np.unique(both, return_counts=True)[1].astype(float)
    sigma = np.sqrt(n1 * n2 / 12 * ((n + 1) - float((ties ** 3 - ties).sum()) / (n * (n - 1))))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (u - n1 * n2 / 2 - 0.5) / sigma
    return MannWhitney(u1, float(np.clip(2 * norm_sf(z), 0.0, 1.0)))
