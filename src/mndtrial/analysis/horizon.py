"""Survival at a horizon and restricted mean survival time (RMST), per arm and between arms.

*Survival at day t*: Kaplan–Meier S(t) with Greenwood's variance; the per-arm interval is the
log(-log) one (as lifelines and R `conf.type = "log-log"`); the difference S1 - S0 has a Wald
interval on the natural scale and the ratio S1 / S0 one on the log scale, with
var(log S) = Greenwood's sum  sum d / (n (n - d)) (Klein & Moeschberger 2003, sec. 4.2, 7.8).

*RMST to tau*: the area under the KM curve up to tau, with the Greenwood-type variance
sum_{t_i <= tau} A_i^2 d_i / (n_i (n_i - d_i)), A_i the area from t_i to tau -- the estimator of
R `survRM2::rmst2` (Uno et al. 2014, JCO 32:2380; Royston & Parmar 2013, BMC Med Res Meth
13:152). Difference and ratio follow `rmst2`: Wald on the difference, on the log of the ratio.
lifelines' `difference_of_restricted_mean_survival_time_test` is an empty stub; this is the
working replacement, checked in the tests against numerical integration and simulation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..data import Trial
from ..errors import AnalysisError, ParameterError
from .frame import ArmContrast, jsonable, survival_frame
from .distributions import norm_ppf, norm_sf

__all__ = ["km_table", "median_survival", "rmst", "ArmComparison", "compare_at_horizon", "survival_at_horizon", "rmst_test",
           "difference_of_rmst_test"]


def _km(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, ...]:
    """`km_table`'s columns as arrays: times, at risk, events, S, Greenwood's cumulative sum."""
    time = np.asarray(time, float)
    event = np.asarray(event).astype(int)
    times, inverse = np.unique(time, return_inverse=True)
    deaths = np.bincount(inverse, weights=event, minlength=len(times))
    leaving = np.bincount(inverse, minlength=len(times))
    n_risk = len(time) - np.concatenate([[0], np.cumsum(leaving)[:-1]])
    survival = np.cumprod(1 - deaths / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        # a step to S = 0 (n = d) has no Greenwood term: beyond it S is exactly 0
        terms = np.where(n_risk > deaths, deaths / (n_risk * (n_risk - deaths)), 0.0)
    return times, n_risk, deaths, survival, np.cumsum(terms)


def km_table(time: np.ndarray, event: np.ndarray) -> pd.DataFrame:
    """Kaplan–Meier at every distinct time: n at risk, events, S and Greenwood's cumulative sum."""
    times, n_risk, deaths, survival, greenwood = _km(time, event)
    return pd.DataFrame({"time_days": times, "at_risk": n_risk, "events": deaths, "survival": survival,
                         "greenwood": greenwood})


def median_survival(time: np.ndarray, event: np.ndarray) -> float:
    """KM median: the first time S(t) <= 0.5 (as lifelines and R); inf if the curve stays above 0.5."""
    times, _, _, survival, _ = _km(time, event)
    below = times[survival <= 0.5]
    return float(below[0]) if len(below) else float("inf")


def _check_horizon(time: np.ndarray, tau: float, what: str, analysis: str) -> None:
    if not np.isfinite(tau) or tau <= 0:
        raise ParameterError("horizon_days", tau, "must be a positive number of days")
    if time.size == 0:
        raise AnalysisError(analysis, f"{what}: no participants")
    if tau > time.max():
        raise AnalysisError(analysis, f"{what}: follow-up ends at day {time.max():g}, before the horizon "
                                      f"(day {tau:g}); the Kaplan–Meier curve is not defined there")


def survival_at(time: np.ndarray, event: np.ndarray, tau: float, what: str = "arm",
                analysis: str = "survival at horizon") -> tuple[float, float]:
    """S(tau) and Greenwood's sum at tau (= var(log S(tau)))."""
    time = np.asarray(time, float)
    _check_horizon(time, tau, what, analysis)
    times, _, _, survival, greenwood = _km(time, event)
    last = np.searchsorted(times, tau, side="right") - 1  # the last time <= tau
    if last < 0:
        return 1.0, 0.0
    return float(survival[last]), float(greenwood[last])


def rmst(time: np.ndarray, event: np.ndarray, tau: float, what: str = "arm",
         analysis: str = "RMST") -> tuple[float, float]:
    """RMST to `tau` and its variance (survRM2's Greenwood-type estimator).

    Example:
        >>> rmst(np.array([2.0, 4.0, 6.0]), np.array([1, 1, 1]), 6.0)[0]
        4.0
    """
    time = np.asarray(time, float)
    _check_horizon(time, tau, what, analysis)
    times, n_risk, deaths, survival, _ = _km(time, event)
    upto = times <= tau
    knots = np.concatenate([[0.0], times[upto], [tau]])
    level = np.concatenate([[1.0], survival[upto]])
    areas = np.diff(knots) * level  # area of each step, the last one ending at tau
    area_after = np.cumsum(areas[::-1])[::-1][1:]  # A_i: area from the i-th time to tau
    n, d = n_risk[upto].astype(float), deaths[upto].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n > d, d / (n * (n - d)), 0.0)
    return float(areas.sum()), float(np.sum(area_after ** 2 * w))


@dataclass(frozen=True)
class ArmComparison:
    """A per-arm quantity (survival at horizon or RMST) with difference and ratio between arms."""

    measure: str
    horizon_days: float
    arms: ArmContrast
    per_arm: pd.DataFrame
    difference: dict[str, float]
    ratio: dict[str, float]
    alpha: float = 0.05
    note: str | None = None

    @property
    def summary(self) -> pd.DataFrame:
        return self.per_arm

    def to_dict(self) -> dict[str, Any]:
        per_arm = {a: {"n": int(r.n), "events": int(r.events), "estimate": r.estimate, "se": r.se,
                       "ci": [r.ci_lower, r.ci_upper]} for a, r in self.per_arm.iterrows()}
        return jsonable({"measure": self.measure, "horizon_days": self.horizon_days, "ci_level": 1 - self.alpha,
                         "arms": self.arms.to_dict(), "per_arm": per_arm,
                         "difference": self.difference, "ratio": self.ratio, "note": self.note})

    def _repr_html_(self) -> str:
        d, r = self.difference, self.ratio
        return (f"<p><b>{self.measure} at day {self.horizon_days:g}</b>: difference {d['estimate']:.4g} "
                f"({d['ci'][0]:.4g}, {d['ci'][1]:.4g}), ratio {r['estimate']:.4g} ({r['ci'][0]:.4g}, {r['ci'][1]:.4g})</p>"
                + self.per_arm.to_html())


def _wald(estimate: float, se: float, z: float, null: float = 0.0) -> dict[str, Any]:
    if se > 0:
        p = float(2 * norm_sf(abs(estimate - null) / se))
    else:
        p = float("nan")
    return {"estimate": estimate, "se": se, "ci": [estimate - z * se, estimate + z * se], "p": p}


def _log_ratio(num: float, den: float, se_log: float, z: float) -> dict[str, Any]:
    if num <= 0 or den <= 0:
        return {"estimate": num / den if den > 0 else float("nan"), "se_log": float("nan"),
                "ci": [float("nan"), float("nan")], "p": float("nan")}
    log_r = np.log(num / den)
    w = _wald(float(log_r), se_log, z)
    return {"estimate": float(num / den), "se_log": se_log, "ci": [float(np.exp(c)) for c in w["ci"]], "p": w["p"]}


def _arm_data(trial: Trial, contrast: ArmContrast | None, event_types, analysis: str):
    frame = survival_frame(trial, contrast=contrast, event_types=event_types, analysis=analysis)
    d = frame.data
    out = {}
    for arm, flag in ((frame.contrast.control, 0.0), (frame.contrast.active, 1.0)):
        sel = d.loc[d["treatment"] == flag]
        out[arm] = (sel["time_days"].to_numpy(float), sel["event"].to_numpy(int))
    return frame.contrast, out


def compare_at_horizon(data: dict[str, tuple[np.ndarray, np.ndarray]], arms: ArmContrast, horizon_days: float,
                       measure: str = "survival", alpha: float = 0.05) -> ArmComparison:
    """Per-arm survival (`measure="survival"`) or RMST (`"rmst"`) at the horizon and their contrasts."""
    rows, difference, ratio, note = compared_at_horizon(data, arms, horizon_days, measure, alpha)
    per_arm = pd.DataFrame([list(r.values()) for r in rows.values()], columns=list(rows[arms.control]),
                           index=pd.Index(list(rows), name="arm"))
    return ArmComparison(measure=measure, horizon_days=float(horizon_days), arms=arms, per_arm=per_arm,
                         difference=difference, ratio=ratio, alpha=alpha, note=note)


def compared_at_horizon(data: dict[str, tuple[np.ndarray, np.ndarray]], arms: ArmContrast, horizon_days: float,
                        measure: str = "survival", alpha: float = 0.05
                        ) -> tuple[dict[str, dict[str, Any]], dict[str, Any], dict[str, Any], str | None]:
    """`compare_at_horizon`'s numbers without its table: per-arm rows (n, events, estimate, se,
    ci_lower, ci_upper), difference, ratio and note (for the many subgroup rows that read them)."""
    if measure not in ("survival", "rmst"):
        raise ParameterError("measure", measure, "must be 'survival' or 'rmst'")
    if not 0 < alpha < 1:
        raise ParameterError("alpha", alpha, "must be in (0, 1)")
    z = float(norm_ppf(1 - alpha / 2))
    analysis = "survival at horizon" if measure == "survival" else "RMST"
    rows, log_var = {}, {}
    for arm in (arms.control, arms.active):
        t, e = data[arm]
        if measure == "survival":
            s, gw = survival_at(t, e, horizon_days, f"arm {arm!r}", analysis)
            se = s * np.sqrt(gw)
            lo, hi = _loglog_ci(s, gw, z)
            log_var[arm] = gw
        else:
            s, var = rmst(t, e, horizon_days, f"arm {arm!r}", analysis)
            se = float(np.sqrt(var))
            lo, hi = s - z * se, s + z * se
            log_var[arm] = var / s ** 2
        rows[arm] = {"n": len(t), "events": int(e.sum()), "estimate": s, "se": se, "ci_lower": lo, "ci_upper": hi}
    a, c = rows[arms.active], rows[arms.control]
    difference = _wald(float(a["estimate"] - c["estimate"]), float(np.hypot(a["se"], c["se"])), z)
    ratio = _log_ratio(float(a["estimate"]), float(c["estimate"]),
                       float(np.sqrt(log_var[arms.active] + log_var[arms.control])), z)
    note = None
    if any(r["se"] == 0 for r in rows.values()):
        note = "an arm has no events before the horizon: its variance is 0 and the Wald p is not defined"
    return rows, difference, ratio, note


def _loglog_ci(s: float, gw: float, z: float) -> tuple[float, float]:
    if s <= 0 or s >= 1 or gw <= 0:
        return s, s  # no information in the log(-log) scale at 0 or 1: the interval collapses
    half = z * np.sqrt(gw) / abs(np.log(s))
    centre = np.log(-np.log(s))
    return float(np.exp(-np.exp(centre + half))), float(np.exp(-np.exp(centre - half)))


def survival_at_horizon(trial: Trial, horizon_days: float, alpha: float = 0.05,
                        contrast: ArmContrast | None = None,
                        event_types: Sequence[str] | None = None) -> ArmComparison:
    """KM survival at `horizon_days` per arm, difference and ratio (active vs control) with CIs.

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> res = survival_at_horizon(example_trial(), 540)
        >>> sorted(res.per_arm.index)
        ['il2_2miu', 'placebo']
    """
    arms, data = _arm_data(trial, contrast, event_types, "survival at horizon")
    return compare_at_horizon(data, arms, horizon_days, "survival", alpha)


def rmst_test(trial: Trial, horizon_days: float, alpha: float = 0.05, contrast: ArmContrast | None = None,
              event_types: Sequence[str] | None = None) -> ArmComparison:
    """RMST to `horizon_days` per arm, difference (days) and ratio with CIs and Wald p-values.

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> res = rmst_test(example_trial(), 540)
        >>> res.difference["ci"][0] < res.difference["estimate"] < res.difference["ci"][1]
        True
    """
    arms, data = _arm_data(trial, contrast, event_types, "RMST")
    return compare_at_horizon(data, arms, horizon_days, "rmst", alpha)


def difference_of_rmst_test(time_a: Sequence[float], event_a: Sequence[int], time_b: Sequence[float],
                            event_b: Sequence[int], horizon: float, alpha: float = 0.05) -> ArmComparison:
    """RMST(a) - RMST(b) to `horizon` for two plain samples (what lifelines' stub promises).

    Example:
        >>> res = difference_of_rmst_test([1, 2, 3], [1, 1, 0], [2, 4, 6], [1, 0, 1], horizon=3)
        >>> round(res.difference["estimate"], 4)
        -0.6667
    """
    data = {"a": (np.asarray(time_a, float), np.asarray(event_a, int)),
            "b": (np.asarray(time_b, float), np.asarray(event_b, int))}
    return compare_at_horizon(data, ArmContrast(control="b", active="a"), horizon, "rmst", alpha)
