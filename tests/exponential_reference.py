"""`ExponentialDesign.simulate_chunk` as it was before it was vectorised across trials (one set of
pandas tables per trial, then joined): the slow, obvious reference its fast route must equal
trial by trial (tests/test_power_exponential_route.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mndtrial.data import TrialBatch
from mndtrial.data.schema import DAYS_PER_MONTH
from mndtrial.power import ExponentialDesign
from mndtrial.power import exponential as EXP


def reference_chunk(design: ExponentialDesign, first_trial: int, n_trials: int, seed: int) -> TrialBatch:
    parts = [_one(design, np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,))))
             for i in range(first_trial, first_trial + n_trials)]
    n = 2 * design.n_per_arm
    trial = np.repeat(np.arange(first_trial, first_trial + n_trials), n)
    subject = np.tile(np.arange(n), n_trials)
    participants = pd.concat([p for p, _, _, _ in parts], ignore_index=True)
    participants.insert(0, "subject", subject)
    participants.insert(0, "trial", trial)
    survival = pd.concat([s for _, s, _, _ in parts], ignore_index=True)
    survival.insert(0, "subject", subject)
    survival.insert(0, "trial", trial)
    alsfrs = pd.concat([a.assign(trial=t) for t, (_, _, a, _) in
                        zip(range(first_trial, first_trial + n_trials), parts)], ignore_index=True)
    alsfrs = alsfrs[["trial", "subject", "day", "total"]]
    return TrialBatch(info=design.info, n_trials=n_trials, participants=participants, survival=survival,
                      alsfrs=alsfrs, first_trial=first_trial,
                      metadata={"design": "exponential", "seed": seed,
                                "screened": np.array([k for *_, k in parts], dtype=np.int64)})


def _one(self: ExponentialDesign, rng: np.random.Generator):
    n = 2 * self.n_per_arm
    active = rng.permutation(np.repeat([0, 1], self.n_per_arm)).astype(bool)
    log_pnfh, screened = self._biomarker(rng, n)
    onset = np.where(rng.random(n) < 0.28, "bulbar", "limb")
    age = np.round(rng.normal(58, 10, n).clip(18, 80), 1)
    hr = np.full(n, self.hazard_ratio)
    if self.hazard_ratio_high is not None:
        hr[log_pnfh > np.log(self.biomarker_cutoff)] = self.hazard_ratio_high
    rate = np.log(2) / self.median_survival_control_days \
        * np.exp(self.biomarker_log_hr * (log_pnfh - EXP.LOG_PNFH_MEAN)) * np.where(active, hr, 1.0)
    death = rng.exponential(1.0 / rate)
    entry = rng.uniform(0, self.accrual_days, n) if self.accrual_days > 0 else np.zeros(n)
    admin = self.accrual_days + self.follow_up_days - entry
    dropout = (rng.exponential(365.25 / self.dropout_per_year, n) if self.dropout_per_year > 0
               else np.full(n, np.inf))
    time = np.minimum.reduce([death, dropout, admin])
    event = (death <= np.minimum(dropout, admin)).astype(int)
    if self.time_resolution_days > 0:
        time = np.maximum(np.ceil(time / self.time_resolution_days), 1) * self.time_resolution_days
    participants = pd.DataFrame({"arm": np.where(active, "active", "placebo"), "age": age,
                                 "onset_site": onset, "csf_pnfh": np.round(np.exp(log_pnfh), 1)})
    survival = pd.DataFrame({"time_days": time, "event": event,
                             "event_type": np.where(event == 1, "death", "censored")})
    sd_b, sd_s, r = self.alsfrs_baseline_sd, self.slope_sd_per_month, self.intercept_slope_corr
    cov = np.array([[sd_b ** 2, r * sd_b * sd_s], [r * sd_b * sd_s, sd_s ** 2]])
    effects = rng.multivariate_normal([self.alsfrs_baseline_mean, self.slope_control_per_month], cov, n)
    slope = effects[:, 1] + np.where(active, self.slope_difference_per_month, 0.0)
    n_visits = np.floor(time / self.visit_interval_days).astype(int) + 1
    subject = np.repeat(np.arange(n), n_visits)
    visit = np.arange(len(subject)) - np.repeat(np.cumsum(n_visits) - n_visits, n_visits)
    day = visit * self.visit_interval_days
    total = effects[subject, 0] + slope[subject] * day / DAYS_PER_MONTH \
        + rng.normal(0, self.residual_sd, len(subject))
    # ALSFRS-R is scored in whole points (the data model refuses anything finer than half points)
    alsfrs = pd.DataFrame({"subject": subject, "day": day, "total": np.clip(np.round(total), 0, 48)})
    return participants, survival, alsfrs, screened
