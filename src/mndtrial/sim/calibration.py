"""Calibration statistics: the published figures a simulated trial should reproduce.

Per-trial statistics over a `TrialBatch`, compared with the figures in the evidence file
(placebo decline, deaths by day 640, CSF-pNfH distribution; the MIROCALS results; the IMODALS
Treg response). Hazard ratios use lifelines' `CoxPHFitter` (Efron ties, as R `coxph`); ALSFRS-R
slopes are per-participant least-squares slopes. These are stand-ins until the analysis module's
estimators (survival, ALSFRS-R mixed model) and the batch engine can compute the same statistics.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.batch import TrialBatch
from ..data.schema import DAYS_PER_MONTH

__all__ = ["subject_slopes", "placebo_statistics", "mirocals_statistics", "imodals_treg_statistics",
           "Target", "PLACEBO_TARGETS", "MIROCALS_TARGETS", "IMODALS_TARGETS", "calibration_table"]

PNFH_LOW, PNFH_HIGH = 750.0, 3700.0  # E:L23-24


@dataclass(frozen=True)
class Target:
    """A published figure, where it comes from, and how a simulated statistic must match it.

    `rule` is "central80" (the figure lies between the 10th and 90th percentile of the
    per-trial statistic) or "mean" (the mean over trials is within `tolerance` of it).
    """

    statistic: str
    published: float
    source: str
    rule: str = "central80"
    tolerance: float = 0.0


PLACEBO_TARGETS = (
    Target("slope_per_month", 0.95, "E:L47-48 (1.0 PRO-ACT, 0.89 PRECISION-ALS)", "mean", 0.06),
    Target("dead_by_day_640", 49 / 110, "E:L21, E:L56 49/110", "mean", 0.03),
    Target("pnfh_below_750", 0.09, "E:L30", "mean", 0.03),
    Target("pnfh_750_3700", 0.70, "E:L23", "mean", 0.04),
    Target("pnfh_above_3700", 0.21, "E:L24", "mean", 0.03),
)
MIROCALS_TARGETS = (
    Target("alive_il2", 69, "E:L21 69/110"),
    Target("alive_placebo", 61, "E:L21 61/110"),
    Target("hr_all", 0.81, "E:L20"),
    Target("hr_low_pnfh", 0.52, "E:L23-24"),
    Target("fraction_low_pnfh", 0.70, "E:L23"),
    Target("hr_high_pnfh", 1.37, "E:L24-25"),
    Target("slope_reduction_low_pnfh", 0.23, "E:L28, E:L82-83"),
)
IMODALS_TARGETS = (
    Target("treg_diff_il2_1miu", 2.96, "E:L39-40", "mean", 0.2),
    Target("treg_diff_il2_2miu", 6.15, "E:L39-40", "mean", 0.2),
)


def subject_slopes(alsfrs: pd.DataFrame) -> pd.DataFrame:
    """Least-squares ALSFRS-R decline per participant (points/month, positive = worse).

    Participants with fewer than two visits have no slope (left out of the result).
    Columns: trial, subject, slope_per_month, visits.
    """
    df = alsfrs[["trial", "subject", "day", "total"]]
    x = df["day"].to_numpy() / DAYS_PER_MONTH
    y = df["total"].to_numpy(dtype=float)
    keys = [df["trial"].to_numpy(), df["subject"].to_numpy()]
    g = pd.DataFrame({"trial": keys[0], "subject": keys[1], "x": x, "y": y, "xx": x * x, "xy": x * y})
    s = g.groupby(["trial", "subject"], sort=False).agg(n=("x", "size"), x=("x", "sum"), y=("y", "sum"),
                                                         xx=("xx", "sum"), xy=("xy", "sum"))
    sxx = s["xx"] - s["x"] ** 2 / s["n"]
    sxy = s["xy"] - s["x"] * s["y"] / s["n"]
    ok = (s["n"] >= 2) & (sxx > 0)
    out = pd.DataFrame({"slope_per_month": -(sxy[ok] / sxx[ok]), "visits": s["n"][ok]}).reset_index()
    return out


def _with_arm(batch: TrialBatch, df: pd.DataFrame) -> pd.DataFrame:
    cols = ["trial", "subject", "arm", "csf_pnfh"]
    return df.merge(batch.participants[cols], on=["trial", "subject"], how="left")


def placebo_statistics(batch: TrialBatch, control: str = "placebo") -> pd.DataFrame:
    """Per trial, in the control arm: mean slope, proportion dead by the horizon, CSF-pNfH bands."""
    surv = _with_arm(batch, batch.survival)
    surv = surv[surv["arm"] == control]
    slopes = _with_arm(batch, subject_slopes(batch.alsfrs))
    slopes = slopes[slopes["arm"] == control]
    parts = batch.participants[batch.participants["arm"] == control]
    pnfh = parts["csf_pnfh"]
    bands = pd.DataFrame({"trial": parts["trial"], "measured": pnfh.notna(), "below": pnfh < PNFH_LOW,
                          "mid": (pnfh >= PNFH_LOW) & (pnfh <= PNFH_HIGH), "above": pnfh > PNFH_HIGH})
    b = bands.groupby("trial")[["measured", "below", "mid", "above"]].sum()
    return pd.DataFrame({
        "slope_per_month": slopes.groupby("trial")["slope_per_month"].mean(),
        "dead_by_day_640": surv.assign(dead=(surv["event"] == 1) & (surv["time_days"] <= 640))
                               .groupby("trial")["dead"].mean(),
        "pnfh_below_750": b["below"] / b["measured"], "pnfh_750_3700": b["mid"] / b["measured"],
        "pnfh_above_3700": b["above"] / b["measured"],
        "pnfh_median": parts.groupby("trial")["csf_pnfh"].median(),
    })


def _cox_hr(df: pd.DataFrame) -> float:
    """Unadjusted hazard ratio of IL-2 vs placebo (lifelines CoxPHFitter, Efron ties)."""
    from lifelines import CoxPHFitter

    data = pd.DataFrame({"time": df["time_days"].to_numpy(), "event": df["event"].to_numpy(),
                         "il2": (df["arm"] != "placebo").to_numpy(dtype=float)})
    if data["event"].sum() == 0 or data["il2"].nunique() < 2:
        return np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = CoxPHFitter().fit(data, duration_col="time", event_col="event")
    return float(np.exp(fit.params_["il2"]))


def mirocals_statistics(batch: TrialBatch, active: str = "il2_2miu") -> pd.DataFrame:
    """Per trial: alive by arm, HR overall and by CSF-pNfH group, share low, low-group slope reduction."""
    surv = _with_arm(batch, batch.survival)
    surv = surv[surv["arm"].isin(["placebo", active])]
    slopes = _with_arm(batch, subject_slopes(batch.alsfrs))
    rows = []
    for trial, s in surv.groupby("trial", sort=True):
        low = (s["csf_pnfh"] >= PNFH_LOW) & (s["csf_pnfh"] <= PNFH_HIGH)
        high = s["csf_pnfh"] > PNFH_HIGH
        sl = slopes[(slopes["trial"] == trial) & slopes["csf_pnfh"].between(PNFH_LOW, PNFH_HIGH)]
        m = sl.groupby("arm", observed=True)["slope_per_month"].mean()
        rows.append({
            "trial": trial,
            "alive_il2": int((s["event"][s["arm"] == active] == 0).sum()),
            "alive_placebo": int((s["event"][s["arm"] == "placebo"] == 0).sum()),
            "hr_all": _cox_hr(s), "hr_low_pnfh": _cox_hr(s[low]), "hr_high_pnfh": _cox_hr(s[high]),
            "fraction_low_pnfh": float(low.sum() / s["csf_pnfh"].notna().sum()),  # of those measured
            "slope_reduction_low_pnfh": float((m["placebo"] - m[active]) / m["placebo"]),
        })
    return pd.DataFrame(rows).set_index("trial")


def imodals_treg_statistics(batch: TrialBatch, day: float = 5.0) -> pd.DataFrame:
    """Per trial: mean change in Tregs (% CD4) from day 0 to `day`, each IL-2 arm minus placebo."""
    b = batch.biomarkers
    b = b[b["analyte"] == "treg_pct_cd4"]
    wide = b.pivot_table(index=["trial", "subject"], columns="day", values="value", observed=True)
    change = (wide[day] - wide[0.0]).dropna().rename("change").reset_index()
    change = _with_arm(batch, change)
    means = change.groupby(["trial", "arm"], observed=True)["change"].mean().unstack("arm")
    return pd.DataFrame({f"treg_diff_{a}": means[a] - means["placebo"]
                         for a in means.columns if a != "placebo"})


def calibration_table(stats: pd.DataFrame, targets: tuple[Target, ...]) -> pd.DataFrame:
    """Published figure vs the simulated distribution (mean, 10th, 50th, 90th percentile) and pass/fail."""
    rows = []
    for t in targets:
        x = stats[t.statistic].dropna().to_numpy()
        q10, q50, q90 = np.percentile(x, [10, 50, 90])
        if t.rule == "central80":
            ok = q10 <= t.published <= q90
        else:
            ok = abs(x.mean() - t.published) <= t.tolerance
        rows.append({"statistic": t.statistic, "published": t.published, "source": t.source,
                     "sim_mean": x.mean(), "sim_p10": q10, "sim_median": q50, "sim_p90": q90,
                     "trials": len(x), "rule": t.rule if t.rule == "central80" else f"|mean - published| <= {t.tolerance:g}",
                     "pass": bool(ok)})
    return pd.DataFrame(rows)
