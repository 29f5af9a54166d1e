"""Patient-level simulation of a group-sequential survival trial with K >= 2 looks at event targets.

The boundaries come from `mndtrial.design.group_sequential_design` (never typed in); this module
only simulates. Per simulated trial:

1. A pool of candidates arrives in calendar order (`enrichment_pool`: `ExponentialPool` or the
   ALS simulator as `SimPool`). All-comers: the first `n_randomised_max` candidates are
   randomised. Fixed enrichment (`enriched=True`): only candidates in S (a `BiomarkerRule`
   group) are randomised, the first `n_randomised_max` of them; the others are screened out.
2. Look k is the calendar day of the `event_targets[k]`-th endpoint event in the analysed
   population (`mndtrial.data.event_cut_day`); the data are cut there (`cut_by_date`: later
   entrants removed, survival censored) and the log-rank Z (> 0 benefit; all-comers stratified
   by S membership when `stratified`) is compared with the bounds: Z >= critical value stops
   for efficacy (H0 rejected), Z <= futility bound stops for futility. Futility bounds always
   act in the simulation (binding or not only changes the alpha the design spends).
3. The trial stops at the first crossing (or the last look): its events, randomised, screened
   and duration are those on that day.

Every trial's pool comes from its own stream (`SeedSequence(seed, spawn_key=(trial,))`), so one
seed gives the same trials whatever the chunking or the number of processes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import BiomarkerRule, population_mask
from ..analysis.population import population_groups
from ..batch import logrank_batch
from ..data import cut_by_date, event_cut_day
from ..design import GroupSequentialDesign
from ..errors import ParameterError
from .backends import run_chunks
from .enrichment_pool import ExponentialPool, SimPool
from .group_sequential_summary import GroupSequentialResult, gs_operating_characteristics, look_table
from .trial_cuts import IN_S, chunk_with_enough_candidates, data_end_day, keep_rows, per_trial_max, z_and_hazard_ratio

__all__ = ["GroupSequentialTrial", "simulate_group_sequential", "group_sequential_chunk", "LOW_PNFH_RULE"]

LOW_PNFH_RULE = BiomarkerRule(biomarker="csf_pnfh", cutoffs=(3700,))


@dataclass(frozen=True, eq=False)
class GroupSequentialTrial:
    """A group-sequential trial on a patient pool (see the module docstring).

    `design`: the boundaries (`group_sequential_design`); `max_events`: events at the last look in
    the analysed population (everyone, or S when `enriched`); look k is at
    ceil(information_rates[k] · max_events) events. `label` names the strategy in tables.

    Example:
        >>> from mndtrial.design import group_sequential_design
        >>> t = GroupSequentialTrial(ExponentialPool(hazard_ratio_s=0.7, hazard_ratio_r=0.7),
        ...                          group_sequential_design(information_rates=[0.4, 0.7, 1.0]),
        ...                          max_events=200, n_randomised_max=400)
        >>> t.event_targets.tolist()
        [80, 140, 200]
    """

    pool: ExponentialPool | SimPool
    design: GroupSequentialDesign
    max_events: int
    n_randomised_max: int
    enriched: bool = False
    population: BiomarkerRule = LOW_PNFH_RULE
    population_group: str = "<= 3700"
    stratified: bool = True
    label: str | None = None
    pool_size: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.design, GroupSequentialDesign):
            raise ParameterError("design", type(self.design).__name__,
                                 "must be a GroupSequentialDesign (mndtrial.design.group_sequential_design)")
        if self.design.k_max < 2:
            raise ParameterError("design.k_max", self.design.k_max, "a group-sequential trial needs >= 2 looks")
        for name in ("max_events", "n_randomised_max"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 2:
                raise ParameterError(name, v, "must be a whole number >= 2")
        if self.max_events > self.n_randomised_max:
            raise ParameterError("max_events", self.max_events,
                                 f"cannot exceed n_randomised_max ({self.n_randomised_max})")
        targets = np.ceil(self.design.information_rates * self.max_events - 1e-9)
        if np.any(np.diff(targets) <= 0) or targets[0] < 1:
            raise ParameterError("max_events", self.max_events,
                                 f"too few for distinct event targets at information rates "
                                 f"{self.design.information_rates.tolist()}")
        if self.population_group not in population_groups(self.population):
            raise ParameterError("population_group", self.population_group,
                                 f"must be one of {list(population_groups(self.population))}")
        if self.pool_size is not None and self.pool_size < self.n_randomised_max:
            raise ParameterError("pool_size", self.pool_size, "must be at least n_randomised_max")

    @property
    def event_targets(self) -> np.ndarray:
        """Events in the analysed population at each look (whole numbers)."""
        return np.ceil(self.design.information_rates * self.max_events - 1e-9).astype(np.int64)

    @property
    def name(self) -> str:
        return self.label or ("enriched (S only)" if self.enriched else "all-comers")

    @property
    def true_hazard_ratio(self) -> float:
        """The hazard ratio in the analysed population where the pool knows it (else NaN)."""
        truth = getattr(self.pool, "true_hazard_ratios", {"S": np.nan, "F": np.nan})
        return float(truth["S" if self.enriched else "F"])

    @property
    def candidates_per_trial(self) -> int:
        """First pool size tried (an `ExponentialPool` doubles it when a trial runs short)."""
        if self.pool_size is not None:
            return int(self.pool_size)
        if not self.enriched:
            return int(self.n_randomised_max)
        p = getattr(self.pool, "prevalence_s", 0.25)
        need = self.n_randomised_max / p
        return int(need + 4 * np.sqrt(need / p) + 50)


def group_sequential_chunk(trial: GroupSequentialTrial, first_trial: int, n_trials: int, seed: int) -> pd.DataFrame:
    """Simulate and analyse trials first_trial.. of the run; one row per trial."""
    return chunk_with_enough_candidates(_chunk, trial, first_trial, n_trials, seed)


def _randomised(in_s: np.ndarray, trial_of_row: np.ndarray, subject: np.ndarray, n_trials: int,
                trial: GroupSequentialTrial) -> np.ndarray | None:
    if not trial.enriched:
        return subject < trial.n_randomised_max
    counts = np.bincount(trial_of_row, weights=in_s, minlength=n_trials)
    if np.any(counts < trial.n_randomised_max):
        return None  # a trial ran out of S candidates: grow the pool
    before = np.concatenate([[0.0], np.cumsum(counts)[:-1]])[trial_of_row]
    rank = np.cumsum(in_s) - before  # 1-based rank among the trial's S candidates
    return in_s & (rank <= trial.n_randomised_max)


def _chunk(trial: GroupSequentialTrial, first_trial: int, n_trials: int, seed: int, size: int) -> pd.DataFrame | None:
    T, K = n_trials, trial.design.k_max
    pool = trial.pool.simulate_pool(first_trial, n_trials, seed, size)
    in_s = population_mask(trial.population, trial.population_group, pool)
    pool = replace(pool, participants=pool.participants.assign(**{IN_S: in_s}))
    keep = _randomised(in_s, pool.participants["trial"].to_numpy() - first_trial,
                       pool.participants["subject"].to_numpy(), T, trial)
    if keep is None:
        return None
    batch = keep_rows(pool, keep)
    counted = batch.participants[IN_S].to_numpy() if trial.enriched else None
    end = data_end_day(batch)
    z = np.full((T, K), np.nan)
    hr = np.full((T, K), np.nan)
    events = np.zeros((T, K))
    days = np.zeros((T, K))
    looks = []
    for k, target in enumerate(trial.event_targets):
        day = event_cut_day(batch, int(target), population=counted)
        days[:, k] = np.where(np.isnan(day), end, day)
        cut = cut_by_date(batch, days[:, k])
        # one log-rank of the analysed population: S (everyone randomised, if enriched) or F,
        # stratified by S membership (the sum of the strata's scores and variances)
        lr = logrank_batch(cut, strata=(IN_S,) if trial.stratified and not trial.enriched else ())
        zk, hrk = z_and_hazard_ratio(lr.observed_minus_expected, lr.variance)
        z[:, k], hr[:, k], events[:, k] = zk, hrk, lr.events
        looks.append(cut)
    stop_look, reason = _decisions(z, trial.design)
    rows = np.arange(T)
    at_stop = {"n_randomised": np.zeros(T), "n_screened": np.zeros(T), "events_all": np.zeros(T)}
    for k, cut in enumerate(looks):
        here = stop_look == k + 1
        if not here.any():
            continue
        p = cut.participants
        t_row = p["trial"].to_numpy() - first_trial
        at_stop["n_randomised"] += np.where(here, np.bincount(t_row, minlength=T), 0)
        # screened: every candidate who came forward up to the last one randomised by then
        at_stop["n_screened"] += np.where(here, per_trial_max(p["subject"].to_numpy() + 1.0, t_row, T), 0)
        at_stop["events_all"] += np.where(here, np.bincount(t_row, weights=cut.survival["event"].to_numpy(),
                                                            minlength=T), 0)
    out = pd.DataFrame({"trial": np.arange(first_trial, first_trial + T), "stop_look": stop_look,
                        "stop_reason": reason, "reject": reason == "efficacy"})
    for k in range(K):
        out[f"z_{k + 1}"] = z[:, k]
        out[f"hr_{k + 1}"] = hr[:, k]
        out[f"events_{k + 1}"] = events[:, k]
        out[f"day_{k + 1}"] = days[:, k]
    idx = stop_look - 1
    out["events"] = events[rows, idx]
    out["events_all"] = at_stop["events_all"]
    out["n_randomised"] = at_stop["n_randomised"]
    out["n_screened"] = at_stop["n_screened"]
    out["duration_days"] = days[rows, idx]
    out["hr_at_stop"] = hr[rows, idx]
    return out


def _decisions(z: np.ndarray, design: GroupSequentialDesign) -> tuple[np.ndarray, np.ndarray]:
    """First look whose Z crosses a bound, and why: 'efficacy', 'futility' or 'none' (the last look
    without rejection). A look without information (NaN Z) crosses nothing."""
    T, K = z.shape
    upper = design.critical_values
    lower = np.concatenate([design.futility_bounds, [-np.inf]])
    with np.errstate(invalid="ignore"):
        eff = z >= upper
        fut = (z <= lower) & ~eff
    crossed = eff | fut
    crossed[:, -1] = True
    stop = np.argmax(crossed, axis=1)
    rows = np.arange(T)
    reason = np.where(eff[rows, stop], "efficacy", np.where(fut[rows, stop] & (stop < K - 1), "futility", "none"))
    return stop + 1, reason


def simulate_group_sequential(trial: GroupSequentialTrial, n_trials: int = 1000, seed: int = 1,
                              chunk_size: int = 256, n_workers: int | None = 1, backend: str = "local",
                              progress: bool = False, executor: Any = None) -> GroupSequentialResult:
    """Simulate `n_trials` group-sequential trials: operating characteristics (`table`, one row),
    stopping probabilities per look beside the design's analytic ones (`looks`), and one row per
    trial (`trials`). Same seed, same trials, whatever `chunk_size`, `n_workers` or `backend`;
    `executor`: worker processes kept between runs (`mndtrial.power.backends.WorkerPool`).

    Example:
        >>> from mndtrial.design import group_sequential_design
        >>> t = GroupSequentialTrial(ExponentialPool(hazard_ratio_s=0.7, hazard_ratio_r=0.7, arrivals_per_day=2),
        ...                          group_sequential_design(k_max=3), max_events=90, n_randomised_max=200)
        >>> res = simulate_group_sequential(t, n_trials=20, seed=3)
        >>> res.looks["look"].tolist()
        [1, 2, 3]
    """
    for name, value, least in (("n_trials", n_trials, 1), ("chunk_size", chunk_size, 1), ("seed", seed, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
            raise ParameterError(name, value, f"must be a whole number >= {least}")
    starts = list(range(0, n_trials, chunk_size))
    sizes = [min(chunk_size, n_trials - s) for s in starts]
    tasks = [(group_sequential_chunk, (trial, s, n, seed)) for s, n in zip(starts, sizes)]
    frames = run_chunks(tasks, sizes, backend=backend, n_workers=None if executor is not None else n_workers,
                        progress=progress, executor=executor)
    trials = pd.concat(frames, ignore_index=True)
    return GroupSequentialResult(table=pd.DataFrame([gs_operating_characteristics(trials, trial)]),
                                 looks=look_table(trials, trial), trials=trials, n_trials=n_trials, seed=seed)
