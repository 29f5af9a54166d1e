"""A deliberately simple two-arm design with known truth, for closed-form checks of the engine.

Survival is exponential with a constant hazard ratio (so Schoenfeld's formula applies exactly in
the large-sample limit), censoring is administrative (uniform accrual, fixed study end) plus an
exponential dropout, and ALSFRS-R is linear per participant with a random intercept and slope
(exactly the mixed model the batch slope analysis fits). It is not the ALS simulator
(`mndtrial.sim`): no neurofilament biology, no eligibility, no visit windows.

Every trial has its own random stream, `SeedSequence(seed, spawn_key=(trial,))` — the same as
child `trial` of `SeedSequence(seed).spawn(...)` — so any chunking gives identical trials.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..analysis.distributions import norm_cdf, norm_ppf
from ..data import Arm, TrialBatch, TrialInfo
from ..data.schema import DAYS_PER_MONTH
from ..errors import ParameterError

__all__ = ["ExponentialDesign"]

LOG_PNFH_MEAN, LOG_PNFH_SD = 7.62, 0.74


@dataclass(frozen=True)
class ExponentialDesign:
    """Two arms 1:1, exponential survival, linear ALSFRS-R with random intercept and slope.

    Example:
        >>> batch = ExponentialDesign(n_per_arm=50).simulate_chunk(0, 3, seed=1)
        >>> batch.n_trials, len(batch.participants)
        (3, 300)
    """

    n_per_arm: int = 110
    median_survival_control_days: float = 900.0
    hazard_ratio: float = 1.0
    accrual_days: float = 0.0
    follow_up_days: float = 640.0  # from the last randomisation to the end of the study
    dropout_per_year: float = 0.0
    time_resolution_days: float = 1.0  # times are rounded up to this grid (ties, as in real data)
    biomarker_log_hr: float = 0.0  # log hazard ratio per log-unit of csf_pnfh (prognostic only)
    biomarker_cutoff: float = 3700.0  # csf_pnfh (pg/mL) dividing the low and high groups
    hazard_ratio_high: float | None = None  # treatment HR above the cut-off (None: same as below)
    enrich: bool = False  # randomise only participants at or below the cut-off (screening the rest out)
    visit_interval_days: float = 91.0
    alsfrs_baseline_mean: float = 37.0
    alsfrs_baseline_sd: float = 5.0
    slope_control_per_month: float = -1.0
    slope_sd_per_month: float = 0.4
    slope_difference_per_month: float = 0.0
    intercept_slope_corr: float = 0.2
    residual_sd: float = 1.5

    def __post_init__(self) -> None:
        positive = {"n_per_arm": self.n_per_arm, "median_survival_control_days": self.median_survival_control_days,
                    "hazard_ratio": self.hazard_ratio, "follow_up_days": self.follow_up_days,
                    "visit_interval_days": self.visit_interval_days, "residual_sd": self.residual_sd}
        for name, value in positive.items():
            if not value > 0:
                raise ParameterError(name, value, "must be > 0")
        for name in ("accrual_days", "dropout_per_year", "time_resolution_days", "slope_sd_per_month",
                     "alsfrs_baseline_sd"):
            if getattr(self, name) < 0:
                raise ParameterError(name, getattr(self, name), "must be >= 0")
        if self.hazard_ratio_high is not None and not self.hazard_ratio_high > 0:
            raise ParameterError("hazard_ratio_high", self.hazard_ratio_high, "must be > 0")
        if not self.biomarker_cutoff > 0:
            raise ParameterError("biomarker_cutoff", self.biomarker_cutoff, "must be > 0")
        if not -1 < self.intercept_slope_corr < 1:
            raise ParameterError("intercept_slope_corr", self.intercept_slope_corr, "must be in (-1, 1)")

    @property
    def info(self) -> TrialInfo:
        return TrialInfo(name="exponential", arms=(Arm(name="placebo", control=True), Arm(name="active")),
                         strata=("onset_site",), horizon_days=self.accrual_days + self.follow_up_days,
                         description="Two-arm exponential-survival design (mndtrial.power.exponential).")

    def simulate_chunk(self, first_trial: int, n_trials: int, seed: int) -> TrialBatch:
        """Trials `first_trial .. first_trial + n_trials - 1` of the run with this seed.

        Each trial's stream is drawn in its own order (`_draws`, then the ALSFRS-R residuals,
        whose number depends on its follow-up); everything else is computed for all the trials
        at once, elementwise, so a trial is the same whichever trials share its chunk.
        """
        if n_trials < 1 or first_trial < 0:
            raise ParameterError("n_trials", n_trials, "must be >= 1 with first_trial >= 0")
        n = 2 * self.n_per_arm
        rngs = [np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,)))
                for i in range(first_trial, first_trial + n_trials)]
        effects = self._effects_normal()  # one SVD for the chunk
        per_trial = [self._draws(rng, n, effects) for rng in rngs]
        d = {k: np.concatenate([x[k] for x in per_trial]) for k in per_trial[0] if k != "screened"}
        active, time, event = d["active"], d["time"], d["event"]
        # ALSFRS-R: linear per participant (random intercept and slope), visits until the end of follow-up
        slope = d["effects"][:, 1] + np.where(active, self.slope_difference_per_month, 0.0)
        n_visits = np.floor(time / self.visit_interval_days).astype(int) + 1
        row = np.repeat(np.arange(len(time)), n_visits)  # participant of each visit, over the chunk
        visit = np.arange(len(row)) - np.repeat(np.cumsum(n_visits) - n_visits, n_visits)
        day = visit * self.visit_interval_days
        visits_per_trial = n_visits.reshape(n_trials, n).sum(axis=1)
        residual = np.concatenate([rng.normal(0, self.residual_sd, k) for rng, k in zip(rngs, visits_per_trial)])
        total = d["effects"][row, 0] + slope[row] * day / DAYS_PER_MONTH + residual
        trial = np.repeat(np.arange(first_trial, first_trial + n_trials), n)
        subject = np.tile(np.arange(n), n_trials)
        label = lambda names, codes: np.array(names, dtype=object)[codes.astype(int)]  # noqa: E731 (text columns)
        participants = pd.DataFrame({"trial": trial, "subject": subject, "arm": label(["placebo", "active"], active),
                                     "age": d["age"], "onset_site": label(["limb", "bulbar"], d["onset_site"]),
                                     "csf_pnfh": np.round(np.exp(d["log_pnfh"]), 1)})
        survival = pd.DataFrame({"trial": trial, "subject": subject, "time_days": time, "event": event,
                                 "event_type": label(["censored", "death"], event)})
        # ALSFRS-R is scored in whole points (the data model refuses anything finer than half points)
        alsfrs = pd.DataFrame({"trial": trial[row], "subject": subject[row], "day": day,
                               "total": np.clip(np.round(total), 0, 48)})
        return TrialBatch(info=self.info, n_trials=n_trials, participants=participants, survival=survival,
                          alsfrs=alsfrs, first_trial=first_trial,
                          metadata={"design": "exponential", "seed": seed,
                                    "screened": np.array([x["screened"] for x in per_trial], dtype=np.int64)})

    def _effects_normal(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and factor of the (intercept, slope) normal as `Generator.multivariate_normal`
        (method 'svd') makes them: cov = u·diag(s)·vh, factor = u·√s."""
        sd_b, sd_s, r = self.alsfrs_baseline_sd, self.slope_sd_per_month, self.intercept_slope_corr
        cov = np.array([[sd_b ** 2, r * sd_b * sd_s], [r * sd_b * sd_s, sd_s ** 2]])
        u, s, _ = np.linalg.svd(cov)
        return np.array([self.alsfrs_baseline_mean, self.slope_control_per_month]), u * np.sqrt(s)

    def _draws(self, rng: np.random.Generator, n: int, effects: tuple[np.ndarray, np.ndarray]) -> dict:
        """One trial's participants and survival, drawn in its stream's order (the ALSFRS-R
        residuals come next). The death times need each participant's rate, hence the arithmetic."""
        active = rng.permutation(np.repeat([0, 1], self.n_per_arm)).astype(bool)
        log_pnfh, screened = self._biomarker(rng, n)
        onset = rng.random(n) < 0.28
        age = np.round(rng.normal(58, 10, n).clip(18, 80), 1)
        hr = np.full(n, self.hazard_ratio)
        if self.hazard_ratio_high is not None:
            hr[log_pnfh > np.log(self.biomarker_cutoff)] = self.hazard_ratio_high
        rate = np.log(2) / self.median_survival_control_days \
            * np.exp(self.biomarker_log_hr * (log_pnfh - LOG_PNFH_MEAN)) * np.where(active, hr, 1.0)
        death = rng.exponential(1.0 / rate)
        entry = rng.uniform(0, self.accrual_days, n) if self.accrual_days > 0 else np.zeros(n)
        admin = self.accrual_days + self.follow_up_days - entry
        dropout = (rng.exponential(365.25 / self.dropout_per_year, n) if self.dropout_per_year > 0
                   else np.full(n, np.inf))
        time = np.minimum.reduce([death, dropout, admin])
        event = (death <= np.minimum(dropout, admin)).astype(int)
        if self.time_resolution_days > 0:
            time = np.maximum(np.ceil(time / self.time_resolution_days), 1) * self.time_resolution_days
        effects = _bivariate_normal(rng, effects, n)
        return {"active": active, "log_pnfh": log_pnfh, "onset_site": onset, "age": age, "time": time,
                "event": event, "effects": effects, "screened": screened}

    def _biomarker(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, int]:
        """log CSF-pNfH (log-normal, mnd-evidence.md: log-mean 7.62, log-sd 0.74) and the number
        screened to randomise n (more than n when the design enriches)."""
        if not self.enrich:
            return rng.normal(LOG_PNFH_MEAN, LOG_PNFH_SD, n), n
        p_low = norm_cdf((np.log(self.biomarker_cutoff) - LOG_PNFH_MEAN) / LOG_PNFH_SD)
        u = rng.uniform(0, p_low, n)
        return LOG_PNFH_MEAN + LOG_PNFH_SD * norm_ppf(u), n + int(rng.negative_binomial(n, p_low))


def _bivariate_normal(rng: np.random.Generator, mean_factor: tuple[np.ndarray, np.ndarray], n: int) -> np.ndarray:
    """`rng.multivariate_normal(mean, cov, n)` (method 'svd') with the factor made once, not per
    trial: the same normals, the same product, the same numbers (tests/test_power_exponential_route.py)."""
    mean, factor = mean_factor
    return mean + rng.standard_normal((n, len(mean))) @ factor.T
