"""What a DMC statistician computes at an interim look of a group-sequential survival trial.

- `observed_bounds`: efficacy bounds recomputed at the information actually observed (events),
  spending alpha at min(d_k / d_max, 1) and everything left at the final look, the correlation
  taken from the observed events (over- and under-running; Jennison & Turnbull 2000 §7.2); beta-spending futility bounds
  recomputed there too (the design at the observed information fractions, planned ones after).
- `conditional_power`: probability of crossing a later efficacy bound given Z at look k, under
  a chosen drift -- the design's or the one observed so far (Lan, Simon & Halperin 1982; J&T §10.2).
- `repeated_confidence_interval`: hazard-ratio intervals that keep their coverage whatever the
  stopping rule (J&T ch. 9), from the design's efficacy bounds.
- Futility bounds from a fixed hazard ratio or a conditional-power rule, to give to
  `group_sequential_design(futility_bounds=...)`.

Z is the log-rank statistic oriented so that large Z = benefit (HR < 1), as throughout `design`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import ndtr

from ..errors import ParameterError
from .boundaries import GroupSequentialDesign, z_for_hazard_ratio
from .recursion import crossing_probabilities
from .solvers import spending_bounds
from .spending import spending_values

__all__ = ["ObservedBounds", "observed_bounds", "observed_information_rates", "conditional_power", "repeated_confidence_interval",
           "futility_bounds_from_hazard_ratio", "futility_bounds_from_conditional_power", "drift_for_hazard_ratio",
           "conditional_power_combination"]


def drift_for_hazard_ratio(hazard_ratio: float, max_events: float, allocation_ratio: float = 1.0) -> float:
    """E[Z] at `max_events` events for a true hazard ratio (the drift used by `conditional_power`).

    >>> round(drift_for_hazard_ratio(0.7, 331.5), 4)
    3.247
    """
    return float(z_for_hazard_ratio(hazard_ratio, max_events, allocation_ratio))


@dataclass(frozen=True)
class ObservedBounds:
    """Efficacy (and futility) bounds at the observed events of the looks done so far."""

    events: np.ndarray
    spending_fractions: np.ndarray   # min(d_k / d_max, 1); 1 at the final look
    alpha_spent: np.ndarray          # cumulative
    critical_values: np.ndarray
    futility_bounds: np.ndarray | None = None  # per look given; -inf: none (always at the final look)

    @property
    def nominal_p(self) -> np.ndarray:
        return ndtr(-self.critical_values)

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({"look": np.arange(1, self.events.size + 1), "events": self.events,
                             "spending_fraction": self.spending_fractions, "alpha_spent": self.alpha_spent,
                             "z_efficacy": self.critical_values, "nominal_p": self.nominal_p,
                             "z_futility": (np.full(self.events.size, np.nan) if self.futility_bounds is None
                                            else np.where(np.isfinite(self.futility_bounds), self.futility_bounds, np.nan))})


def observed_information_rates(design: GroupSequentialDesign, observed_events, max_events: float) -> np.ndarray:
    """Information fractions for recomputing a design at an interim: d_k / d_max for the looks
    done (look k is the design's k-th look), then the design's planned fractions of the looks ahead.

    >>> from mndtrial.design import group_sequential_design
    >>> d = group_sequential_design(information_rates=[0.3, 0.6, 1.0])
    >>> observed_information_rates(d, [100, 168], 320).round(4).tolist()
    [0.3125, 0.525, 1.0]
    """
    d = np.asarray(observed_events, dtype=float)
    tau = d / float(max_events)
    if d.size >= design.k_max or tau[-1] >= 1.0:
        raise ParameterError("observed_events", d.tolist(), f"interim looks must be fewer than the design's "
                                                            f"{design.k_max} and below the maximum events ({max_events:g})")
    rates = np.concatenate([tau, design.information_rates[d.size:]])
    if np.any(np.diff(rates) <= 0):
        raise ParameterError("observed_events", d.tolist(), "an interim look has reached the information planned "
                                                            "for a later look; analyse it as that look")
    return rates


def _beta_spending_futility(design: GroupSequentialDesign, interim_events, max_events: float) -> np.ndarray:
    """Beta-spending futility bounds of the interim looks, recomputed at the observed information
    (rpact: getDesignGroupSequential with informationRates = observed / maximum events)."""
    redesigned = design.at_information(observed_information_rates(design, interim_events, max_events))
    return redesigned.futility_bounds[: np.size(interim_events)]


def observed_bounds(design: GroupSequentialDesign, observed_events, max_events: float, *,
                    final: bool = False) -> ObservedBounds:
    """Efficacy bounds at the observed events (alpha-spending designs; binding user futility kept;
    beta-spending futility recomputed at the observed information fractions).

    With `final=True` the last look given is the final analysis and spends all remaining alpha,
    whether it has fewer events than planned (under-running) or more (over-running).

    >>> from mndtrial.design import group_sequential_design
    >>> d = group_sequential_design(k_max=2)
    >>> observed_bounds(d, [165.75, 331.5], 331.5, final=True).critical_values.round(3).tolist()
    [2.963, 1.969]
    """
    if design.type_of_design not in ("asOF", "asP", "asKD", "asHSD"):
        raise ParameterError("type_of_design", design.type_of_design,
                             "observed bounds need a spending function (asOF, asP, asKD, asHSD)")
    d = np.asarray(observed_events, dtype=float)
    if d.ndim != 1 or d.size == 0 or np.any(np.diff(d) <= 0) or d[0] <= 0:
        raise ParameterError("observed_events", d.tolist(), "must be positive and increasing")
    if d.size > design.k_max:
        raise ParameterError("observed_events", d.tolist(), f"more looks than the design's {design.k_max}")
    tau = np.minimum(d / float(max_events), 1.0)
    if final:
        tau[-1] = 1.0
    spent = spending_values(design.type_of_design, tau, design.alpha, gamma=design.gamma_a)
    fut = np.full(d.size, -np.inf)
    if design.type_beta_spending != "none":
        n_interim = d.size - 1 if final else d.size
        if n_interim > 0:
            fut[:n_interim] = _beta_spending_futility(design, d[:n_interim], max_events)
    else:
        fut = np.concatenate([design.futility_bounds, [-np.inf]])[: d.size]
        if final:
            fut[-1] = -np.inf
    lower = fut if design.binding_futility and np.any(np.isfinite(fut)) else None
    bounds = spending_bounds(spent, d / d[-1], lower)
    return ObservedBounds(events=d, spending_fractions=tau, alpha_spent=spent, critical_values=bounds,
                          futility_bounds=fut)


def conditional_power(design: GroupSequentialDesign, look: int, z: float, drift: float | str = "design", *,
                      critical_values=None, information_rates=None) -> float:
    """P(reject at a later look | Z = z at `look`) when E[Z_K] = drift.

    drift: a number, "design" (the design's H1 drift) or "observed" (z / sqrt(t_look), the
    current estimate). Futility bounds are ignored (non-binding: the DMC may overrule them).

    ref: Jennison & Turnbull (2000) §10.2; for one remaining look the closed form
    1 - Phi((b_K sqrt(t_K) - z sqrt(t_k) - drift (t_K - t_k)) / sqrt(t_K - t_k)).

    >>> from mndtrial.design import group_sequential_design
    >>> d = group_sequential_design(k_max=2)
    >>> round(conditional_power(d, 1, 1.5), 4)
    0.7583
    """
    b = np.asarray(design.critical_values if critical_values is None else critical_values, dtype=float)
    t = np.asarray(design.information_rates if information_rates is None else information_rates, dtype=float)
    if not 1 <= look < t.size:
        raise ParameterError("look", look, f"must be an interim look, 1..{t.size - 1}")
    t_k = t[look - 1]
    if drift == "design":
        drift = design.drift
    elif drift == "observed":
        drift = z / np.sqrt(t_k)
    elif isinstance(drift, str):
        raise ParameterError("drift", drift, "a number, 'design' or 'observed'")
    # The future depends on the past only through S_k = z sqrt(t_k): restart the recursion there.
    u = t[look:] - t_k
    shifted = (b[look:] * np.sqrt(t[look:]) - z * np.sqrt(t_k)) / np.sqrt(u)
    up, _ = crossing_probabilities(shifted, np.full(u.size, -np.inf), u, float(drift))
    return float(up.sum())


def repeated_confidence_interval(design: GroupSequentialDesign, look: int, hazard_ratio: float, events: float,
                                 allocation_ratio: float = 1.0) -> tuple[float, float]:
    """Repeated confidence interval for the hazard ratio at `look` (coverage 1 - 2 alpha jointly
    over looks): exp(log HR_hat -/+ b_k (1 + r) / sqrt(r d_k)), rpact's getRepeatedConfidenceIntervals.

    ref: Jennison & Turnbull (2000) §9.1.

    >>> from mndtrial.design import group_sequential_design
    >>> d = group_sequential_design(k_max=2)
    >>> [round(v, 4) for v in repeated_confidence_interval(d, 2, 0.75, 331.5)]
    [0.6042, 0.9311]
    """
    if not 1 <= look <= design.k_max:
        raise ParameterError("look", look, f"must be 1..{design.k_max}")
    if hazard_ratio <= 0 or events <= 0:
        raise ParameterError("hazard_ratio", hazard_ratio, "hazard ratio and events must be positive")
    half = design.critical_values[look - 1] * (1.0 + allocation_ratio) / np.sqrt(allocation_ratio * events)
    return float(np.exp(np.log(hazard_ratio) - half)), float(np.exp(np.log(hazard_ratio) + half))


def futility_bounds_from_hazard_ratio(hazard_ratio: float, events_per_look, allocation_ratio: float = 1.0) -> np.ndarray:
    """Z futility bounds that stop when the observed HR is at or above `hazard_ratio` (e.g. 1.0).

    >>> futility_bounds_from_hazard_ratio(1.0, [100, 200]).tolist()
    [-0.0, -0.0]
    """
    return z_for_hazard_ratio(hazard_ratio, events_per_look, allocation_ratio)


def futility_bounds_from_conditional_power(design: GroupSequentialDesign, threshold: float,
                                           drift: float | str = "design") -> np.ndarray:
    """Z futility bound at each interim look: stop when conditional power falls below `threshold`.

    >>> from mndtrial.design import group_sequential_design
    >>> d = group_sequential_design(k_max=2)
    >>> futility_bounds_from_conditional_power(d, 0.2).round(3).tolist()
    [-0.042]
    """
    if not 0 < threshold < 1:
        raise ParameterError("threshold", threshold, "conditional power threshold must lie in (0, 1)")
    out = []
    for k in range(1, design.k_max):
        b = float(design.critical_values[k - 1])
        out.append(brentq(lambda z: conditional_power(design, k, z, drift) - threshold, -10.0, b, xtol=1e-10))
    return np.array(out)


def conditional_power_combination(stage_z, weights, critical_values, look: int, log_hazard_ratio: float,
                                  events_planned, *, futility_bounds=None, allocation_ratio: float = 1.0) -> np.ndarray:
    """Conditional power of a weighted (inverse-normal or group-sequential) test of survival, rpact's
    getConditionalPower: cumulative P(reject by look j | stages 1..look) for j = look+1..K.

    stage_z: Z of each stage's data (1..look); weights: one per look (sqrt of the information
    increments for a group-sequential test, the pre-specified ones for an inverse-normal test);
    critical_values / futility_bounds: the design's (futility bounds act, as in rpact, binding or
    not; -inf for none); log_hazard_ratio: the assumed effect (< 0 is benefit); events_planned: the
    events of each remaining stage. The future combined statistic
    Z_j = (sum_{i<=look} w_i z_i + sum_{look<i<=j} w_i z_i) / sqrt(sum_{i<=j} w_i^2) with
    z_i ~ N(-log HR sqrt(r d_i) / (1 + r), 1) gives shifted bounds for a null group-sequential process.

    >>> cp = conditional_power_combination([1.5], [np.sqrt(0.5)] * 2, [2.963, 1.969], 1, np.log(0.7), [165.75])
    >>> round(float(cp[-1]), 3)
    0.844
    """
    w = np.asarray(weights, dtype=float)
    b = np.asarray(critical_values, dtype=float)
    z = np.asarray(stage_z, dtype=float)[:look]
    n_future = np.asarray(events_planned, dtype=float)
    k_max = w.size
    if not 1 <= look < k_max or z.size != look or n_future.size != k_max - look or b.size != k_max:
        raise ParameterError("look", look, f"need an interim look (1..{k_max - 1}) with one stage Z per look done, "
                                           "critical values for every look and planned events for every stage ahead")
    fut = np.full(k_max - 1, -np.inf) if futility_bounds is None else np.asarray(futility_bounds, dtype=float)[: k_max - 1]
    theta = -float(log_hazard_ratio) * np.sqrt(allocation_ratio) / (1.0 + allocation_ratio)
    past = float(w[:look] @ z)
    w2_past = float(np.sum(w[:look] ** 2))
    u = np.cumsum(w[look:] ** 2)
    mean = theta * np.cumsum(np.sqrt(n_future) * w[look:]) / np.sqrt(u)

    def shift(bound: np.ndarray) -> np.ndarray:
        return (bound * np.sqrt(w2_past + u) - past) / np.sqrt(u) - mean
    upper = shift(b[look:])
    lower = np.concatenate([shift(np.concatenate([fut[look:], [-np.inf]]))[:-1], [-np.inf]])
    up, _ = crossing_probabilities(upper, lower, u / u[-1], 0.0)
    return np.cumsum(up)
