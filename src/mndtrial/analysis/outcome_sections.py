"""The plan's `function`, `cafs` and `treg` sections (results.json `function.*`, `cafs.*`, `treg.*`).

Each runs when its table is present and is switched in the plan TOML (`[function] enabled =
false`). A table the trial does not have gives `{"not_computed": reason}`; data the analysis
cannot handle raise `AnalysisError` (recorded as `{"error": ...}` with `on_error = "record"`).
Subgroup fits are exploratory: one that cannot be computed is reported with its reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import Field

from ..data import Trial
from ..errors import AnalysisError, ParameterError
from .biomarker import MISSING, OUTSIDE
from .cafs import CAFS
from .function import SlopeAnalysis, slope_interaction_in
from .slope_data import SlopeData
from .numbers import fmt_estimate_ci, fmt_fixed, fmt_p
from .registry import SectionConfig, register_section
from .subgroup_section import plan_biomarker_rules
from .treg import TregAnalysis

if TYPE_CHECKING:
    from .plan import AnalysisPlan

__all__ = ["FunctionConfig", "CAFSConfig", "TregConfig", "run_function", "run_cafs", "run_treg"]


class FunctionConfig(SectionConfig):
    """`[function]`: ALSFRS-R slopes from a random-slope mixed model (docs/function.md)."""

    covariates: tuple[str, ...] = Field(default=(), description="participants columns adjusted for")
    covariates_on_slope: bool = True
    biomarker_subgroups: bool = Field(default=True, description="a fit per level of each plan biomarker rule")
    subgroup_columns: tuple[str, ...] = Field(default=(), description="a fit per value of these participants columns")
    interaction: bool = Field(default=True, description="test treatment × subgroup on the slope for each grouping")


class CAFSConfig(SectionConfig):
    """`[cafs]`: combined assessment of function and survival (docs/cafs.md)."""

    stratified: bool = Field(default=True, description="also the stratified test, by the plan's strata")


class TregConfig(SectionConfig):
    """`[treg]`: Treg pharmacodynamics (docs/treg.md)."""

    analytes: tuple[str, ...] = ("treg_pct_cd4", "treg_count")
    visit_days: tuple[float, ...] | None = None
    window_days: float = Field(default=0.0, ge=0)
    primary_day: float | None = None


def _groupings(trial: Trial, plan: "AnalysisPlan", config: FunctionConfig
               ) -> tuple[dict[str, dict[str, list[str]] | str], dict[str, dict[str, int]]]:
    """rule or column → {subgroup label: subject ids} (or the reason it could not be made), and
    rule or column → {why: number of participants in no subgroup} (missing value; outside every range)."""
    out: dict[str, dict[str, list[str]] | str] = {}
    left_out: dict[str, dict[str, int]] = {}
    rules = plan_biomarker_rules(plan, trial) if config.biomarker_subgroups else ()
    for rule in rules:
        try:
            labels = rule.assign(trial).labels
        except (AnalysisError, ParameterError) as exc:
            out[rule.label] = getattr(exc, "reason", None) or str(exc)
            continue
        out[rule.label] = {f"{rule.label}: {level}": labels.index[labels == level].tolist()
                           for level in labels.unique() if level not in (MISSING, OUTSIDE)}
        left_out[rule.label] = {"missing": int((labels == MISSING).sum()), "outside": int((labels == OUTSIDE).sum())}
    participants = trial.participants
    for column in config.subgroup_columns:
        if column not in participants.columns:
            out[column] = f"the participants table has no column '{column}'"
            continue
        out[column] = {f"{column}={value}": participants.loc[participants[column] == value, "subject_id"].tolist()
                       for value in sorted(participants[column].dropna().unique(), key=str)}
        left_out[column] = {"missing": int(participants[column].isna().sum())}
    return out, left_out


def compared_trial(trial: Trial, plan: "AnalysisPlan", analysis: str) -> Trial:
    """The trial as the plan's `[arms]` compare it: without `[arms]` every active arm against the
    trial's control (unchanged); with `arms.control`/`arms.active`, only those two arms (chosen as
    the survival section chooses them, `plan.contrast`) with `arms.control` as the control arm."""
    if plan.arms.control is None and plan.arms.active is None:
        return trial
    contrast = plan.contrast(trial, analysis=analysis)
    participants = trial.participant_columns("subject_id", "arm")
    compared = participants["arm"].isin([contrast.control, contrast.active])
    if _select_keeps_all(trial, compared.all(), contrast.control):
        return trial
    sub = trial.select(participants.loc[compared, "subject_id"])
    if sub.info.control_arm == contrast.control:
        return sub
    arms = tuple(a.model_copy(update={"control": a.name == contrast.control}) for a in sub.info.arms)
    info = type(sub.info).model_validate({**sub.info.model_dump(), "arms": [a.model_dump() for a in arms]})
    return Trial(**sub.tables(), info=info)


def _select_keeps_all(trial: Trial, everyone: bool, control: str) -> bool:
    """Whether `trial.select` of everyone, with `control` as the control arm, is the same trial:
    every participant kept, every arm of its info has participants (none is dropped), `control`
    is already the control arm, and no optional table is empty (`select` makes that None)."""
    if not everyone or trial.info.control_arm != control:
        return False
    if set(trial.info.arm_names) != trial.arms_with_participants:
        return False
    return all(df is None or len(df) > 0 for df in (trial.alsfrs, trial.biomarkers))


def _reason(exc: Exception) -> dict[str, str]:
    return {"not_computed": getattr(exc, "reason", None) or str(exc)}


def run_function(trial: Trial, plan: "AnalysisPlan", config: FunctionConfig) -> dict[str, Any]:
    if trial.alsfrs is None:
        return {"not_computed": "the trial has no alsfrs table"}
    trial = compared_trial(trial, plan, "function")
    options = dict(covariates=config.covariates, covariates_on_slope=config.covariates_on_slope,
                   horizon_days=plan.horizon_or_none(trial))
    analysis = SlopeAnalysis(**options, level=1 - plan.alpha)
    out = analysis.fit(trial).to_dict()
    # every subgroup and interaction model reads the trial's tables once (as `Trial.select` would give them)
    data = SlopeData(trial, config.covariates)
    horizon = plan.horizon_or_none(trial)
    if horizon is None:
        horizon = trial.info.horizon_days
    subgroups: dict[str, Any] = {}
    interaction: dict[str, Any] = {}
    groupings, left_out = _groupings(trial, plan, config)
    for variable, groups in groupings.items():
        if isinstance(groups, str):
            subgroups[variable] = interaction[variable] = {"not_computed": groups}
            continue
        for label, ids in groups.items():
            try:
                subgroups[label] = analysis.fit_population(data.population(ids), "overall", horizon).to_dict()
            except (AnalysisError, ParameterError) as exc:
                subgroups[label] = _reason(exc)
        if not config.interaction:
            continue
        try:
            interaction[variable] = slope_interaction_in(data, groups, horizon, config.covariates,
                                                         config.covariates_on_slope, 1 - plan.alpha)
        except (AnalysisError, ParameterError) as exc:
            interaction[variable] = _reason(exc)
    out["subgroups"] = subgroups
    # participants in no subgroup of a grouping (like Cox's excluded_missing), so none vanish silently
    out["subgroups_excluded"] = left_out
    out["interaction"] = interaction if config.interaction else {"not_computed": "interaction = false in the plan"}
    return out


def run_cafs(trial: Trial, plan: "AnalysisPlan", config: CAFSConfig) -> dict[str, Any]:
    if trial.alsfrs is None:
        return {"not_computed": "the trial has no alsfrs table"}
    trial = compared_trial(trial, plan, "cafs")
    horizon = plan.horizon_or_none(trial)
    # the plan's endpoint (event_types) decides what a death is here too, as in the survival section
    out = {"unstratified": CAFS(horizon_days=horizon, event_types=plan.event_types).fit(trial).to_dict()}
    strata = plan.strata_for(trial)
    if not config.stratified:
        out["stratified"] = {"not_computed": "stratified = false in the plan"}
    elif not strata:
        out["stratified"] = {"not_computed": "no strata in the plan or the trial"}
    else:
        out["stratified"] = CAFS(horizon_days=horizon, strata=strata, event_types=plan.event_types).fit(trial).to_dict()
    return out


def run_treg(trial: Trial, plan: "AnalysisPlan", config: TregConfig) -> dict[str, Any]:
    trial = compared_trial(trial, plan, "treg")
    bio = trial.biomarkers
    present = set() if bio is None else set(bio["analyte"])
    if not present & set(config.analytes):
        return {"not_computed": f"no {' or '.join(config.analytes)} rows in the biomarkers table"}
    out: dict[str, Any] = {}
    for analyte in config.analytes:
        if analyte not in present:
            out[analyte] = {"not_computed": f"no '{analyte}' rows in the biomarkers table"}
            continue
        out[analyte] = TregAnalysis(analyte=analyte, visit_days=config.visit_days, window_days=config.window_days,
                                    primary_day=config.primary_day, level=1 - plan.alpha).fit(trial).to_dict()
    return out


def _ci(r: dict[str, Any], decimals: int = 2) -> str:
    return fmt_estimate_ci(r["estimate"], r["ci"], decimals)


# MIROCALS' "slope ratio" is the relative slowing (placebo − active)/placebo, ≈ 0 for no effect; a
# bare "ratio" reads as active/placebo (≈ 1 for no effect), so the column says which it is.
SLOPE_RATIO_LABEL = "slope ratio 1 − active/control (CI)"


def summarize_function(out: dict[str, Any]) -> dict[str, pd.DataFrame]:
    if "not_computed" in out:
        return {}
    rows = []
    populations = {"overall": out["overall"], **out.get("subgroups", {})}
    for name, fit in populations.items():
        left_out = _left_out_note(name, out.get("subgroups_excluded", {}))
        if "not_computed" in fit:
            rows.append({"population": name, "arm": "-", "slope/month (CI)": "-", "difference (CI)": "-",
                         SLOPE_RATIO_LABEL: "-", "p": "-", "note": "; ".join([fit["not_computed"], *left_out])})
            continue
        for arm, a in fit["arms"].items():
            c = fit["comparisons"].get(arm)
            rows.append({"population": name, "arm": arm, "slope/month (CI)": _ci(a),
                         "difference (CI)": _ci(c["slope_difference_per_month"]) if c else "-",
                         SLOPE_RATIO_LABEL: _ci(c["slope_ratio"]) if c else "-",
                         "p": fmt_p(c["slope_difference_per_month"]["p"]) if c else "-",
                         "note": "; ".join([*fit["problems"], *left_out])})
    return {"ALSFRS-R slope (mixed model)": pd.DataFrame(rows)}


def _left_out_note(population: str, excluded: dict[str, dict[str, int]]) -> list[str]:
    """'4 with missing onset_site in no subgroup' for a subgroup row of that grouping."""
    for variable, counts in excluded.items():
        if population.startswith((f"{variable}=", f"{variable}: ")):
            return [f"{n} with {why} {variable} in no subgroup" for why, n in counts.items() if n]
    return []


def summarize_cafs(out: dict[str, Any]) -> dict[str, pd.DataFrame]:
    if "not_computed" in out:
        return {}
    rows = []
    for kind, res in out.items():
        if "not_computed" in res or "error" in res:
            continue
        # the "stratified" row's FS and van Elteren tests are stratified; its Mann-Whitney is pooled
        label = "stratified (FS by stratum; Mann-Whitney pooled)" if res.get("strata") else kind
        for arm, c in res["comparisons"].items():
            rows.append({"test": label, "arm": arm, "mean rank active/control":
                         f"{fmt_fixed(c['mean_rank_active'], 1)} / {fmt_fixed(c['mean_rank_control'], 1)}",
                         "Mann-Whitney p": fmt_p(c["mann_whitney_p"]),
                         "van Elteren p": fmt_p(c.get("van_elteren_p")), "FS Z": fmt_fixed(c["fs_z"], 2),
                         "FS p": fmt_p(c["fs_p"])})
    return {"CAFS": pd.DataFrame(rows)}


def summarize_treg(out: dict[str, Any]) -> dict[str, pd.DataFrame]:
    if "not_computed" in out:
        return {}
    rows = []
    for analyte, res in out.items():
        if "not_computed" in res or "error" in res:
            continue
        for arm, visits in res["ancova"].items():
            for visit, r in visits.items():
                rows.append({"analyte": analyte, "arm": arm, "visit": visit, "difference vs control (CI)": _ci(r),
                             "p": fmt_p(r["p"])})
    return {"Treg change from baseline (ANCOVA)": pd.DataFrame(rows)}


register_section("function", FunctionConfig, run_function, summarize=summarize_function, order=40,
                 description="ALSFRS-R slopes per arm, slope difference and ratio (mixed model), per subgroup")
register_section("cafs", CAFSConfig, run_cafs, summarize=summarize_cafs, order=50,
                 description="CAFS ranks, Mann-Whitney, van Elteren (stratified) and Finkelstein-Schoenfeld tests")
register_section("treg", TregConfig, run_treg, summarize=summarize_treg, order=60,
                 description="Treg change from baseline, ANCOVA vs placebo, mixed model, dose-response")
