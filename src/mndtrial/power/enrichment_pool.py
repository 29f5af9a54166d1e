"""Screened pools for adaptive-enrichment simulation: every candidate who would come forward, in
calendar order, before anyone decides who is randomised.

An adaptive-enrichment trial changes who it recruits at the interim (only S after selecting S),
so a simulated trial starts as a pool of candidates in arrival order, each with a calendar
`entry_day`, a biomarker value, a randomised arm and a survival time counted from entry
(endpoint event or dropout; no administrative censoring — the calendar cuts do that). The
simulation then keeps the candidates the design would have randomised.

A pool source has `simulate_pool(first_trial, n_trials, seed, pool_size) -> TrialBatch` (with
`subject` in arrival order; a larger `pool_size` must extend a smaller one, the same first
candidates, so that the simulation may grow a pool that ran short) and, where it knows them, the true hazard ratios of S and of its
complement. `ExponentialPool` has exponential survival with a hazard ratio per subgroup (the
model rpact's `getSimulationEnrichmentSurvival` assumes, for comparison); `SimPool` draws the
pool from the ALS simulator (`mndtrial.sim`): neurofilament-dependent progression, non-
proportional hazards and dropout as that model has them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ..analysis.distributions import norm_cdf
from ..data import Arm, TrialBatch, TrialInfo
from ..errors import ParameterError

__all__ = ["ExponentialPool", "SimPool"]

LOG_PNFH_MEAN, LOG_PNFH_SD = 7.62, 0.74  # log CSF-pNfH (pg/mL), as mndtrial.power.exponential
POOL_BLOCK = 256  # candidates drawn per block of a trial's stream


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
        return float(norm_cdf((np.log(self.biomarker_cutoff) - self.log_pnfh_mean) / self.log_pnfh_sd))

    @property
    def true_hazard_ratios(self) -> dict[str, float]:
        """Log-scale truths: S always; F only where the hazard ratio is the same in S and R."""
        same = np.isclose(self.hazard_ratio_s, self.hazard_ratio_r)
        return {"S": self.hazard_ratio_s, "F": self.hazard_ratio_s if same else float("nan")}

    def simulate_pool(self, first_trial: int, n_trials: int, seed: int, pool_size: int) -> TrialBatch:
        """Pools of `pool_size` candidates for trials first_trial.. (each trial its own stream)."""
        n = pool_size
        # Each trial draws its raw variates from its own stream, in blocks of POOL_BLOCK candidates:
        # a larger pool extends a smaller one (same first candidates), so a trial does not depend
        # on the pool size it was simulated with. The transforms then run on all trials at once.
        blocks = -(-n // POOL_BLOCK)
        u = np.empty((n_trials, 5, blocks * POOL_BLOCK))
        for j, i in enumerate(range(first_trial, first_trial + n_trials)):
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,)))
            # one call, filled block by block: (block, variate, candidate)
            u[j] = rng.random((blocks, 5, POOL_BLOCK)).transpose(1, 0, 2).reshape(5, -1)
        u = u[:, :, :n]
        expo = -np.log1p(-u[:, :3])  # arrival gaps, death, dropout
        coin = u[:, 3, 0::2]
        normal = ndtri(np.maximum(u[:, 4], 2.0 ** -53))
        entry = np.floor(np.cumsum(expo[:, 0] / self.arrivals_per_day, axis=1))
        # 1:1 in permuted blocks of 2 in arrival order: balanced whichever candidates are kept.
        active = np.zeros((n_trials, n), dtype=bool)
        active[:, 0::2] = coin < 0.5
        active[:, 1::2] = ~active[:, 0:n - n % 2:2]
        log_pnfh = self.log_pnfh_mean + self.log_pnfh_sd * normal
        in_s = log_pnfh <= np.log(self.biomarker_cutoff)
        median = np.where(in_s, self.median_control_s_days, self.median_control_r_days)
        hr = np.where(active, np.where(in_s, self.hazard_ratio_s, self.hazard_ratio_r), 1.0)
        death = expo[:, 1] * median / np.log(2) / hr
        dropout = expo[:, 2] * 365.25 / self.dropout_per_year if self.dropout_per_year > 0 else np.full_like(death, np.inf)
        event = death <= dropout
        time = np.maximum(np.ceil(np.minimum(death, dropout)), 1.0)  # whole days, as real data
        trial = np.repeat(np.arange(first_trial, first_trial + n_trials), n)
        subject = np.tile(np.arange(n), n_trials)
        participants = pd.DataFrame({
            "trial": trial, "subject": subject,
            "arm": pd.Categorical.from_codes(active.ravel().astype(np.int8), categories=["placebo", "active"]),
            "csf_pnfh": np.round(np.exp(log_pnfh), 1).ravel(), "entry_day": entry.ravel()}, copy=False)
        survival = pd.DataFrame({"trial": trial, "subject": subject, "time_days": time.ravel(),
                                 "event": event.ravel().astype(np.int64)}, copy=False)
        return TrialBatch(info=_info("exponential enrichment pool"), n_trials=n_trials, participants=participants,
                          survival=survival, first_trial=first_trial, metadata={"seed": seed})


@dataclass(frozen=True, eq=False)
class SimPool:
    """The ALS simulator as a pool: `design` (a `mndtrial.sim.Design`) with `pool_size`
    participants accrued over `pool_size / arrivals_per_day` days. Its `horizon_days` caps each
    participant's follow-up (make it long for an event-driven trial). The pool holds the
    simulator's eligible candidates, so "screened" counts those (its eligibility screening is
    in `batch.metadata["screening"]`); a participant without CSF-pNfH is outside a CSF-pNfH S. The
    population rule may cut either screening marker (`BiomarkerRule(biomarker='serum_nfl', ...)`):
    the pool records the measured CSF-pNfH and serum NfL (assay error included, `mndtrial.sim.
    measurement`), while the drug's effect follows the true level."""

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
        # the enrichment analysis reads survival only: the visit tables are not drawn at all
        return simulate(design, n_trials=n_trials, seed=seed, first_trial=first_trial,
                        tables=("participants", "survival"))
