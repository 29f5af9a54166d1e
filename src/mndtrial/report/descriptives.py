"""Descriptive aggregates the report shows beside the model results.

These are counts and means, not models: the CONSORT-style flow of participants, and mean
ALSFRS-R or biomarker values by arm and visit with a t-based 95% confidence interval. Every
function returns aggregates only; no subject id leaves this module.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from ..data import Trial, TrialInfo
from ..data.follow_up import median_observed_time_days, reverse_km_median_days
from ..data.schema import DAYS_PER_MONTH
from ..errors import AnalysisError, ParameterError
from ..analysis.distributions import t_ppf

__all__ = ["consort_flow", "visit_means", "arm_order", "arm_order_of", "visit_bins"]

# Up to this many distinct visit days are shown as they are; beyond it, days are binned to the
# nearest month (real trials' visit windows scatter days around the scheduled month).
MAX_EXACT_VISIT_DAYS = 12


def arm_order_of(info: TrialInfo) -> list[str]:
    """Arms in display order: the control first, then the others by dose (then as declared)."""
    arms = list(info.arms)
    return [a.name for a in sorted(arms, key=lambda a: (not a.control, a.dose_miu if a.dose_miu is not None
                                                          else math.inf, arms.index(a)))]


def arm_order(trial: Trial) -> list[str]:
    """`arm_order_of(trial.info)`."""
    return arm_order_of(trial.info)


def consort_flow(trial: Trial, horizon_days: float | None = None) -> pd.DataFrame:
    """Participant flow per arm (CONSORT style): randomised, deaths/events, lost to follow-up.

    `median_follow_up_days` is the reverse Kaplan–Meier median (censoring as the event,
    `mndtrial.data.follow_up`); `median_observed_time_days` is the plain median of the times.

    A participant censored before the follow-up horizon is lost to follow-up (or withdrew); one
    censored at or after it completed follow-up. `horizon_days` defaults to the trial's
    `info.horizon_days`; without either, the two cannot be told apart and only the censored count
    is given (the other two columns are missing, not guessed).

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> int(consort_flow(example_trial()).loc["total", "randomised"])
        60
    """
    horizon = trial.info.horizon_days if horizon_days is None else float(horizon_days)
    if horizon is not None and horizon <= 0:
        raise ParameterError("horizon_days", horizon, "must be > 0")
    df = trial.survival_by_subject()
    rows = {}
    for arm in arm_order(trial) + ["total"]:
        g = df if arm == "total" else df.loc[df["arm"] == arm]
        event = g["event"].to_numpy(int) == 1
        censored = ~event
        row = {"randomised": len(g), "events": int(event.sum()), "censored": int(censored.sum())}
        if horizon is not None:
            before = censored & (g["time_days"].to_numpy(float) < horizon)
            row["lost_to_follow_up"] = int(before.sum())
            row["completed_alive"] = int((censored & ~before).sum())
        else:
            row["lost_to_follow_up"] = pd.NA
            row["completed_alive"] = pd.NA
        row["median_follow_up_days"] = reverse_km_median_days(g["time_days"], event)
        row["median_observed_time_days"] = median_observed_time_days(g["time_days"])
        rows[arm] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "arm"
    return out


def visit_bins(days: pd.Series) -> tuple[pd.Series, str]:
    """The visit each day belongs to, and the unit of the visit axis ('day' or 'month')."""
    if days.nunique() <= MAX_EXACT_VISIT_DAYS:
        return days.astype(float), "day"
    return (days / DAYS_PER_MONTH).round().astype(float), "month"


def _mean_ci(values: pd.Series, level: float) -> pd.Series:
    x = values.to_numpy(float)
    n = len(x)
    mean = float(x.mean())
    if n < 2:
        return pd.Series({"n": n, "mean": mean, "sd": float("nan"), "ci_lower": float("nan"),
                          "ci_upper": float("nan")})
    sd = float(x.std(ddof=1))
    half = t_ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return pd.Series({"n": n, "mean": mean, "sd": sd, "ci_lower": mean - half, "ci_upper": mean + half})


def visit_means(trial: Trial, table: str = "alsfrs", value: str = "total", analyte: str | None = None,
                level: float = 0.95) -> pd.DataFrame:
    """Mean `value` by arm and visit, with n, SD and a t-based confidence interval.

    Columns: arm, visit, n, mean, sd, ci_lower, ci_upper; `attrs['visit_unit']` says whether
    visits are days or months. For `table='biomarkers'` an `analyte` must be named. A CI needs
    two values; with one it is missing.

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> m = visit_means(example_trial())
        >>> m.attrs["visit_unit"], int(m["n"].iloc[0])
        ('day', 30)
    """
    df = _long_table(trial, table, value, analyte)
    df["visit"], unit = visit_bins(df["day"])
    return _summarise(df, "value", level, unit, arm_order(trial))


def _long_table(trial: Trial, table: str, value: str, analyte: str | None) -> pd.DataFrame:
    if table not in ("alsfrs", "biomarkers"):
        raise ParameterError("table", table, "must be 'alsfrs' or 'biomarkers'")
    df = getattr(trial, table)
    if df is None:
        raise AnalysisError("visit means", f"the trial has no {table} table")
    if table == "biomarkers":
        if analyte is None:
            raise ParameterError("analyte", analyte, "name the analyte to summarise")
        df = df.loc[df["analyte"] == analyte]
        if df.empty:
            raise AnalysisError("visit means", f"no '{analyte}' measurements in the biomarkers table")
    arms = trial.participants.set_index("subject_id")["arm"]
    out = df[["subject_id", "day", value]].rename(columns={value: "value"})
    out["arm"] = out["subject_id"].map(arms)
    return out


def _summarise(df: pd.DataFrame, column: str, level: float, unit: str, order: Sequence[str]) -> pd.DataFrame:
    if not 0 < level < 1:
        raise ParameterError("level", level, "must be between 0 and 1")
    rows = []
    for (arm, visit), g in df.groupby(["arm", "visit"], sort=False):
        rows.append({"arm": arm, "visit": visit, **_mean_ci(g[column], level).to_dict()})
    out = pd.DataFrame(rows, columns=["arm", "visit", "n", "mean", "sd", "ci_lower", "ci_upper"])
    out["n"] = out["n"].astype(int)
    out["arm"] = pd.Categorical(out["arm"], categories=[a for a in order if a in set(out["arm"])], ordered=True)
    out = out.sort_values(["arm", "visit"]).reset_index(drop=True)
    out["arm"] = out["arm"].astype(str)
    out.attrs["visit_unit"] = unit
    return out
