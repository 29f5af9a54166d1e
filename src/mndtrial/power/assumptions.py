"""The simulation assumptions behind a power table, read from the design objects actually simulated.

A committee cannot sign a power curve whose assumptions are not on the page. `simulation_assumptions`
describes each design point's trial source and analysis (control survival, treatment effect by
neurofilament group, prevalence of the low-neurofilament group, screening, accrual, follow-up,
dropout, primary test and alpha) and the run (simulated trials per point, seed). Values shared
by every point are one row; values that differ (an enriched design randomises only the low
group; a `--vary` axis) list each value with the points it applies to. Nothing is retyped: each
value is computed from the `Design`, `ExponentialDesign` or `Analysis` object that ran.

Example:
    >>> from mndtrial.power import ExponentialFamily, design_points
    >>> table = simulation_assumptions(design_points(ExponentialFamily(), [200], ["all-comers"]), 100, 7)
    >>> table.set_index("assumption").loc["seed", "value"]
    '7'
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..analysis.distributions import norm_cdf

__all__ = ["simulation_assumptions", "ASSUMPTION_COLUMNS"]

ASSUMPTION_COLUMNS = ("assumption", "value", "from")
PILOT_SIZE = 40_000
PILOT_SEED = 20_261_203  # fixed: a description of the design must not depend on the user's seed


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _sim_control_survival(design: Any) -> tuple[float, float]:
    """(proportion alive at the horizon, median days) of the randomised population without treatment.

    Candidates are drawn from the design's cohort model, screened by its eligibility and
    enrichment (as the simulator does), and given death times by the same route as
    `mndtrial.sim.simulate` (with the ALSFRS-R link when the parameters have one)."""
    rng = np.random.default_rng(PILOT_SEED)
    cand = design.cohort.draw(rng, (PILOT_SIZE,))
    ok = design.eligibility.mask(cand)
    if design.enrichment is not None:
        v = cand[design.enrichment.biomarker]
        ok &= (v >= design.enrichment.low) & (v <= design.enrichment.high)
    p = {k: np.asarray(v)[ok] for k, v in cand.items() if np.shape(v) == (PILOT_SIZE,)}
    if design.cohort.p["survival"].get("death_log_hr_per_alsfrs_point", 0) == 0:
        death = design.cohort.death_days(rng, p["log_hazard"])
    else:
        death = design.cohort.death_days_given_alsfrs(rng, p["log_hazard"], p["alsfrs_r_baseline"],
                                                      p["slope_per_month"], design.horizon_days)
    return float(np.mean(death > design.horizon_days)), float(np.median(death))


def _sim_low_prevalence(design: Any, low: float, high: float) -> float:
    """Share of eligible candidates (before any enrichment) with CSF-pNfH in [low, high]."""
    rng = np.random.default_rng(PILOT_SEED)
    cand = design.cohort.draw(rng, (PILOT_SIZE,))
    ok = design.eligibility.mask(cand)
    v = cand["csf_pnfh"][ok]
    return float(np.mean((v >= low) & (v <= high)))


def _describe_sim(design: Any) -> list[tuple[str, str, str]]:
    drug = design.drug.p
    lo, cut = float(drug["pnfh_low_band_min_pg_ml"]), float(drug["pnfh_cutoff_pg_ml"])
    alive, median = _sim_control_survival(design)
    median_text = "not reached in the cohort" if not math.isfinite(median) else f"{median:,.0f} days"
    from ..sim import no_effect

    effect = design.drug.effect_function
    if effect is no_effect:
        effect_text = "none (no treatment effect: the power column is the type I error)"
    elif effect is not None:
        effect_text = f"user effect function {getattr(effect, '__name__', repr(effect))}"
    else:
        effect_text = (f"HR {drug['hr_below_low_band']:g} below {lo:g} pg/mL, {drug['hr_low_pnfh']:g} at "
                       f"{lo:g}–{cut:g} pg/mL, {drug['hr_high_pnfh']:g} above {cut:g} pg/mL (CSF-pNfH), at "
                       f"{drug['reference_dose_miu']:g} MIU, scaled by each participant's Treg rise; ALSFRS-R slope "
                       f"ratio {drug['slope_ratio_low_pnfh']:g} at {lo:g}–{cut:g}, {drug['slope_ratio_high_pnfh']:g} "
                       f"above {cut:g} pg/mL")
    arms = ", ".join(f"{a.name} ({a.dose_miu:g} MIU, allocation {w:g})" for a, w in zip(design.arms, design.weights))
    a6, a12 = design.attrition()
    dropout = (f"total attrition (deaths included) {_pct(a6)} at 6 and {_pct(a12)} at 12 months"
               if design.non_death_dropout else "none besides death")
    dropout += "; a dropout censors survival" if design.dropout_censors_survival else \
        "; survival is still followed after a dropout (vital status known)"
    enrich = design.enrichment
    screening = f"{_pct(design.acceptance)} of screened candidates are randomisable"
    if enrich is not None:
        screening += (f" (eligible and {enrich.biomarker} in {enrich.low:g}–{enrich.high:g} pg/mL: about "
                      f"{1 / design.acceptance:.1f} screened per randomised)")
    accrual = (f"{design.accrual_days:g} days (uniform entry)" if design.accrual_days > 0
               else "none: everyone enters at day 0")
    return [
        ("design", f"{design.name}: {arms}", "mndtrial.sim Design"),
        ("control survival", f"{_pct(alive)} alive at day {design.horizon_days:g}; median {median_text}",
         "cohort model (Weibull), no treatment, randomised population; fixed-seed pilot of 40,000"),
        ("treatment effect by neurofilament group", effect_text, "drug model (parameters.toml [drug])"),
        ("prevalence of low CSF-pNfH", f"{_pct(_sim_low_prevalence(design, lo, cut))} of eligible candidates have "
                                       f"{lo:g}–{cut:g} pg/mL", "cohort model, fixed-seed pilot"),
        ("screening", screening, "Design.eligibility and enrichment"),
        ("accrual", accrual, "Design.accrual_days"),
        ("follow-up", f"to day {design.horizon_days:g} after randomisation; treatment for "
                      f"{design.treatment_days:g} days", "Design.horizon_days, treatment_days"),
        ("dropout", dropout, "Design attrition (parameters.toml [dropout])"),
        ("strata", ", ".join(design.strata) or "none", "Design.strata"),
    ]


def _describe_exponential(d: Any) -> list[tuple[str, str, str]]:
    from .exponential import LOG_PNFH_MEAN, LOG_PNFH_SD

    hazard = math.log(2) / d.median_survival_control_days
    end = d.accrual_days + d.follow_up_days
    effect = f"HR {d.hazard_ratio:g}"
    if d.hazard_ratio_high is not None:
        effect = f"HR {d.hazard_ratio:g} at csf_pnfh ≤ {d.biomarker_cutoff:g} pg/mL, {d.hazard_ratio_high:g} above"
    if d.slope_difference_per_month:
        effect += f"; ALSFRS-R slope difference {d.slope_difference_per_month:g} points/month"
    low = float(norm_cdf((math.log(d.biomarker_cutoff) - LOG_PNFH_MEAN) / LOG_PNFH_SD))
    return [
        ("design", "exponential two-arm design, 1:1", "mndtrial.power ExponentialDesign"),
        ("control survival", f"exponential, median {d.median_survival_control_days:g} days "
                             f"({_pct(math.exp(-hazard * d.follow_up_days))} alive at day {d.follow_up_days:g})",
         "ExponentialDesign.median_survival_control_days"),
        ("treatment effect by neurofilament group", effect, "ExponentialDesign.hazard_ratio(_high)"),
        ("prevalence of low CSF-pNfH", f"{_pct(low)} at ≤ {d.biomarker_cutoff:g} pg/mL"
                                       + ("; only these are randomised" if d.enrich else ""),
         "log-normal CSF-pNfH (closed form)"),
        ("accrual", f"{d.accrual_days:g} days (uniform entry)" if d.accrual_days else "none: everyone at day 0",
         "ExponentialDesign.accrual_days"),
        ("follow-up", f"{d.follow_up_days:g} days after the last randomisation (study end day {end:g})",
         "ExponentialDesign.follow_up_days"),
        ("dropout", f"exponential, {d.dropout_per_year:g} per year" if d.dropout_per_year else "none",
         "ExponentialDesign.dropout_per_year"),
    ]


def _test_text(test: Any) -> str:
    kind = {"logrank": "log-rank", "cox": "Cox Wald test"}.get(test.kind, test.kind)
    text = f"{'stratified ' if test.strata else ''}{kind}"
    if test.strata:
        text += f" (strata {', '.join(test.strata)})"
    if test.population.column is not None:
        lo, hi = test.population.lower, test.population.upper
        bounds = f"≤ {hi:g}" if not math.isfinite(lo) else f"> {lo:g}" if not math.isfinite(hi) else f"{lo:g}–{hi:g}"
        text += f" in the {test.population.name} group ({test.population.column} {bounds})"
    return text


def _describe_analysis(analysis: Any) -> list[tuple[str, str, str]]:
    if not hasattr(analysis, "criteria"):  # a custom analysis object (anything with `evaluate`)
        return [("primary test", f"custom analysis {type(analysis).__name__}: not described here", "the analysis")]
    joiner = " or " if analysis.combine == "any" else " and "
    primary = joiner.join(f"{_test_text(c.test)} at one-sided {c.alpha:g}" for c in analysis.criteria)
    return [("primary test", primary, "the analysis's success criteria (mndtrial.power Analysis)"),
            ("alpha (one-sided, total)", f"{analysis.total_alpha:g}", "sum over the success criteria")]


def _describe_source(source: Any) -> list[tuple[str, str, str]]:
    from .designs import SimSource
    from .exponential import ExponentialDesign

    if isinstance(source, SimSource):
        return _describe_sim(source.design)
    if isinstance(source, ExponentialDesign):
        return _describe_exponential(source)
    return [("design", f"custom trial source {type(source).__name__}: its assumptions are not described here",
             "the trial source")]


def _point_label(point: Any, k: int) -> str:
    labels = point.labels or {}
    parts = [str(labels[c]) for c in ("design", "strategy") if c in labels]
    if "n" in labels:
        parts.append(f"n={labels['n']}")
    return " ".join(parts) or f"point {k}"


def simulation_assumptions(points: Sequence[Any], n_trials: int, seed: int) -> pd.DataFrame:
    """One row per assumption (`ASSUMPTION_COLUMNS`) over the design points of a power run."""
    described: dict[int, list[tuple[str, str, str]]] = {}  # a source shared by points is described once
    per_point = []
    for point in points:
        if id(point.source) not in described:
            described[id(point.source)] = _describe_source(point.source)
        per_point.append(described[id(point.source)] + _describe_analysis(point.analysis))
    order: list[str] = []
    values: dict[str, dict[str, list[str]]] = {}
    origin: dict[str, str] = {}
    for k, (point, rows) in enumerate(zip(points, per_point)):
        for name, value, source in rows:
            if name not in values:
                order.append(name)
                values[name], origin[name] = {}, source
            values[name].setdefault(value, []).append(_point_label(point, k))
    out = []
    for name in order:
        by_value = values[name]
        if len(by_value) == 1:
            text = next(iter(by_value))
        else:
            text = "; ".join(f"{value} [{_points_text(labels)}]" for value, labels in by_value.items())
        out.append({"assumption": name, "value": text, "from": origin[name]})
    out.append({"assumption": "simulated trials per design point", "value": f"{n_trials:,}", "from": "power()"})
    out.append({"assumption": "seed", "value": str(seed), "from": "power(); same seed, same numbers"})
    return pd.DataFrame(out, columns=list(ASSUMPTION_COLUMNS))


def _points_text(labels: list[str]) -> str:
    # 'mirocals enriched n=150, n=220, ...' reads shorter as the strategies the value applies to
    strategies = sorted({" ".join(w for w in lab.split() if not w.startswith("n=")) for lab in labels})
    return ", ".join(strategies)
