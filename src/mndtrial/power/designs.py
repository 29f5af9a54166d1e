"""Design strategies compared side by side: all-comers, enriched, stratified.

- **all-comers**: everyone eligible is randomised; primary test one-sided stratified log-rank at
  alpha in the whole population.
- **enriched**: only participants in the low-biomarker group are randomised (the screening count
  is reported); the same primary test, in everyone randomised.
- **stratified**: all-comers, with alpha split between the whole population and the low group
  (success if either test succeeds at its share: Bonferroni, so the familywise error stays at
  alpha).

Each strategy also reports Cox (unadjusted and adjusted), the ALSFRS-R slope difference and the
low-group log-rank, so the table shows every estimate the design would produce.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol, Sequence

from ..errors import ParameterError
from .criteria import Analysis, Criterion, Population, Test
from .engine import DesignPoint, TrialSource
from .exponential import ExponentialDesign

__all__ = ["DesignFamily", "ExponentialFamily", "STRATEGIES", "strategy_analysis", "design_points",
           "logrank_analysis", "LOW_PNFH"]

STRATEGIES = ("all-comers", "enriched", "stratified")
LOW_PNFH = Population("low", "csf_pnfh", upper=3700.0)  # MIROCALS: low CSF-pNfH <= 3700 pg/mL


class DesignFamily(Protocol):
    """A design whose total randomised number and enrichment can be set (a trial-source factory)."""

    name: str
    low: Population
    strata: tuple[str, ...]
    adjust_covariates: tuple[str, ...]

    def source(self, n_randomised: int, enriched: bool) -> TrialSource: ...


@dataclass(frozen=True)
class ExponentialFamily:
    """`ExponentialDesign` as a family: n randomised 1:1; enrichment below its biomarker cut-off."""

    template: ExponentialDesign = ExponentialDesign()
    name: str = "exponential"
    strata: tuple[str, ...] = ("onset_site",)
    adjust_covariates: tuple[str, ...] = ("age", "log(csf_pnfh)")

    @property
    def low(self) -> Population:
        return Population("low", "csf_pnfh", upper=self.template.biomarker_cutoff)

    def source(self, n_randomised: int, enriched: bool) -> ExponentialDesign:
        if n_randomised < 4 or n_randomised % 2:
            raise ParameterError("n", n_randomised, "must be an even number >= 4 (1:1 allocation)")
        return replace(self.template, n_per_arm=n_randomised // 2, enrich=enriched)


def logrank_analysis(alpha: float = 0.025, strata: tuple[str, ...] = ()) -> Analysis:
    """One-sided log-rank (stratified if `strata`) at `alpha`: the usual confirmatory survival test."""
    return Analysis((Criterion(Test("logrank", strata=strata), alpha=alpha),), name="logrank")


def strategy_analysis(strategy: str, family: DesignFamily, alpha: float = 0.025, alpha_split: float = 0.5,
                      horizon_days: float | None = None, slope: bool = True) -> Analysis:
    """The declared analysis of a strategy (see the module docstring); `alpha_split` is the whole
    population's share of alpha in the stratified strategy."""
    if strategy not in STRATEGIES:
        raise ParameterError("strategy", strategy, f"must be one of {STRATEGIES}")
    if not 0 < alpha_split < 1:
        raise ParameterError("alpha_split", alpha_split, "must be in (0, 1)")
    primary = Test("logrank", strata=family.strata)
    low_test = Test("logrank", population=family.low, strata=family.strata)
    report = [Test("cox"), Test("cox", covariates=family.adjust_covariates, strata=family.strata)]
    if slope:
        report.append(Test("slope"))
    if horizon_days:
        report.append(Test("rmst", horizon_days=horizon_days))
    if strategy == "stratified":
        criteria = (Criterion(primary, alpha=alpha * alpha_split),
                    Criterion(low_test, alpha=alpha * (1 - alpha_split)))
        return Analysis(criteria, combine="any", report=tuple(report), name=strategy)
    if strategy == "all-comers":
        report.append(low_test)
    return Analysis((Criterion(primary, alpha=alpha),), report=tuple(report), name=strategy)


def design_points(family: DesignFamily, n_values: Sequence[int], strategies: Sequence[str] = STRATEGIES,
                  alpha: float = 0.025, alpha_split: float = 0.5, horizon_days: float | None = None,
                  slope: bool = True) -> list[DesignPoint]:
    """Every (strategy, n) pair as a design point, strategies side by side for each n."""
    points = []
    for n in n_values:
        for s in strategies:
            analysis = strategy_analysis(s, family, alpha, alpha_split, horizon_days, slope)
            points.append(DesignPoint(family.source(int(n), s == "enriched"), analysis,
                                      {"design": family.name, "strategy": s, "n": int(n)}))
    return points
