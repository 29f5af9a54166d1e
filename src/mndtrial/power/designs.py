"""Design strategies compared side by side: all-comers, enriched, stratified.

- **all-comers**: everyone eligible is randomised; primary test one-sided log-rank at alpha in
  the whole population, stratified by the design's strata (MIROCALS: country and onset site) —
  `primary_strata=()` declares the unadjusted log-rank, MIROCALS's pre-specified primary test.
- **enriched**: only participants in the low-biomarker group are randomised (the screening count
  is reported); the same primary test, in everyone randomised.
- **stratified**: all-comers, with alpha split between the whole population and the low group
  (success if either test succeeds at its share: Bonferroni, so the familywise error stays at
  alpha).

Each strategy also reports Cox (unadjusted and adjusted), the ALSFRS-R slope difference and the
low-group log-rank, so the table shows every estimate the design would produce.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Protocol, Sequence

from ..errors import ParameterError
from .criteria import Analysis, Criterion, Population, Test
from .engine import DesignPoint, TrialSource
from .exponential import ExponentialDesign

__all__ = ["DesignFamily", "ExponentialFamily", "SimFamily", "SimSource", "STRATEGIES", "strategy_analysis",
           "design_points", "logrank_analysis", "LOW_PNFH", "family"]

STRATEGIES = ("all-comers", "enriched", "stratified")
PRIMARY_TESTS = ("logrank", "cox")  # the kinds of test a strategy's success criteria can use
# MIROCALS's low CSF-pNfH group, 750-3700 pg/mL (mnd-evidence.md, MIROCALS "Biomarker").
LOW_PNFH = Population("low", "csf_pnfh", lower=750.0, upper=3700.0)
# The drug's effect parameters a --vary axis may set (mndtrial.sim.DrugModel, parameters.toml [drug]).
EFFECT_PARAMETERS = ("hr_low_pnfh", "hr_high_pnfh", "hr_below_low_band", "slope_ratio_low_pnfh",
                     "slope_ratio_high_pnfh", "pnfh_cutoff_pg_ml")


class DesignFamily(Protocol):
    """A design whose total randomised number and enrichment can be set (a trial-source factory)."""

    name: str
    low: Population
    strata: tuple[str, ...]
    adjust_covariates: tuple[str, ...]

    def source(self, n_randomised: int, enriched: bool) -> TrialSource: ...

    def without_effect(self) -> "DesignFamily": ...

    @property
    def under_null(self) -> bool: ...

    @property
    def parameters(self) -> dict[str, float]: ...

    def with_parameters(self, **changes: float) -> "DesignFamily": ...


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

    @property
    def under_null(self) -> bool:
        """True when survival has no treatment effect (HR 1 everywhere, the default): the power of
        a log-rank criterion is then its type I error."""
        t = self.template
        return t.hazard_ratio == 1.0 and t.hazard_ratio_high in (None, 1.0)

    def without_effect(self) -> "ExponentialFamily":
        """The same design with no treatment effect (for type I error)."""
        t = self.template
        return replace(self, template=replace(t, hazard_ratio=1.0, hazard_ratio_high=None,
                                              slope_difference_per_month=0.0))

    @property
    def parameters(self) -> dict[str, float]:
        """The numeric design parameters `with_parameters` can set (n is set by `source`);
        `hazard_ratio_high` is among them even while None (the same effect as below the cut-off)."""
        return {**_numeric_fields(self.template, exclude=("n_per_arm",)),
                "hazard_ratio_high": self.template.hazard_ratio_high}

    def with_parameters(self, **changes: float) -> "ExponentialFamily":
        """The family with some design parameters changed (e.g. `hazard_ratio=0.7`).

        Example:
            >>> ExponentialFamily().with_parameters(hazard_ratio=0.7, follow_up_days=540).template.hazard_ratio
            0.7
            >>> ExponentialFamily().with_parameters(hazard_ratio_high=1.3).template.hazard_ratio_high
            1.3
        """
        return replace(self, template=replace(self.template, **_checked_parameters(self, changes)))


@dataclass(frozen=True, eq=False)
class SimSource:
    """A `mndtrial.sim` design as a trial source (chunks from `mndtrial.sim.simulate_chunk`)."""

    design: Any

    def simulate_chunk(self, first_trial: int, n_trials: int, seed: int, tables: Sequence[str] | None = None):
        """`tables`: the tables to make (None: all); the power engine passes what its analyses read."""
        from ..sim import TABLES, simulate_chunk

        return simulate_chunk(self.design, seed, first_trial, n_trials, tables=TABLES if tables is None else tables)


@dataclass(frozen=True)
class SimFamily:
    """A `mndtrial.sim` design (e.g. `mirocals()`) as a family: n randomised, enrichment to the
    low CSF-pNfH group (`Enrichment('csf_pnfh', low.lower, low.upper)`), strata from the design.

    `marker`: the screening test that decides enrolment and the low group (None: `low`'s own
    column). A `low` band on the CSF-pNfH scale screened by `marker='serum_nfl'` becomes the serum
    NfL band selecting the same share of the cohort (`screening_population`,
    `mndtrial.sim.measurement.matched_level`); `low=Population('low', 'serum_nfl', upper=60.0)`
    gives a serum cut-off in pg/mL directly. Numeric parameters for `with_parameters`: the
    design's, `cutoff` (`low.upper`, in `low`'s pg/mL) and the drug's effect (`EFFECT_PARAMETERS`).

    The adjusted Cox model uses baseline covariates every simulated participant has (CSF-pNfH is
    missing for some, by design of the simulator's sampling, so it defines groups, not covariates);
    it is stratified by the design's strata, so onset site enters as a stratum, not a covariate.
    """

    design: Any
    low: Population = LOW_PNFH
    adjust_covariates: tuple[str, ...] = ("age", "delta_fs", "alsfrs_r_baseline")
    marker: str | None = None

    def __post_init__(self) -> None:
        from ..sim.measurement import MARKERS

        if self.marker is not None and self.marker not in MARKERS:
            raise ParameterError("marker", self.marker, f"must be one of {MARKERS}")
        if self.marker is not None and self.low.column not in MARKERS:
            raise ParameterError("low.column", self.low.column, f"a marker translates a band of {MARKERS}")

    @property
    def name(self) -> str:
        return self.design.name

    @property
    def screening_population(self) -> Population:
        """The low group as the screening marker sees it (pg/mL of the marker)."""
        from ..sim.measurement import matched_level

        if self.marker is None or self.marker == self.low.column:
            return self.low
        cohort, meas = self.design.cohort.p["cohort"], self.design.cohort.p["measurement"]
        level = lambda v: matched_level(max(v, 0.0), self.low.column, self.marker, cohort, meas,  # noqa: E731
                                        self.design.screening_retest)
        return Population(self.low.name, self.marker, lower=level(self.low.lower), upper=level(self.low.upper))

    def with_marker(self, marker: str) -> "SimFamily":
        """The family screened by `marker` ('csf_pnfh' or 'serum_nfl'), the same low band."""
        return replace(self, marker=marker)

    @property
    def strata(self) -> tuple[str, ...]:
        return tuple(self.design.strata)

    @property
    def active_arm(self) -> str:
        """The arm compared with placebo: the highest dose when there are several (IMODALS)."""
        active = [a for a in self.design.arms if not a.control]
        return max(active, key=lambda a: a.dose_miu).name

    def source(self, n_randomised: int, enriched: bool) -> SimSource:
        from ..sim import Enrichment

        low = self.screening_population
        enrichment = Enrichment(low.column, max(low.lower, 0.0), low.upper) if enriched else None
        return SimSource(self.design.replace(n_randomised=int(n_randomised), enrichment=enrichment))

    @property
    def under_null(self) -> bool:
        """True when the drug model is `no_effect` (`without_effect()`)."""
        from ..sim import no_effect

        return getattr(self.design.drug, "_effect", None) is no_effect

    def without_effect(self) -> "SimFamily":
        from ..sim import DrugModel, no_effect

        return replace(self, design=self.design.replace(drug=DrugModel(effect=no_effect)))

    @property
    def parameters(self) -> dict[str, float]:
        """The numeric parameters `with_parameters` can set (n is set by `source`): the design's,
        `cutoff` and the drug's effect (NaN under `without_effect`, which ignores them)."""
        effect = {k: float("nan") if self.under_null else float(self.design.drug.p[k]) for k in EFFECT_PARAMETERS}
        return {**_numeric_fields(self.design, exclude=("n_randomised",)), "cutoff": float(self.low.upper), **effect}

    def with_parameters(self, **changes: float) -> "SimFamily":
        """The family with some parameters changed (e.g. `horizon_days=540`, `cutoff=2500`,
        `hr_low_pnfh=0.7`).

        Example:
            >>> from mndtrial.sim import mirocals
            >>> f = SimFamily(mirocals()).with_parameters(cutoff=2500, hr_low_pnfh=0.7)
            >>> f.low.upper, f.design.drug.p["hr_low_pnfh"]
            (2500.0, 0.7)
        """
        changes = _checked_parameters(self, changes)
        out = self
        if "cutoff" in changes:
            cutoff = changes.pop("cutoff")
            if not cutoff > max(self.low.lower, 0.0):
                raise ParameterError("cutoff", cutoff, f"must exceed the low band's lower end ({self.low.lower:g})")
            out = replace(out, low=replace(self.low, upper=cutoff))
        effect = {k: changes.pop(k) for k in list(changes) if k in EFFECT_PARAMETERS}
        design = self.design.replace(**changes)
        if effect:
            design = design.replace(drug=design.drug.with_parameters(**effect))
        return replace(out, design=design)


def _numeric_fields(obj: Any, exclude: Sequence[str]) -> dict[str, float]:
    # scalar numbers only: tuples (visit days), models and flags are not a --vary axis
    return {f.name: getattr(obj, f.name) for f in fields(obj)
            if f.name not in exclude and isinstance(getattr(obj, f.name), (int, float))
            and not isinstance(getattr(obj, f.name), bool)}


def _checked_parameters(family: "DesignFamily", changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` if every name is a parameter of the family; whole numbers stay whole (block_size=4.0 -> 4)."""
    known = family.parameters
    for name, value in changes.items():
        if name not in known:
            raise ParameterError(name, value, f"is not a numeric parameter of the '{family.name}' design; "
                                              f"it has {sorted(known)} (and n)")
        if isinstance(known[name], int) and value != int(value):
            raise ParameterError(name, value, "must be a whole number")
    return {k: int(v) if isinstance(known[k], int) else float(v) for k, v in changes.items()}


def family(name: str, **changes: Any) -> DesignFamily:
    """A design family by name: 'exponential', or a `mndtrial.sim` preset ('mirocals', 'imodals')."""
    if name == "exponential":
        return ExponentialFamily(ExponentialDesign(**changes))
    from ..sim import PRESETS

    if name not in PRESETS:
        raise ParameterError("design", name, f"must be 'exponential' or one of {sorted(PRESETS)}")
    return SimFamily(PRESETS[name](**changes))


def logrank_analysis(alpha: float = 0.025, strata: tuple[str, ...] = ()) -> Analysis:
    """One-sided log-rank (stratified if `strata`) at `alpha`: the usual confirmatory survival test."""
    return Analysis((Criterion(Test("logrank", strata=strata), alpha=alpha),), name="logrank")


def strategy_analysis(strategy: str, family: DesignFamily, alpha: float = 0.025, alpha_split: float = 0.5,
                      horizon_days: float | None = None, slope: bool = True,
                      primary_strata: Sequence[str] | None = None, primary_test: str = "logrank") -> Analysis:
    """The declared analysis of a strategy (see the module docstring); `alpha_split` is the whole
    population's share of alpha in the stratified strategy.

    The log-rank criteria are stratified by `primary_strata` — by default the design's strata
    (MIROCALS: country and onset site). `primary_strata=()` declares the unadjusted log-rank, as
    MIROCALS's pre-specified primary analysis (mnd-evidence.md); the stratified log-rank is then
    reported beside it. `primary_test="cox"` makes the criteria the Wald test of treatment in a
    Cox model (stratified by `primary_strata` in the same way); the log-rank is then reported.

    Example:
        >>> a = strategy_analysis("all-comers", ExponentialFamily(), primary_strata=())
        >>> a.criteria[0].test.name, a.criteria[0].test.strata, "logrank_stratified" in [t.name for t in a.tests]
        ('logrank', (), True)
    """
    if strategy not in STRATEGIES:
        raise ParameterError("strategy", strategy, f"must be one of {STRATEGIES}")
    if not 0 < alpha_split < 1:
        raise ParameterError("alpha_split", alpha_split, "must be in (0, 1)")
    if isinstance(primary_strata, str):  # 'country' would otherwise be read as strata c, o, u, ...
        raise ParameterError("primary_strata", primary_strata, "must be a sequence of column names, e.g. ('country',)")
    if primary_test not in PRIMARY_TESTS:
        raise ParameterError("primary_test", primary_test, f"must be one of {PRIMARY_TESTS}")
    strata = tuple(family.strata) if primary_strata is None else tuple(primary_strata)
    arm = getattr(family, "active_arm", None)
    primary = Test(primary_test, strata=strata, active_arm=arm)
    low_test = Test(primary_test, population=family.low, strata=strata, active_arm=arm)
    report = [Test("cox", active_arm=arm),
              Test("cox", covariates=family.adjust_covariates, strata=family.strata, active_arm=arm)]
    if slope:
        report.append(Test("slope", active_arm=arm))
    if horizon_days:
        report.append(Test("rmst", horizon_days=horizon_days, active_arm=arm))
    if primary_test == "cox":  # the design's own log-rank, reported beside the Cox criterion
        report.append(Test("logrank", strata=tuple(family.strata), active_arm=arm))
    elif strata != tuple(family.strata):  # the design's own (stratified) log-rank, reported beside
        name = "logrank_unstratified" if not family.strata else "logrank_stratified" if not strata \
            else "logrank_design_strata"
        report.append(Test("logrank", strata=tuple(family.strata), active_arm=arm, name=name))
    if strategy == "stratified":
        criteria = (Criterion(primary, alpha=alpha * alpha_split),
                    Criterion(low_test, alpha=alpha * (1 - alpha_split)))
        return Analysis(criteria, combine="any", report=tuple(report), name=strategy)
    if strategy == "all-comers":
        report.append(low_test)
    return Analysis((Criterion(primary, alpha=alpha),), report=tuple(report), name=strategy)


def design_points(family: DesignFamily, n_values: Sequence[int], strategies: Sequence[str] = STRATEGIES,
                  alpha: float = 0.025, alpha_split: float = 0.5, horizon_days: float | None = None,
                  slope: bool = True, primary_strata: Sequence[str] | None = None,
                  primary_test: str = "logrank") -> list[DesignPoint]:
    """Every (strategy, n) pair as a design point, strategies side by side for each n
    (`primary_strata`, `primary_test`: see `strategy_analysis`; `()` for the unadjusted log-rank)."""
    points = []
    for n in n_values:
        sources: dict[bool, TrialSource] = {}  # strategies that randomise the same people share trials
        for s in strategies:
            analysis = strategy_analysis(s, family, alpha, alpha_split, horizon_days, slope, primary_strata,
                                         primary_test)
            source = sources.setdefault(s == "enriched", family.source(int(n), s == "enriched"))
            points.append(DesignPoint(source, analysis, {"design": family.name, "strategy": s, "n": int(n)}))
    return points
