"""The plan's `[effect_along_biomarker]` and `[cutoff_search]` sections: who benefits (docs/who-benefits.md).

Both are off by default (`enabled = true` switches them on): their permutations and bootstrap
resamples take seconds. `effect_along_biomarker` fits treatment × natural spline of the (log)
biomarker for survival (Cox) and the ALSFRS-R slope (LMM), with pointwise and simultaneous bands,
and STEPP with its permutation test; `cutoff_search` selects a cut-off from the plan's candidates
and reports which of its numbers are selection-adjusted. Every part that the data cannot support
(too few events, no ALSFRS-R table) is reported `not_computed` with the reason; the rest goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from ..data import Trial
from ..errors import AnalysisError
from .frame import survival_frame
from .outcome_sections import compared_trial
from .registry import SectionConfig, register_section

if TYPE_CHECKING:
    from .plan import AnalysisPlan

# The estimators (splines, STEPP, cut-off search) are imported when a section runs: both sections
# are off by default, and `mndtrial analyze` should not pay for importing what it does not run.

__all__ = ["EffectAlongBiomarkerConfig", "CutoffSearchConfig", "run_effect_along_biomarker", "run_cutoff_search"]

# MIROCALS's pre-specified CSF-pNfH cut-off (pg/mL; docs/evidence/mnd-evidence.md, line 23).
PUBLISHED_CUTOFFS = {"csf_pnfh": (3700.0,)}


class EffectAlongBiomarkerConfig(SectionConfig):
    """`[effect_along_biomarker]`: the treatment effect as a smooth function of a biomarker."""

    enabled: bool = False
    biomarker: str = "csf_pnfh"
    transform: Literal["log", "none"] = "log"
    spline_df: int = Field(default=3, ge=1, le=8, description="columns of ns(); df - 1 interior knots at quantiles")
    knots: tuple[float, ...] | None = Field(default=None, description="interior knots in biomarker units (instead of df)")
    grid_points: int = Field(default=50, ge=2, le=1000)
    simultaneous_draws: int = Field(default=10_000, ge=100, description="draws for the sup-t simultaneous band")
    survival: bool = True
    slope: bool = Field(default=True, description="the same for the ALSFRS-R slope (LMM)")
    stepp: bool = True
    stepp_window_size: int | None = Field(default=None, ge=2, description="participants per window (default n/4, >= 20)")
    stepp_window_step: int | None = Field(default=None, ge=1, description="participants between window starts")
    stepp_permutations: int = Field(default=500, ge=1)
    mark_cutoffs: tuple[float, ...] | None = Field(
        default=None, description="cut-offs drawn on the figures; default the published ones (CSF-pNfH 3700)")
    seed: int = 2026


class CutoffSearchConfig(SectionConfig):
    """`[cutoff_search]`: a cut-off chosen from the data, with selection-adjusted inference."""

    enabled: bool = False
    biomarker: str = "csf_pnfh"
    candidates: tuple[float, ...] | None = Field(default=None, description="candidate cut-offs (biomarker units)")
    candidate_quantiles: tuple[float, float] = Field(
        default=(0.2, 0.8), description="without candidates: n_candidates quantiles of the biomarker in this range")
    n_candidates: int = Field(default=13, ge=1, le=200)
    statistic: Literal["low_subgroup", "interaction"] = "low_subgroup"
    min_events: int = Field(default=5, ge=1, description="events per arm a candidate's subgroup(s) must have")
    permutations: int = Field(default=1000, ge=1)
    bootstraps: int = Field(default=200, ge=1)
    seed: int = 2026

    @model_validator(mode="after")
    def _range(self) -> "CutoffSearchConfig":
        lo, hi = self.candidate_quantiles
        if not 0 < lo <= hi < 1:
            raise ValueError(f"candidate_quantiles {self.candidate_quantiles} must satisfy 0 < low <= high < 1")
        return self


def _not_computed(exc: Exception) -> dict[str, str]:
    return {"not_computed": getattr(exc, "reason", None) or str(exc)}


def _marked(config: EffectAlongBiomarkerConfig) -> list[float]:
    if config.mark_cutoffs is not None:
        return list(config.mark_cutoffs)
    return list(PUBLISHED_CUTOFFS.get(config.biomarker, ()))


def _survival_marker(trial: Trial, plan: "AnalysisPlan", biomarker: str, analysis: str):
    """Survival frame rows with the biomarker (raw units), their values, and the number without one."""
    from .effect_curve import marker_values

    contrast = plan.contrast(trial, analysis=analysis)
    values, n_missing = marker_values(trial, biomarker, "none", f"{analysis}.biomarker")
    frame = survival_frame(trial, contrast=contrast, event_types=plan.event_types, analysis=analysis).data
    frame = frame.loc[frame["subject_id"].isin(values.index)].reset_index(drop=True)
    return frame, values.reindex(frame["subject_id"]).to_numpy(float), n_missing


def run_effect_along_biomarker(trial: Trial, plan: "AnalysisPlan", config: EffectAlongBiomarkerConfig
                               ) -> dict[str, Any]:
    from .effect_curve import cox_spline_interaction, slope_spline_interaction
    from .stepp import stepp

    name = "effect_along_biomarker"
    options = dict(spline_df=config.spline_df, knots=config.knots, transform=config.transform, alpha=plan.alpha,
                   grid_points=config.grid_points, draws=config.simultaneous_draws, seed=config.seed)
    out: dict[str, Any] = {"biomarker": config.biomarker, "transform": config.transform, "mark_cutoffs": _marked(config),
                           "selection_adjusted": "nothing here depends on a cut-off chosen from the data"}
    if config.survival:
        try:
            out["survival"] = cox_spline_interaction(trial, config.biomarker, contrast=plan.contrast(trial, name),
                                                     event_types=plan.event_types, **options).to_dict()
        except AnalysisError as exc:
            out["survival"] = _not_computed(exc)
    if config.slope:
        if trial.alsfrs is None:
            out["alsfrs_slope"] = {"not_computed": "the trial has no alsfrs table"}
        else:
            try:
                two_arms = compared_trial(trial, plan, name)
                out["alsfrs_slope"] = slope_spline_interaction(two_arms, config.biomarker,
                                                               horizon_days=plan.horizon_or_none(trial),
                                                               **options).to_dict()
            except AnalysisError as exc:
                out["alsfrs_slope"] = _not_computed(exc)
    if config.stepp:
        try:
            frame, marker, n_missing = _survival_marker(trial, plan, config.biomarker, name)
            res = stepp(marker, frame["time_days"], frame["event"], frame["treatment"],
                        window_size=config.stepp_window_size, window_step=config.stepp_window_step,
                        permutations=config.stepp_permutations, seed=config.seed, alpha=plan.alpha)
            out["stepp"] = {**res.to_dict(), "excluded_missing": n_missing}
        except AnalysisError as exc:
            out["stepp"] = _not_computed(exc)
    return out


def candidate_cutoffs(values: np.ndarray, config: CutoffSearchConfig) -> tuple[np.ndarray, str]:
    """The plan's candidates, or `n_candidates` quantiles (type 7) of the observed values in the range."""
    if config.candidates is not None:
        return np.unique(np.asarray(config.candidates, float)), "declared in the plan"
    lo, hi = config.candidate_quantiles
    probs = np.linspace(lo, hi, config.n_candidates)
    return np.unique(np.quantile(values, probs)), f"{config.n_candidates} quantiles from {lo:g} to {hi:g} of the biomarker"


def run_cutoff_search(trial: Trial, plan: "AnalysisPlan", config: CutoffSearchConfig) -> dict[str, Any]:
    from .cutoff_search import CutoffSearch

    frame, marker, n_missing = _survival_marker(trial, plan, config.biomarker, "cutoff_search")
    cutoffs, origin = candidate_cutoffs(marker, config)
    search = CutoffSearch(cutoffs, statistic=config.statistic, min_events=config.min_events,
                          permutations=config.permutations, bootstraps=config.bootstraps, seed=config.seed,
                          alpha=plan.alpha).fit(marker, frame["time_days"], frame["event"], frame["treatment"])
    return {"biomarker": config.biomarker, "candidates_from": origin, "n": len(marker), "excluded_missing": n_missing,
            "arms": plan.contrast(trial, "cutoff_search").to_dict(), **search.result_.to_dict(),
            "which_numbers_are_selection_adjusted": {
                "adjusted": ["selection_adjusted.p", "selection_adjusted.hr_corrected", "bootstrap.cutoff_ci"],
                "not_adjusted": ["naive.hr", "naive.ci", "naive.p", "candidates[].z", "candidates[].log_hr_low"]}}


def _g(x: Any, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def summarize_effect_along_biomarker(out: dict[str, Any]) -> dict[str, pd.DataFrame]:
    rows = []
    for key, label in (("survival", "survival (Cox)"), ("alsfrs_slope", "ALSFRS-R slope (LMM)")):
        part = out.get(key)
        if part is None:
            continue
        if "not_computed" in part:
            rows.append({"model": f"treatment x ns({out['biomarker']})", "endpoint": label, "test": "-", "p": "-",
                         "note": part["not_computed"]})
            continue
        t = part["interaction_test"]
        p = f"LR {_g(t['lr_p'])}, Wald {_g(t['wald_p'])}" if "lr_p" in t else f"Wald {_g(t['wald_p'])}"
        rows.append({"model": f"treatment x ns({part['transform']}({out['biomarker']}), df={t['df']})",
                     "endpoint": label, "test": "no interaction", "p": p,
                     "note": f"n={part['n']}, {part['excluded_missing']} without the biomarker"})
    st = out.get("stepp")
    if st is not None:
        if "not_computed" in st:
            rows.append({"model": "STEPP", "endpoint": "survival", "test": "-", "p": "-", "note": st["not_computed"]})
        else:
            rows.append({"model": f"STEPP ({len(st['windows'])} windows of {st['window_size']})", "endpoint": "survival",
                         "test": "no interaction (permutation)", "p": _g(st["test"]["p"]),
                         "note": f"{st['test']['permutations']} permutations, seed {st['test']['seed']}"})
    tables = {"tests": pd.DataFrame(rows)}
    if st is not None and "windows" in st:
        tables["STEPP windows"] = pd.DataFrame([{
            "window": w["window"], "biomarker range": f"{_g(w['marker_low'], 4)}-{_g(w['marker_high'], 4)}",
            "n": w["n"], "events": w["events"],
            "HR (CI)": f"{_g(w['hr'])} ({_g(w['ci_low'])}, {_g(w['ci_high'])})" if w["estimable"] else "-"}
            for w in st["windows"]])
    return tables


def summarize_cutoff_search(out: dict[str, Any]) -> dict[str, pd.DataFrame]:
    naive, adj, boot = out["naive"], out["selection_adjusted"], out["bootstrap"]
    rows = [
        {"quantity": "selected cut-off", "value": _g(out["selected_cutoff"], 5), "selection-adjusted": "-",
         "note": f"max of {out['statistic']} Z = {_g(out['max_statistic'])} over {len(out['candidates'])} candidates"},
        {"quantity": "cut-off interval", "value": f"{_g(boot['cutoff_ci'][0], 5)} - {_g(boot['cutoff_ci'][1], 5)}",
         "selection-adjusted": "yes", "note": f"bootstrap percentile, {boot['resamples']} resamples"},
        {"quantity": "HR below the cut-off", "value": f"{_g(naive['hr'])} ({_g(naive['ci'][0])}, {_g(naive['ci'][1])})",
         "selection-adjusted": "NO (naive)", "note": "as if the cut-off had been fixed in advance"},
        {"quantity": "HR below the cut-off, corrected", "value": _g(adj["hr_corrected"]), "selection-adjusted": "yes",
         "note": "bootstrap optimism correction"},
        {"quantity": "p (naive)", "value": _g(naive["p"]), "selection-adjusted": "NO (naive)", "note": ""},
        {"quantity": "p (maximally selected)", "value": _g(adj["p"]), "selection-adjusted": "yes",
         "note": f"{adj['permutations']} permutations; H0: {adj['null_hypothesis']}"},
    ]
    return {"cut-off search": pd.DataFrame(rows)}


register_section("effect_along_biomarker", EffectAlongBiomarkerConfig, run_effect_along_biomarker,
                 summarize=summarize_effect_along_biomarker, order=35,
                 description="treatment x spline of a biomarker (Cox, LMM), HR curve with bands, STEPP")
register_section("cutoff_search", CutoffSearchConfig, run_cutoff_search, summarize=summarize_cutoff_search, order=36,
                 description="maximally selected cut-off with selection-adjusted p, bootstrap CI and corrected HR")
