"""What a calibration reads from a trial: per-participant arrays, checked once.

The cohort model needs baseline covariates, survival, and ALSFRS-R visits after baseline. A trial
that cannot support the fit is refused here, with a message naming what is missing, before any
estimator runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...data import Trial
from ...errors import AnalysisError, ParameterError

__all__ = ["CohortData", "cohort_data", "MIN_DEATHS", "MIN_SLOPE_PARTICIPANTS"]

ANALYSIS = "calibrate"
MIN_DEATHS = 20             # a two-parameter Weibull with four covariates needs some deaths
MIN_SLOPE_PARTICIPANTS = 30  # participants with a baseline score and at least one later visit
MODEL_COLUMNS = ("age", "onset_site", "delta_fs", "alsfrs_r_baseline")


@dataclass(frozen=True)
class CohortData:
    """Per-participant arrays (NaN where a value is missing) and the post-baseline visits."""

    n: int
    age: np.ndarray
    male: np.ndarray            # 1.0 / 0.0 / NaN
    bulbar: np.ndarray          # limb_and_bulbar counts as bulbar (bulbar involvement at onset)
    symptom_duration_months: np.ndarray
    delta_fs: np.ndarray
    alsfrs_r_baseline: np.ndarray
    riluzole: np.ndarray
    csf_pnfh: np.ndarray
    serum_nfl: np.ndarray
    vital_capacity_pct: np.ndarray
    time_days: np.ndarray
    event: np.ndarray
    withdrawal_day: np.ndarray | None   # only when the trial records non-death withdrawal
    horizon_days: float
    visit_subject: np.ndarray   # index into the participant arrays, post-baseline ALSFRS-R visits
    visit_day: np.ndarray
    visit_total: np.ndarray
    nfl_subject: np.ndarray     # later serum NfL samples (biomarkers table)
    nfl_value: np.ndarray
    columns: frozenset[str]     # participant columns with at least one value

    def has(self, column: str, least: int = 30) -> bool:
        return int(np.isfinite(getattr(self, column)).sum()) >= least


def _column(df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float)


def _select_arm(trial: Trial, arm: str | None) -> pd.DataFrame:
    participants = trial.participants
    if arm is None:
        return participants
    if arm not in trial.info.arm_names:
        raise ParameterError("arm", arm, f"not an arm of this trial; its arms are {list(trial.info.arm_names)}")
    return participants[participants["arm"].astype(str) == arm]


def cohort_data(trial: Trial, arm: str | None = None) -> CohortData:
    """The arrays a calibration needs from `trial` (the participants of `arm`, or all)."""
    if not isinstance(trial, Trial):
        raise ParameterError("trial", type(trial).__name__, "must be a validated mndtrial.data.Trial")
    p = _select_arm(trial, arm).reset_index(drop=True)
    where = f"arm {arm!r}" if arm is not None else "the trial"
    missing = [c for c in MODEL_COLUMNS if c not in p.columns or p[c].isna().all()]
    if missing:
        raise AnalysisError(ANALYSIS, f"participants has no values in column(s) {missing} in {where}: the slope "
                                      "and survival models use them as covariates")
    index = pd.Index(p["subject_id"].astype(str))
    surv = trial.survival.set_index("subject_id").reindex(index)
    event = surv["event"].to_numpy(dtype=float)
    deaths = int(np.nansum(event))
    if deaths < MIN_DEATHS:
        raise AnalysisError(ANALYSIS, f"too few deaths in {where}: {deaths} in table survival (at least {MIN_DEATHS} "
                                      "are needed to fit the Weibull survival model)")
    alsfrs = trial.alsfrs
    if alsfrs is None or alsfrs.empty:
        raise AnalysisError(ANALYSIS, f"no ALSFRS-R visits: table alsfrs is absent or empty in {where} (the slope "
                                      "model needs the baseline score and at least one later visit per participant)")
    site = p["onset_site"].astype(str).where(p["onset_site"].notna())
    sex = p["sex"].astype(str).where(p["sex"].notna()) if "sex" in p.columns else pd.Series(np.nan, index=p.index)
    baseline = _column(p, "alsfrs_r_baseline")
    pos = pd.Series(np.arange(len(p)), index=index)
    visits = alsfrs[alsfrs["subject_id"].astype(str).isin(index) & (alsfrs["day"] > 0)]
    subj = pos.loc[visits["subject_id"].astype(str)].to_numpy()
    keep = np.isfinite(baseline[subj])
    subj, day, total = subj[keep], visits["day"].to_numpy(float)[keep], visits["total"].to_numpy(float)[keep]
    with_later = np.unique(subj).size
    if with_later < MIN_SLOPE_PARTICIPANTS:
        raise AnalysisError(ANALYSIS, f"only {with_later} participant(s) in {where} have an ALSFRS-R visit after "
                                      "baseline (table alsfrs, day > 0) with a baseline score (participants."
                                      "alsfrs_r_baseline); a single visit per participant cannot inform the slope "
                                      f"model: at least {MIN_SLOPE_PARTICIPANTS} are needed")
    withdrawal = _column(p, "withdrawal_day") if "withdrawal_day" in p.columns else None
    horizon = trial.info.horizon_days
    nfl_subject, nfl_value = np.zeros(0, dtype=int), np.zeros(0)
    bio = trial.biomarkers
    if bio is not None:
        nfl = bio[(bio["analyte"].astype(str) == "serum_nfl") & bio["subject_id"].astype(str).isin(index)]
        nfl_subject = pos.loc[nfl["subject_id"].astype(str)].to_numpy()
        nfl_value = nfl["value"].to_numpy(dtype=float)
    return CohortData(
        n=len(p), age=_column(p, "age"),
        male=np.where(sex.isna(), np.nan, (sex == "M").astype(float)),
        bulbar=np.where(site.isna(), np.nan, site.isin(["bulbar", "limb_and_bulbar"]).astype(float)),
        symptom_duration_months=_column(p, "symptom_duration_months"), delta_fs=_column(p, "delta_fs"),
        alsfrs_r_baseline=baseline,
        riluzole=(p["riluzole"].map({True: 1.0, False: 0.0}).to_numpy(dtype=float)
                  if "riluzole" in p.columns else np.full(len(p), np.nan)),
        csf_pnfh=_column(p, "csf_pnfh"), serum_nfl=_column(p, "serum_nfl"),
        vital_capacity_pct=_column(p, "vital_capacity_pct"),
        time_days=surv["time_days"].to_numpy(dtype=float), event=event, withdrawal_day=withdrawal,
        horizon_days=float(horizon) if horizon is not None else float(np.nanmax(surv["time_days"])),
        visit_subject=subj, visit_day=day, visit_total=total, nfl_subject=nfl_subject, nfl_value=nfl_value,
        columns=frozenset(c for c in p.columns if p[c].notna().any()),
    )
