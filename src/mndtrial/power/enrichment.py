"""Patient-level simulation of a two-stage adaptive-enrichment trial with calendar-time data cuts.

Two populations: S (a `BiomarkerRule` group, e.g. CSF-pNfH <= 3700 pg/mL) and F (everyone). Per
simulated trial:

1. A screened pool of candidates arrives in calendar order (`enrichment_pool`); the first
   `n_randomised_max` are randomised while recruitment is open to everyone.
2. Interim: the data are cut on the day of the `events[0]`-th endpoint event (overall). Log-rank
   score U (observed − expected, active arm) and its variance V in S and in F (F stratified by S
   membership, rpact's stratified analysis) give Z = −U/√V (> 0 is benefit) and the naive HR
   exp(U/V) (Peto's one-step estimate).
3. The closed test (`mndtrial.design.closed_test`: H_S, H_F, H_S∩H_F; Simes, Bonferroni, Sidák or
   Spiessens–Debois; inverse-normal combination with pre-specified weights) may stop the trial
   for efficacy or futility; otherwise the `SelectionRule` chooses S, F or both.
4. The trial really changes: after selecting S only, candidates outside S arriving after the
   interim are screened out and recruitment continues in S up to `n_randomised_max` (so more are
   screened and the trial runs longer); the final cut is on the day the selected population has
   `events[1] − events[0]` events more than at the interim (F: `events[1]` events overall), or
   as many more as `EventReestimation` asks for by conditional power.
5. Stage-2 statistics are the independent increments of the log-rank score,
   Z₂ = −(U(t₂) − U(t₁)) / √(V(t₂) − V(t₁)) = (√V₂ Z(t₂) − √V₁ Z(t₁)) / √(V₂ − V₁) (Tsiatis 1981;
   Wassmer & Brannath 2016 §11), and the closed test is applied to both stages.

Every trial's pool comes from its own stream (`SeedSequence(seed, spawn_key=(trial,))`), so one
seed gives the same trials whatever the chunking or the number of processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from ..analysis import BiomarkerRule, population_mask
from ..analysis.population import population_groups
from ..data import cut_by_date, event_cut_day
from ..design import INTERSECTION_METHODS, closed_test
from ..design.selection import SelectionRule, selection_label
from ..errors import ParameterError
from .backends import run_chunks
from .engine import PowerResult
from .enrichment_pool import ExponentialPool, SimPool
from .enrichment_summary import operating_characteristics
from .trial_cuts import IN_S, chunk_with_enough_candidates
from .trial_cuts import data_end_day as _data_end
from .trial_cuts import keep_rows as _rows
from .trial_cuts import logrank_scores as _scores
from .trial_cuts import per_trial_max as _per_trial_max
from .trial_cuts import z_and_hazard_ratio as _z_hr

__all__ = ["AdaptiveEnrichmentDesign", "EventReestimation", "simulate_enrichment", "enrichment_chunk",
           "LOW_PNFH_RULE"]

LOW_PNFH_RULE = BiomarkerRule(biomarker="csf_pnfh", cutoffs=(3700,))


@dataclass(frozen=True)
class EventReestimation:
    """Stage-2 events re-estimated at the interim for `conditional_power` in the selected
    population (rpact's conditionalPower with min/maxNumberOfEventsPerStage and thetaH1):

        d₂ = 4 · max(0, c* + Φ⁻¹(CP))² / θ²,  bounded to [min_events, max_events],

    c* = (c₂ − √t₁ · Φ⁻¹(1 − p₁*)) / √(1 − t₁) the conditional critical value, p₁* the
    Bonferroni-adjusted smallest stage-1 p-value, θ = log HR under the alternative: the given
    `hazard_ratio` or the least favourable interim estimate among the selected populations (kept
    below 1). The inverse-normal weights stay the pre-specified ones, which keeps the type I error.
    """

    conditional_power: float
    min_events: int
    max_events: int
    hazard_ratio: float | None = None

    def __post_init__(self) -> None:
        if not 0 < self.conditional_power < 1:
            raise ParameterError("reestimation.conditional_power", self.conditional_power, "must be in (0, 1)")
        if not 1 <= self.min_events <= self.max_events:
            raise ParameterError("reestimation.min_events/max_events", (self.min_events, self.max_events),
                                 "need 1 <= min_events <= max_events")
        if self.hazard_ratio is not None and not 0 < self.hazard_ratio < 1:
            raise ParameterError("reestimation.hazard_ratio", self.hazard_ratio, "must be in (0, 1)")

    def stage2_events(self, p1: np.ndarray, hr1: np.ndarray, selected: np.ndarray, critical_z2: float,
                      weights: np.ndarray) -> np.ndarray:
        """Events to add after the interim, per trial (whole numbers)."""
        t1 = weights[0] ** 2 / np.sum(weights ** 2)
        adjusted = np.minimum(np.nanmin(p1, axis=1) * 2, 1 - 1e-7)
        ccv = (critical_z2 - np.sqrt(t1) * ndtri(1 - adjusted)) / np.sqrt(1 - t1)
        if self.hazard_ratio is None:
            worst = np.max(np.where(selected, hr1, -np.inf), axis=1)
            theta = np.log(np.minimum(np.where(np.isfinite(worst), worst, 1.0), 1 - 1e-7))
        else:
            theta = np.full(len(p1), np.log(self.hazard_ratio))
        events = 4 * np.maximum(0.0, ccv + ndtri(self.conditional_power)) ** 2 / theta ** 2
        events = np.where(ccv > 8, self.max_events, np.clip(events, self.min_events, self.max_events))
        return np.ceil(events).astype(np.int64)


@dataclass(frozen=True, eq=False)
class AdaptiveEnrichmentDesign:
    """A two-stage adaptive-enrichment design on a patient pool (see the module docstring).

    `events`: cumulative planned events (interim overall, final); `critical_z`: efficacy bounds of
    the combined Z at the two looks (e.g. an O'Brien–Fleming-type inverse-normal design);
    `futility_z`: non-binding futility bound on the combined Z at the interim (-inf: none);
    `information_rates`: for the inverse-normal weights (default events[0] / events[1]);
    `reestimation`: stage-2 events by conditional power (`EventReestimation`; default: events[1]
    − events[0]).

    Example:
        >>> d = AdaptiveEnrichmentDesign(ExponentialPool(hazard_ratio_s=0.7), n_randomised_max=400,
        ...                              events=(100, 200), critical_z=(2.797, 1.977))
        >>> d.weights.round(4).tolist()
        [0.7071, 0.7071]
    """

    pool: ExponentialPool | SimPool
    n_randomised_max: int
    events: tuple[int, int]
    critical_z: tuple[float, float]
    futility_z: float = -np.inf
    information_rates: tuple[float, float] | None = None
    population: BiomarkerRule = LOW_PNFH_RULE
    population_group: str = "<= 3700"
    intersection_test: str = "simes"
    selection: SelectionRule = field(default_factory=SelectionRule)
    success_criterion: Literal["all", "at_least_one"] = "all"
    stratified_f: bool = True
    reestimation: EventReestimation | None = None
    pool_size: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.n_randomised_max, (int, np.integer)) or self.n_randomised_max < 4:
            raise ParameterError("n_randomised_max", self.n_randomised_max, "must be a whole number >= 4")
        d = tuple(self.events)
        if len(d) != 2 or not all(isinstance(x, (int, np.integer)) for x in d) or not 0 < d[0] < d[1]:
            raise ParameterError("events", self.events, "need two whole numbers 0 < interim < final")
        if d[1] > self.n_randomised_max:
            raise ParameterError("events", self.events, f"cannot exceed n_randomised_max ({self.n_randomised_max})")
        if len(self.critical_z) != 2 or not all(np.isfinite(self.critical_z)):
            raise ParameterError("critical_z", self.critical_z, "need two finite critical values")
        if self.information_rates is not None:
            t = self.information_rates
            if len(t) != 2 or not 0 < t[0] < t[1] or not np.isclose(t[1], 1.0):
                raise ParameterError("information_rates", t, "need 0 < t1 < t2 = 1")
        if self.intersection_test not in INTERSECTION_METHODS:
            raise ParameterError("intersection_test", self.intersection_test, f"must be one of {INTERSECTION_METHODS}")
        if self.success_criterion not in ("all", "at_least_one"):
            raise ParameterError("success_criterion", self.success_criterion, "must be 'all' or 'at_least_one'")
        if self.population_group not in population_groups(self.population):
            raise ParameterError("population_group", self.population_group,
                                 f"must be one of {list(population_groups(self.population))}")
        if not isinstance(self.selection, SelectionRule):
            raise ParameterError("selection", self.selection, "must be a mndtrial.design.SelectionRule")
        if self.pool_size is not None and self.pool_size < 2 * self.n_randomised_max:
            raise ParameterError("pool_size", self.pool_size, "must be at least 2 x n_randomised_max")

    @property
    def weights(self) -> np.ndarray:
        t = self.information_rates or (self.events[0] / self.events[1], 1.0)
        return np.sqrt(np.diff([0.0, *t]))

    @property
    def candidates_per_trial(self) -> int:
        """First pool size tried. A pool that can grow (`ExponentialPool`) starts a little above
        n_max and doubles when an S-only trial runs short; another must hold enough for n_max in
        F and then n_max more from S (4 sd above their mean) from the start."""
        if self.pool_size is not None:
            return int(self.pool_size)
        if isinstance(self.pool, ExponentialPool):
            return int(np.ceil(1.25 * self.n_randomised_max)) + 64
        p = getattr(self.pool, "prevalence_s", 0.25)
        need = self.n_randomised_max / p
        return int(self.n_randomised_max + need + 4 * np.sqrt(need / p) + 50)


# -- one chunk of trials ------------------------------------------------------------------------
def _correlation(v: np.ndarray) -> np.ndarray:
    """Spiessens–Debois: corr(Z_S, Z_F) = √(V_S / V_F) (F's score contains S's)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(v[:, 1] > 0, np.sqrt(np.clip(v[:, 0] / v[:, 1], 0, 1)), np.nan)


def _continuing(selected: np.ndarray, goes_on: np.ndarray) -> np.ndarray:
    """The populations that continue; both for a trial that stops (its value is not used)."""
    return np.where(goes_on[:, None], selected, True)


def enrichment_chunk(design: AdaptiveEnrichmentDesign, first_trial: int, n_trials: int, seed: int) -> pd.DataFrame:
    """Simulate and analyse trials first_trial.. of the run; one row per trial."""
    return chunk_with_enough_candidates(_chunk, design, first_trial, n_trials, seed)


def _chunk(design: AdaptiveEnrichmentDesign, first_trial: int, n_trials: int, seed: int,
           size: int) -> pd.DataFrame | None:
    d1, d2 = design.events
    n_max = design.n_randomised_max
    pool = design.pool.simulate_pool(first_trial, n_trials, seed, size)
    in_s = population_mask(design.population, design.population_group, pool)
    pool = replace(pool, participants=pool.participants.assign(**{IN_S: in_s}))
    T = n_trials
    trial_of_row = pool.participants["trial"].to_numpy() - first_trial
    subject = pool.participants["subject"].to_numpy()
    entry = pool.participants["entry_day"].to_numpy(dtype=float)

    # Interim: the first n_max candidates, cut at the d1-th event overall.
    stage1 = _rows(pool, subject < n_max)
    t1 = event_cut_day(stage1, d1)
    t1 = np.where(np.isnan(t1), _data_end(stage1), t1)
    look1 = _scores(cut_by_date(stage1, t1), design.stratified_f)
    z1, hr1 = _z_hr(look1["u"], look1["v"])
    selected = design.selection.select(hr1, z1)

    # The interim decision (efficacy / futility) needs only stage 1 and who would continue.
    p1 = ndtr(-z1)
    placeholder = np.where(selected, 0.5, np.nan)
    rho1 = _correlation(look1["v"])
    kw = dict(weights=design.weights, critical_z=np.asarray(design.critical_z, dtype=float),
              futility_z=np.array([design.futility_z]), method=design.intersection_test,
              success_criterion=design.success_criterion)
    first_look = closed_test(np.column_stack([p1[:, 0], placeholder[:, 0]]),
                             np.column_stack([p1[:, 1], placeholder[:, 1]]),
                             correlation=np.column_stack([rho1, np.full(T, 0.5)]), **kw)
    efficacy_stop = first_look.success_stop[:, 0]
    futility_stop = first_look.futility_stop[:, 0] & ~efficacy_stop
    goes_on = ~(efficacy_stop | futility_stop)
    s_only = goes_on & selected[:, 0] & ~selected[:, 1]

    # Stage 2: after selecting S only, candidates outside S who arrive after the interim are
    # screened out and recruitment continues in S up to n_max randomised.
    t1_row = t1[trial_of_row]
    before = (subject < n_max) & (entry <= t1_row)
    n_before = np.bincount(trial_of_row, weights=before, minlength=T)
    late_s = (entry > t1_row) & in_s & s_only[trial_of_row]
    rank = np.cumsum(late_s) - np.concatenate([[0], np.cumsum(np.bincount(trial_of_row, weights=late_s,
                                                                          minlength=T))[:-1]])[trial_of_row]
    wanted = n_max - n_before
    if np.any(s_only & (np.bincount(trial_of_row, weights=late_s, minlength=T) < wanted)):
        return None  # an S-only trial ran out of candidates: grow the pool
    randomised = np.where(s_only[trial_of_row], before | (late_s & (rank <= wanted[trial_of_row])),
                          subject < n_max)
    stage2 = _rows(pool, randomised)
    if design.reestimation is None:
        more = np.full(T, d2 - d1, dtype=np.int64)
    else:
        more = design.reestimation.stage2_events(p1, hr1, _continuing(selected, goes_on),
                                                 design.critical_z[1], design.weights)
    # F: the planned total d1 + more; S only: `more` events in S beyond those at the interim.
    target = np.where(s_only, look1["events"][:, 0].astype(np.int64), d1) + more
    counted = np.where(s_only[stage2.participants["trial"].to_numpy() - first_trial],
                       stage2.participants[IN_S].to_numpy(), True)
    t2 = event_cut_day(stage2, target, population=counted)
    t2 = np.where(np.isnan(t2), _data_end(stage2), t2)
    t2 = np.where(goes_on, t2, t1)
    final = cut_by_date(stage2, t2)
    look2 = _scores(final, design.stratified_f)
    z2_cum, hr2 = _z_hr(look2["u"], look2["v"])
    z2, _ = _z_hr(look2["u"] - look1["u"], look2["v"] - look1["v"])
    continued = selected & goes_on[:, None]
    p2 = np.where(continued, ndtr(-z2), np.nan)
    rho2 = _correlation(look2["v"] - look1["v"])
    rho2 = np.where(np.isfinite(rho2), rho2, 0.5)
    result = closed_test(np.column_stack([p1[:, 0], p2[:, 0]]), np.column_stack([p1[:, 1], p2[:, 1]]),
                         correlation=np.column_stack([rho1, rho2]), **kw)

    fp = final.participants
    ft = fp["trial"].to_numpy() - first_trial
    n_rand = np.bincount(ft, minlength=T)
    n_rand_s = np.bincount(ft, weights=fp[IN_S].to_numpy(), minlength=T)
    screened = _per_trial_max(fp["subject"].to_numpy() + 1.0, ft, T)
    events_all = np.bincount(ft, weights=final.survival["event"].to_numpy(), minlength=T)
    label = np.where(efficacy_stop, "stop efficacy", np.where(futility_stop, "stop futility", selection_label(selected)))
    # The population the final analysis is about: S after selecting S only, else F.
    final_pop = np.where(goes_on & s_only, 0, 1)
    out = pd.DataFrame({
        "trial": np.arange(first_trial, first_trial + T),
        "interim_day": t1, "final_day": t2,
        "interim_events_s": look1["events"][:, 0], "interim_events_f": look1["events"][:, 1],
        "z1_s": z1[:, 0], "z1_f": z1[:, 1], "hr1_s": hr1[:, 0], "hr1_f": hr1[:, 1],
        "selected_s": continued[:, 0], "selected_f": continued[:, 1], "decision": label,
        "efficacy_stop_1": efficacy_stop, "futility_stop_1": futility_stop,
        "z2_s": np.where(continued[:, 0], z2[:, 0], np.nan), "z2_f": np.where(continued[:, 1], z2[:, 1], np.nan),
        "v1_s": look1["v"][:, 0], "v1_f": look1["v"][:, 1],
        "v2_s": look2["v"][:, 0] - look1["v"][:, 0], "v2_f": look2["v"][:, 1] - look1["v"][:, 1],
        "stage2_events_planned": np.where(goes_on, more, 0),
        "final_events_s": look2["events"][:, 0], "final_events_f": look2["events"][:, 1], "final_events_all": events_all,
        "hr_final_s": hr2[:, 0], "hr_final_f": hr2[:, 1], "z_final_s": z2_cum[:, 0], "z_final_f": z2_cum[:, 1],
        "selected_population": np.where(final_pop == 0, "S", "F"),
        "hr_naive_selected": np.where(final_pop == 0, hr2[:, 0], hr2[:, 1]),
        "reject_s": result.rejected_final[:, 0], "reject_f": result.rejected_final[:, 1],
        "reject_stage_s": result.rejection_stage[:, 0], "reject_stage_f": result.rejection_stage[:, 1],
        "n_randomised": n_rand, "n_randomised_s": n_rand_s, "n_screened": screened,
        "duration_days": t2,
    })
    out["reject_any"] = out["reject_s"] | out["reject_f"]
    return out


def simulate_enrichment(design: AdaptiveEnrichmentDesign, n_trials: int = 1000, seed: int = 1,
                        chunk_size: int = 256, n_workers: int | None = 1, backend: str = "local",
                        progress: bool = False, executor: Any = None) -> PowerResult:
    """Simulate `n_trials` adaptive-enrichment trials and tabulate their operating characteristics
    (`table`: one row, see `enrichment_summary.operating_characteristics`; `trials`: one row per
    trial). Same seed, same trials, whatever `chunk_size`, `n_workers` or `backend`;
    `executor`: worker processes kept between runs (`mndtrial.power.backends.WorkerPool`).

    Example:
        >>> d = AdaptiveEnrichmentDesign(ExponentialPool(hazard_ratio_s=0.7, arrivals_per_day=2),
        ...                              n_randomised_max=300, events=(60, 120), critical_z=(2.797, 1.977))
        >>> res = simulate_enrichment(d, n_trials=20, seed=3)
        >>> bool(0 <= res.table.loc[0, "reject_any"] <= 1)
        True
    """
    for name, value, least in (("n_trials", n_trials, 1), ("chunk_size", chunk_size, 1), ("seed", seed, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
            raise ParameterError(name, value, f"must be a whole number >= {least}")
    starts = list(range(0, n_trials, chunk_size))
    sizes = [min(chunk_size, n_trials - s) for s in starts]
    tasks = [(enrichment_chunk, (design, s, n, seed)) for s, n in zip(starts, sizes)]
    frames = run_chunks(tasks, sizes, backend=backend, n_workers=None if executor is not None else n_workers,
                        progress=progress, executor=executor)
    trials = pd.concat(frames, ignore_index=True)
    return PowerResult(table=pd.DataFrame([operating_characteristics(trials, design)]), trials=trials,
                            n_trials=n_trials, seed=seed)
