"""Kaplan–Meier curves by arm, with numbers at risk at chosen days.

The curves are computed here (`km_curve`, a few array passes) the way lifelines'
`KaplanMeierFitter` computes them -- a row at day 0, exponential Greenwood (log(-log))
intervals as R `survfit(..., conf.type = "log-log")`, medians as the first time a curve is at
or below 0.5 -- and the tests hold them to lifelines curve by curve. The number at risk at
day t counts participants whose time is >= t (R `summary(survfit, times = t)$n.risk`). Each arm also gets its median follow-up
by the reverse Kaplan–Meier (`median_follow_up_days`) beside the plain median of its observed
times (`median_observed_time_days`), see `mndtrial.data.follow_up`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ..data import Trial
from ..data.follow_up import median_observed_time_days, reverse_km_median_days
from ..errors import AnalysisError, ParameterError
from .frame import endpoint_events, jsonable
from .distributions import norm_ppf

__all__ = ["KaplanMeierResult", "kaplan_meier", "km_by_group", "km_curve"]


@dataclass(frozen=True)
class KaplanMeierResult:
    """KM estimates per arm: `summary` (one row per arm and chosen day) and full `curves`."""

    summary: pd.DataFrame
    medians: pd.DataFrame
    curves: dict[str, pd.DataFrame] = field(repr=False)
    alpha: float = 0.05

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ci_level": 1 - self.alpha, "ci_method": "log(-log) Greenwood (as lifelines)",
                               "arms": {}}
        for arm, med in self.medians.iterrows():
            rows = self.summary.loc[self.summary["arm"] == arm]
            curve = self.curves[arm]
            out["arms"][arm] = {
                "n": int(med["n"]), "events": int(med["events"]),
                "median_days": med["median_days"], "median_ci": [med["median_lower"], med["median_upper"]],
                "median_follow_up_days": med["median_follow_up_days"],
                "median_observed_time_days": med["median_observed_time_days"],
                "at_days": [{"day": r.day, "at_risk": r.at_risk, "events_before": r.events_before,
                             "survival": r.survival, "ci": [r.ci_lower, r.ci_upper]} for r in rows.itertuples()],
                "curve": {"time_days": curve.index.tolist(), "survival": curve["survival"].tolist(),
                          "ci_lower": curve["ci_lower"].tolist(), "ci_upper": curve["ci_upper"].tolist(),
                          "at_risk": curve["at_risk"].tolist()},
            }
        return jsonable(out)

    def _repr_html_(self) -> str:
        return "<p><b>Kaplan–Meier by arm</b></p>" + self.medians.to_html() + self.summary.to_html(index=False)


def km_curve(time: np.ndarray, event: np.ndarray, alpha: float = 0.05) -> pd.DataFrame:
    """One Kaplan–Meier curve: survival, log(-log) Greenwood bounds and numbers at risk per time.

    Indexed by `time_days`: day 0, then every distinct observed time (events and censorings).

    Example:
        >>> km_curve(np.array([2.0, 4.0, 4.0, 6.0]), np.array([1, 1, 0, 0]))["survival"].tolist()
        [1.0, 0.75, 0.5, 0.5]
    """
    time = np.asarray(time, float)
    event = np.asarray(event).astype(float)
    times, inverse = np.unique(time, return_inverse=True)
    deaths = np.bincount(inverse, weights=event, minlength=len(times))
    leaving = np.bincount(inverse, minlength=len(times))
    if times[0] > 0:  # the curve starts at day 0 with everyone at risk
        times, deaths, leaving = (np.concatenate([[0.0], times]), np.concatenate([[0.0], deaths]),
                                  np.concatenate([[0], leaving]))
    at_risk = len(time) - np.concatenate([[0], np.cumsum(leaving)[:-1]])
    survival = np.cumprod(1.0 - deaths / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Greenwood's sum; a step to S = 0 (n = d) adds nothing, as in lifelines
        greenwood = np.cumsum(np.where(at_risk > deaths, deaths / (at_risk * (at_risk - deaths)), 0.0))
        z = norm_ppf(1 - alpha / 2)
        log_s = np.log(survival)
        spread = z * np.sqrt(greenwood) / log_s
        lower = np.exp(-np.exp(np.log(-log_s) - spread))
        upper = np.exp(-np.exp(np.log(-log_s) + spread))
    # where S = 1 the interval is the point (lifelines fills the undefined 0/0 with 1)
    lower, upper = np.where(np.isnan(lower), 1.0, lower), np.where(np.isnan(upper), 1.0, upper)
    return pd.DataFrame({"survival": survival, "ci_lower": lower, "ci_upper": upper, "at_risk": at_risk},
                        index=pd.Index(times, name="time_days"))


def _first_at_or_below_half(curve: pd.Series) -> float:
    """The first time a curve is at or below 0.5 (lifelines' and R's median); inf if it never is."""
    below = np.flatnonzero(curve.to_numpy() <= 0.5)
    return float(curve.index[below[0]]) if below.size else float("inf")


def km_by_group(time: np.ndarray, event: np.ndarray, group: np.ndarray, order: Sequence[str],
                at_days: Sequence[float] = (), alpha: float = 0.05) -> KaplanMeierResult:
    """Kaplan–Meier estimate for each group in `order`, read off at `at_days`."""
    rows, medians, curves = [], [], {}
    for g in order:
        mask = group == g
        if not mask.any():
            raise AnalysisError("Kaplan-Meier", f"group {g!r} has no participants")
        t, e = time[mask], event[mask]
        curve = km_curve(t, e, alpha)
        curves[str(g)] = curve
        medians.append({"arm": str(g), "n": int(mask.sum()), "events": int(e.sum()),
                        "median_days": _first_at_or_below_half(curve["survival"]),
                        "median_lower": _first_at_or_below_half(curve["ci_lower"]),
                        "median_upper": _first_at_or_below_half(curve["ci_upper"]),
                        "median_follow_up_days": reverse_km_median_days(t, e),
                        "median_observed_time_days": median_observed_time_days(t)})
        for day in at_days:
            # the step function is right-continuous: the estimate at `day` includes events on that day
            at = curve.loc[curve.index <= day].iloc[-1]
            rows.append({"arm": str(g), "day": float(day), "at_risk": int((t >= day).sum()),
                         "events_before": int(e[t <= day].sum()),
                         "survival": float(at["survival"]) if day <= t.max() else float("nan"),
                         "ci_lower": float(at["ci_lower"]) if day <= t.max() else float("nan"),
                         "ci_upper": float(at["ci_upper"]) if day <= t.max() else float("nan")})
    summary = pd.DataFrame(rows, columns=["arm", "day", "at_risk", "events_before", "survival", "ci_lower", "ci_upper"])
    return KaplanMeierResult(summary=summary, medians=pd.DataFrame(medians).set_index("arm"), curves=curves,
                             alpha=alpha)


def kaplan_meier(trial: Trial, at_days: Iterable[float] = (), alpha: float = 0.05,
                 event_types: Sequence[str] | None = None) -> KaplanMeierResult:
    """Kaplan–Meier by arm for every arm of the trial, with survival and numbers at risk at `at_days`.

    Beyond an arm's last follow-up the survival is not estimable and is reported as missing
    (None in JSON), never extrapolated.

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> km = kaplan_meier(example_trial(), at_days=[0, 320, 640])
        >>> km.summary.loc[km.summary.day == 0, "at_risk"].tolist()
        [30, 30]
    """
    at_days = [float(d) for d in at_days]
    if any(d < 0 for d in at_days):
        raise ParameterError("at_risk_days", at_days, "days must be >= 0")
    df = endpoint_events(trial, event_types)
    order = [a for a in trial.info.arm_names if a in set(df["arm"])]
    return km_by_group(df["time_days"].to_numpy(float), df["event"].to_numpy(int), df["arm"].to_numpy(object),
                       order, at_days, alpha)
