"""A confirmatory design declared once as data (TOML), validated at the door.

    [design]                      # group_sequential_design's arguments (rpact's, in snake_case)
    information_rates = [0.5, 0.75, 1.0]
    type_of_design = "asOF"       # asOF, asP, asHSD (gamma_a), asKD (gamma_a = rho), asUser, OF, P
    [futility]
    rule = "beta_spending"        # none, beta_spending, hazard_ratio, conditional_power, z
    type_beta_spending = "bsOF"
    binding = false
    [population]                  # S: one group of a BiomarkerRule
    biomarker = "csf_pnfh"
    cutoffs = [3700]
    group = "<= 3700"
    [pool]                        # who comes forward: exponential (HR per subgroup) or mirocals
    kind = "exponential"
    hazard_ratio_s = 0.6
    [trial]                       # sizes and which strategies to simulate
    strategies = ["all-comers", "enriched", "adaptive-enrichment"]
    n_randomised_max = 800
    max_events = 400
    [enriched]                    # fixed enrichment: S only
    max_events = 300
    [adaptive_enrichment]         # two stages; interim at interim_events overall
    interim_events = 200
    selection = "epsilon"
    epsilon = 0.1

Every table is a pydantic model with `extra="forbid"`: an unknown key or a bad value is refused
as a `ParameterError` naming the key (`[futility].rule`) and the rule. Critical values are never
given: they come from `mndtrial.design.group_sequential_design` (see `confirmatory.build`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ParameterError

__all__ = ["ConfirmatorySpec", "DesignConfig", "FutilityConfig", "PopulationConfig", "PoolConfig", "TrialConfig",
           "EnrichedConfig", "AdaptiveEnrichmentConfig", "ReestimationConfig", "load_confirmatory", "STRATEGY_NAMES"]

STRATEGY_NAMES = ("all-comers", "enriched", "adaptive-enrichment")


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def given(self) -> dict[str, Any]:
        """The keys the user wrote (for the design's provenance: user vs default)."""
        return {k: getattr(self, k) for k in self.model_fields_set}


class DesignConfig(_Table):
    """Boundaries: `group_sequential_design` arguments (rpact's names in snake_case)."""

    k_max: int | None = Field(default=None, ge=2, le=10)
    information_rates: list[float] | None = None
    alpha: float | None = Field(default=None, gt=0, lt=0.5)
    beta: float | None = Field(default=None, gt=0, lt=0.5)
    type_of_design: Literal["asOF", "asP", "asHSD", "asKD", "asUser", "OF", "P"] | None = None
    gamma_a: float | None = None
    user_alpha_spending: list[float] | None = None

    @model_validator(mode="after")
    def _looks(self) -> "DesignConfig":
        if self.information_rates is not None and len(self.information_rates) < 2:
            raise ValueError("information_rates: a group-sequential design needs >= 2 looks")
        if self.k_max is None and self.information_rates is None:
            raise ValueError("give k_max (equally spaced looks) or information_rates")
        return self


class FutilityConfig(_Table):
    """Futility at the interim looks: beta spending (binding or not), a hazard-ratio rule (stop when
    the observed HR >= `hazard_ratio`), a conditional-power rule (stop when CP under the design
    effect < `conditional_power`), fixed Z `bounds`, or none."""

    rule: Literal["none", "beta_spending", "hazard_ratio", "conditional_power", "z"] = "none"
    binding: bool = False
    type_beta_spending: Literal["bsOF", "bsP", "bsHSD", "bsKD", "bsUser"] | None = None
    gamma_b: float | None = None
    user_beta_spending: list[float] | None = None
    hazard_ratio: float | None = Field(default=None, gt=0)
    conditional_power: float | None = Field(default=None, gt=0, lt=1)
    bounds: list[float] | None = None

    @model_validator(mode="after")
    def _needs(self) -> "FutilityConfig":
        need = {"beta_spending": "type_beta_spending", "hazard_ratio": "hazard_ratio",
                "conditional_power": "conditional_power", "z": "bounds"}
        if self.rule in need and getattr(self, need[self.rule]) is None:
            raise ValueError(f"rule '{self.rule}' needs {need[self.rule]}")
        for key in need.values():
            if getattr(self, key) is not None and need.get(self.rule) != key:
                raise ValueError(f"{key} is not used by rule '{self.rule}'")
        for key in ("gamma_b", "user_beta_spending"):
            if getattr(self, key) is not None and self.rule != "beta_spending":
                raise ValueError(f"{key} is used only by rule 'beta_spending'")
        return self


class PopulationConfig(_Table):
    """S: one group of a fixed `BiomarkerRule` (cut-offs or ranges)."""

    biomarker: str = "csf_pnfh"
    cutoffs: list[float] | None = None
    ranges: list[tuple[float, float]] | None = None
    group: str | None = None


class PoolConfig(_Table):
    """Who comes forward. `exponential`: `ExponentialPool` (hazard ratio per subgroup, proportional
    hazards); `mirocals`: the calibrated ALS simulator (`SimPool(mirocals(...))`), its drug effect
    running through Tregs and neurofilament."""

    kind: Literal["exponential", "mirocals"] = "exponential"
    arrivals_per_day: float = Field(default=1.0, gt=0)
    hazard_ratio_s: float | None = Field(default=None, gt=0)
    hazard_ratio_r: float | None = Field(default=None, gt=0)
    median_control_s_days: float | None = Field(default=None, gt=0)
    median_control_r_days: float | None = Field(default=None, gt=0)
    log_pnfh_mean: float | None = None
    log_pnfh_sd: float | None = Field(default=None, gt=0)
    dropout_per_year: float | None = Field(default=None, ge=0)
    horizon_days: float = Field(default=4000.0, gt=0)

    @model_validator(mode="after")
    def _kind(self) -> "PoolConfig":
        if self.kind == "mirocals":
            exp_only = [k for k in self.model_fields_set
                        if k not in ("kind", "arrivals_per_day", "horizon_days")]
            if exp_only:
                raise ValueError(f"{sorted(exp_only)[0]} applies to kind 'exponential' only (the mirocals "
                                 "pool's effect comes from its drug model)")
        elif "horizon_days" in self.model_fields_set:
            raise ValueError("horizon_days applies to kind 'mirocals' only")
        return self


class TrialConfig(_Table):
    """The group-sequential all-comers trial, and which strategies to simulate."""

    strategies: list[Literal["all-comers", "enriched", "adaptive-enrichment"]] = Field(
        default_factory=lambda: list(STRATEGY_NAMES), min_length=1)
    n_randomised_max: int = Field(ge=4)
    max_events: int = Field(ge=2)
    stratified: bool = True

    @model_validator(mode="after")
    def _sizes(self) -> "TrialConfig":
        if self.max_events > self.n_randomised_max:
            raise ValueError("max_events cannot exceed n_randomised_max")
        if len(set(self.strategies)) != len(self.strategies):
            raise ValueError("strategies: each strategy once")
        return self


class EnrichedConfig(_Table):
    """Fixed enrichment: only S is randomised; looks at the same information rates of S's events."""

    n_randomised_max: int | None = Field(default=None, ge=4)
    max_events: int | None = Field(default=None, ge=2)


class ReestimationConfig(_Table):
    """Stage-2 events by conditional power in the selected population (`EventReestimation`)."""

    conditional_power: float = Field(gt=0, lt=1)
    min_events: int = Field(ge=1)
    max_events: int = Field(ge=1)
    hazard_ratio: float | None = Field(default=None, gt=0, lt=1)


class AdaptiveEnrichmentConfig(_Table):
    """Two-stage adaptive enrichment (`AdaptiveEnrichmentDesign`): interim at `interim_events`
    overall (default: the first look's information rate x [trial].max_events), final at
    `final_events`; bounds from the same spending function at these two looks."""

    n_randomised_max: int | None = Field(default=None, ge=4)
    interim_events: int | None = Field(default=None, ge=1)
    final_events: int | None = Field(default=None, ge=2)
    weights_information_rate: float | None = Field(default=None, gt=0, lt=1)
    selection: Literal["best", "epsilon", "all"] = "best"
    measure: Literal["hazard_ratio", "z"] = "hazard_ratio"
    epsilon: float | None = Field(default=None, ge=0)
    threshold: float | None = None
    intersection_test: Literal["simes", "bonferroni", "sidak", "spiessens_debois"] = "simes"
    success_criterion: Literal["all", "at_least_one"] = "at_least_one"
    reestimation: ReestimationConfig | None = None

    @model_validator(mode="after")
    def _rule(self) -> "AdaptiveEnrichmentConfig":
        if self.selection == "epsilon" and self.epsilon is None:
            raise ValueError("selection 'epsilon' needs epsilon")
        if self.selection != "epsilon" and self.epsilon is not None:
            raise ValueError(f"epsilon is not used by selection '{self.selection}'")
        return self


class ConfirmatorySpec(_Table):
    """The whole declared design (see the module docstring)."""

    design: DesignConfig
    futility: FutilityConfig = Field(default_factory=FutilityConfig)
    population: PopulationConfig = Field(default_factory=PopulationConfig)
    pool: PoolConfig = Field(default_factory=PoolConfig)
    trial: TrialConfig
    enriched: EnrichedConfig = Field(default_factory=EnrichedConfig)
    adaptive_enrichment: AdaptiveEnrichmentConfig = Field(default_factory=AdaptiveEnrichmentConfig)

    @classmethod
    def from_dict(cls, data: Any) -> "ConfirmatorySpec":
        """Validate; the first problem becomes a `ParameterError` naming the key, all are listed.

        >>> ConfirmatorySpec.from_dict({"design": {"k_max": 3}, "trial": {"n_randomised_max": 600,
        ...                             "max_events": 300}}).trial.strategies
        ['all-comers', 'enriched', 'adaptive-enrichment']
        >>> ConfirmatorySpec.from_dict({"design": {"k_max": 3, "spending": "asOF"},
        ...                             "trial": {"n_randomised_max": 600, "max_events": 300}})
        Traceback (most recent call last):
        ...
        mndtrial.errors.ParameterError: parameter '[design].spending' = 'asOF': Extra inputs are not permitted
        """
        if not isinstance(data, dict):
            raise ParameterError("confirmatory design", type(data).__name__, "must be a table of settings")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors()

            def where(e) -> str:
                loc = [str(p) for p in e["loc"]]
                return f"[{loc[0]}]" + "".join(f".{p}" for p in loc[1:]) if loc else "confirmatory design"

            first = errors[0]
            rule = first["msg"].removeprefix("Value error, ")
            if len(errors) > 1:
                rule += "; also " + "; ".join(f"{where(e)}: {e['msg'].removeprefix('Value error, ')}" for e in errors[1:])
            raise ParameterError(where(first), first.get("input"), rule) from None

    def provenance(self) -> dict[str, dict[str, str]]:
        """Per table, each setting: 'user' (written in the file) or 'default'."""
        out = {}
        for name in type(self).model_fields:
            table = getattr(self, name)
            out[name] = {k: ("user" if k in table.model_fields_set else "default") for k in type(table).model_fields}
        return out


def load_confirmatory(path: str | Path) -> ConfirmatorySpec:
    """Read and validate a confirmatory design TOML file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParameterError("--confirmatory", str(path), "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError("--confirmatory", str(path), f"not valid TOML: {exc}") from None
    return ConfirmatorySpec.from_dict(data)
