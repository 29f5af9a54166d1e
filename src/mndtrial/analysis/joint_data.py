"""From a `Trial` to the arrays of the joint model (`joint_likelihood.JointData`), with names.

Longitudinal fixed effects: Intercept, months, arm[k], months:arm[k] per active arm k, centred
baseline covariates and (by default) covariate × months, as `SlopeAnalysis` has them, so that
the placebo slope and the slope difference mean the same in both analyses. Survival covariates:
arm[k] and (by default) the same centred covariates. ALSFRS-R visits before day 0 or after the
horizon are left out and counted; survival is censored at the horizon.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..data import Trial
from ..data.schema import DAYS_PER_MONTH
from ..errors import AnalysisError, ParameterError
from ._common import control_and_active, covariate_columns
from .frame import endpoint_events
from .joint_baseline import BASELINES, BaselineHazard, quantile_cuts_months
from .joint_likelihood import ASSOCIATIONS, JointData, make_joint_data

__all__ = ["JointDesign", "joint_design"]

ANALYSIS = "joint model"


@dataclass(frozen=True)
class JointDesign:
    """The arrays and what their columns mean."""

    data: JointData
    subject_ids: tuple[str, ...]
    arms: np.ndarray                 # (n,) arm of each subject
    control_arm: str
    active_arms: tuple[str, ...]
    beta_names: tuple[str, ...]
    gamma_names: tuple[str, ...]
    horizon_months: float | None
    excluded: dict

    @property
    def theta_names(self) -> list[str]:
        pieces = self.data.baseline.names(DAYS_PER_MONTH)
        return [*self.beta_names, "log_residual_sd", "log_chol_intercept", "chol_slope_intercept",
                "log_chol_slope", *pieces, *[f"log_hr:{g}" for g in self.gamma_names],
                *[f"association:{a}" for a in self.data.associations]]

    def index(self, name: str) -> int:
        return self.theta_names.index(name)

    def with_arm(self, arm: str) -> JointData:
        """The same subjects as if all had been randomised to `arm` (for model-based curves)."""
        X0, X1, W = self.data.X0.copy(), self.data.X1.copy(), self.data.W.copy()
        for k in self.active_arms:
            value = float(k == arm)
            X0[:, self.beta_names.index(f"arm[{k}]")] = value
            X1[:, self.beta_names.index(f"months:arm[{k}]")] = value
            W[:, self.gamma_names.index(f"arm[{k}]")] = value
        d = self.data
        return make_joint_data(d.y, d.t, d.subject, X0, X1, W, d.time_months, d.event, d.baseline,
                               d.associations)


def _covariate_columns(participants: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """Centred numeric columns (dummies for categorical covariates); a missing value is an error."""
    out = pd.DataFrame(index=participants.index)
    for c in covariates:
        if c not in participants.columns:
            raise ParameterError("covariates", c, "must be a column of the participants table")
        values = participants[c]
        if values.isna().any():
            ids = participants.loc[values.isna(), "subject_id"].tolist()
            raise AnalysisError(ANALYSIS, f"{len(ids)} participants have no '{c}' (e.g. {ids[:3]}); "
                                          "impute or drop them explicitly")
        for name, col in covariate_columns(values, c).items():
            out[name] = col - col.mean()
    return out


def baseline_cuts_months(time_months: np.ndarray, event: np.ndarray, pieces: int) -> np.ndarray:
    """Cuts at quantiles of the event times (as JM's piecewise-PH default), so each piece has events."""
    n_events = int(np.sum(event == 1))
    if n_events < pieces:
        raise AnalysisError(ANALYSIS, f"{n_events} events cannot support a baseline hazard with {pieces} pieces")
    return quantile_cuts_months(time_months, event, pieces)


def joint_design(trial: Trial, association: str = "value", covariates: Sequence[str] = (),
                 covariates_on_slope: bool = True, covariates_in_survival: bool = True,
                 horizon_days: float | None = None, baseline_pieces: int = 5,
                 cut_days: Sequence[float] | None = None,
                 event_types: Sequence[str] | None = None, baseline: str = "piecewise",
                 spline_knots: int = 3) -> JointDesign:
    """Build the joint model's arrays from a trial (see the module docstring).

    `baseline`: "piecewise" (constant on `baseline_pieces` pieces cut at event-time quantiles, or
    at `cut_days`), "weibull", or "bspline" (cubic, `spline_knots` interior knots at event-time
    quantiles). For the last two the pieces only set the integration grid.
    """
    if association not in ASSOCIATIONS:
        raise ParameterError("association", association, f"must be one of {sorted(ASSOCIATIONS)}")
    if baseline not in BASELINES:
        raise ParameterError("baseline", baseline, f"must be one of {list(BASELINES)}")
    if baseline == "bspline" and (not isinstance(spline_knots, int) or spline_knots < 0):
        raise ParameterError("spline_knots", spline_knots, "must be a whole number >= 0")
    if trial.alsfrs is None or trial.alsfrs.empty:
        raise AnalysisError(ANALYSIS, "the trial has no alsfrs table")
    control, active = control_and_active(trial, ANALYSIS)
    surv = endpoint_events(trial, event_types)
    participants = trial.participants.set_index("subject_id").loc[surv["subject_id"]].reset_index()
    ids = surv["subject_id"].astype(str).to_numpy()
    time_days = surv["time_days"].to_numpy(float)
    event = surv["event"].to_numpy(int)
    if horizon_days is not None:
        late = time_days > horizon_days
        event = np.where(late, 0, event)
        time_days = np.where(late, horizon_days, time_days)
    if event.sum() == 0:
        raise AnalysisError(ANALYSIS, "no events: the survival part cannot be estimated")
    alsfrs = trial.alsfrs
    before = alsfrs["day"] < 0
    after = alsfrs["day"] > horizon_days if horizon_days is not None else pd.Series(False, index=alsfrs.index)
    visits = alsfrs.loc[~before & ~after, ["subject_id", "day", "total"]]
    position = pd.Series(np.arange(len(ids)), index=ids)
    visits = visits.assign(i=visits["subject_id"].astype(str).map(position)).sort_values(["i", "day"], kind="stable")
    if visits.empty or visits["day"].nunique() < 2:
        raise AnalysisError(ANALYSIS, "a slope needs ALSFRS-R at two or more visit days")
    n = len(ids)
    arm = participants["arm"].astype(str).to_numpy()
    cov = _covariate_columns(participants, covariates)
    beta_names = ["Intercept", "months"]
    cols0, cols1 = [np.ones(n), np.zeros(n)], [np.zeros(n), np.ones(n)]
    gamma_names, w_cols = [], []
    for k in active:
        a = (arm == k).astype(float)
        beta_names += [f"arm[{k}]", f"months:arm[{k}]"]
        cols0 += [a, np.zeros(n)]
        cols1 += [np.zeros(n), a]
        gamma_names.append(f"arm[{k}]")
        w_cols.append(a)
    for name in cov.columns:
        c = cov[name].to_numpy()
        beta_names.append(name)
        cols0.append(c)
        cols1.append(np.zeros(n))
        if covariates_on_slope:
            beta_names.append(f"months:{name}")
            cols0.append(np.zeros(n))
            cols1.append(c)
        if covariates_in_survival:
            gamma_names.append(name)
            w_cols.append(c)
    time_months = time_days / DAYS_PER_MONTH
    if cut_days is not None:
        cuts = np.concatenate([[0.0], np.asarray(sorted(cut_days), float) / DAYS_PER_MONTH, [np.inf]])
        if np.any(np.diff(cuts) <= 0) or cuts[1] <= 0:
            raise ParameterError("cut_days", list(cut_days), "must be distinct days > 0")
    else:
        if not isinstance(baseline_pieces, int) or baseline_pieces < 1:
            raise ParameterError("baseline_pieces", baseline_pieces, "must be a whole number >= 1")
        cuts = baseline_cuts_months(time_months, event, baseline_pieces)
    if baseline == "piecewise":
        hazard = BaselineHazard.piecewise(cuts)
    elif baseline == "weibull":
        hazard = BaselineHazard.weibull(cuts)
    else:
        if int(np.sum(event == 1)) < spline_knots + 4:
            raise AnalysisError(ANALYSIS, f"{int(np.sum(event == 1))} events cannot support a cubic B-spline "
                                          f"baseline with {spline_knots} interior knots")
        hazard = BaselineHazard.bspline(time_months, event, spline_knots, cuts)
    data = make_joint_data(visits["total"].to_numpy(float), visits["day"].to_numpy(float) / DAYS_PER_MONTH,
                           visits["i"].to_numpy(int), np.column_stack(cols0), np.column_stack(cols1),
                           np.column_stack(w_cols), time_months, event, hazard, ASSOCIATIONS[association])
    excluded = {"visits_before_randomisation": int(before.sum()), "visits_after_horizon": int(after.sum())}
    return JointDesign(data=data, subject_ids=tuple(ids), arms=arm, control_arm=control, active_arms=active,
                       beta_names=tuple(beta_names), gamma_names=tuple(gamma_names),
                       horizon_months=None if horizon_days is None else horizon_days / DAYS_PER_MONTH,
                       excluded=excluded)
