"""`Design`: what a simulated trial does (arms, randomisation, visits, follow-up, dropout,
enrichment), with the cohort and drug models it runs on; presets `imodals` and `mirocals`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from ..analysis.distributions import norm_cdf
from ..data.info import Arm, TrialInfo
from ..errors import ParameterError
from .cohort import CohortModel, Eligibility
from .drug import DrugModel
from .measurement import assay_cvs, assay_normals, assay_rng, measured_log_normal, screening_values
from .parameters import SimParameters, load_parameters
from .randomise import allocation_weights

__all__ = ["ArmSpec", "Enrichment", "Design", "imodals", "mirocals", "preset", "PRESETS"]

STRATIFIERS = ("country", "onset_site", "sex")
ATTRITION_DAYS = (182.625, 365.25)  # 6 and 12 months
PILOT_SIZE = 40_000
PILOT_SEED = 20_261_127  # fixed: design-level calibration must not depend on the user's seed


@dataclass(frozen=True)
class ArmSpec:
    """One arm: name, daily IL-2 dose (MIU; 0 for placebo) and allocation weight or fraction."""

    name: str
    dose_miu: float = 0.0
    allocation: float = 1.0
    control: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise ParameterError("arms.name", self.name, "an arm needs a name")
        if not np.isfinite(self.dose_miu) or self.dose_miu < 0:
            raise ParameterError(f"arms[{self.name}].dose_miu", self.dose_miu, "must be a dose >= 0")


@dataclass(frozen=True)
class Enrichment:
    """Randomise only participants whose baseline biomarker lies in [low, high] (pg/mL)."""

    biomarker: Literal["csf_pnfh", "serum_nfl"] = "csf_pnfh"
    low: float = 0.0
    high: float = float("inf")

    def __post_init__(self) -> None:
        if self.biomarker not in ("csf_pnfh", "serum_nfl"):
            raise ParameterError("enrichment.biomarker", self.biomarker, "must be 'csf_pnfh' or 'serum_nfl'")
        if not (self.low >= 0 and self.high > self.low):
            raise ParameterError("enrichment", (self.low, self.high), "needs 0 <= low < high")


@dataclass(frozen=True, eq=False)
class Design:
    """A trial design to simulate. Build one from a preset and change what you need:

    Example:
        >>> d = mirocals(n_randomised=300, enrichment=Enrichment("csf_pnfh", 750, 3700))
        >>> d.n_randomised, d.arm_names
        (300, ('placebo', 'il2_2miu'))
    """

    name: str
    arms: tuple[ArmSpec, ...]
    n_randomised: int
    horizon_days: float
    treatment_days: float
    alsfrs_visit_days: tuple[float, ...]
    treg_visit_days: tuple[float, ...] = ()
    serum_nfl_visit_days: tuple[float, ...] = ()
    strata: tuple[str, ...] = ()
    countries: tuple[str, ...] = ("UK",)
    country_fractions: tuple[float, ...] = (1.0,)
    block_size: int = 4
    accrual_days: float = 0.0
    eligibility: Eligibility = field(default_factory=Eligibility)
    riluzole_fraction: float | None = None
    non_death_dropout: bool = True
    dropout_censors_survival: bool = False
    attrition_6_months: float | None = None   # None: from parameters.toml [dropout]
    attrition_12_months: float | None = None
    enrichment: Enrichment | None = None
    screening_retest: bool = False  # measure the neurofilaments twice at screening, use the mean
    cohort: CohortModel = field(default_factory=CohortModel)
    drug: DrugModel = field(default_factory=DrugModel)

    def __post_init__(self) -> None:
        if not self.arms:
            raise ParameterError("arms", self.arms, "a design needs at least one arm")
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ParameterError("arms", names, "arm names must be unique")
        if sum(a.control for a in self.arms) > 1:
            raise ParameterError("arms", names, "at most one arm can be the control")
        weights = allocation_weights(tuple(a.allocation for a in self.arms))
        object.__setattr__(self, "weights", weights)
        if not isinstance(self.n_randomised, (int, np.integer)) or self.n_randomised < len(self.arms):
            raise ParameterError("n_randomised", self.n_randomised, f"must be a whole number >= the number of arms ({len(self.arms)})")
        if self.block_size <= 0 or self.block_size % sum(weights):
            raise ParameterError("block_size", self.block_size,
                                 f"must be a positive multiple of the allocation total {sum(weights)} ({':'.join(map(str, weights))})")
        for name in ("horizon_days", "treatment_days", "accrual_days"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0 or (name == "horizon_days" and value == 0):
                raise ParameterError(name, value, "must be a finite number of days >= 0 (horizon > 0)")
        for name in ("alsfrs_visit_days", "treg_visit_days", "serum_nfl_visit_days"):
            days = np.asarray(getattr(self, name), dtype=float)
            if name == "alsfrs_visit_days" and len(days) == 0:
                raise ParameterError(name, getattr(self, name), "needs at least the baseline visit (day 0)")
            if len(days) and (np.any(days < 0) or np.any(np.diff(days) <= 0)):
                raise ParameterError(name, getattr(self, name), "visit days must be >= 0 and strictly increasing")
        follow_up = [d for d in self.alsfrs_visit_days if d > 0]
        if follow_up and self.horizon_days < follow_up[0]:
            raise ParameterError("horizon_days", self.horizon_days,
                                 f"the follow-up horizon ends before the first follow-up visit (day {follow_up[0]:g})")
        unknown = [s for s in self.strata if s not in STRATIFIERS]
        if unknown or len(set(self.strata)) != len(self.strata):
            raise ParameterError("strata", self.strata, f"strata must be distinct names among {STRATIFIERS}")
        fr = np.asarray(self.country_fractions, dtype=float)
        if len(fr) != len(self.countries) or not len(fr) or np.any(fr < 0) or abs(fr.sum() - 1) > 1e-9:
            raise ParameterError("country_fractions", self.country_fractions,
                                 "one fraction >= 0 per country, summing to 1")
        if self.riluzole_fraction is not None and not 0 <= self.riluzole_fraction <= 1:
            raise ParameterError("riluzole_fraction", self.riluzole_fraction, "must be a proportion in [0, 1]")
        if not isinstance(self.screening_retest, (bool, np.bool_)):
            raise ParameterError("screening_retest", self.screening_retest, "must be true or false")
        if self.enrichment is not None:
            p = self.enrichment_probability()
            if p < 1e-3:
                raise ParameterError("enrichment", (self.enrichment.biomarker, self.enrichment.low, self.enrichment.high),
                                     f"the range excludes (almost) everyone: P(in range) = {p:.2g} in the cohort")
        object.__setattr__(self, "_pilot", self._pilot_run())

    # -- derived facts -----------------------------------------------------------------------
    @property
    def arm_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.arms)

    def attrition(self) -> tuple[float, float]:
        dropout = load_parameters().section("dropout")
        a6 = dropout["attrition_6_months"] if self.attrition_6_months is None else self.attrition_6_months
        a12 = dropout["attrition_12_months"] if self.attrition_12_months is None else self.attrition_12_months
        for name, a in (("attrition_6_months", a6), ("attrition_12_months", a12)):
            if not 0 <= a < 1:
                raise ParameterError(name, a, "must be a proportion in [0, 1)")
        return a6, a12

    def enrichment_probability(self) -> float:
        """P(measured biomarker in the enrichment range) under the cohort's log-normal (before eligibility)."""
        e = self.enrichment
        if e is None:
            return 1.0
        c = self.cohort.p["cohort"]
        cv = assay_cvs(self.cohort.p["measurement"])[e.biomarker]
        mu, sd = measured_log_normal(c[f"{e.biomarker}_log_mean"], c[f"{e.biomarker}_log_sd"], cv,
                                     self.screening_retest)
        lo = norm_cdf((np.log(e.low) - mu) / sd) if e.low > 0 else 0.0
        hi = norm_cdf((np.log(e.high) - mu) / sd) if np.isfinite(e.high) else 1.0
        return float(hi - lo)

    def _pilot_run(self) -> dict:
        """Acceptance at screening and the deaths-only attrition, from a fixed-seed pilot cohort.

        The non-death dropout is a Weibull whose two parameters make total attrition (deaths
        included) equal the published 19% at 6 and 36% at 12 months (E:L57-58), given the deaths
        this cohort has in the control arm (no treatment effect).
        """
        rng = np.random.default_rng(PILOT_SEED)
        cand = self.cohort.draw(rng, (PILOT_SIZE,))
        ok = self.eligibility.mask(cand)
        if self.enrichment is not None:
            measured = screening_values(cand, assay_normals(assay_rng(PILOT_SEED, ()), (PILOT_SIZE,)),
                                        assay_cvs(self.cohort.p["measurement"]), self.screening_retest)
            v = measured[self.enrichment.biomarker]
            ok &= (v >= self.enrichment.low) & (v <= self.enrichment.high)
        acceptance = float(ok.mean())
        if acceptance * PILOT_SIZE < 20:
            raise ParameterError("eligibility/enrichment", (self.eligibility, self.enrichment),
                                 f"(almost) no candidate is eligible: acceptance {acceptance:.2g}")
        death = self.cohort.death_days(rng, cand["log_hazard"][ok])
        out = {"acceptance": acceptance, "dropout_shape": None, "dropout_scale_days": None}
        if not self.non_death_dropout:
            return out
        targets = self.attrition()
        cumhaz = []
        for t, a, name in zip(ATTRITION_DAYS, targets, ("attrition_6_months", "attrition_12_months")):
            dead = float(np.mean(death <= t))
            if a <= dead:
                raise ParameterError(name, a, f"total attrition must exceed the deaths alone ({dead:.3f} in this cohort)")
            cumhaz.append(-np.log((1 - a) / (1 - dead)))
        if cumhaz[1] <= cumhaz[0]:
            raise ParameterError("attrition_12_months", targets[1], "non-death dropout must grow from 6 to 12 months")
        shape = np.log(cumhaz[1] / cumhaz[0]) / np.log(ATTRITION_DAYS[1] / ATTRITION_DAYS[0])
        out["dropout_shape"] = float(shape)
        out["dropout_scale_days"] = float(ATTRITION_DAYS[0] / cumhaz[0] ** (1 / shape))
        return out

    @property
    def acceptance(self) -> float:
        """Proportion of screened candidates who are eligible (and in the enrichment range)."""
        return self._pilot["acceptance"]

    @property
    def dropout_weibull(self) -> tuple[float, float] | None:
        """(shape, scale in days) of the non-death dropout, or None without dropout."""
        if self._pilot["dropout_shape"] is None:
            return None
        return self._pilot["dropout_shape"], self._pilot["dropout_scale_days"]

    def trial_info(self) -> TrialInfo:
        return TrialInfo(name=self.name, description=f"Simulated with mndtrial.sim ({self.name} design)",
                         arms=tuple(Arm(name=a.name, dose_miu=a.dose_miu, allocation=w, control=a.control,
                                        label=_arm_label(a))
                                    for a, w in zip(self.arms, self.weights)),
                         strata=self.strata, horizon_days=self.horizon_days)

    def replace(self, **changes) -> "Design":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


def _arm_label(arm: ArmSpec) -> str:
    """How reports name a simulated arm: 'Placebo', or the IL-2 dose ('IL-2 2 MIU')."""
    if arm.control or arm.dose_miu == 0:
        return "Placebo"
    return f"IL-2 {arm.dose_miu:g} MIU"


def preset(name: str, parameters: SimParameters | None = None, **changes) -> Design:
    """The design `name` from the `[designs.<name>]` section of the parameter file.

    `changes` replace fields of the design (e.g. `n_randomised=300`, `enrichment=...`).
    """
    params = parameters if parameters is not None else load_parameters()
    designs = params.values.get("designs", {})
    if name not in designs:
        raise ParameterError("design", name, f"unknown preset; known: {sorted(designs)}")
    d = params.section(f"designs.{name}")
    if not (len(d["arms"]) == len(d["doses_miu"]) == len(d["allocation"])):
        raise ParameterError(f"designs.{name}.arms", d["arms"], "arms, doses_miu and allocation need one entry per arm")
    arms = tuple(ArmSpec(name=a, dose_miu=float(dose), allocation=alloc, control=(a == "placebo"))
                 for a, dose, alloc in zip(d["arms"], d["doses_miu"], d["allocation"]))
    fields = dict(
        name=d["name"], arms=arms, n_randomised=int(d["n_randomised"]),
        horizon_days=float(d["horizon_days"]), treatment_days=float(d["treatment_days"]),
        alsfrs_visit_days=tuple(float(x) for x in d["alsfrs_visit_days"]),
        treg_visit_days=tuple(float(x) for x in d["treg_visit_days"]),
        serum_nfl_visit_days=tuple(float(x) for x in d["serum_nfl_visit_days"]),
        strata=tuple(d["strata"]), countries=tuple(d["countries"]),
        country_fractions=tuple(float(x) for x in d["country_fractions"]),
        block_size=int(d["block_size"]), accrual_days=float(d["accrual_days"]),
        eligibility=Eligibility(d["age_min_years"], d["age_max_years"], d["symptom_duration_max_months"],
                                d["vital_capacity_min_pct"]),
        riluzole_fraction=float(d["riluzole_fraction"]), non_death_dropout=bool(d["non_death_dropout"]),
        dropout_censors_survival=bool(d["dropout_censors_survival"]),
        attrition_6_months=float(params.section("dropout")["attrition_6_months"]),
        attrition_12_months=float(params.section("dropout")["attrition_12_months"]),
        cohort=CohortModel(params), drug=DrugModel(params),
    )
    fields.update(changes)
    return Design(**fields)


def mirocals(parameters: SimParameters | None = None, **changes) -> Design:
    """MIROCALS (E:L7-31): 220 randomised 1:1 to IL-2 2 MIU or placebo, survival to day 640."""
    return preset("mirocals", parameters, **changes)


def imodals(parameters: SimParameters | None = None, **changes) -> Design:
    """IMODALS (E:L33-43): 36 randomised 1:1:1 to IL-2 1 MIU, 2 MIU or placebo, 3 cycles."""
    return preset("imodals", parameters, **changes)


PRESETS = {"mirocals": mirocals, "imodals": imodals}
