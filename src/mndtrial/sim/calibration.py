"""Calibration statistics: the published figures a simulated trial should reproduce.

Per-trial statistics over a `TrialBatch`, compared with the figures in the evidence file
(placebo decline, deaths by day 640, CSF-pNfH distribution; the MIROCALS results; the IMODALS
Treg response). The model-based statistics are computed by the analysis module, trial by trial,
exactly as `mndtrial analyze` reports them: hazard ratios by `mndtrial.analysis.cox.CoxModel`
(unadjusted, Efron ties, lifelines as R `coxph`), ALSFRS-R slopes by
`mndtrial.analysis.function.SlopeAnalysis` (random intercept and slope, REML, matched to lme4).
That costs 1-2 s of mixed-model fitting per trial, so this route suits a handful of
trials; `mndtrial.power.calibration` computes the same table over thousands of trials with the
batch engine (`mndtrial.batch`), and a test shows that the two routes agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..analysis.cox import CoxModel
from ..analysis.function import SlopeAnalysis
from ..data.batch import TrialBatch
from ..data.trial import Trial
from ..errors import AnalysisError

__all__ = ["placebo_statistics", "mirocals_statistics", "imodals_treg_statistics", "placebo_descriptives",
           "mirocals_descriptives", "pnfh_groups", "Target", "PLACEBO_TARGETS", "MIROCALS_TARGETS",
           "IMODALS_TARGETS", "MIROCALS_COLUMNS", "PLACEBO_COLUMNS", "calibration_table"]

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
MIROCALS_COLUMNS = tuple(t.statistic for t in MIROCALS_TARGETS)
PLACEBO_COLUMNS = (*(t.statistic for t in PLACEBO_TARGETS), "pnfh_median")
IMODALS_TARGETS = (
    Target("treg_diff_il2_1miu", 2.96, "E:L39-40", "mean", 0.2),
    Target("treg_diff_il2_2miu", 6.15, "E:L39-40", "mean", 0.2),
)


def pnfh_groups(participants: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Masks of MIROCALS's low (750-3700 pg/mL, both included) and high (> 3700) CSF-pNfH groups.

    Participants without a measurement are in neither.
    """
    pnfh = participants["csf_pnfh"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return (pnfh >= PNFH_LOW) & (pnfh <= PNFH_HIGH), pnfh > PNFH_HIGH


def _with_arm(batch: TrialBatch, df: pd.DataFrame) -> pd.DataFrame:
    cols = ["trial", "subject", "arm", "csf_pnfh"]
    return df.merge(batch.participants[cols], on=["trial", "subject"], how="left")


def placebo_descriptives(batch: TrialBatch, control: str = "placebo") -> pd.DataFrame:
    """Per trial, in the control arm: proportion dead by day 640, CSF-pNfH bands (of those measured), median."""
    surv = _with_arm(batch, batch.survival)
    surv = surv[surv["arm"] == control]
    parts = batch.participants[batch.participants["arm"] == control]
    pnfh = parts["csf_pnfh"]
    bands = pd.DataFrame({"trial": parts["trial"], "measured": pnfh.notna(), "below": pnfh < PNFH_LOW,
                          "mid": (pnfh >= PNFH_LOW) & (pnfh <= PNFH_HIGH), "above": pnfh > PNFH_HIGH})
    b = bands.groupby("trial")[["measured", "below", "mid", "above"]].sum()
    return pd.DataFrame({
        "dead_by_day_640": surv.assign(dead=(surv["event"] == 1) & (surv["time_days"] <= 640))
                               .groupby("trial")["dead"].mean(),
        "pnfh_below_750": b["below"] / b["measured"], "pnfh_750_3700": b["mid"] / b["measured"],
        "pnfh_above_3700": b["above"] / b["measured"],
        "pnfh_median": parts.groupby("trial")["csf_pnfh"].median(),
    })


def mirocals_descriptives(batch: TrialBatch, active: str = "il2_2miu", control: str = "placebo") -> pd.DataFrame:
    """Per trial: participants alive at the end in each arm, share of the low CSF-pNfH group (of those measured)."""
    surv = _with_arm(batch, batch.survival)
    surv = surv[surv["arm"].isin([control, active])]
    alive = (surv["event"] == 0).groupby([surv["trial"], surv["arm"].astype(str)]).sum().unstack("arm")
    low, _ = pnfh_groups(surv)
    measured = surv["csf_pnfh"].notna()
    share = pd.Series(low, index=surv.index).groupby(surv["trial"]).sum() / measured.groupby(surv["trial"]).sum()
    return pd.DataFrame({"alive_il2": alive[active].astype(int), "alive_placebo": alive[control].astype(int),
                         "fraction_low_pnfh": share})


def _hazard_ratio(trial: Trial | None) -> float:
    """Unadjusted HR (active vs control) as `analyze` reports it; NaN when it has no estimate."""
    if trial is None:
        return np.nan
    try:
        return float(CoxModel(ph_test=False).fit(trial).result_.summary.loc["treatment", "hr"])
    except AnalysisError:  # e.g. no deaths in one arm: no finite HR, counted as missing in the table
        return np.nan


def _slope_fit(trial: Trial | None):
    """`SlopeAnalysis` of the whole `trial` (one population), or None when the model cannot be fitted."""
    if trial is None:
        return None
    try:
        fit = SlopeAnalysis().fit(trial).result_.overall
    except AnalysisError:
        return None
    return fit if fit.lmm.converged else None


def _subgroup(trial: Trial, mask: np.ndarray, label: str) -> Trial | None:
    ids = trial.participants["subject_id"][mask]
    arms = set(trial.participants["arm"][mask])
    return trial.select(ids, name=f"{trial.info.name} [{label}]") if len(arms) == len(trial.info.arm_names) else None


def _two_arms(trial: Trial, active: str, control: str) -> Trial:
    if set(trial.info.arm_names) == {control, active}:
        return trial
    ids = trial.participants["subject_id"][trial.participants["arm"].isin([control, active])]
    return trial.select(ids)


def placebo_statistics(batch: TrialBatch, control: str = "placebo", active: str | None = None) -> pd.DataFrame:
    """Per trial: `placebo_descriptives` and the control arm's ALSFRS-R decline (points/month).

    The decline is minus the control-arm slope of `SlopeAnalysis` on the whole trial (arm ×
    months, random intercept and slope; `active` picks the comparison arm when there are several).
    """
    rows = {}
    for i in batch.trial_index:
        trial = batch.trial(int(i))
        arm = active or next(a for a in trial.info.arm_names if a != control)
        fit = _slope_fit(_two_arms(trial, arm, control))
        rows[int(i)] = np.nan if fit is None else -float(fit.arms.loc[control, "estimate"])
    slope = pd.Series(rows, name="slope_per_month", dtype=float)
    return placebo_descriptives(batch, control).join(slope.rename_axis("trial"), how="left")[list(PLACEBO_COLUMNS)]


def mirocals_statistics(batch: TrialBatch, active: str = "il2_2miu", control: str = "placebo") -> pd.DataFrame:
    """Per trial: alive by arm, HR overall and by CSF-pNfH group, share low, low-group slope reduction.

    Slope reduction = (slope_control − slope_active) / slope_control, the slope ratio of
    `SlopeAnalysis` on the low CSF-pNfH group (MIROCALS's "23% decrease in the rate of change").
    A statistic without an estimate in a trial (no deaths in an arm, a mixed model that does not
    converge) is NaN; `calibration_table` reports how many.
    """
    rows = {}
    for i in batch.trial_index:
        trial = _two_arms(batch.trial(int(i)), active, control)
        low, high = pnfh_groups(trial.participants)
        low_trial = _subgroup(trial, low, "CSF-pNfH 750-3700")
        slopes = _slope_fit(low_trial)
        rows[int(i)] = {
            "hr_all": _hazard_ratio(trial), "hr_low_pnfh": _hazard_ratio(low_trial),
            "hr_high_pnfh": _hazard_ratio(_subgroup(trial, high, "CSF-pNfH > 3700")),
            "slope_reduction_low_pnfh": np.nan if slopes is None
            else float(slopes.comparisons.loc[(active, "slope_ratio"), "estimate"])}
    model = pd.DataFrame.from_dict(rows, orient="index").rename_axis("trial")
    return mirocals_descriptives(batch, active, control).join(model, how="left")[list(MIROCALS_COLUMNS)]



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
    """Published figure vs the simulated distribution (mean, 10th, 50th, 90th percentile) and pass/fail.

    `trials` counts the trials with an estimate, `missing` those without (NaN: no finite
    estimate in that trial); the percentiles are over the former.
    """
    rows = []
    for t in targets:
        column = stats[t.statistic]
        x = column.dropna().to_numpy()
        q10, q50, q90 = np.percentile(x, [10, 50, 90])
        if t.rule == "central80":
            ok = q10 <= t.published <= q90
        else:
            ok = abs(x.mean() - t.published) <= t.tolerance
        rows.append({"statistic": t.statistic, "published": t.published, "source": t.source,
                     "sim_mean": x.mean(), "sim_p10": q10, "sim_median": q50, "sim_p90": q90,
                     "trials": len(x), "missing": int(column.isna().sum()),
                     "rule": t.rule if t.rule == "central80" else f"|mean - published| <= {t.tolerance:g}",
                     "pass": bool(ok)})
    return pd.DataFrame(rows)
