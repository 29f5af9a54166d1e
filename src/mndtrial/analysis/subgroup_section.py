"""The plan's `subgroups` (forest-plot rows) and `interaction` sections.

Subgroup and interaction analyses are exploratory: a variable or level that cannot be analysed
(biomarker missing for everyone, a column the trial lacks, too few events) is reported in the
output with its reason and the rest of the plan goes on, whatever `on_error` says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from pydantic import Field

from ..data import Trial
from ..errors import AnalysisError, ParameterError
from .biomarker import BiomarkerRule, GroupAssignment, categorical_groups
from .frame import survival_frame
from .numbers import fmt_fixed, fmt_p, fmt_ratio_ci
from .registry import SectionConfig, register_section
from .subgroups import interaction_by_subgroup, interaction_continuous, overall_row, subgroup_rows

if TYPE_CHECKING:
    from .plan import AnalysisPlan

__all__ = ["SubgroupsConfig", "InteractionConfig", "plan_biomarker_rules", "run_subgroups", "run_interaction"]

DEFAULT_BIOMARKERS = ("csf_pnfh", "serum_nfl")


class SubgroupsConfig(SectionConfig):
    """`[subgroups]` in the plan TOML."""

    columns: tuple[str, ...] = ("onset_site", "sex", "country")
    age_bands_years: tuple[float, ...] = Field(default=(65.0,), description="age cut-offs; () for no age bands")
    biomarkers: bool = Field(default=True, description="subgroups by the plan's biomarker rules")
    min_events: int = Field(default=2, ge=1, description="fewer events in a subgroup: not estimable")
    survival_at_horizon: bool = True


class InteractionConfig(SectionConfig):
    """`[interaction]` in the plan TOML."""

    continuous: tuple[str, ...] | None = Field(
        default=None, description="biomarkers tested as continuous terms; default: those of the biomarker rules")
    transform: Literal["log", "none"] = "log"
    by_subgroup: bool = Field(default=True, description="treatment x level test for every [subgroups] variable")


def plan_biomarker_rules(plan: "AnalysisPlan", trial: Trial) -> tuple[BiomarkerRule, ...]:
    """The plan's biomarker rules; if it declares none, a median split of each known baseline
    biomarker the trial has (csf_pnfh, serum_nfl)."""
    if plan.biomarker_rules:
        return plan.biomarker_rules
    parts = trial.participants
    return tuple(BiomarkerRule(biomarker=b, quantiles=(0.5,)) for b in DEFAULT_BIOMARKERS
                 if b in parts.columns and parts[b].notna().any())


def _groupings(trial: Trial, plan: "AnalysisPlan", config: SubgroupsConfig
               ) -> list[tuple[str, str, GroupAssignment | str]]:
    """(variable, rule, assignment or the reason there is none) for every subgroup variable."""
    out: list[tuple[str, str, GroupAssignment | str]] = []
    rules = list(plan_biomarker_rules(plan, trial)) if config.biomarkers else []
    if config.age_bands_years:
        rules.append(BiomarkerRule(biomarker="age", cutoffs=tuple(config.age_bands_years), name="age band (years)"))
    for rule in rules:
        try:
            out.append((rule.biomarker, rule.label, rule.assign(trial)))
        except (AnalysisError, ParameterError) as exc:
            out.append((rule.biomarker, rule.label, getattr(exc, "reason", None) or str(exc)))
    for column in config.columns:
        try:
            out.append((column, column, categorical_groups(trial, column)))
        except AnalysisError as exc:
            out.append((column, column, exc.reason))
    return out


def run_subgroups(trial: Trial, plan: "AnalysisPlan", config: SubgroupsConfig) -> list[dict[str, Any]]:
    """Forest-plot rows: all participants, then every level of every subgroup variable."""
    contrast = plan.contrast(trial, analysis="subgroups")
    frame = survival_frame(trial, contrast=contrast, event_types=plan.event_types, analysis="subgroups")
    horizon = plan.horizon_or_none(trial) if config.survival_at_horizon else None
    rows = [overall_row(frame, plan.alpha, horizon, config.min_events)]
    for variable, rule, groups in _groupings(trial, plan, config):
        if isinstance(groups, str):
            rows.append({"variable": variable, "rule": rule, "level": None, "estimable": False, "reason": groups})
            continue
        for row in subgroup_rows(frame, groups, plan.alpha, horizon, config.min_events):
            rows.append({**row, "cut_points": list(groups.cut_points)})
    return rows


def run_interaction(trial: Trial, plan: "AnalysisPlan", config: InteractionConfig) -> dict[str, Any]:
    """Continuous treatment x biomarker tests and treatment x subgroup tests."""
    contrast = plan.contrast(trial, analysis="interaction")
    names = config.continuous
    if names is None:
        names = tuple(dict.fromkeys(r.biomarker for r in plan_biomarker_rules(plan, trial)))
    continuous = []
    for name in names:
        try:
            continuous.append(interaction_continuous(trial, name, contrast, config.transform, plan.alpha,
                                                     plan.event_types))
        except (AnalysisError, ParameterError) as exc:
            continuous.append({"biomarker": name, "transform": config.transform,
                               "not_computed": getattr(exc, "reason", None) or str(exc)})
    by_subgroup = []
    if config.by_subgroup:
        sub_config = plan.section("subgroups")
        frame = survival_frame(trial, contrast=contrast, event_types=plan.event_types, analysis="interaction")
        for variable, rule, groups in _groupings(trial, plan, sub_config):
            if isinstance(groups, str):
                by_subgroup.append({"variable": variable, "rule": rule, "not_computed": groups})
                continue
            rows = subgroup_rows(frame, groups, plan.alpha, None, sub_config.min_events, with_km=False)
            try:
                by_subgroup.append(interaction_by_subgroup(frame, groups, rows))
            except AnalysisError as exc:
                by_subgroup.append({"variable": variable, "rule": rule, "not_computed": exc.reason})
    return {"continuous": continuous, "by_subgroup": by_subgroup}


def summarize_subgroups(rows: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    # the column names the arms, in the order of the counts (control first), so they can be read
    arm_names = next((list(r["arms"]) for r in rows if r.get("arms")), [])
    counts_label = f"events/n ({' / '.join(arm_names)})" if arm_names else "events/n by arm"
    table = []
    for r in rows:
        if r.get("level") == "missing" and r.get("n") == 0:
            continue  # an empty 'missing' level stays in the JSON (as a count of 0), not on screen
        arms = r.get("arms", {})
        events = " / ".join(f"{v['events']}/{v['n']}" for v in arms.values()) if arms else "-"
        table.append({"variable": r["rule"], "level": r["level"] if r["level"] is not None else "-",
                      counts_label: events,
                      "HR (95% CI)": fmt_ratio_ci(r["hr"], r["ci"]) if r.get("estimable") else "not estimable",
                      "p": fmt_p(r.get("p")), "note": r.get("reason") or ""})
    return {"forest": pd.DataFrame(table)}


def summarize_interaction(out: dict[str, Any]) -> dict[str, pd.DataFrame]:
    rows = []
    for r in out.get("continuous", []):
        if "not_computed" in r:
            rows.append({"test": f"treatment x {r['transform']}({r['biomarker']})", "statistic": "-", "p": "-",
                         "note": r["not_computed"]})
            continue
        i = r["interaction"]
        rows.append({"test": f"treatment x {r['transform']}({r['biomarker']})",
                     "statistic": f"HR ratio {fmt_ratio_ci(i['hr'], i['ci'])}",
                     "p": f"Wald {fmt_p(i['p'])}, LR {fmt_p(r['lr_test']['p'])}",
                     "note": f"n={r['n']}, {r['excluded_missing']} missing excluded"})
    for r in out.get("by_subgroup", []):
        if "not_computed" in r:
            rows.append({"test": f"treatment x {r['rule']}", "statistic": "-", "p": "-", "note": r["not_computed"]})
            continue
        note = f"levels {', '.join(r['levels_used'])}"
        if r["levels_excluded"]:
            note += "; excluded " + ", ".join(f"{k} ({v})" for k, v in r["levels_excluded"].items())
        rows.append({"test": f"treatment x {r['rule']}", "statistic": f"LR chi2 {fmt_fixed(r['chi2'], 2)} on {r['df']} df",
                     "p": fmt_p(r["p"]), "note": note})
    return {"tests": pd.DataFrame(rows)}


register_section("subgroups", SubgroupsConfig, run_subgroups, summarize=summarize_subgroups, order=20,
                 description="Cox HR and KM per subgroup level (forest-plot rows)")
register_section("interaction", InteractionConfig, run_interaction, summarize=summarize_interaction, order=30,
                 description="treatment x biomarker (continuous) and treatment x subgroup tests")
