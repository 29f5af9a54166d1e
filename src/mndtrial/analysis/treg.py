"""Treg pharmacodynamics (IMODALS): change from baseline by arm and visit, ANCOVA against placebo
per dose, a mixed model over visits, and dose-response across arms.

For an analyte (default `treg_pct_cd4`, Tregs as % of CD4+ cells; also `treg_count`):

- baseline y0 = the participant's last measurement at or before day 0; change Δ = y − y0 at
  each post-baseline visit (a visit is a measurement day, or the nominal `visit_days` that a day
  falls within `window_days` of);
- by arm and visit: n, mean Δ, SD, and a t-based CI of the mean;
- ANCOVA per visit (ordinary least squares): Δ = α + β·y0 + Σ_k τ_k·A_k + ε over all arms seen at that
  visit; τ_k is arm k's difference from placebo (t-based CI; Frison & Pocock 1992);
- mixed model over visits (REML, random intercept per participant, through the same
  `fit_random_slope_lmm` that matches lme4): Δ = β·y0 + visit effects + Σ_k τ_k·A_k + b_i + ε,
  τ_k the difference from placebo averaged over visits (Wald CI);
- dose-response at the primary visit (default the first after baseline): OLS
  Δ = α + β·y0 + θ·dose_MIU + ε over all arms, the placebo dose being 0; θ per MIU.

Reference: Camu W et al., EBioMedicine 2020;59:102844 (IMODALS).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..data import Trial
from ..errors import AnalysisError, ParameterError
from ._common import control_and_active, html_table, json_safe
from .design_matrix import full_column_rank
from .lmm import MixedModelFit, fit_random_slope_lmm, wald
from .estimator import FittedEstimator
from .distributions import t_ppf, t_sf

__all__ = ["TregAnalysis", "TregResult", "treg_changes"]

ANALYSIS = "Treg"


def treg_changes(trial: Trial, analyte: str = "treg_pct_cd4", visit_days: Sequence[float] | None = None,
                 window_days: float = 0.0) -> tuple[pd.DataFrame, dict[str, int]]:
    """Post-baseline measurements with baseline, change and visit, plus counts of what was left out."""
    bio = trial.biomarkers
    if bio is None or not (bio["analyte"] == analyte).any():
        raise AnalysisError(ANALYSIS, f"no '{analyte}' rows in the biomarkers table")
    rows = bio[bio["analyte"] == analyte].merge(trial.participants[["subject_id", "arm"]], on="subject_id")
    before = rows[rows["day"] <= 0].sort_values(["subject_id", "day"])
    baseline = before.groupby("subject_id")["value"].last()
    after = rows[rows["day"] > 0].copy()
    if after.empty:
        if (trial.survival["event"] == 1).all():
            raise AnalysisError(ANALYSIS, f"all participants died before the first follow-up visit: no "
                                          f"'{analyte}' after baseline")
        raise AnalysisError(ANALYSIS, f"only one visit (baseline) of '{analyte}': a change needs a follow-up visit")
    after["baseline"] = after["subject_id"].map(baseline)
    no_baseline = after["baseline"].isna()
    if visit_days is None:
        after["visit_day"] = after["day"]
        outside = pd.Series(False, index=after.index)
    else:
        nominal = np.sort(np.asarray(visit_days, float))
        nearest = nominal[np.abs(after["day"].to_numpy()[:, None] - nominal[None, :]).argmin(axis=1)]
        after["visit_day"] = nearest
        outside = pd.Series(np.abs(after["day"].to_numpy() - nearest) > window_days, index=after.index)
    counts = {"participants_without_baseline": int(after.loc[no_baseline, "subject_id"].nunique()),
              "measurements_without_baseline": int(no_baseline.sum()),
              "measurements_outside_visit_windows": int((outside & ~no_baseline).sum())}
    after = after[~no_baseline & ~outside]
    if after.empty:
        raise AnalysisError(ANALYSIS, f"no post-baseline '{analyte}' measurement has a baseline (day ≤ 0) "
                                      "within the visit windows")
    twice = after.duplicated(["subject_id", "visit_day"], keep=False)
    if twice.any():
        raise AnalysisError(ANALYSIS, f"{int(twice.sum())} measurements fall in the same visit for one participant "
                                      f"(e.g. {after.loc[twice, 'subject_id'].iloc[0]}); narrow `window_days`")
    after["change"] = after["value"] - after["baseline"]
    return after[["subject_id", "arm", "day", "visit_day", "baseline", "value", "change"]].reset_index(drop=True), counts


@dataclass(frozen=True)
class TregResult:
    """Treg change by arm and visit, ANCOVA and mixed-model differences vs placebo, dose-response."""

    analyte: str
    control_arm: str
    by_visit: pd.DataFrame        # (arm, visit_day): n, mean_baseline, mean_change, sd_change, ci
    ancova: pd.DataFrame          # (arm, visit_day): difference vs placebo adjusted for baseline
    mixed: pd.DataFrame | None    # arm: difference vs placebo averaged over visits
    mixed_fit: MixedModelFit | None
    dose_response: dict | None
    notes: tuple[str, ...]
    excluded: dict

    @property
    def summary(self) -> pd.DataFrame:
        return self.ancova

    def to_dict(self) -> dict:
        def nested(df: pd.DataFrame) -> dict:
            out: dict = {}
            for (arm, visit), row in df.to_dict(orient="index").items():
                out.setdefault(arm, {})[f"day_{visit:g}"] = row
            return out
        return json_safe({
            "analyte": self.analyte, "control_arm": self.control_arm, "by_visit": nested(self.by_visit),
            "ancova": nested(self.ancova),
            "mixed": None if self.mixed is None else self.mixed.to_dict(orient="index"),
            "mixed_problems": [] if self.mixed_fit is None else list(self.mixed_fit.problems),
            "mixed_warnings": [] if self.mixed_fit is None else list(self.mixed_fit.warnings),
            "dose_response": self.dose_response, "notes": list(self.notes), "excluded": self.excluded})

    def _repr_html_(self) -> str:
        return html_table(f"Treg change from baseline ({self.analyte}): ANCOVA vs {self.control_arm}",
                          self.ancova, self.notes)


class TregAnalysis(FittedEstimator):
    """Treg pharmacodynamics from the biomarkers table.

    Parameters: `analyte`, `visit_days` (nominal visit days; default each distinct day),
    `window_days` (how far a measurement may lie from its nominal day), `primary_day` (visit for
    the dose-response; default the first after baseline), `level` (CI level).

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> res = TregAnalysis().fit(example_trial()).result_
        >>> round(res.ancova.loc[("il2_2miu", 8.0), "estimate"])
        6
    """

    def __init__(self, analyte: str = "treg_pct_cd4", visit_days: Sequence[float] | None = None,
                 window_days: float = 0.0, primary_day: float | None = None, level: float = 0.95):
        if not 0 < level < 1:
            raise ParameterError("level", level, "must be between 0 and 1")
        if window_days < 0:
            raise ParameterError("window_days", window_days, "must be ≥ 0")
        self.analyte = analyte
        self.visit_days = None if visit_days is None else tuple(visit_days)
        self.window_days = window_days
        self.primary_day = primary_day
        self.level = level

    def fit(self, trial: Trial) -> "TregAnalysis":
        control, active = control_and_active(trial, ANALYSIS)
        data, excluded = treg_changes(trial, self.analyte, self.visit_days, self.window_days)
        arms = [control, *active]
        by_visit = _by_visit(data, arms, self.level)
        ancova = _ancova(data, control, active, self.level)
        notes: list[str] = []
        mixed, mixed_fit = None, None
        if data["visit_day"].nunique() < 2:
            notes.append("mixed model not fitted: only one post-baseline visit (the ANCOVA is the analysis)")
        else:
            mixed, mixed_fit = _mixed(data, control, active, self.level)
        dose_response = _dose_response(trial, data, control, active, self.primary_day, self.level, notes)
        self.result_ = TregResult(analyte=self.analyte, control_arm=control, by_visit=by_visit, ancova=ancova,
                                  mixed=mixed, mixed_fit=mixed_fit, dose_response=dose_response,
                                  notes=tuple(notes), excluded=excluded)
        return self


def _by_visit(data: pd.DataFrame, arms: list[str], level: float) -> pd.DataFrame:
    g = data.groupby(["arm", "visit_day"])
    out = g.agg(n=("change", "size"), mean_baseline=("baseline", "mean"), mean_value=("value", "mean"),
                mean_change=("change", "mean"), sd_change=("change", "std"))
    out["se_change"] = out["sd_change"] / np.sqrt(out["n"])
    q = t_ppf(0.5 + level / 2, np.maximum(out["n"] - 1, 1))
    out["ci_low"] = out["mean_change"] - q * out["se_change"]
    out["ci_high"] = out["mean_change"] + q * out["se_change"]
    order = {a: i for i, a in enumerate(arms)}
    return out.sort_index(key=lambda idx: idx.map(order) if idx.name == "arm" else idx)


def _ols_contrasts(frame: pd.DataFrame, terms: list[str], level: float) -> dict[str, dict]:
    """Ordinary least squares of `change` on an intercept and `terms`: t-based estimates per term.

    Written out (normal equations by QR) rather than through statsmodels, whose import alone costs
    more than every analysis of a trial; the tests hold it to the normal-equation closed form.
    """
    X = np.column_stack([np.ones(len(frame)), frame[terms].to_numpy(float)])
    n, k = X.shape
    if n <= k or not full_column_rank(X):
        return {}
    y = frame["change"].to_numpy(float)
    q, r = np.linalg.qr(X)
    beta = np.linalg.solve(r, q.T @ y)
    dof = n - k
    sigma2 = float(np.sum((y - X @ beta) ** 2)) / dof
    r_inv = np.linalg.inv(r)
    se = np.sqrt(sigma2 * np.sum(r_inv ** 2, axis=1))  # diag((X'X)^-1) = row sums of R^-1 squared
    t_values = beta / se
    p_values = 2 * t_sf(np.abs(t_values), dof)
    q_t = t_ppf(0.5 + level / 2, dof)
    return {t: {"estimate": float(beta[i]), "se": float(se[i]), "ci_low": float(beta[i] - q_t * se[i]),
                "ci_high": float(beta[i] + q_t * se[i]), "t": float(t_values[i]), "p": float(p_values[i]),
                "df": float(dof)} for i, t in enumerate(terms, start=1)}


def _ancova(data: pd.DataFrame, control: str, active: tuple[str, ...], level: float) -> pd.DataFrame:
    rows = {}
    for visit, at in data.groupby("visit_day"):
        present = [a for a in active if (at["arm"] == a).any()]
        if not (at["arm"] == control).any() or not present:
            continue
        frame = at.assign(**{f"arm[{a}]": (at["arm"] == a).astype(float) for a in present})
        contrasts = _ols_contrasts(frame, ["baseline", *[f"arm[{a}]" for a in present]], level)
        for a in present:
            if f"arm[{a}]" in contrasts:
                rows[(a, visit)] = {**contrasts[f"arm[{a}]"], "n_active": int((at["arm"] == a).sum()),
                                    "n_control": int((at["arm"] == control).sum())}
    if not rows:
        raise AnalysisError(ANALYSIS, "no visit has both placebo and active participants with enough data "
                                      "for an ANCOVA on baseline")
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index = pd.MultiIndex.from_tuples(out.index, names=["arm", "visit_day"])
    return out


def _mixed(data: pd.DataFrame, control: str, active: tuple[str, ...],
           level: float) -> tuple[pd.DataFrame, MixedModelFit]:
    frame = data.copy()
    visits = sorted(frame["visit_day"].unique())
    fixed = ["baseline"]
    for v in visits[1:]:
        frame[f"visit[{v:g}]"] = (frame["visit_day"] == v).astype(float)
        fixed.append(f"visit[{v:g}]")
    for a in active:
        frame[f"arm[{a}]"] = (frame["arm"] == a).astype(float)
        fixed.append(f"arm[{a}]")
    fit = fit_random_slope_lmm(frame, "change", None, "subject_id", fixed=fixed)
    rows = {a: {**wald(float(fit.params[f"arm[{a}]"]), float(fit.bse[f"arm[{a}]"]), level),
                "n_participants": int(frame.loc[frame["arm"] == a, "subject_id"].nunique())} for a in active}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "arm"
    return out, fit


def _dose_response(trial: Trial, data: pd.DataFrame, control: str, active: tuple[str, ...],
                   primary_day: float | None, level: float, notes: list[str]) -> dict | None:
    visits = sorted(data["visit_day"].unique())
    day = visits[0] if primary_day is None else primary_day
    if day not in visits:
        raise ParameterError("primary_day", primary_day,
                             f"must be one of the visit days {[float(v) for v in visits]}")
    doses = {a: trial.info.arm(a).dose_miu for a in (control, *active)}
    doses[control] = doses[control] or 0.0
    undosed = [a for a, d in doses.items() if d is None]
    if undosed:
        notes.append(f"dose-response not estimated: arms {undosed} have no dose_miu in TrialInfo")
        return None
    at = data[data["visit_day"] == day].assign(dose_miu=lambda f: f["arm"].map(doses))
    if at["dose_miu"].nunique() < 2:
        notes.append(f"dose-response not estimated: one dose only at day {day:g}")
        return None
    contrasts = _ols_contrasts(at, ["baseline", "dose_miu"], level)
    if not contrasts:
        notes.append(f"dose-response not estimated: too few participants at day {day:g}")
        return None
    return {"visit_day": float(day), "doses_miu": doses, "slope_per_miu": contrasts["dose_miu"],
            "n": int(len(at))}
