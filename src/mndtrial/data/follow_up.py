"""How long participants were followed: the reverse Kaplan–Meier median follow-up.

The median of the observed times (`median_observed_time_days`) mixes how long people were
followed with how soon they died: a trial with many early deaths looks briefly followed. The
reverse Kaplan–Meier estimate (Schemper & Smith, Control Clin Trials 1996;17:343–346) swaps the
roles — censoring is the "event", a death censors the follow-up it cut short — and its median is
the median potential follow-up, `median_follow_up_days`, as R's
`survfit(Surv(time, 1 - event) ~ 1)` reports it. It lives with the data model because the trial
summary (`mndtrial validate`) and the reports both show it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["reverse_km_median_days", "median_observed_time_days"]


def km_median(time: np.ndarray, event: np.ndarray) -> float:
    """Median of the Kaplan–Meier estimate of `time` with events `event`: the first time S(t) <= 0.5.

    The same convention as lifelines' `median_survival_time_`; NaN when S stays above 0.5.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    if time.size == 0:
        return float("nan")
    times, inverse = np.unique(time, return_inverse=True)
    events = np.bincount(inverse, weights=event, minlength=times.size)
    leaving = np.bincount(inverse, minlength=times.size)
    at_risk = time.size - np.concatenate([[0], np.cumsum(leaving)[:-1]])
    survival = np.cumprod(1.0 - events / at_risk)
    reached = np.flatnonzero(survival <= 0.5)
    return float(times[reached[0]]) if reached.size else float("nan")


def reverse_km_median_days(time_days: np.ndarray, event: np.ndarray) -> float:
    """Median follow-up by the reverse Kaplan–Meier: censorings are the events, deaths censor.

    NaN when fewer than half the participants' follow-up could have ended censored (e.g. everyone
    died): the potential follow-up is then not estimable from these data.

    Example:
        >>> reverse_km_median_days([100, 200, 300, 400], [1, 0, 0, 0])
        300.0
    """
    return km_median(time_days, ~np.asarray(event, dtype=bool))


def median_observed_time_days(time_days: np.ndarray) -> float:
    """The plain median of the observed times (deaths and censorings alike); NaN when empty."""
    time_days = np.asarray(time_days, dtype=float)
    return float(np.median(time_days)) if time_days.size else float("nan")
