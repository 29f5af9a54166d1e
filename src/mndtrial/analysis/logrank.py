"""Log-rank test by arm, unstratified or stratified (Mantel 1966; Peto & Peto 1972).

One implementation serves both: observed and expected events and their covariance are summed
over the distinct event times of each stratum, and the statistic is
(O - E)' V^- (O - E) on k - 1 degrees of freedom (k arms). It is written here, not taken from a
library, because lifelines has no stratified test and statsmodels' `survdiff` returns only the
statistic; the tests check it against lifelines (`logrank_test`, `multivariate_logrank_test`),
statsmodels (`survdiff(..., strata=...)`), R `survdiff` on `lung` and a slow loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ..data import Trial
from ..errors import AnalysisError
from .frame import ArmContrast, joined_labels, jsonable, survival_frame
from .distributions import chi2_sf

__all__ = ["LogRankResult", "logrank", "logrank_test"]


@dataclass(frozen=True)
class LogRankResult:
    """Chi-square, df and p, with observed and expected events per group in `summary`."""

    chi2: float
    df: int
    p: float
    summary: pd.DataFrame
    strata: tuple[str, ...] = ()
    n_strata: int = 1

    def to_dict(self) -> dict[str, Any]:
        groups = {g: {"n": int(r.n), "observed": r.observed, "expected": r.expected, "o_over_e": r.o_over_e}
                  for g, r in self.summary.iterrows()}
        return jsonable({"chi2": self.chi2, "df": self.df, "p": self.p, "groups": groups,
                         "strata": list(self.strata), "n_strata": self.n_strata})

    def _repr_html_(self) -> str:
        kind = f"stratified by {', '.join(self.strata)}" if self.strata else "unstratified"
        return (f"<p><b>Log-rank test ({kind})</b>: chi2 = {self.chi2:.4f} on {self.df} df, p = {self.p:.4g}</p>"
                + self.summary.to_html())


def _components(time: np.ndarray, event: np.ndarray, group: np.ndarray, k: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """O, E (length k) and V (k x k) of one stratum."""
    event_times = np.unique(time[event])
    n_risk = np.empty((len(event_times), k))
    deaths = np.empty((len(event_times), k))
    for g in range(k):
        tg = np.sort(time[group == g])
        n_risk[:, g] = len(tg) - np.searchsorted(tg, event_times, side="left")
        te = np.sort(time[(group == g) & event])
        deaths[:, g] = np.searchsorted(te, event_times, side="right") - np.searchsorted(te, event_times, side="left")
    at_risk = n_risk.sum(axis=1)
    died = deaths.sum(axis=1)
    share = n_risk / at_risk[:, None]
    expected = (share * died[:, None]).sum(axis=0)
    # hypergeometric variance; a risk set of one contributes nothing (its weight is 0/0 -> 0)
    weight = np.where(at_risk > 1, died * (at_risk - died) / np.maximum(at_risk - 1, 1), 0.0)
    cov = np.diag((weight[:, None] * share).sum(axis=0)) - np.einsum("t,tj,tk->jk", weight, share, share)
    return deaths.sum(axis=0), expected, cov


def logrank(time: Sequence[float], event: Sequence[int], group: Sequence[Any],
            strata: Sequence[Any] | None = None, analysis: str = "log-rank") -> LogRankResult:
    """Log-rank test of equal hazards between the groups, optionally within strata.

    Example:
        >>> from lifelines.datasets import load_lung
        >>> lung = load_lung()
        >>> round(logrank(lung.time, lung.status, lung.sex).chi2, 4)
        10.3267
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(int) == 1
    group = pd.Series(np.asarray(group, dtype=object))
    if len(time) != len(event) or len(time) != len(group):
        raise AnalysisError(analysis, "time, event and group have different lengths")
    if group.isna().any() or np.isnan(time).any():
        raise AnalysisError(analysis, "missing time or group values")
    levels = list(pd.unique(group))
    if len(levels) < 2:
        raise AnalysisError(analysis, f"only one group ({levels[0] if levels else 'none'}); nothing to compare")
    if not event.any():
        raise AnalysisError(analysis, "no events: the log-rank test compares event times")
    codes = group.map({g: i for i, g in enumerate(levels)}).to_numpy(int)
    k = len(levels)
    if strata is None:
        blocks = [np.arange(len(time))]
    else:
        s = pd.Series(np.asarray(strata, dtype=object))
        if s.isna().any():
            raise AnalysisError(analysis, f"{int(s.isna().sum())} participant(s) have no stratum")
        blocks = [idx for idx in s.groupby(s, sort=True).indices.values()]
    observed, expected, cov = np.zeros(k), np.zeros(k), np.zeros((k, k))
    for idx in blocks:
        o, e, v = _components(time[idx], event[idx], codes[idx], k)
        observed += o
        expected += e
        cov += v
    diff = (observed - expected)[:-1]
    v = cov[:-1, :-1]
    if np.linalg.matrix_rank(v) < k - 1:
        raise AnalysisError(analysis, "the variance of observed minus expected is singular "
                                      "(no group is at risk together with another at any event time)")
    chi2 = float(diff @ np.linalg.solve(v, diff))
    summary = pd.DataFrame({"n": np.bincount(codes, minlength=k), "observed": observed, "expected": expected,
                            "o_over_e": observed / expected}, index=pd.Index(levels, name="group"))
    return LogRankResult(chi2=chi2, df=k - 1, p=float(chi2_sf(chi2, k - 1)), summary=summary,
                         n_strata=len(blocks))


def logrank_test(trial: Trial, strata: Iterable[str] = (), contrast: ArmContrast | None = None,
                 event_types: Sequence[str] | None = None) -> LogRankResult:
    """Log-rank test of the trial's active arm against control, optionally stratified.

    A participant with a missing stratum variable cannot be placed in a stratum; rather than
    leave them out silently the test raises an `AnalysisError` naming the column and the count.

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> res = logrank_test(example_trial(), strata=["country"])
        >>> res.df, res.strata
        (1, ('country',))
    """
    strata = tuple(strata)
    analysis = "stratified log-rank" if strata else "log-rank"
    frame = survival_frame(trial, (), strata, contrast=contrast, event_types=event_types, analysis=analysis)
    if frame.excluded:
        raise AnalysisError(analysis, "stratum missing for "
                            + ", ".join(f"{n} participant(s) in '{c}'" for c, n in frame.excluded.items()))
    d = frame.data
    arms = np.where(d["treatment"] == 1, frame.contrast.active, frame.contrast.control)
    keys = None
    if strata:
        keys = joined_labels(d, list(frame.strata), " / ")
    res = logrank(d["time_days"], d["event"], arms, keys, analysis=analysis)
    order = [frame.contrast.control, frame.contrast.active]
    return LogRankResult(chi2=res.chi2, df=res.df, p=res.p, summary=res.summary.reindex(order), strata=strata,
                         n_strata=res.n_strata)
