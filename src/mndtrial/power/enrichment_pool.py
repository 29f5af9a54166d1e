"""Screened pools for adaptive-enrichment simulation: every candidate who would come forward, in
calendar order, before anyone decides who is randomised.

An adaptive-enrichment trial changes who it recruits at the interim (only S after selecting S),
so a simulated trial starts as a pool of candidates in arrival order, each with a calendar
`entry_day`, a biomarker value, a randomised arm and a survival time counted from entry
(endpoint event or dropout; no administrative censoring — the calendar cuts do that). The
simulation then keeps the candidates the design would have randomised.

A pool source has `simulate_pool(first_trial, n_trials, seed, pool_size) -> TrialBatch` (with
`subject` in arrival order) and, where it knows them, the true hazard ratios of S and of its
complement. `ExponentialPool` has exponential survival with a hazard ratio per subgroup (the
model rpact's `getSimulationEnrichmentSurvival` assumes, for comparison); `SimPool` draws the
pool from the ALS simulator (`mndtrial.sim`): neurofilament-dependent progression, non-
proportional hazards and dropout as that model has them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from ..data import Arm, TrialBatch, TrialInfo
from ..errors import ParameterError

__all__ = ["ExponentialPool", "SimPool"]

LOG_PNFH_MEAN, LOG_PNFH_SD = 7.62, 0.74  # log CSF-pNfH (pg/mL), as mndtrial.power.exponential


def _info(name: str) -> TrialInfo:
    return TrialInfo(name=name, arms=(Arm(name="placebo", control=True), Arm(name="active")),
                     description="Screened pool for adaptive-enrichment simulation (mndtrial.power.enrichment).")


@dataclass(frozen=True)
class ExponentialPool:
    """Candidates arriving as a Poisson process, randomised 1:1, with exponential survival.

    CSF-pNfH is log-normal (log-mean 7.62, log-sd 0.74; mnd-evidence.md); S is pNfH at or below
    `biomarker_cutoff` (prevalence `prevalence_s`). Hazards: control median survival per subgroup;
    the treatment multiplies the hazard by `hazard_ratio_s` in S and `hazard_ratio_r` in the
    complement R. Dropout is exponential.

    Example:
        >>> pool = ExponentialPool(hazard_ratio_s=0.7, hazard_ratio_r=1.0)
        >>> round(pool.prevalence_s, 3)
        0.79
    """

    hazard_ratio_s: float = 1.0
    hazard_ratio_r: float = 1.0
    median_control_s_days: float = 900.0
    median_control_r_days: float = 600.0
    biomarker_cutoff: float = 3700.0
    log_pnfh_mean: float = LOG_PNFH_MEAN
    log_pnfh_sd: float = LOG_PNFH_SD
    arrivals_per_day: float = 1.0
    dropout_per_year: float = 0.0

    def __post_init__(self) -> None:
        for name in ("hazard_ratio_s", "hazard_ratio_r", "median_control_s_days", "median_control_r_days",
                     "biomarker_cutoff", "log_pnfh_sd", "arrivals_per_day"):
            if not getattr(self, name) > 0:
                raise ParameterError(name, getattr(self, name), "must be > 0")
        if not self.dropout_per_year >= 0:
            raise ParameterError("dropout_per_year", self.dropout_per_year, "must be >= 0")

    @property
    def prevalence_s(self) -> float:
        return float(stats.norm.cdf((np.log(self.biomarker_cutoff) - self.log_pnfh_mean) / self.log_pnfh_sd))

    @property
    def true_hazard_ratios(self) -> dict[str, float]:
        """Log-scale truths: S always; F only where the hazard ratio is the same in S and R."""
        same = np.isclose(self.hazard_ratio_s, self.hazard_ratio_r)
        return {"S": self.hazard_ratio_s, "F": self.hazard_ratio_s if same else float("nan")}

    def simulate_pool(self, first_trial: int, n_trials: int, seed: int, pool_size: int) -> TrialBatch:
        """Pools of `pool_size` candidates for trials first_trial.. (each trial its own stream)."""
        rows = [self._one(np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,))), pool_size)
                for i in range(first_trial, first_trial + n_trials)]
        cols = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
        trial = np.repeat(np.arange(first_trial, first_trial + n_trials), pool_size)
        subject = np.tile(np.arange(pool_size), n_trials)
        participants = pd.DataFrame({
            "trial": trial, "subject": subject,
            "arm": pd.Categorical.from_codes(cols["active"].astype(np.int8), categories=["placebo", "active"]),
            "csf_pnfh": cols["csf_pnfh"], "entry_day": cols["entry_day"]}, copy=False)
        survival = pd.DataFrame({"trial": trial, "subject": subject, "time_days": cols["time_days"],
                                 "event": cols["event"]}, copy=False)
        return TrialBatch(info=_info("exponential enrichment pool"), n_trials=n_trials, participants=participants,
                          survival=survival, first_trial=first_trial, metadata={"seed": seed})

    def _one(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        entry = np.floor(np.cumsum(rng.exponential(1.0 / self.arrivals_per_day, n)))
        active = np.zeros(n, dtype=bool)
        # 1:1 in permuted blocks of 2 in arrival order: balanced whichever candidates are kept.
        active[0::2] = rng.random((n + 1) // 2) < 0.5
        active[1::2] = ~active[0:n - n % 2:2]
        log_pnfh = rng.normal(self.log_pnfh_mean, self.log_pnfh_sd, n)
        in_s = log_pnfh <= np.log(self.biomarker_cutoff)
        median = np.where(in_s, self.median_control_s_days, self.median_control_r_days)
        hr = np.where(in_s, self.hazard_ratio_s, self.hazard_ratio_r)
        death = rng.exponential(median / np.log(2) / np.where(active, hr, 1.0))
        dropout = (rng.exponential(365.25 / self.dropout_per_year, n) if self.dropout_per_year > 0
                   else np.full(n, np.inf))
        event = death <= dropout
        time = np.maximum(np.ceil(np.minimum(death, dropout)), 1.0)  # whole days, as real data
        return {"active": active, "csf_pnfh": np.round(np.exp(log_pnfh), 1), "entry_day": entry,
                "time_days": time, "event": event.astype(np.int64)}


@dataclass(frozen=True, eq=False)
class SimPool:
    """The ALS simulator as a pool: `design` (a `mndtrial.sim.Design`) with `pool_size`
    participants accrued over `pool_size / arrivals_per_day` days. Its `horizon_days` caps each
    participant's follow-up (make it long for an event-driven trial)."""

    design: object
    arrivals_per_day: float = 1.0

    def __post_init__(self) -> None:
        from ..sim import Design

        if not isinstance(self.design, Design):
            raise ParameterError("design", type(self.design).__name__, "must be a mndtrial.sim.Design")
        if len(self.design.arms) != 2:
            raise ParameterError("design.arms", self.design.arm_names, "adaptive enrichment compares two arms")
        if not self.arrivals_per_day > 0:
            raise ParameterError("arrivals_per_day", self.arrivals_per_day, "must be > 0")

    @property
    def true_hazard_ratios(self) -> dict[str, float]:
        return {"S": float("nan"), "F": float("nan")}  # the simulator's effect is not one HR

    def simulate_pool(self, first_trial: int, n_trials: int, seed: int, pool_size: int) -> TrialBatch:
        from ..sim import simulate

        design = replace(self.design, n_randomised=pool_size, accrual_days=pool_size / self.arrivals_per_day)
        batch = simulate(design, n_trials=n_trials, seed=seed, first_trial=first_trial)
        return replace(batch, alsfrs=None, biomarkers=None)  # the enrichment analysis reads survival only
