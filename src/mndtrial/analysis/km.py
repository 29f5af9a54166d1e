"""Kaplan–Meier curves by arm (lifelines `KaplanMeierFitter`), with numbers at risk at chosen days.

Confidence intervals are lifelines' exponential Greenwood (log(-log)) intervals, the same as
R `survfit(..., conf.type = "log-log")`. The number at risk at day t counts participants whose
time is >= t (R `summary(survfit, times = t)$n.risk`). Each arm also gets its median follow-up
by the reverse Kaplan–Meier (`median_follow_up_days`) beside the plain median of its observed
times (`median_observed_time_days`), see `mndtrial.data.follow_up`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times

from ..data import Trial
from ..data.follow_up import median_observed_time_days, reverse_km_median_days
from ..errors import AnalysisError, ParameterError
from .frame import endpoint_events, jsonable

__all__ = ["KaplanMeierResult", "kaplan_meier", "km_by_group"]


@dataclass(frozen=True)
class KaplanMeierResult:
    """KM estimates per arm: `summary` (one row per arm and chosen day) and full `curves`."""

    summary: pd.DataFrame
    medians: pd.DataFrame
    curves: dict[str, pd.DataFrame] = field(repr=False)
    alpha: float = 0.05

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ci_level": 1 - self.alpha, "ci_method": "log(-log) Greenwood (lifelines)",
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


def km_by_group(time: np.ndarray, event: np.ndarray, group: np.ndarray, order: Sequence[str],
                at_days: Sequence[float] = (), alpha: float = 0.05) -> KaplanMeierResult:
    """Kaplan–Meier estimate for each group in `order`, read off at `at_days`."""
    rows, medians, curves = [], [], {}
    for g in order:
        mask = group == g
        if not mask.any():
            raise AnalysisError("Kaplan-Meier", f"group {g!r} has no participants")
        t, e = time[mask], event[mask]
        kmf = KaplanMeierFitter(alpha=alpha).fit(t, e, label=str(g))
        ci = kmf.confidence_interval_
        ci.columns = ["ci_lower", "ci_upper"]
        surv = kmf.survival_function_.iloc[:, 0]
        curve = pd.DataFrame({"survival": surv, **ci}).rename_axis("time_days")
        curve["at_risk"] = kmf.event_table["at_risk"].reindex(curve.index).to_numpy()
        curves[str(g)] = curve
        med_ci = median_survival_times(kmf.confidence_interval_)
        medians.append({"arm": str(g), "n": int(mask.sum()), "events": int(e.sum()),
                        "median_days": float(kmf.median_survival_time_),
                        "median_lower": float(med_ci.iloc[0, 0]), "median_upper": float(med_ci.iloc[0, 1]),
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
