"""Virtual ALS participants: baseline characteristics, neurofilaments, decline and death.

The natural history is a small latent-variable model. A participant's pre-baseline progression
(ΔFS, log-normal) drives CSF-pNfH, which drives serum NfL (log-normal, correlated, E:L65, E:L70).
The individual ALSFRS-R slope (log-normal, mean about 0.9-1.0 points/month, E:L47-48) and the
hazard of death (Weibull, shape about 2, E:L54) rise with neurofilament, ΔFS, bulbar onset and
age (E:L53, E:L59, E:L64). All numbers come from `parameters.toml`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..errors import ParameterError
from ._normal import standard_normal
from .parameters import SimParameters, load_parameters

__all__ = ["CohortModel", "Eligibility", "lognormal_params"]

SECTIONS = ("cohort", "trajectory", "survival", "measurement")
# F_ref of the informative-dropout hazard, about the mean baseline ALSFRS-R of trial participants
# (MIROCALS-like cohorts, docs/simulation.md): exp(α·(F − F_ref)) is then about 1 at entry.
ALSFRS_REFERENCE_POINTS = 38.0
Trajectory = Literal["linear", "faster_early"]
DRAWN = ("age", "male", "bulbar", "symptom_duration_months", "delta_fs_true", "csf_pnfh", "serum_nfl",
         "alsfrs_r_baseline", "vital_capacity_pct", "slope_per_month", "log_hazard")


def lognormal_params(mean: float, sd: float) -> tuple[float, float]:
    """(log-mean, log-sd) of the log-normal with this mean and sd."""
    sigma2 = np.log1p((sd / mean) ** 2)
    return float(np.log(mean) - sigma2 / 2), float(np.sqrt(sigma2))


@dataclass(frozen=True)
class Eligibility:
    """Inclusion criteria applied at screening (MIROCALS: age 18-76, symptoms ≤ 24 months, SVC ≥ 70%)."""

    age_min_years: float = 18.0
    age_max_years: float = 120.0
    symptom_duration_max_months: float = float("inf")
    vital_capacity_min_pct: float = 0.0

    def __post_init__(self) -> None:
        if not self.age_min_years <= self.age_max_years:
            raise ParameterError("age_max_years", self.age_max_years,
                                 f"must be >= age_min_years ({self.age_min_years})")
        if self.symptom_duration_max_months <= 0:
            raise ParameterError("symptom_duration_max_months", self.symptom_duration_max_months, "must be > 0")

    def mask(self, c: dict[str, np.ndarray]) -> np.ndarray:
        return ((c["age"] >= self.age_min_years) & (c["age"] <= self.age_max_years)
                & (c["symptom_duration_months"] <= self.symptom_duration_max_months)
                & (c["vital_capacity_pct"] >= self.vital_capacity_min_pct))


def _check(section: str, p: dict) -> None:
    for key, v in p.items():
        name = f"{section}.{key}"
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v):
            raise ParameterError(name, v, "must be a finite number")
        # "_per_sd_" names a regression coefficient (any sign), not a standard deviation.
        if (key.endswith("_sd") or ("_sd_" in key and "_per_sd_" not in key) or key.endswith("log_sd") or key.endswith("_mean")
                or key.startswith("weibull") or key.endswith("_mean_months") or key.endswith("_mean_years")
                or key.endswith("per_month") or key.endswith("tau_months") or key.endswith("ratio")) and v <= 0:
            raise ParameterError(name, v, "must be > 0")
        if key.endswith("fraction") and not 0 <= v <= 1:
            raise ParameterError(name, v, "must be a proportion in [0, 1]")
        # |r| = 1 is allowed: a perfectly correlated marker is the check that enrolling on it
        # reproduces enrolling on the other (docs/simulation.md, measurement).
        if key.startswith("corr_") and not -1 <= v <= 1:
            raise ParameterError(name, v, "must be a correlation in [-1, 1]")
        if key.endswith("_cv") and not 0 <= v < 10:
            raise ParameterError(name, v, "must be a coefficient of variation in [0, 10)")


class CohortModel:
    """The virtual ALS population (natural history, no treatment).

    Parameters come from the `cohort`, `trajectory`, `survival` and `measurement` sections of
    `parameters.toml`; keyword overrides name a parameter of any of them.

    Example:
        >>> import numpy as np
        >>> cohort = CohortModel(age_mean_years=58.0)
        >>> people = cohort.draw(np.random.default_rng(1), (2, 100))
        >>> people["csf_pnfh"].shape
        (2, 100)
    """

    def __init__(self, parameters: SimParameters | None = None, trajectory: Trajectory = "linear", **overrides):
        params = parameters if parameters is not None else load_parameters()
        self.p = {s: params.section(s) for s in SECTIONS}
        for key, value in overrides.items():
            owners = [s for s in SECTIONS if key in self.p[s]]
            if not owners:
                raise ParameterError(key, value, f"not a parameter of the cohort model (sections {SECTIONS})")
            self.p[owners[0]][key] = value
        for s in SECTIONS:
            _check(s, self.p[s])
        if trajectory not in ("linear", "faster_early"):
            raise ParameterError("trajectory", trajectory, "must be 'linear' or 'faster_early'")
        self.trajectory = trajectory
        t = self.p["trajectory"]
        c = self.p["cohort"]
        systematic = (t["slope_log_per_sd_log_pnfh"] ** 2 + t["slope_log_per_sd_log_delta_fs"] ** 2
                      + 2 * t["slope_log_per_sd_log_pnfh"] * t["slope_log_per_sd_log_delta_fs"] * c["corr_pnfh_delta_fs"]
                      + t["slope_log_bulbar"] ** 2 * c["bulbar_onset_fraction"] * (1 - c["bulbar_onset_fraction"])
                      + (t["slope_log_per_10y_age"] * c["age_sd_years"] / 10) ** 2)
        if systematic >= t["slope_log_sd"] ** 2:
            raise ParameterError("trajectory.slope_log_sd", t["slope_log_sd"],
                                 f"must exceed the sd explained by the covariates ({np.sqrt(systematic):.3f})")
        self._slope_residual_sd = float(np.sqrt(t["slope_log_sd"] ** 2 - systematic))

    # -- draws ---------------------------------------------------------------------------------
    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        """Candidates for screening: every baseline variable plus the latent slope and hazard."""
        raw = self.draw_raw(rng, shape)
        out = {**self.screening_fields(raw), **self.latent_fields(raw)}
        return {k: out[k] for k in DRAWN}

    # The draw in three steps, so that a screening loop computes the later variables only for the
    # candidates it keeps (`mndtrial.sim.screening`): every step is elementwise in the draws, so
    # `latent_fields(raw)[k][i] == latent_fields(select(raw, i))[k]`.
    def draw_raw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        """The random draws behind `draw`, in stream order: normals `z` (7, *shape), `male`, `bulbar`."""
        c = self.p["cohort"]
        z = standard_normal(rng, (7, *shape))
        male = rng.random(shape) < c["male_fraction"]
        bulbar = rng.random(shape) < c["bulbar_onset_fraction"]
        return {"z": z, "male": male, "bulbar": bulbar}

    def screening_fields(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """What eligibility reads (age, symptom duration, vital capacity) and the ALSFRS-R baseline."""
        c = self.p["cohort"]
        z, bulbar = raw["z"], raw["bulbar"]
        age = c["age_mean_years"] + c["age_sd_years"] * z[0]
        mu_d, sd_d = lognormal_params(c["symptom_duration_mean_months"], c["symptom_duration_sd_months"])
        duration = np.exp(mu_d + sd_d * z[1])
        mu_f, sd_f = lognormal_params(c["delta_fs_mean"], c["delta_fs_sd"])
        delta_fs_true = np.exp(mu_f + sd_f * z[2])
        baseline = np.clip(np.round(48 - delta_fs_true * duration), 0, 48)
        vc = (c["vital_capacity_mean_pct"] + c["vital_capacity_per_alsfrs_point"] * (baseline - 37)
              + c["vital_capacity_bulbar_shift_pct"] * (bulbar - c["bulbar_onset_fraction"])
              + c["vital_capacity_sd_pct"] * z[5]).clip(10.0, 130.0)  # keep % predicted physiological
        return {"age": age, "male": raw["male"], "bulbar": bulbar, "symptom_duration_months": duration,
                "delta_fs_true": delta_fs_true, "alsfrs_r_baseline": baseline, "vital_capacity_pct": vc}

    def markers(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """True CSF-pNfH and serum NfL (pg/mL), with their standard-normal scores `z_pnfh`, `z_nfl`."""
        c = self.p["cohort"]
        z = raw["z"]
        r1, r2 = c["corr_pnfh_delta_fs"], c["corr_pnfh_nfl"]
        z_pnfh = r1 * z[2] + np.sqrt(1 - r1 ** 2) * z[3]
        z_nfl = r2 * z_pnfh + np.sqrt(1 - r2 ** 2) * z[4]
        return {"csf_pnfh": np.exp(c["csf_pnfh_log_mean"] + c["csf_pnfh_log_sd"] * z_pnfh),
                "serum_nfl": np.exp(c["serum_nfl_log_mean"] + c["serum_nfl_log_sd"] * z_nfl),
                "z_pnfh": z_pnfh, "z_nfl": z_nfl}

    def latent_fields(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The neurofilaments, the individual ALSFRS-R slope and the log hazard of death."""
        c, t, s = self.p["cohort"], self.p["trajectory"], self.p["survival"]
        z = raw["z"]
        m = self.markers(raw)
        z_dfs, z_pnfh = z[2], m["z_pnfh"]
        age = c["age_mean_years"] + c["age_sd_years"] * z[0]
        age10 = (age - c["age_mean_years"]) / 10
        bulbar_c = raw["bulbar"] - c["bulbar_onset_fraction"]
        log_slope = (np.log(t["slope_mean_points_per_month"]) - t["slope_log_sd"] ** 2 / 2
                     + t["slope_log_per_sd_log_pnfh"] * z_pnfh + t["slope_log_per_sd_log_delta_fs"] * z_dfs
                     + t["slope_log_bulbar"] * bulbar_c + t["slope_log_per_10y_age"] * age10
                     + self._slope_residual_sd * z[6])
        log_hazard = (s["log_hr_per_sd_log_pnfh"] * z_pnfh + s["log_hr_per_sd_log_delta_fs"] * z_dfs
                      + s["log_hr_bulbar"] * bulbar_c + s["log_hr_per_10y_age"] * age10)
        return {"csf_pnfh": m["csf_pnfh"], "serum_nfl": m["serum_nfl"],
                "slope_per_month": np.exp(log_slope), "log_hazard": log_hazard}

    def death_days(self, rng: np.random.Generator, log_hazard: np.ndarray) -> np.ndarray:
        """Weibull proportional-hazards death times: S(t) = exp(-(t/scale)^shape * exp(lp))."""
        s = self.p["survival"]
        e = rng.standard_exponential(log_hazard.shape)
        return s["weibull_scale_days"] * (e * np.exp(-log_hazard)) ** (1 / s["weibull_shape"])

    def death_days_given_alsfrs(self, rng: np.random.Generator, log_hazard: np.ndarray, baseline: np.ndarray,
                                slope_per_month: np.ndarray, last_day: float) -> np.ndarray:
        """Death times when the hazard also follows the current true ALSFRS-R F(t) (informative dropout):

            h(t) = h_Weibull(t) · exp(lp + α·(F(t) − ALSFRS_REFERENCE_POINTS)),
            F(t) = baseline − slope·decline(t / 30.44),

        α = `survival.death_log_hr_per_alsfrs_point` (per point; < 0: lower score, higher hazard),
        the shared-parameter joint model with a current-value association. H(t) is integrated on
        a daily grid (trapezoid) to `last_day` and inverted at an Exp(1) draw; deaths after
        `last_day` are returned as inf (they are beyond follow-up). With α = 0 use `death_days`.
        """
        s = self.p["survival"]
        alpha = s["death_log_hr_per_alsfrs_point"]
        e = rng.standard_exponential(log_hazard.shape)
        days = np.arange(int(np.ceil(last_day)) + 2, dtype=float)
        shape, scale = s["weibull_shape"], s["weibull_scale_days"]
        h0 = shape / scale * (days / scale) ** (shape - 1)
        decline = self.decline(days / 30.44)
        flat = lambda a: np.reshape(a, (-1,))  # noqa: E731
        out = np.empty(np.size(log_hazard))
        lp, b0, sl, ee = flat(log_hazard), flat(baseline), flat(slope_per_month), flat(e)
        for start in range(0, len(out), 512):  # bounded memory: 512 participants × days at a time
            part = slice(start, start + 512)
            f = b0[part, None] - sl[part, None] * decline[None, :]
            h = h0[None, :] * np.exp(lp[part, None] + alpha * (f - ALSFRS_REFERENCE_POINTS))
            H = np.concatenate([np.zeros((h.shape[0], 1)), np.cumsum((h[:, 1:] + h[:, :-1]) / 2, axis=1)], axis=1)
            first = (H < ee[part, None]).sum(axis=1)          # H(first - 1) < E <= H(first)
            out[part] = np.where(first < len(days), first, np.inf)
        return out.reshape(np.shape(log_hazard))

    def decline(self, months: np.ndarray) -> np.ndarray:
        """Shape of the decline: points lost per unit slope after `months` (= months if linear).

        'faster_early' declines `early_to_late_ratio` times faster at first, relaxing over
        `early_tau_months`, scaled so that the average over 24 months equals the slope (E:L48).
        """
        if self.trajectory == "linear":
            return months
        t = self.p["trajectory"]
        r, tau = t["early_to_late_ratio"], t["early_tau_months"]
        shape = lambda m: m + (r - 1) * tau * (1 - np.exp(-m / tau))  # noqa: E731
        return shape(months) * 24.0 / shape(24.0)
