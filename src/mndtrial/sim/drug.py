"""Low-dose IL-2 → regulatory T cells → effect on death and on ALSFRS-R decline.

The dose sets the rise in Tregs (% of CD4+) at the end of a 5-day course: a power law through
the IMODALS points (+2.96 at 1 MIU, +6.15 at 2 MIU vs placebo, E:L39-40). Each participant's rise
varies around that mean. The clinical effect runs through the rise: at the reference dose
(2 MIU, MIROCALS) a participant with the mean rise has the MIROCALS hazard ratio for their
CSF-pNfH group (0.52 for 750-3700 pg/mL, 1.37 above, none below 750; E:L23-26) and slope ratio
(0.77 in the 750-3700 group, E:L28); the log hazard ratio and the slope reduction scale with the
participant's rise.

Any other drug (or placebo) uses the same interface: an *effect function*
`effect(dose_miu, treg_rise_pct, covariates) -> (log_hazard_ratio, slope_ratio)`, arrays of the
participants' shape; `covariates` holds the true `csf_pnfh`, `serum_nfl`, `delta_fs`, `age` and
`bulbar`.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from ..errors import ParameterError
from ._normal import standard_normal
from .parameters import SimParameters, load_parameters

__all__ = ["DrugModel", "EffectFunction", "no_effect"]

EffectFunction = Callable[[np.ndarray, np.ndarray, Mapping[str, np.ndarray]], tuple[np.ndarray, np.ndarray]]

POSITIVE = ("treg_baseline_mean_pct", "treg_baseline_sd_pct", "treg_measurement_sd_pct", "course_days",
            "cycle_days", "treg_half_life_days", "reference_dose_miu", "pnfh_cutoff_pg_ml",
            "hr_low_pnfh", "hr_high_pnfh", "hr_below_low_band", "pnfh_low_band_min_pg_ml",
            "treg_response_1miu_pct", "treg_response_2miu_pct")
NON_NEGATIVE = ("treg_response_cv", "slope_ratio_low_pnfh", "slope_ratio_high_pnfh", "slope_ratio_below_low_band")


def no_effect(dose_miu: np.ndarray, treg_rise_pct: np.ndarray,
              covariates: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """An effect function for a drug that changes neither survival nor decline."""
    shape = np.shape(dose_miu)
    return np.zeros(shape), np.ones(shape)


class DrugModel:
    """Dose → Treg response → effect. Parameters from the `drug` section of `parameters.toml`.

    `effect`: None for the default neurofilament-dependent IL-2 effect, or your own function
    `effect(dose_miu, treg_rise_pct, covariates) -> (log_hazard_ratio, slope_ratio)`.

    Example:
        >>> drug = DrugModel()
        >>> [round(float(x), 2) for x in drug.treg_rise_mean([0.0, 1.0, 2.0])]
        [0.0, 2.96, 6.15]
        >>> DrugModel(effect=no_effect).effect([2.0], [6.0], {"csf_pnfh": [1000.0]})[0]
        array([0.])
    """

    def __init__(self, parameters: SimParameters | None = None, effect: EffectFunction | None = None, **overrides):
        params = parameters if parameters is not None else load_parameters()
        self.p = params.section("drug")
        for key, value in overrides.items():
            if key not in self.p:
                raise ParameterError(key, value, "not a parameter of the drug model")
            self.p[key] = value
        for key in POSITIVE:
            if not self.p[key] > 0:
                raise ParameterError(f"drug.{key}", self.p[key], "must be > 0")
        for key in NON_NEGATIVE:
            if not self.p[key] >= 0:
                raise ParameterError(f"drug.{key}", self.p[key], "must be >= 0")
        if effect is not None and not callable(effect):
            raise ParameterError("effect", effect, "must be a function (dose, treg_rise, covariates) -> (log_hr, slope_ratio)")
        self._effect = effect
        p = self.p
        # Power law through the two IMODALS points: rise = a * dose ** gamma.
        self.treg_gamma = float(np.log(p["treg_response_2miu_pct"] / p["treg_response_1miu_pct"]) / np.log(2.0))
        self.treg_a = float(p["treg_response_1miu_pct"])

    def with_parameters(self, **changes: float) -> "DrugModel":
        """A copy with some `[drug]` parameters changed (validated again), the same effect function.

        Example:
            >>> DrugModel().with_parameters(hr_low_pnfh=0.7).p["hr_low_pnfh"]
            0.7
        """
        unknown = [k for k in changes if k not in self.p]
        if unknown:
            raise ParameterError(unknown[0], changes[unknown[0]], "not a parameter of the drug model")
        return DrugModel(SimParameters(values={"drug": {**self.p, **changes}}), effect=self._effect)
    @property
    def effect_function(self) -> EffectFunction | None:
        """The user's effect function, or None for the default neurofilament-dependent IL-2 effect."""
        return self._effect

    def treg_rise_mean(self, dose_miu) -> np.ndarray:
        """Mean rise in Tregs (% of CD4+, points) at the end of a course, vs placebo."""
        dose = np.asarray(dose_miu, dtype=float)
        if np.any(dose < 0):
            raise ParameterError("dose_miu", dose_miu, "doses must be >= 0")
        return np.where(dose > 0, self.treg_a * np.power(np.maximum(dose, 1e-300), self.treg_gamma), 0.0)

    def treg_rise(self, rng: np.random.Generator, dose_miu: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
        """Each participant's rise: the mean times a log-normal factor of mean 1.

        `mean`: `treg_rise_mean(dose_miu)` when the caller has it (a simulator computes it once per
        arm and indexes it by participant: the same numbers without a power per participant).
        """
        cv = self.p["treg_response_cv"]
        sigma = np.sqrt(np.log1p(cv ** 2))
        factor = np.exp(sigma * standard_normal(rng, np.shape(dose_miu)) - sigma ** 2 / 2)
        return (self.treg_rise_mean(dose_miu) if mean is None else mean) * factor

    def kinetics(self, day: np.ndarray, treatment_days: float) -> np.ndarray:
        """Fraction of the end-of-course rise present on `day` (0 before the first dose).

        Tregs climb over the 5-day course, then decay with `treg_half_life_days` until the next
        course (every `cycle_days`); after treatment ends they decay from the last course.
        """
        p = self.p
        day = np.asarray(day, dtype=float)
        last_start = p["cycle_days"] * np.floor(np.clip(day, 0, max(treatment_days - 1e-9, 0)) / p["cycle_days"])
        since = day - last_start
        rising = np.clip(since / p["course_days"], 0.0, 1.0)
        decay = np.exp(-np.maximum(since - p["course_days"], 0.0) * np.log(2) / p["treg_half_life_days"])
        return np.where(day > 0, rising * decay, 0.0)

    def effect(self, dose_miu, treg_rise_pct, covariates: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(log hazard ratio, slope ratio) for each participant; placebo gives (0, 1)."""
        dose = np.asarray(dose_miu, dtype=float)
        rise = np.asarray(treg_rise_pct, dtype=float)
        if self._effect is not None:
            log_hr, ratio = self._effect(dose, rise, covariates)
            log_hr = np.broadcast_to(np.asarray(log_hr, dtype=float), dose.shape)
            ratio = np.broadcast_to(np.asarray(ratio, dtype=float), dose.shape)
            if not (np.all(np.isfinite(log_hr)) and np.all(np.isfinite(ratio)) and np.all(ratio >= 0)):
                raise ParameterError("effect", self._effect, "must return finite log hazard ratios and slope ratios >= 0")
            return log_hr, ratio
        return self.neurofilament_effect(rise, np.asarray(covariates["csf_pnfh"], dtype=float))

    def neurofilament_effect(self, treg_rise_pct: np.ndarray, csf_pnfh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The MIROCALS hypothesis: benefit at low CSF-pNfH, none or harm at high, scaled by Tregs."""
        p = self.p
        relative = treg_rise_pct / float(self.treg_rise_mean(p["reference_dose_miu"]))
        band = np.searchsorted([p["pnfh_low_band_min_pg_ml"], p["pnfh_cutoff_pg_ml"]], csf_pnfh, side="right")
        hr = np.array([p["hr_below_low_band"], p["hr_low_pnfh"], p["hr_high_pnfh"]])
        ratio = np.array([p["slope_ratio_below_low_band"], p["slope_ratio_low_pnfh"], p["slope_ratio_high_pnfh"]])
        log_hr = relative * np.log(hr)[band]
        reduction = (1 - ratio)[band]
        return log_hr, np.maximum(1 - relative * reduction, 0.0)
