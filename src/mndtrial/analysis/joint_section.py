"""The plan's `[joint]` section: the joint model of ALSFRS-R and survival (results.json `joint.*`).

Off by default (`[joint] enabled = true` switches it on): one fit takes seconds, not
milliseconds. Overall, then per level of each plan biomarker rule (exploratory; a subgroup fit
that cannot be computed or does not converge is reported with its reason). The plan's arms,
horizon, endpoint (`event_types`) and alpha apply as in the `function` section.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from pydantic import Field

from ..data import Trial
from ..errors import AnalysisError, ParameterError
from .biomarker import MISSING, OUTSIDE
from .outcome_sections import compared_trial
from .registry import SectionConfig, register_section
from .subgroup_section import plan_biomarker_rules

if TYPE_CHECKING:
    from .plan import AnalysisPlan

# The joint model's modules are imported when the section runs (it is off by default).

__all__ = ["JointConfig", "run_joint", "summarize_joint"]


class JointConfig(SectionConfig):
    """`[joint]`: shared-parameter joint model of ALSFRS-R and death (docs/joint.md)."""

    enabled: bool = False
    association: Literal["value", "slope", "both", "none"] = Field(
        default="value", description="what of the true ALSFRS-R trajectory the hazard depends on")
    covariates: tuple[str, ...] = Field(default=(), description="participants columns adjusted for (both parts)")
    covariates_on_slope: bool = True
    baseline_pieces: int = Field(default=5, ge=1, description="pieces of the baseline hazard, cut at event-time quantiles")
    cut_days: tuple[float, ...] | None = Field(default=None, description="explicit cuts of the baseline hazard (days)")
    baseline: Literal["piecewise", "weibull", "bspline"] = Field(
        default="piecewise", description="baseline hazard: piecewise constant, Weibull, or a cubic B-spline of log hazard")
    spline_knots: int = Field(default=3, ge=0, description="interior knots of the B-spline baseline (event-time quantiles)")
    quadrature_points: int = Field(default=5, ge=1, le=30, description="adaptive Gauss-Hermite points per random effect")
    biomarker_subgroups: bool = Field(default=True, description="a fit per level of each plan biomarker rule")


def run_joint(trial: Trial, plan: "AnalysisPlan", config: JointConfig) -> dict[str, Any]:
    from .joint import JointModel

    if trial.alsfrs is None:
        return {"not_computed": "the trial has no alsfrs table"}
    trial = compared_trial(trial, plan, "joint")
    options = dict(association=config.association, covariates=config.covariates,
                   covariates_on_slope=config.covariates_on_slope, baseline_pieces=config.baseline_pieces,
                   cut_days=config.cut_days, quadrature_points=config.quadrature_points,
                   baseline=config.baseline, spline_knots=config.spline_knots,
                   horizon_days=plan.horizon_or_none(trial), event_types=plan.event_types, level=1 - plan.alpha)
    out = JointModel(**options).fit(trial).to_dict()
    subgroups: dict[str, Any] = {}
    excluded: dict[str, dict[str, int]] = {}
    rules = plan_biomarker_rules(plan, trial) if config.biomarker_subgroups else ()
    for rule in rules:
        try:
            labels = rule.assign(trial).labels
        except (AnalysisError, ParameterError) as exc:
            subgroups[rule.label] = {"not_computed": getattr(exc, "reason", None) or str(exc)}
            continue
        excluded[rule.label] = {"missing": int((labels == MISSING).sum()), "outside": int((labels == OUTSIDE).sum())}
        for level in labels.unique():
            if level in (MISSING, OUTSIDE):
                continue
            label = f"{rule.label}: {level}"
            ids = labels.index[labels == level].tolist()
            try:
                fit = JointModel(**options, curves=False).fit(trial.select(ids, name=f"{trial.info.name} [{label}]"))
                subgroups[label] = fit.to_dict()["overall"]
            except (AnalysisError, ParameterError) as exc:
                subgroups[label] = {"not_computed": getattr(exc, "reason", None) or str(exc)}
    out["subgroups"] = subgroups
    out["subgroups_excluded"] = excluded
    return out


def _fmt(x: Any, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def _ci(r: dict[str, Any]) -> str:
    return f"{_fmt(r['estimate'])} ({_fmt(r['ci'][0])}, {_fmt(r['ci'][1])})"


QUANTITIES = {"slope_difference_per_month": "slope difference/month (CI)",
              "slope_ratio": "slowing 1 − active/control (CI)", "log_hr_direct": "direct log HR (CI)",
              "log_hr_total_mean": "total log HR (CI)", "survival_difference_at_horizon": "survival difference (CI)"}


def summarize_joint(out: dict[str, Any]) -> dict[str, pd.DataFrame]:
    if "not_computed" in out:
        return {}
    rows = []
    for name, fit in {"overall": out["overall"], **out.get("subgroups", {})}.items():
        if "not_computed" in fit:
            rows.append({"population": name, "arm": "-", "note": fit["not_computed"]})
            continue
        association = "; ".join(f"{k.split('_', 1)[1]} {_ci(v)}" for k, v in fit["estimates"].get("all", {}).items())
        for arm, test in fit["joint_test"].items():
            e = fit["estimates"][arm]
            rows.append({"population": name, "arm": arm, **{label: _ci(e[q]) for q, label in QUANTITIES.items()},
                         "joint test p (2 df)": _fmt(test["p"]), "association (CI)": association,
                         "note": "; ".join(fit["problems"])})
    return {"Joint model of ALSFRS-R and survival": pd.DataFrame(rows)}


register_section("joint", JointConfig, run_joint, summarize=summarize_joint, order=45,
                 description="shared-parameter joint model of ALSFRS-R and death (off by default)")
