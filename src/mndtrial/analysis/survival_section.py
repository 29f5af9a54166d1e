"""The plan's `survival` section: KM, log-rank (plain and stratified), three Cox models, horizon, RMST."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from pydantic import Field

from ..data import Trial
from .cox import CoxModel
from .horizon import rmst_test, survival_at_horizon
from .km import kaplan_meier
from .logrank import logrank_test
from .numbers import fmt_ci, fmt_fixed, fmt_median_days, fmt_p, fmt_ratio
from .registry import SectionConfig, register_section

if TYPE_CHECKING:
    from .plan import AnalysisPlan

__all__ = ["SurvivalConfig", "run_survival", "summarize_survival"]

CoxKind = Literal["unadjusted", "adjusted", "stratified"]


class SurvivalConfig(SectionConfig):
    """`[survival]` in the plan TOML."""

    cox_models: tuple[CoxKind, ...] = ("unadjusted", "adjusted", "stratified")
    stratified_with_covariates: bool = Field(
        default=False, description="stratified Cox: arm + plan covariates (True) or arm alone (False)")
    ph_test: bool = True
    kaplan_meier: bool = True
    horizon: bool = True
    rmst: bool = True


def _not_computed(reason: str) -> dict[str, str]:
    return {"not_computed": reason}


def run_survival(trial: Trial, plan: "AnalysisPlan", config: SurvivalConfig) -> dict[str, Any]:
    """Every survival analysis the config asks for, as JSON-able dicts keyed as in results.json."""
    contrast = plan.contrast(trial, analysis="survival")
    strata = plan.strata_for(trial)
    common = {"contrast": contrast, "event_types": plan.event_types}
    out: dict[str, Any] = {"endpoint": plan.endpoint, "arms": contrast.to_dict(), "strata": list(strata),
                           "covariates": list(plan.covariates)}
    if config.kaplan_meier:
        out["kaplan_meier"] = plan.attempt("Kaplan-Meier", lambda: kaplan_meier(
            trial, plan.at_risk_for(trial), plan.alpha, plan.event_types))
    out["logrank"] = plan.attempt("log-rank", lambda: logrank_test(trial, **common))
    out["logrank_stratified"] = (plan.attempt("stratified log-rank", lambda: logrank_test(trial, strata, **common))
                                 if strata else _not_computed("no strata in the plan or the trial"))
    cox: dict[str, Any] = {}
    models = {
        "unadjusted": ((), ()),
        "adjusted": (plan.covariates, ()),
        "stratified": (plan.covariates if config.stratified_with_covariates else (), strata),
    }
    for kind in config.cox_models:
        covariates, cox_strata = models[kind]
        if kind == "adjusted" and not covariates:
            cox[kind] = _not_computed("no covariates in the plan")
            continue
        if kind == "stratified" and not cox_strata:
            cox[kind] = _not_computed("no strata in the plan or the trial")
            continue
        model = CoxModel(covariates, cox_strata, alpha=plan.alpha, ph_test=config.ph_test, label=kind, **common)
        cox[kind] = plan.attempt(f"Cox ({kind})", lambda m=model: m.fit(trial).result_)
    out["cox"] = cox
    horizon = plan.horizon_or_none(trial)
    no_horizon = _not_computed("no horizon_days in the plan or the trial")
    if config.horizon:
        out["horizon"] = no_horizon if horizon is None else plan.attempt(
            "survival at horizon", lambda: survival_at_horizon(trial, horizon, plan.alpha, **common))
    if config.rmst:
        out["rmst"] = no_horizon if horizon is None else plan.attempt(
            "RMST", lambda: rmst_test(trial, horizon, plan.alpha, **common))
    return out


def summarize_survival(out: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Printable tables from the section's JSON output (used by the CLI and reports)."""
    tables: dict[str, pd.DataFrame] = {}
    rows = []
    for key, label in (("logrank", "log-rank"), ("logrank_stratified", "stratified log-rank")):
        r = out.get(key, {})
        if "chi2" in r:
            rows.append({"test": label, "chi2": fmt_fixed(r["chi2"], 2), "df": r["df"], "p": fmt_p(r["p"]),
                         "O/E": ", ".join(f"{g} {v['observed']:g}/{v['expected']:.1f}" for g, v in r["groups"].items())})
        else:
            rows.append({"test": label, "chi2": "-", "df": "-", "p": "-", "O/E": _reason(r)})
    tables["log-rank"] = pd.DataFrame(rows)
    rows = []
    for kind, r in out.get("cox", {}).items():
        if "terms" not in r:
            rows.append({"model": kind, "term": "-", "HR": "-", "95% CI": "-", "p": "-", "PH p": "-",
                         "n/events": _reason(r)})
            continue
        ph = (r.get("ph_test") or {}).get("terms", {})
        for term, t in r["terms"].items():
            rows.append({"model": kind, "term": term, "HR": fmt_ratio(t["hr"]), "95% CI": fmt_ci(t["ci"]),
                         "p": fmt_p(t["p"]), "PH p": fmt_p(ph.get(term, {}).get("p")),
                         "n/events": f"{r['n']}/{r['events']}"})
    tables["Cox models"] = pd.DataFrame(rows)
    for key, title in (("horizon", "survival at horizon"), ("rmst", "RMST")):
        r = out.get(key)
        if r is None:
            continue
        if "per_arm" not in r:
            tables[title] = pd.DataFrame([{"result": _reason(r)}])
            continue
        # probabilities and ratios to 2 decimals; RMST (days) and its difference to 1
        dec = 1 if key == "rmst" else 2
        rows = [{"": arm, "estimate": fmt_fixed(v["estimate"], dec), "95% CI": fmt_ci(v["ci"], dec), "p": ""}
                for arm, v in r["per_arm"].items()]
        rows.append({"": "difference", "estimate": fmt_fixed(r["difference"]["estimate"], dec),
                     "95% CI": fmt_ci(r["difference"]["ci"], dec), "p": fmt_p(r["difference"]["p"])})
        rows.append({"": "ratio", "estimate": fmt_ratio(r["ratio"]["estimate"]), "95% CI": fmt_ci(r["ratio"]["ci"]),
                     "p": fmt_p(r["ratio"]["p"])})
        tables[f"{title} (day {r['horizon_days']:g})"] = pd.DataFrame(rows)
    km = out.get("kaplan_meier")
    if km and "arms" in km:
        rows = []
        for arm, v in km["arms"].items():
            row = {"arm": arm, "n": v["n"], "events": v["events"], "median days": fmt_median_days(v["median_days"]),
                   "median follow-up days": fmt_fixed(v.get("median_follow_up_days"), 0)}
            for d in v["at_days"]:
                row[f"at risk d{d['day']:g}"] = d["at_risk"]
            rows.append(row)
        tables["Kaplan-Meier"] = pd.DataFrame(rows)
    return tables


def _reason(r: dict[str, Any]) -> str:
    if "not_computed" in r:
        return f"not computed: {r['not_computed']}"
    if "error" in r:
        return f"error: {r['error']['reason']}"
    return ""


register_section("survival", SurvivalConfig, run_survival, summarize=summarize_survival,
                 description="KM, log-rank (plain, stratified), Cox (unadjusted, adjusted, stratified), "
                             "survival at horizon, RMST", order=10)
