"""Closed testing of a subpopulation S and the full population F over stages (adaptive enrichment).

The closed system for two hypotheses is {H_S, H_F, H_S∩H_F}. Each hypothesis gets a stage-wise
p-value: the elementary ones their own, the intersection one from an intersection test
(`intersection_p`) of the stage's two p-values. Stage-wise p-values are combined over stages by
the inverse-normal method with pre-specified weights and compared with group-sequential critical
values on the Z scale. An elementary hypothesis is rejected (by stage k) once it and the
intersection have both been rejected at some stage <= k (closed testing principle, Marcus,
Peritz and Gabriel 1976; for adaptive designs Bauer & Kieser 1999, Wassmer & Brannath 2016 §11).

After an interim selection only one population may continue. Its p-value is then the stage-wise
p-value of every hypothesis that contains it, the intersection included, and a hypothesis with no
continuing population cannot be rejected at later stages -- exactly as rpact's
`getSimulationEnrichmentSurvival` (`.performClosedCombinationTestForSimulationEnrichment`).

All arrays have leading trial axes; the last axes are (stage) or (stage, population).
Populations are ordered (S, F); the closed-system rows are (S, F, S∩F).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr, owens_t

from ..errors import ParameterError
from .combination import inverse_normal_z, p_to_z

__all__ = ["INTERSECTION_METHODS", "intersection_p", "spiessens_debois_correlation",
           "bivariate_normal_equal_cdf", "closed_test", "ClosedTestResult"]

INTERSECTION_METHODS = ("bonferroni", "simes", "sidak", "spiessens_debois")
POPULATIONS = ("S", "F")
HYPOTHESES = ("S", "F", "S∩F")


def spiessens_debois_correlation(events_s: np.ndarray, events_f: np.ndarray) -> np.ndarray:
    """Correlation of the log-rank Z statistics in S and in F (S nested in F): sqrt(d_S / d_F).

    Use the events of the stage (increments) for stage-wise p-values.

    >>> float(spiessens_debois_correlation(50, 200))
    0.5
    """
    d_s = np.asarray(events_s, dtype=float)
    d_f = np.asarray(events_f, dtype=float)
    if np.any(d_s <= 0) or np.any(d_s > d_f):
        raise ParameterError("events_s", events_s, "need 0 < events in S <= events in F (S is nested in F)")
    return np.sqrt(d_s / d_f)


def bivariate_normal_equal_cdf(h: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """P(X <= h, Y <= h) for standard bivariate normal (X, Y) with correlation rho, exactly.

    Owen (1956): Phi2(h, h; rho) = Phi(h) - 2 T(h, sqrt((1 - rho)/(1 + rho))), T Owen's T function;
    vectorised and free of the Monte Carlo error of a general multivariate-normal integrator.

    >>> round(float(bivariate_normal_equal_cdf(0.0, 0.0)), 6)
    0.25
    """
    h = np.asarray(h, dtype=float)
    rho = np.asarray(rho, dtype=float)
    if np.any((rho <= -1) | (rho > 1)):
        raise ParameterError("correlation", rho, "must lie in (-1, 1]")
    a = np.sqrt((1.0 - rho) / (1.0 + rho))
    return ndtr(h) - 2.0 * owens_t(h, a)


def intersection_p(p_s: np.ndarray, p_f: np.ndarray, method: str, *,
                   correlation: np.ndarray | None = None) -> np.ndarray:
    """Stage-wise p-value of H_S∩H_F from the one-sided p-values of S and F (broadcast).

    bonferroni: min(1, 2 min p); simes: min(2 p_(1), p_(2)); sidak: 1 - (1 - min p)^2;
    spiessens_debois: max-type test, 1 - Phi2(z_max, z_max; rho) with z_max = Phi^{-1}(1 - min p)
    and rho = `correlation` (see `spiessens_debois_correlation`). Where one p-value is NaN (that
    population was not continued) the other one is the intersection's p-value; both NaN gives NaN.

    >>> intersection_p(0.01, 0.04, "simes").round(6).tolist()
    0.02
    >>> intersection_p(0.01, np.nan, "bonferroni").round(6).tolist()
    0.01
    """
    if method not in INTERSECTION_METHODS:
        raise ParameterError("method", method, f"must be one of {', '.join(INTERSECTION_METHODS)}")
    p_s, p_f = np.broadcast_arrays(np.asarray(p_s, dtype=float), np.asarray(p_f, dtype=float))
    for name, p in (("p_s", p_s), ("p_f", p_f)):
        if np.any((p < 0) | (p > 1)):
            raise ParameterError(name, p, "p-values must lie in [0, 1]")
    p_min = np.fmin(p_s, p_f)
    p_max = np.fmax(p_s, p_f)
    with np.errstate(invalid="ignore"):
        if method == "bonferroni":
            both = np.minimum(1.0, 2.0 * p_min)
        elif method == "simes":
            both = np.minimum(2.0 * p_min, p_max)
        elif method == "sidak":
            both = 1.0 - (1.0 - p_min) ** 2
        else:
            if correlation is None:
                raise ParameterError("correlation", None, "spiessens_debois needs the correlation of Z_S and Z_F")
            rho = np.broadcast_to(np.asarray(correlation, dtype=float), p_min.shape)
            two = ~np.isnan(p_s) & ~np.isnan(p_f)
            if np.any(two & ~np.isfinite(rho)):
                raise ParameterError("correlation", correlation, "must be finite where both p-values are given")
            both = np.full(p_min.shape, np.nan)
            both[two] = 1.0 - bivariate_normal_equal_cdf(p_to_z(p_min[two]), rho[two])
    one_missing = np.isnan(p_s) ^ np.isnan(p_f)
    return np.where(one_missing, p_min, both)


def _per_stage(values, name: str, n_stages: int, fill: float) -> np.ndarray:
    if values is None:
        return np.full(n_stages, fill)
    v = np.asarray(values, dtype=float)
    if v.shape == (n_stages - 1,):
        v = np.concatenate([v, [fill]])
    if v.shape != (n_stages,):
        raise ParameterError(name, values, f"need one value per stage ({n_stages}), or per interim ({n_stages - 1})")
    return v


@dataclass(frozen=True, repr=False)
class ClosedTestResult:
    """Outcome of `closed_test` for every trial (leading axes) and stage.

    stage_p: (..., K, 3) stage-wise p of H_S, H_F, H_S∩H_F (NaN: hypothesis not testable).
    combined_z: (..., K, 3) inverse-normal combined Z of those three.
    rejected_hypotheses: (..., K, 3) H_S, H_F, H_S∩H_F rejected at or before stage k (cumulative).
    rejected: (..., K, 2) elementary H_S, H_F rejected by the closed test at or before stage k.
    futility: (..., K, 2) population futile at stage k (some hypothesis containing it at or
        below the futility bound; always False at the last stage).
    success_stop, futility_stop: (..., K) rpact's stopping rules at stage k.
    stop_stage: (...,) 1-based stage at which the trial stops (K if it runs to the end).
    rejection_stage: (..., 2) 1-based first stage at which H_S / H_F is rejected, 0 if never
        (counting only stages up to `stop_stage`).
    """

    stage_p: np.ndarray
    combined_z: np.ndarray
    rejected_hypotheses: np.ndarray
    rejected: np.ndarray
    futility: np.ndarray
    success_stop: np.ndarray
    futility_stop: np.ndarray
    stop_stage: np.ndarray
    rejection_stage: np.ndarray

    @property
    def n_stages(self) -> int:
        return self.rejected.shape[-2]

    @property
    def rejected_final(self) -> np.ndarray:
        """(..., 2): H_S / H_F rejected by the end of the trial (at its stop stage)."""
        return self.rejection_stage > 0

    @property
    def summary(self) -> pd.DataFrame:
        """Proportion of trials rejecting H_S, H_F, at least one, and stopping, per stage."""
        k = self.n_stages
        stage = self.rejection_stage.reshape(-1, 2)
        stop = self.stop_stage.reshape(-1)
        first_any = np.where(stage > 0, stage, k + 1).min(axis=1)
        rows = []
        for s in range(1, k + 1):
            rows.append({"stage": s,
                         "reject_S": float(np.mean(stage[:, 0] == s)),
                         "reject_F": float(np.mean(stage[:, 1] == s)),
                         "reject_at_least_one": float(np.mean(first_any == s)),
                         "stop": float(np.mean(stop == s))})
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        n = int(np.prod(self.stop_stage.shape)) if self.stop_stage.ndim else 1
        return f"<ClosedTestResult: {n} trials, {self.n_stages} stages>"


def closed_test(p_s: np.ndarray, p_f: np.ndarray, *, weights: np.ndarray, critical_z: np.ndarray,
                futility_z: np.ndarray | None = None, method: str = "simes",
                correlation: np.ndarray | None = None,
                success_criterion: str = "all") -> ClosedTestResult:
    """Closed inverse-normal combination test of H_S and H_F over K stages, vectorised over trials.

    p_s, p_f: (..., K) stage-wise one-sided p-values of S and F, each computed on that stage's
        data only; NaN where the population was not continued (or the stage not reached).
    weights: (K,) pre-specified inverse-normal weights (`inverse_normal_weights`).
    critical_z: (K,) efficacy critical values for the combined Z (group-sequential bounds).
    futility_z: (K-1,) or (K,) futility bounds on the combined Z, -inf for none (rpact's
        `futilityBounds`; the last one is ignored).
    method: intersection test, one of `INTERSECTION_METHODS`.
    correlation: (..., K) Spiessens–Debois correlation per stage (`spiessens_debois_correlation`
        of the stage's events), broadcast against the p-values.
    success_criterion: "all" (stop for efficacy when every continued population is rejected) or
        "at_least_one" (when any is), as rpact's successCriterion.

    >>> r = closed_test([[0.01, 0.01]], [[0.2, np.nan]], weights=[1, 1], critical_z=[2.8, 1.98])
    >>> r.rejection_stage.tolist()  # S rejected at stage 2 (F not continued), F never
    [[2, 0]]
    """
    if success_criterion not in ("all", "at_least_one"):
        raise ParameterError("success_criterion", success_criterion, "must be 'all' or 'at_least_one'")
    p_s, p_f = np.broadcast_arrays(np.asarray(p_s, dtype=float), np.asarray(p_f, dtype=float))
    if p_s.ndim == 0:
        raise ParameterError("p_s", p_s, "need a last axis of stages")
    k = p_s.shape[-1]
    crit = _per_stage(critical_z, "critical_z", k, np.nan)
    if np.any(np.isnan(crit)):
        raise ParameterError("critical_z", critical_z, f"need one critical value per stage ({k})")
    fut = _per_stage(futility_z, "futility_z", k, -np.inf)
    fut[-1] = -np.inf

    p_sf = intersection_p(p_s, p_f, method, correlation=correlation)
    stage_p = np.stack([p_s, p_f, p_sf], axis=-1)                        # (..., K, 3)
    combined = inverse_normal_z(np.moveaxis(p_to_z(stage_p), -1, -2), weights)
    combined = np.moveaxis(combined, -1, -2)                             # (..., K, 3)
    with np.errstate(invalid="ignore"):
        hit = combined >= crit[:, None]                                  # NaN compares False
        futile_h = combined <= fut[:, None]
    rejected_h = np.logical_or.accumulate(hit, axis=-2)
    # Each elementary hypothesis needs itself and the intersection rejected.
    rejected = rejected_h[..., :2] & rejected_h[..., 2:3]
    futility = futile_h[..., :2] | futile_h[..., 2:3]

    active = ~np.isnan(np.stack([p_s, p_f], axis=-1))                    # (..., K, 2)
    if success_criterion == "all":
        # A stage with no population continued counts as success, as R's all() of nothing does;
        # it cannot be reached anyway (the previous stage was a futility stop).
        success = np.all(rejected | ~active, axis=-1)
    else:
        success = np.any(rejected, axis=-1)
    futility_stop = np.all(futility | ~active, axis=-1)
    # No population continued into the next stage counts as a futility stop, as in rpact.
    futility_stop[..., :-1] |= ~np.any(active[..., 1:, :], axis=-1)
    futility_stop[..., -1] = False

    stops = success | futility_stop
    stops[..., -1] = True
    stop_stage = np.argmax(stops, axis=-1) + 1
    reached = np.arange(1, k + 1) <= stop_stage[..., None]               # (..., K)
    counted = rejected & reached[..., None]
    rejection_stage = np.where(counted.any(axis=-2), np.argmax(counted, axis=-2) + 1, 0)
    return ClosedTestResult(stage_p=stage_p, combined_z=combined, rejected_hypotheses=rejected_h,
                            rejected=rejected, futility=futility, success_stop=success,
                            futility_stop=futility_stop, stop_stage=stop_stage,
                            rejection_stage=rejection_stage)
