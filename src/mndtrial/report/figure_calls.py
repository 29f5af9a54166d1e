"""The trial report's figures as calls (`ahead.FigureCall`): what each figure is drawn from.

The page (`html.trial_report`) and the report's writer (`report.background`) build a figure's
call with the same function here, so a figure drawn ahead -- as soon as the trial, or the
results.json blocks it reads, are known -- is the page's own figure: its call has the same
fingerprint. `RESULT_FIGURES` says which results.json blocks (analysis sections) each figure
reads, so the writer can start on it when those sections have ended and the rest still run.

Example:
    >>> from mndtrial.analysis import AnalysisPlan
    >>> from mndtrial.data.example import example_trial
    >>> trial = example_trial()
    >>> data = AnalysisPlan().run(trial).to_dict()
    >>> sorted(result_figure_calls(trial, data))  # the Treg figure: one per analyte measured
    ['forest', 'km_overall', 'ph_check', 'treg_treg_pct_cd4']
"""

from __future__ import annotations

from typing import Any, Callable, Collection, Iterable, Mapping

from ..analysis.numbers import arm_labels
from ..data import Trial
from .ahead import FigureCall
from .figures import alsfrs_figure, forest_figure, km_figure, km_subgroups_figure, ph_check_figure, treg_figure

__all__ = ["RESULT_FIGURES", "result_figure_calls", "km_overall_call", "forest_call", "ph_check_call",
           "treg_calls", "km_subgroup_calls", "alsfrs_call", "endpoint_trial", "DEFAULT_INDIVIDUAL_LINES",
           "TREG_ANALYTES"]

DEFAULT_INDIVIDUAL_LINES = 40  # participants' ALSFRS-R lines drawn (a random sample, unlabelled)
TREG_ANALYTES = ("treg_pct_cd4", "treg_count")


def endpoint_trial(trial: Trial, event_types: Iterable[str] | None) -> Trial:
    """The trial with only `event_types` counted as events (others censored at their time).

    The analysis plan's `event_types` define the endpoint; figures drawn from the trial itself
    (KM by subgroup, the PH check) must use the same events as the numbers printed beside them.
    """
    if event_types is None:
        return trial
    from ..analysis.frame import endpoint_events

    event = endpoint_events(trial, list(event_types)).set_index("subject_id")["event"]
    tables = trial.tables()
    survival = tables["survival"].copy()
    survival["event"] = survival["subject_id"].map(event).astype(survival["event"].dtype)
    return Trial(tables["participants"], survival, tables.get("alsfrs"), tables.get("biomarkers"), info=trial.info)


# -- what the figures read from results.json ----------------------------------------------------
def km_data(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The analysis's Kaplan–Meier curves (results.json `survival.kaplan_meier`), when there are."""
    km = (data.get("survival") or {}).get("kaplan_meier")
    return km if isinstance(km, Mapping) and "arms" in km else None


def plan_horizon(trial: Trial | None, data: Mapping[str, Any]) -> float | None:
    """The horizon the analysis used: the plan's, else the trial's, else the one results.json records."""
    horizon = (data.get("plan") or {}).get("horizon_days")
    if horizon is None and trial is not None:
        horizon = trial.info.horizon_days
    if horizon is None:
        horizon = ((data.get("survival") or {}).get("horizon") or {}).get("horizon_days")
    return None if horizon is None else float(horizon)


def plan_alpha(data: Mapping[str, Any]) -> float:
    return float((data.get("plan") or {}).get("alpha") or 0.05)


def labels_of(trial: Trial | None, data: Mapping[str, Any]) -> dict[str, str]:
    """Arm display labels: the trial's (trial.toml `label`), else those results.json records."""
    if trial is not None:
        return arm_labels(trial.info)
    return dict((data.get("trial") or {}).get("arm_labels") or {})


def km_at_days(data: Mapping[str, Any]) -> list[float] | None:
    """The days of the analysis's at-risk table (the first arm's `at_days`), so figure and table agree."""
    km = km_data(data)
    if not km:
        return None
    first = next(iter(km["arms"].values()), {})
    days = [float(d["day"]) for d in first.get("at_days") or []]
    return days or None


def km_effect(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The unadjusted Cox HR and the log-rank p of the analysis, as printed on the KM panel."""
    survival = data.get("survival") or {}
    term = (((survival.get("cox") or {}).get("unadjusted") or {}).get("terms") or {}).get("treatment")
    if not term:
        return None
    return {"hr": term.get("hr"), "ci": term.get("ci"), "p": (survival.get("logrank") or {}).get("p"),
            "ci_level": 1 - plan_alpha(data)}


def forest_input(data: Mapping[str, Any]):
    """(rows, interaction p by variable, overall row) from results.json's `subgroups` list, or None.

    Rows are grouped by their rule label (e.g. "csf_pnfh cut at 3700", "onset_site"); the
    interaction p of a group is the treatment × level likelihood-ratio test in
    `interaction.by_subgroup`. The `variable = "all"` row is the whole trial.
    """
    sub = data.get("subgroups")
    if not isinstance(sub, list) or not sub:
        return None
    rows, overall = [], None
    for r in sub:
        if not isinstance(r, Mapping):
            continue
        if r.get("variable") == "all":
            overall = r
            continue
        level = r.get("level")
        rows.append({"variable": r.get("rule") or r.get("variable"),
                     "label": "(not split)" if level is None else str(level),
                     "n": r.get("n"), "events": r.get("events"), "hr": r.get("hr"), "ci": r.get("ci"),
                     "note": r.get("reason")})
    if not rows:
        return None
    interaction = {}
    for t in (data.get("interaction") or {}).get("by_subgroup") or []:
        if isinstance(t, Mapping) and t.get("p") is not None:
            interaction[t.get("rule") or t.get("variable")] = t["p"]
    return rows, interaction, overall


def ph_test(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    cox = ((data.get("survival") or {}).get("cox") or {}).get("unadjusted") or {}
    return ((cox.get("ph_test") or {}).get("terms") or {}).get("treatment")


# -- the calls ------------------------------------------------------------------------------------
def km_overall_call(trial: Trial | None, data: Mapping[str, Any]) -> FigureCall | None:
    """Kaplan–Meier by arm: the analysis's own curves (its endpoint, event types and alpha) when
    there are results, else the trial's; None with neither."""
    source = km_data(data) or trial
    if source is None:
        return None
    control = (trial.info.control_arm if trial is not None
               else ((data.get("survival") or {}).get("arms") or {}).get("control"))
    return FigureCall(km_figure, (source,), {"control": control, "horizon_days": plan_horizon(trial, data),
                                             "alpha": plan_alpha(data), "labels": labels_of(trial, data),
                                             "at_risk_days": km_at_days(data),
                                             "effect": km_effect(data) if data else True})


def forest_call(data: Mapping[str, Any]) -> FigureCall | None:
    """The forest plot of the subgroup hazard ratios (intervals at 1 - alpha); None without subgroups."""
    rows = forest_input(data)
    if rows is None:
        return None
    subgroup_rows, interaction, overall = rows
    return FigureCall(forest_figure, (subgroup_rows, interaction, overall), {"ci_level": 1 - plan_alpha(data)})


def ph_check_call(trial: Trial, data: Mapping[str, Any]) -> FigureCall:
    """The scaled Schoenfeld residuals of the model whose test p is shown: the plan's arms and endpoint."""
    plan = data.get("plan") or {}
    active = ((data.get("survival") or {}).get("arms") or {}).get("active")
    return FigureCall(ph_check_figure, (endpoint_trial(trial, plan.get("event_types")),),
                      {"active": active, "ph_test": ph_test(data), "labels": labels_of(trial, data)})


def treg_response_figure(trial: Trial, block: Any, analyte: str):
    """The analysis's own Treg results when present (its visits, windows and CI level), else the trial."""
    if isinstance(block, Mapping) and "by_visit" in block:
        return treg_figure(block, analyte, info=trial.info)
    return treg_figure(trial, analyte)


def treg_analytes(trial: Trial) -> list[str]:
    """The Treg analytes the trial measured, in the report's order."""
    analytes = set() if trial.biomarkers is None else set(trial.biomarkers["analyte"])
    return [a for a in TREG_ANALYTES if a in analytes]


def treg_calls(trial: Trial, data: Mapping[str, Any]) -> dict[str, FigureCall]:
    """`{"treg_<analyte>": call}` for each Treg analyte the trial measured."""
    blocks = data.get("treg") or {}
    return {f"treg_{a}": FigureCall(treg_response_figure, (trial, blocks.get(a), a)) for a in treg_analytes(trial)}


def km_subgroup_calls(km_groups: Mapping[str, Mapping[str, Trial]], horizon_days: float | None, alpha: float,
                      labels: Mapping[str, str], at_risk_days: list[float] | None
                      ) -> dict[str, tuple[str, FigureCall]]:
    """The per-subgroup KM figures of the report, `{figure name: (rule label, call)}`: one per rule
    with groups (the same calls whether the page is built now or its figures drawn ahead)."""
    return {f"km_subgroups_{i + 1}": (label, FigureCall(km_subgroups_figure, (groups,),
                                                        {"horizon_days": horizon_days, "alpha": alpha,
                                                         "labels": dict(labels), "at_risk_days": at_risk_days}))
            for i, (label, groups) in enumerate(km_groups.items()) if groups}


def alsfrs_call(trial: Trial, n_lines: int = DEFAULT_INDIVIDUAL_LINES, seed: int = 0) -> FigureCall:
    """The ALSFRS-R trajectories figure of the report."""
    return FigureCall(alsfrs_figure, (trial,), {"n_individual": n_lines, "seed": seed})


def _single(name: str, build: Callable[[Trial, Mapping[str, Any]], FigureCall | None]):
    def calls(trial: Trial, data: Mapping[str, Any]) -> dict[str, FigureCall]:
        call = build(trial, data)
        return {} if call is None else {name: call}
    return calls


# Each figure drawn from results (with the trial): the results.json sections it reads, and its calls.
RESULT_FIGURES: dict[str, tuple[tuple[str, ...], Callable[[Trial, Mapping[str, Any]], dict[str, FigureCall]]]] = {
    "km_overall": (("survival",), _single("km_overall", km_overall_call)),
    "forest": (("subgroups", "interaction"), _single("forest", lambda trial, data: forest_call(data))),
    "ph_check": (("survival",), _single("ph_check", ph_check_call)),
    "treg": (("treg",), treg_calls),
}


def result_figure_calls(trial: Trial, data: Mapping[str, Any], pending: Collection[str] = ()) -> dict[str, FigureCall]:
    """The calls of the report's figures drawn from results (`RESULT_FIGURES`), `{figure name: call}`,
    for those none of whose sections is in `pending` (sections that will run but have not ended).

    `data` is results.json as a dict, or as much of it as is known: the `plan` block and the
    blocks of the sections that have ended.
    """
    calls: dict[str, FigureCall] = {}
    for sections, build in RESULT_FIGURES.values():
        if not set(sections) & set(pending):
            calls.update(build(trial, data))
    return calls
