"""Attrition (`[dropout]`): the share who have died or left follow-up by 6 and 12 months.

Kaplan-Meier of the time to leaving follow-up for any reason, censored only by the end of the
trial's follow-up. Leaving without dying is read from `participants.withdrawal_day` when the
trial records it (simulated trials do); otherwise a survival time censored before the horizon is
read as a withdrawal (as in PRO-ACT, where follow-up of survival stops when a participant leaves).
"""

from __future__ import annotations

import numpy as np

from ..design import ATTRITION_DAYS
from .estimate import Estimate
from .inputs import CohortData

__all__ = ["km_at", "attrition_estimates", "leaving_times"]

HORIZON_TOLERANCE_DAYS = 1.0


def km_at(time: np.ndarray, event: np.ndarray, at: float) -> tuple[float, float]:
    """Kaplan-Meier survival at `at` and its Greenwood SE.

    Example:
        >>> import numpy as np
        >>> km_at(np.array([1.0, 2, 3, 4]), np.array([1, 0, 1, 0]), 3.0)[0]
        0.375
    """
    order = np.argsort(time, kind="stable")
    t, e = time[order], event[order]
    times = np.unique(t[(e == 1) & (t <= at)])
    at_risk = len(t) - np.searchsorted(t, times, "left")
    deaths = np.bincount(np.searchsorted(times, t[(e == 1) & (t <= at)]), minlength=len(times))
    s = float(np.prod(1 - deaths / at_risk))
    with np.errstate(divide="ignore", invalid="ignore"):
        gw = np.sum(np.where(at_risk > deaths, deaths / (at_risk * (at_risk - deaths)), 0.0))
    return s, s * float(np.sqrt(gw))


def leaving_times(data: CohortData) -> tuple[np.ndarray, np.ndarray, str]:
    """(time, left) per participant and how leaving was read (`withdrawal_day` or censoring)."""
    if data.withdrawal_day is not None:
        w = np.where(np.isfinite(data.withdrawal_day), data.withdrawal_day, np.inf)
        died = data.event == 1
        time = np.minimum(w, np.where(died, data.time_days, np.inf))
        left = np.isfinite(time)
        time = np.where(left, time, data.time_days)
        return time, left.astype(int), "participants.withdrawal_day"
    left = (data.event == 1) | (data.time_days < data.horizon_days - HORIZON_TOLERANCE_DAYS)
    return data.time_days, left.astype(int), "survival censored before the horizon"


def attrition_estimates(data: CohortData) -> tuple[list[Estimate], str | None]:
    """Attrition at 6 and 12 months, or [] and the reason when follow-up is too short."""
    if data.horizon_days < ATTRITION_DAYS[1]:
        return [], f"follow-up ends at day {data.horizon_days:g}, before 12 months"
    time, left, route = leaving_times(data)
    ok = np.isfinite(time)
    out = []
    for days, name in zip(ATTRITION_DAYS, ("attrition_6_months", "attrition_12_months")):
        s, se = km_at(time[ok], left[ok], days)
        out.append(Estimate(f"dropout.{name}", 1 - s, se,
                            f"1 - Kaplan-Meier of leaving follow-up (death or withdrawal, from {route}) at day {days:g}",
                            int(ok.sum())))
    return out, None
