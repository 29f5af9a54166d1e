"""Subgroup analyses: Cox HR and KM per subgroup (forest-plot rows) and treatment × subgroup tests.

Every level of every subgroup variable gets a row, estimable or not: a subgroup with fewer than
`min_events` events, one arm only, or no events in an arm is reported with `estimable = False`
and the reason, instead of failing the whole analysis or showing an infinite hazard ratio.
Participants without a value form the level `missing`.

Interaction tests (Cox, unstratified, Efron ties):

- by subgroup: likelihood-ratio test of treatment × level terms in
  `treatment + level + treatment:level` against `treatment + level`, on the estimable,
  non-missing levels (those left out are listed with the reason);
- continuous: `treatment + x + treatment:x` with x = log(biomarker) centred at its mean, so
  exp(coef of the product) is the factor by which the HR changes per unit of log biomarker;
  Wald and likelihood-ratio p; participants without the biomarker are counted as excluded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..data import Trial
from ..errors import AnalysisError, ParameterError
from .biomarker import MISSING, GroupAssignment
from .cox import CoxResult, fit_cox_arrays
from .frame import ArmContrast, SurvivalFrame, baseline_values, reused, survival_frame
from .horizon import compared_at_horizon, median_survival
from .distributions import chi2_sf

__all__ = ["subgroup_rows", "interaction_by_subgroup", "interaction_continuous", "overall_row"]


@dataclass(frozen=True)
class _Columns:
    """A survival frame's columns as arrays, read once and sliced per subgroup."""

    subject_id: np.ndarray
    time: np.ndarray
    event: np.ndarray
    treatment: np.ndarray

    @classmethod
    def of(cls, d: pd.DataFrame) -> "_Columns":
        return cls(d["subject_id"].to_numpy(), d["time_days"].to_numpy(float), d["event"].to_numpy(int),
                   d["treatment"].to_numpy(float))

    def take(self, mask: np.ndarray) -> "_Columns":
        return _Columns(self.subject_id[mask], self.time[mask], self.event[mask], self.treatment[mask])

    def levels(self, groups: GroupAssignment) -> np.ndarray:
        """Each row's level of `groups` (None where the subject has no label)."""
        return groups.labels.reindex(self.subject_id).to_numpy(dtype=object)


def _arm_data(c: _Columns, contrast: ArmContrast) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {arm: (c.time[c.treatment == flag], c.event[c.treatment == flag])
            for arm, flag in ((contrast.control, 0.0), (contrast.active, 1.0))}


def _estimate(c: _Columns, contrast: ArmContrast, alpha: float, horizon_days: float | None,
              min_events: int, analysis: str, with_km: bool = True) -> dict[str, Any]:
    """One forest row's numbers for the participants in `c`."""
    arms = _arm_data(c, contrast)
    n = len(c.time)
    row: dict[str, Any] = {"n": n, "events": int(c.event.sum()),
                           "arms": {a: {"n": len(t), "events": int(e.sum())} for a, (t, e) in arms.items()}}
    reason = None
    if n == 0:
        reason = "no participants"
    elif min(len(t) for t, _ in arms.values()) == 0:
        reason = "only one arm in this subgroup"
    elif row["events"] < min_events:
        reason = f"fewer than {min_events} events ({row['events']})"
    if reason is None:
        fitted = reused(("subgroup cox", c.time.tobytes(), c.event.tobytes(), c.treatment.tobytes(), alpha, analysis),
                        lambda: _treatment_estimate(c, alpha, analysis))
        if isinstance(fitted, str):
            reason = fitted
        else:
            row.update({**fitted, "ci": list(fitted["ci"]), "warnings": list(fitted["warnings"])})
    row["estimable"] = reason is None
    row["reason"] = reason
    if reason is not None:
        row.update({"coef": None, "se": None, "hr": None, "ci": [None, None], "p": None})
    if with_km and n and min(len(t) for t, _ in arms.values()) > 0:
        for arm, (t, e) in arms.items():
            row["arms"][arm]["median_days"] = median_survival(t, e)
        if horizon_days is not None:
            try:
                per_arm, difference, _, _ = compared_at_horizon(arms, contrast, horizon_days, "survival", alpha)
                for arm, r in per_arm.items():
                    row["arms"][arm]["survival_at_horizon"] = {"estimate": r["estimate"],
                                                               "ci": [r["ci_lower"], r["ci_upper"]]}
                row["survival_difference"] = difference
            except AnalysisError as exc:
                row["survival_at_horizon_not_computed"] = exc.reason
    return row


def _treatment_estimate(c: _Columns, alpha: float, analysis: str) -> dict[str, Any] | str:
    """The Cox fit of a subgroup row (the treatment term), or why it cannot be fitted. The
    subgroup and interaction sections fit the same subgroups: within a plan run (`reused`) each
    is fitted once."""
    try:
        res = fit_cox_arrays(c.time, c.event, c.treatment[:, None], ["treatment"], alpha=alpha, ph_test=False,
                             label=analysis, analysis=analysis)
    except AnalysisError as exc:
        return exc.reason
    t = dict(zip(res.summary.columns, res.summary.to_numpy()[0]))  # the one term: treatment
    return {"coef": t["coef"], "se": t["se"], "hr": t["hr"], "ci": [t["hr_lower"], t["hr_upper"]], "p": t["p"],
            **_fit_notes(res)}


def overall_row(frame: SurvivalFrame, alpha: float = 0.05, horizon_days: float | None = None,
                min_events: int = 2) -> dict[str, Any]:
    """The 'all participants' row that heads a forest plot."""
    return {"variable": "all", "rule": "all participants", "level": "all",
            **_estimate(_Columns.of(frame.data), frame.contrast, alpha, horizon_days, min_events, "subgroup all")}


def subgroup_rows(frame: SurvivalFrame, groups: GroupAssignment, alpha: float = 0.05,
                  horizon_days: float | None = None, min_events: int = 2,
                  with_km: bool = True) -> list[dict[str, Any]]:
    """One forest row per level of `groups` (the `missing` level included, even when empty).

    `with_km` adds each arm's KM median (and survival at `horizon_days`) to the row.

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> from mndtrial.analysis.biomarker import BiomarkerRule
        >>> trial = example_trial()
        >>> rows = subgroup_rows(survival_frame(trial), BiomarkerRule(biomarker="csf_pnfh", cutoffs=[3700]).assign(trial))
        >>> [(r["level"], r["n"], r["estimable"]) for r in rows]
        [('<= 3700', 45, True), ('> 3700', 15, True), ('missing', 0, False)]
    """
    columns = _Columns.of(frame.data)
    level_of = columns.levels(groups)
    rows = []
    for level in groups.levels:
        analysis = f"subgroup {groups.rule} = {level}"
        rows.append({"variable": groups.variable, "rule": groups.rule, "level": level,
                     **_estimate(columns.take(level_of == level), frame.contrast, alpha, horizon_days, min_events,
                                 analysis, with_km)})
    return rows


def _fit_notes(*fits: CoxResult) -> dict[str, Any]:
    """How each fit was reached (`CoxResult.fit_route`) and the fits' warnings, for the output row."""
    return {"fit_route": [f.fit_route for f in fits] if len(fits) > 1 else fits[0].fit_route,
            "warnings": sorted({w for f in fits for w in f.fit_warnings})}


def _lr(full_ll: float, reduced_ll: float, df: int) -> dict[str, float]:
    chi2 = max(0.0, 2 * (full_ll - reduced_ll))
    return {"chi2": chi2, "df": df, "p": float(chi2_sf(chi2, df))}


def interaction_by_subgroup(frame: SurvivalFrame, groups: GroupAssignment,
                            rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """LR test of treatment × subgroup on the estimable, non-missing levels (`rows` from `subgroup_rows`)."""
    used = [r["level"] for r in rows if r["estimable"] and r["level"] != MISSING]
    excluded = {r["level"]: ("missing value" if r["level"] == MISSING else r["reason"])
                for r in rows if r["level"] not in used and r["n"] > 0}
    out: dict[str, Any] = {"variable": groups.variable, "rule": groups.rule, "levels_used": used,
                           "levels_excluded": excluded}
    if len(used) < 2:
        out["not_computed"] = f"fewer than two estimable levels ({len(used)})"
        return out
    columns = _Columns.of(frame.data)
    level_of = columns.levels(groups)
    c = columns.take(np.isin(level_of, np.array(used, dtype=object)))
    level_of = level_of[np.isin(level_of, np.array(used, dtype=object))]
    main = {f"level{i}": (level_of == level).astype(float) for i, level in enumerate(used[1:])}
    inter = {f"treatment:{name}": c.treatment * x for name, x in main.items()}
    analysis = f"interaction treatment x {groups.rule}"
    reduced = fit_cox_arrays(c.time, c.event, np.column_stack([c.treatment, *main.values()]), ["treatment", *main],
                             ph_test=False, analysis=analysis)
    full = fit_cox_arrays(c.time, c.event, np.column_stack([c.treatment, *main.values(), *inter.values()]),
                          ["treatment", *main, *inter], ph_test=False, analysis=analysis)
    out.update({"n": len(c.time), "events": int(c.event.sum()), "reference_level": used[0],
                **_lr(full.log_likelihood, reduced.log_likelihood, len(inter)), **_fit_notes(reduced, full)})
    return out


def interaction_continuous(trial: Trial, biomarker: str, contrast: ArmContrast, transform: str = "log",
                           alpha: float = 0.05, event_types: Sequence[str] | None = None) -> dict[str, Any]:
    """Treatment × (log) biomarker as a continuous term: Wald and LR p, HR change per unit.

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> from mndtrial.analysis import arm_contrast
        >>> trial = example_trial()
        >>> res = interaction_continuous(trial, "csf_pnfh", arm_contrast(trial))
        >>> res["n"], res["excluded_missing"]
        (60, 0)
    """
    analysis = f"interaction treatment x {transform}({biomarker})" if transform != "none" else \
        f"interaction treatment x {biomarker}"
    frame = survival_frame(trial, contrast=contrast, event_types=event_types, analysis=analysis)
    d = frame.data
    raw = baseline_values(trial, biomarker, parameter="interaction.continuous")
    if not (pd.api.types.is_numeric_dtype(raw.dtype) or pd.api.types.is_bool_dtype(raw.dtype)):
        raise ParameterError("interaction.continuous", biomarker, "is a text column; a continuous "
                                                                  "interaction needs numbers")
    values = raw.reindex(d["subject_id"]).to_numpy(dtype=float, na_value=np.nan)
    present = ~np.isnan(values)
    if not present.any():
        raise AnalysisError(analysis, f"{biomarker} is missing for all {len(d)} participants")
    if transform == "log":
        if np.any(values[present] <= 0):
            raise AnalysisError(analysis, f"{biomarker} has values <= 0; its log is undefined")
        values = np.log(values)
    c = _Columns.of(d).take(present)
    centre = float(values[present].mean())
    x = values[present] - centre
    reduced = fit_cox_arrays(c.time, c.event, np.column_stack([c.treatment, x]), ["treatment", "x"], alpha=alpha,
                             ph_test=False, analysis=analysis)
    full = fit_cox_arrays(c.time, c.event, np.column_stack([c.treatment, x, c.treatment * x]),
                          ["treatment", "x", "treatment:x"], alpha=alpha, ph_test=False, analysis=analysis)
    t = full.summary.loc["treatment:x"]
    tr = full.summary.loc["treatment"]
    return {"biomarker": biomarker, "transform": transform, "centre": centre, "n": len(c.time),
            "events": int(c.event.sum()), "excluded_missing": int((~present).sum()),
            "interaction": {"coef": t.coef, "se": t.se, "hr": t.hr, "ci": [t.hr_lower, t.hr_upper], "p": t.p},
            "treatment_at_centre": {"coef": tr.coef, "se": tr.se, "hr": tr.hr, "ci": [tr.hr_lower, tr.hr_upper],
                                    "p": tr.p},
            "lr_test": _lr(full.log_likelihood, reduced.log_likelihood, 1), **_fit_notes(reduced, full)}
