"""Log-rank test (stratified too), Kaplan–Meier survival at a horizon and RMST, for every trial.

Log-rank (Mantel–Haenszel form, as R `survdiff`, lifelines `logrank_test` and statsmodels
`survdiff`): at each distinct event time of a stratum, with n at risk, n1 of them on the active
arm, d deaths of which d1 on the active arm,
    O - E = Σ (d1 - d n1/n),   V = Σ d (n1/n)(1 - n1/n)(n - d)/(n - 1),
summed over times and strata; chi-square = (O - E)² / V, z = (O - E)/√V (negative: fewer deaths
than expected on the active arm).

Kaplan–Meier S(h) = Π_{t_j ≤ h} (1 - d_j/n_j), Greenwood variance S² Σ d_j / (n_j (n_j - d_j)).
RMST(h) = ∫_0^h S(u) du with variance Σ_{t_j ≤ h} A_j² d_j / (n_j (n_j - d_j)), A_j = ∫_{t_j}^h S
(Klein & Moeschberger 2003, §4.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..analysis.distributions import chi2_sf, norm_cdf, norm_sf
from ..data import TrialBatch
from ..errors import ParameterError
from ._layout import cumsum0, risk_sets, seg_sum, stratum_codes, survival_arrays
from ._result import BatchResult
from ._survival_layout import SurvivalLayout, sorted_rows

__all__ = ["LogrankBatchResult", "logrank_batch", "SurvivalAtHorizonResult", "survival_at_horizon"]

ENGINES = ("compiled", "numpy")


@dataclass(frozen=True, repr=False)
class LogrankBatchResult(BatchResult):
    """Per-trial log-rank statistics of the active arm against the control."""

    observed_minus_expected: np.ndarray
    variance: np.ndarray
    events: np.ndarray
    events_active: np.ndarray
    n: np.ndarray

    @property
    def chi_square(self) -> np.ndarray:
        return self.observed_minus_expected ** 2 / self.variance

    @property
    def z(self) -> np.ndarray:
        return self.observed_minus_expected / np.sqrt(self.variance)

    def p_value(self, side: Literal["two", "less", "greater"] = "two") -> np.ndarray:
        """'less': one-sided for fewer deaths than expected on the active arm (benefit)."""
        if side == "two":
            return chi2_sf(self.chi_square, 1)
        return norm_cdf(self.z) if side == "less" else norm_sf(self.z)

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({"trial": self.trial, "n": self.n, "events": self.events,
                             "events_active": self.events_active, "o_minus_e": self.observed_minus_expected,
                             "variance": self.variance, "chi_square": self.chi_square, "z": self.z,
                             "p_value": self.p_value()})


def logrank_batch(batch: TrialBatch, strata: tuple[str, ...] = (), subset: np.ndarray | None = None,
                  active_arm: str | None = None, engine: str = "compiled",
                  layout: SurvivalLayout | None = None) -> LogrankBatchResult:
    """Log-rank test of the active arm vs control in every trial (summed over strata if given).

    `engine`: "compiled" (`_logrank_kernel`, one walk over each trial's sorted rows; `layout`, from
    `survival_layout(batch)`, shares one sort between tests) or "numpy" (whole-batch array passes,
    the reference the compiled one must equal).

    Example:
        >>> res = logrank_batch(batch, strata=("onset_site",))  # doctest: +SKIP
        >>> (res.p_value("less") < 0.025).mean()  # doctest: +SKIP
    """
    if engine not in ENGINES:
        raise ParameterError("engine", engine, f"must be one of {ENGINES}")
    if engine == "compiled":
        from ._logrank_kernel import logrank_trials

        _, rows = sorted_rows(layout, batch, tuple(strata), active_arm, subset)
        T = batch.n_trials
        o_e, var, events, events_active = np.zeros(T), np.zeros(T), np.zeros(T), np.zeros(T)
        logrank_trials(rows.starts, rows.time, rows.event, rows.block, np.ascontiguousarray(rows.group),
                       o_e, var, events, events_active)
        return LogrankBatchResult(trial=batch.trial_index, observed_minus_expected=o_e, variance=var,
                                  events=events, events_active=events_active, n=np.diff(rows.starts))
    arrays, keep = survival_arrays(batch, active_arm, subset)
    block = stratum_codes(batch, tuple(strata))[keep]
    rs = risk_sets(arrays.trial, block, arrays.time, arrays.event, arrays.n_trials)
    g = rs.gather(arrays.group)
    at_risk = seg_sum(cumsum0(rs.valid.astype(float)), rs.block_start, rs.tie_end)
    at_risk_1 = seg_sum(cumsum0(g), rs.block_start, rs.tie_end)
    d1 = seg_sum(cumsum0(g * rs.event), rs.tie_start, rs.tie_end)
    d = rs.tie_events
    use = rs.first_of_tie & (d > 0)
    n, n1 = np.where(use, at_risk, 2.0), np.where(use, at_risk_1, 0.0)
    o_e = np.where(use, d1 - d * n1 / n, 0.0).sum(axis=1)
    var = np.where(use & (n > 1), d * (n1 / n) * (1 - n1 / n) * (n - d) / np.maximum(n - 1, 1), 0.0).sum(axis=1)
    return LogrankBatchResult(trial=batch.trial_index, observed_minus_expected=o_e, variance=var,
                              events=rs.event.sum(axis=1), events_active=(g * rs.event).sum(axis=1),
                              n=rs.valid.sum(axis=1))


@dataclass(frozen=True, repr=False)
class SurvivalAtHorizonResult(BatchResult):
    """Per trial and arm: KM survival at the horizon and RMST up to it, with standard errors."""

    horizon_days: float
    survival: np.ndarray  # (T, 2): control, active
    survival_se: np.ndarray
    rmst_days: np.ndarray
    rmst_se: np.ndarray

    @property
    def survival_difference(self) -> np.ndarray:
        return self.survival[:, 1] - self.survival[:, 0]

    @property
    def survival_difference_se(self) -> np.ndarray:
        return np.sqrt((self.survival_se ** 2).sum(axis=1))

    @property
    def rmst_difference_days(self) -> np.ndarray:
        return self.rmst_days[:, 1] - self.rmst_days[:, 0]

    @property
    def rmst_difference_se(self) -> np.ndarray:
        return np.sqrt((self.rmst_se ** 2).sum(axis=1))

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({"trial": self.trial, "survival_control": self.survival[:, 0],
                             "survival_active": self.survival[:, 1],
                             "survival_difference": self.survival_difference,
                             "survival_difference_se": self.survival_difference_se,
                             "rmst_control_days": self.rmst_days[:, 0], "rmst_active_days": self.rmst_days[:, 1],
                             "rmst_difference_days": self.rmst_difference_days,
                             "rmst_difference_se": self.rmst_difference_se})


def survival_at_horizon(batch: TrialBatch, horizon_days: float, subset: np.ndarray | None = None,
                        active_arm: str | None = None) -> SurvivalAtHorizonResult:
    """Kaplan–Meier survival at `horizon_days` and RMST to it, per arm, for every trial.

    Example:
        >>> res = survival_at_horizon(batch, horizon_days=640)  # doctest: +SKIP
        >>> res.rmst_difference_days.mean()  # doctest: +SKIP
    """
    if not horizon_days > 0:
        raise ParameterError("horizon_days", horizon_days, "must be > 0")
    arrays, _ = survival_arrays(batch, active_arm, subset)
    T = arrays.n_trials
    # One block per (trial, arm): trial code doubled so each arm gets its own padded row.
    rs = risk_sets(2 * arrays.trial + arrays.group.astype(np.int64), np.zeros(len(arrays.time), np.int64),
                   arrays.time, arrays.event, 2 * T)
    at_risk = seg_sum(cumsum0(rs.valid.astype(float)), rs.block_start, rs.tie_end)
    d = rs.tie_events
    within = rs.first_of_tie & (rs.time <= horizon_days)
    jump = within & (d > 0)
    n = np.where(jump, at_risk, 1.0)
    with np.errstate(divide="ignore"):
        log_step = np.where(jump, np.log1p(-np.where(jump, d, 0.0) / n), 0.0)
        greenwood = np.where(jump & (d < n), d / (n * (n - np.where(d < n, d, 0.0))), 0.0)
    # Rows run from late to early: a cumulative sum to a row covers all times at or after it.
    later = cumsum0(log_step)[:, 1:]
    total = later[:, -1:]
    surv_after = np.exp(total - later + log_step)  # S just after this row's time
    surv_h = np.exp(total[:, 0])
    # Interval from this distinct time to the next later one (or the horizon), for ∫ S.
    prev_time = np.full_like(rs.time, np.inf)
    pos = np.where(within, np.arange(rs.time.shape[1]), -1)
    last_seen = np.maximum.accumulate(np.concatenate([np.full((2 * T, 1), -1), pos[:, :-1]], axis=1), axis=1)
    has_prev = last_seen >= 0
    prev_time[has_prev] = np.take_along_axis(rs.time, np.maximum(last_seen, 0), axis=1)[has_prev]
    length = np.where(within, np.minimum(prev_time, horizon_days) - rs.time, 0.0)
    area = np.where(within, surv_after * length, 0.0)
    area_after = cumsum0(area)[:, 1:]  # A_j = ∫_{t_j}^h S
    earliest = np.where(within.any(axis=1), np.where(within, rs.time, np.inf).min(axis=1), horizon_days)
    rmst = earliest + area_after[:, -1]
    # Where everyone left at risk dies (d = n), S drops to 0 and that step adds no variance.
    rmst_var = np.where(jump, area_after ** 2 * greenwood, 0.0).sum(axis=1)
    surv_var = surv_h ** 2 * greenwood.sum(axis=1)
    shape = (T, 2)
    return SurvivalAtHorizonResult(trial=batch.trial_index, horizon_days=float(horizon_days),
                                   survival=surv_h.reshape(shape), survival_se=np.sqrt(surv_var).reshape(shape),
                                   rmst_days=rmst.reshape(shape), rmst_se=np.sqrt(rmst_var).reshape(shape))
