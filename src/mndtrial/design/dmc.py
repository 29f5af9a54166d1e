"""What a DMC statistician computes at a look of a group-sequential or adaptive survival trial,
from the stage statistics (cumulative events and log-rank Z at each look so far).

- group-sequential (`test = "group_sequential"`): the efficacy and futility bounds recomputed at
  the observed events (`interim.observed_bounds`), the decision at each look, repeated confidence
  intervals for the hazard ratio, conditional power under the design effect and the observed one,
  and once the trial stops or reaches its final analysis the stage-wise ordering p-value,
  median-unbiased hazard ratio and final confidence interval (`stagewise`).
- inverse-normal (`test = "inverse_normal"`, an adaptive design): stage-wise statistics from the
  cumulative ones (independent increments, Z_stage = (sqrt(D_k) Z_k - sqrt(D_{k-1}) Z_{k-1}) /
  sqrt(D_k - D_{k-1}), rpact's conversion), combined with the pre-specified weights and compared
  with the design's bounds; the final combination p-value and the stage-wise ordering one.

Names and conventions follow rpact's getAnalysisResults (directionUpper = FALSE: Z > 0 and
HR < 1 are benefit). The trial-level entry point is `dmc_trial.interim_analysis`.

Example:
    >>> from mndtrial.design.spec import design_from_dict
    >>> spec = design_from_dict({"design": {"k_max": 3}, "events": {"max_events": 300}})
    >>> res = analyse_looks(spec, events=[100], z=[1.2])
    >>> res.decision
    'continue'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..batch._result import json_safe
from ..errors import ParameterError
from .boundaries import hazard_ratio_at_bound
from .combination import inverse_normal_weights, inverse_normal_z, z_to_p
from .interim import conditional_power_combination, observed_bounds, observed_information_rates
from .spec import DesignSpec
from .stagewise import inverse_normal_information, stagewise_ordering, stopping_stage

__all__ = ["InterimAnalysis", "analyse_looks", "stage_statistics", "look_decision"]


def stage_statistics(events, z) -> tuple[np.ndarray, np.ndarray]:
    """Events and log-rank Z of each stage's data from the cumulative ones (independent increments).

    >>> [v.round(4).tolist() for v in stage_statistics([100, 200], [1.0, 2.0])]
    [[100.0, 100.0], [1.0, 1.8284]]
    """
    d = np.asarray(events, dtype=float)
    z = np.asarray(z, dtype=float)
    if d.shape != z.shape or d.ndim != 1 or d.size == 0:
        raise ParameterError("events", d.tolist(), "need one cumulative event count and Z per look")
    if d[0] <= 0 or np.any(np.diff(d) <= 0):
        raise ParameterError("events", d.tolist(), "cumulative events must be positive and increase from look to look")
    if not np.all(np.isfinite(z)):
        raise ParameterError("z", z.tolist(), "must be finite")
    d_prev = np.concatenate([[0.0], d[:-1]])
    z_prev = np.concatenate([[0.0], z[:-1]])
    stage_d = d - d_prev
    return stage_d, (np.sqrt(d) * z - np.sqrt(d_prev) * z_prev) / np.sqrt(stage_d)


def look_decision(z: float, efficacy: float, futility: float, *, final: bool, binding: bool) -> str:
    """The decision against the bounds at one look.

    >>> look_decision(2.1, 2.0, -np.inf, final=True, binding=False)
    'reject H0'
    """
    if final:
        return "reject H0" if z >= efficacy else "do not reject H0"
    if z >= efficacy:
        return "stop for efficacy"
    if z <= futility:
        return "stop for futility" if binding else "stop for futility (non-binding)"
    return "continue"


def _theta_design(spec: DesignSpec, max_events: float) -> float:
    """log HR of the design effect: [analysis].hazard_ratio, [survival].hazard_ratio, else the
    effect the design is powered for at max_events (its drift)."""
    if spec.hazard_ratio is not None:
        return float(np.log(spec.hazard_ratio))
    if spec.sample_size is not None and getattr(spec.sample_size, "hazard_ratio", None) is not None:
        return float(np.log(spec.sample_size.hazard_ratio))
    return float(np.log(hazard_ratio_at_bound(spec.design.drift, max_events, spec.allocation_ratio)))


@dataclass(frozen=True, repr=False)
class InterimAnalysis:
    """The DMC's results at one look (see the module docstring); `summary` has one row per look."""

    test: str
    look: int
    final: bool
    decision: str
    summary: pd.DataFrame
    conditional_power: dict | None
    final_inference: dict | None
    alpha: float
    max_events: float
    allocation_ratio: float
    notes: tuple[str, ...] = ()
    enrichment: Any = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {"test": self.test, "look": self.look, "final": self.final, "decision": self.decision,
               "alpha": self.alpha, "max_events": self.max_events, "allocation_ratio": self.allocation_ratio,
               "looks": self.summary.to_dict(orient="records"), "conditional_power": self.conditional_power,
               "final_inference": self.final_inference, "notes": list(self.notes), **self.extra}
        if self.enrichment is not None:
            out["enrichment"] = self.enrichment.to_dict()
        return json_safe(out)

    def __repr__(self) -> str:
        return f"<InterimAnalysis {self.test} look {self.look}{' (final)' if self.final else ''}: {self.decision}>"

    def _repr_html_(self) -> str:
        html = f"<p><b>{self!r}</b></p>" + self.summary.to_html(index=False, float_format=lambda v: f"{v:.4g}")
        if self.enrichment is not None:
            html += self.enrichment._repr_html_()
        return html


def _check(spec: DesignSpec, events: np.ndarray, final: bool | None) -> tuple[float, bool]:
    if spec.events is None:
        raise ParameterError("design", "no events", "an interim analysis needs the design's maximum events "
                                                    "([events].max_events or a [survival] table)")
    k_max = spec.design.k_max
    if events.size > k_max:
        raise ParameterError("look", events.size, f"the design has {k_max} looks")
    return float(spec.events), (events.size == k_max) if final is None else bool(final)


def analyse_looks(spec: DesignSpec, events, z, *, final: bool | None = None, cut_days=None) -> InterimAnalysis:
    """The DMC analysis at look k = len(events) from the cumulative events and log-rank Z (> 0 is
    benefit) of looks 1..k. `final` (default: k is the design's last look) marks the final analysis.
    """
    d = np.asarray(events, dtype=float)
    z = np.asarray(z, dtype=float)
    stage_d, stage_z = stage_statistics(d, z)
    max_events, final = _check(spec, d, final)
    if spec.test == "inverse_normal":
        return _inverse_normal(spec, d, z, stage_d, stage_z, max_events, final, cut_days)
    return _group_sequential(spec, d, z, stage_z, max_events, final, cut_days)


def _table(d, z, cut_days, b, fut, hr, rci, decisions) -> pd.DataFrame:
    k = d.size
    out = pd.DataFrame({"look": np.arange(1, k + 1)})
    if cut_days is not None:
        out["cut_day"] = np.asarray(cut_days, dtype=float)
    out = out.assign(events=d, z=z, hazard_ratio=hr, z_efficacy=b, nominal_p_efficacy=z_to_p(b),
                     z_futility=np.where(np.isfinite(fut), fut, np.nan), p_value_naive=z_to_p(z),
                     rci_lower=rci[0], rci_upper=rci[1], decision=decisions)
    return out


def _decisions(z, b, fut, final: bool, binding: bool) -> list[str]:
    k = z.size
    return [look_decision(float(z[j]), float(b[j]), float(fut[j]), final=final and j == k - 1, binding=binding)
            for j in range(k)]


def _notes(decisions: list[str]) -> tuple[str, ...]:
    earlier = [j + 1 for j, dec in enumerate(decisions[:-1]) if dec != "continue"]
    if earlier:
        return (f"look {earlier[0]} already crossed a bound ({decisions[earlier[0] - 1]}); the trial went on",)
    return ()


def _group_sequential(spec, d, z, stage_z, max_events, final, cut_days) -> InterimAnalysis:
    design, r = spec.design, spec.allocation_ratio
    k = d.size
    ob = observed_bounds(design, d, max_events, final=final)
    b, fut = ob.critical_values, ob.futility_bounds
    hr = hazard_ratio_at_bound(z, d, r)
    half = b * (1.0 + r) / np.sqrt(r * d)
    rci = (hr * np.exp(-half), hr * np.exp(half))
    decisions = _decisions(z, b, fut, final, design.binding_futility)
    stop = stopping_stage(z, b, fut, binding_futility=design.binding_futility)
    cp, notes = None, _notes(decisions)
    if not final and stop is None:
        try:
            full = observed_information_rates(design, d, max_events) * max_events
        except ParameterError as exc:  # an interim that overran a later planned look: no plan ahead to use
            notes += (f"conditional power not computed: {exc}",)
        else:
            ob_full = observed_bounds(design, full, max_events, final=True)
            weights = np.sqrt(np.diff(np.concatenate([[0.0], full])) / full[-1])
            planned = np.diff(full)[k - 1:]
            cp = _conditional_power(spec, stage_z, weights, ob_full.critical_values, ob_full.futility_bounds[:-1],
                                    k, planned, hr[-1], max_events, full)
    fin = None
    if final or stop is not None:
        so = stagewise_ordering(z, b, d / d[-1], np.sqrt(d), alpha=design.alpha, futility_bounds=fut,
                                binding_futility=design.binding_futility, final=final, allocation_ratio=r)
        fin = {"ordering": "stage-wise (Jennison & Turnbull 2000, §8.4)", **so.to_dict()}
    return InterimAnalysis(test="group_sequential", look=k, final=final, decision=decisions[-1],
                           summary=_table(d, z, cut_days, b, fut, hr, rci, decisions), conditional_power=cp,
                           final_inference=fin, alpha=design.alpha, max_events=max_events, allocation_ratio=r,
                           notes=notes,
                           extra={"spending_fractions": ob.spending_fractions.tolist(),
                                  "alpha_spent": ob.alpha_spent.tolist()})


def _conditional_power(spec, stage_z, weights, b, fut, k, planned, hr_observed, max_events, full) -> dict:
    r = spec.allocation_ratio
    out = {"remaining_events": planned.tolist(), "looks_ahead_events": full[k:].tolist()}
    for name, log_hr in (("design", _theta_design(spec, max_events)), ("observed", float(np.log(hr_observed)))):
        cp = conditional_power_combination(stage_z, weights, b, k, log_hr, planned, futility_bounds=fut,
                                           allocation_ratio=r)
        out[name] = {"hazard_ratio": float(np.exp(log_hr)), "by_look": cp.tolist(), "value": float(cp[-1])}
    return out


def _inverse_normal(spec, d, z, stage_d, stage_z, max_events, final, cut_days) -> InterimAnalysis:
    design, r = spec.design, spec.allocation_ratio
    k = d.size
    weights = inverse_normal_weights(design.information_rates)
    comb = inverse_normal_z(stage_z, weights[:k])
    b = design.critical_values[:k]
    fut = np.concatenate([design.futility_bounds, [-np.inf]])[:k]
    if final:
        fut[-1] = -np.inf
    hr = hazard_ratio_at_bound(z, d, r)
    # RCI: the log HRs theta at which the combined statistic of the shifted stage Z's stays within +-b_k.
    c = np.sqrt(r * stage_d) / (1.0 + r)
    wc = np.cumsum(weights[:k] * c)
    root_w2 = np.sqrt(np.cumsum(weights[:k] ** 2))
    rci = (np.exp(-(comb + b) * root_w2 / wc), np.exp(-(comb - b) * root_w2 / wc))
    decisions = _decisions(comb, b, fut, final, design.binding_futility)
    stop = stopping_stage(comb, b, fut, binding_futility=design.binding_futility)
    cp, notes = None, _notes(decisions)
    ahead = design.information_rates[k:] * max_events
    planned = np.diff(np.concatenate([[d[-1]], ahead]))
    if not final and stop is None and np.any(planned <= 0):
        notes += ("conditional power not computed: the events already exceed those planned for the next look",)
    elif not final and stop is None:
        cp = _conditional_power(spec, stage_z, weights, design.critical_values, design.futility_bounds, k, planned,
                                hr[-1], max_events, np.concatenate([d, ahead]))
    fin = None
    if final or stop is not None:
        so = stagewise_ordering(comb, design.critical_values, design.information_rates,
                                inverse_normal_information(weights, stage_d), alpha=design.alpha,
                                futility_bounds=design.futility_bounds, binding_futility=design.binding_futility,
                                final=final, allocation_ratio=r)
        fin = {"ordering": "stage-wise, on the combined statistic", **so.to_dict(),
               "combination_p_value": float(z_to_p(comb[so.final_stage - 1])),
               "weights": weights.tolist()}
    table = _table(d, z, cut_days, b, fut, hr, rci, decisions)
    table.insert(table.columns.get_loc("z") + 1, "stage_events", stage_d)
    table.insert(table.columns.get_loc("stage_events") + 1, "stage_z", stage_z)
    table.insert(table.columns.get_loc("stage_z") + 1, "combined_z", comb)
    return InterimAnalysis(test="inverse_normal", look=k, final=final, decision=decisions[-1], summary=table,
                           conditional_power=cp, final_inference=fin, alpha=design.alpha, max_events=max_events,
                           allocation_ratio=r, notes=notes, extra={"weights": weights.tolist()})
