"""Steps shared by the patient-level confirmatory simulations (`enrichment`, `group_sequential`):
rows of a pool kept as randomised, the last calendar day with data, and log-rank scores in a
population S and in everyone (F) on a cut batch.

Z is oriented so that Z > 0 is benefit: Z = −U/√V with U the log-rank score (observed − expected
deaths on the active arm) and V its variance; the naive hazard ratio is Peto's exp(U/V).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..batch import logrank_batch
from ..data import TrialBatch
from ..errors import ParameterError
from .enrichment_pool import ExponentialPool

__all__ = ["IN_S", "keep_rows", "logrank_scores", "z_and_hazard_ratio", "per_trial_max", "data_end_day",
           "chunk_with_enough_candidates"]

IN_S = "in_population_s"


def chunk_with_enough_candidates(simulate: Callable[[Any, int, int, int, int], pd.DataFrame | None], spec: Any,
                                 first_trial: int, n_trials: int, seed: int) -> pd.DataFrame:
    """`simulate(spec, first_trial, n_trials, seed, pool_size)`, the pool doubled until every trial
    finds enough candidates (None means too few). An `ExponentialPool` is cheap to redraw larger; a
    simulated pool is not, so there the error asks for a larger `pool_size`."""
    size = spec.candidates_per_trial
    while True:
        out = simulate(spec, first_trial, n_trials, seed, size)
        if out is not None:
            return out
        if not isinstance(spec.pool, ExponentialPool):
            raise ParameterError("pool_size", size, "too few S candidates in a simulated pool; give a larger pool_size")
        size *= 2


def keep_rows(batch: TrialBatch, keep: np.ndarray) -> TrialBatch:
    """The batch with only the participant rows where `keep` is true (survival rows alike)."""
    return replace(batch, participants=batch.participants.loc[keep].reset_index(drop=True),
                   survival=batch.survival.loc[keep].reset_index(drop=True))


def logrank_scores(batch: TrialBatch, stratified: bool) -> dict[str, np.ndarray]:
    """Log-rank score U, variance V, events and n in S and in F, every trial: arrays (T, 2).

    F is stratified by S membership when `stratified` (the stratified log-rank sums the strata's
    scores and variances, rpact's `stratifiedAnalysis = TRUE`)."""
    in_s = batch.participants[IN_S].to_numpy()
    s = logrank_batch(batch, subset=in_s)
    if stratified:
        r = logrank_batch(batch, subset=~in_s)
        u_f, v_f = s.observed_minus_expected + r.observed_minus_expected, s.variance + r.variance
        events_f, n_f = s.events + r.events, s.n + r.n
    else:
        f = logrank_batch(batch)
        u_f, v_f, events_f, n_f = f.observed_minus_expected, f.variance, f.events, f.n
    return {"u": np.column_stack([s.observed_minus_expected, u_f]), "v": np.column_stack([s.variance, v_f]),
            "events": np.column_stack([s.events, events_f]), "n": np.column_stack([s.n, n_f])}


def z_and_hazard_ratio(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Z = −U/√V and the naive HR exp(U/V); NaN where V = 0 (no information)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = v > 0
        safe = np.where(ok, v, 1.0)
        return np.where(ok, -u / np.sqrt(safe), np.nan), np.where(ok, np.exp(u / safe), np.nan)


def per_trial_max(values: np.ndarray, trial: np.ndarray, n_trials: int) -> np.ndarray:
    """Largest value of each trial's rows (rows sorted by trial; -inf for a trial without rows)."""
    out = np.full(n_trials, -np.inf)
    if len(values):
        starts = np.flatnonzero(np.r_[True, trial[1:] != trial[:-1]])
        out[trial[starts]] = np.maximum.reduceat(values, starts)
    return out


def data_end_day(batch: TrialBatch) -> np.ndarray:
    """Calendar day of the last follow-up of each trial (where an event target is never reached)."""
    p, s = batch.participants, batch.survival
    last = p["entry_day"].to_numpy() + s["time_days"].to_numpy()
    return per_trial_max(last, p["trial"].to_numpy() - batch.first_trial, batch.n_trials)
