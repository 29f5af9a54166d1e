"""Declared analyses and success criteria of a simulated trial.

A `Test` names an estimator, the population it runs in (everyone, or a biomarker group) and its
options; a `Criterion` says when that test counts as a success (one-sided p below alpha, in the
direction of benefit, optionally with the estimate on the side of benefit); an `Analysis` combines
criteria ("all" or "any" — the latter with the alpha split between them, as in a design that tests
the whole population and the low-biomarker group) and lists further tests to report.

`Analysis.evaluate(batch)` runs every test on every trial of the batch (with the batch estimators)
and returns one row per trial.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd

from ..analysis.distributions import norm_sf
from ..batch import cox_batch, logrank_batch, slopes_batch, survival_at_horizon
from ..batch._layout import treatment_indicator
from ..batch._survival_layout import SurvivalLayout, survival_layout
from ..data import TrialBatch
from ..errors import ParameterError

__all__ = ["Population", "Test", "Criterion", "Analysis", "EVERYONE"]

TestKind = Literal["logrank", "cox", "slope", "survival", "rmst"]
# Sign of the estimate that means benefit: fewer deaths (z, log HR < 0), slower ALSFRS-R decline or
# more survival (> 0).
BENEFIT_SIGN = {"logrank": -1.0, "cox": -1.0, "slope": 1.0, "survival": 1.0, "rmst": 1.0}
_LAYOUT = "survival_layout"  # the cache's entry for the batch's sorted survival rows


@dataclass(frozen=True)
class Population:
    """Participants whose baseline `column` lies in [lower, upper] (None: everyone)."""

    name: str = "all"
    column: str | None = None
    lower: float = -np.inf
    upper: float = np.inf

    def __post_init__(self) -> None:
        if not self.lower <= self.upper:  # NaN bounds too: an empty group would give no test at all
            raise ParameterError("population", (self.lower, self.upper), "needs lower <= upper")

    def mask(self, batch: TrialBatch) -> np.ndarray | None:
        if self.column is None:
            return None
        if self.column not in batch.participants.columns:
            raise ParameterError("population.column", self.column, "is not a participants column")
        column = batch.participants[self.column]
        if not pd.api.types.is_numeric_dtype(column):
            raise ParameterError("population.column", self.column, "must be a numeric baseline column")
        values = column.to_numpy(dtype=float, na_value=np.nan)
        # Participants without the biomarker belong to no biomarker group (reported in n_<group>).
        return (values >= self.lower) & (values <= self.upper)


EVERYONE = Population()


@dataclass(frozen=True)
class Test:
    """One estimator run on one population; `name` labels its columns in the tables."""

    __test__ = False  # a statistical test, not a pytest class

    kind: TestKind
    population: Population = EVERYONE
    strata: tuple[str, ...] = ()
    covariates: tuple[str, ...] = ()
    horizon_days: float | None = None  # for 'survival' and 'rmst'
    active_arm: str | None = None  # which active arm to compare with control (several active arms)
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in BENEFIT_SIGN:
            raise ParameterError("kind", self.kind, f"must be one of {sorted(BENEFIT_SIGN)}")
        if self.kind in ("survival", "rmst") and not (self.horizon_days and self.horizon_days > 0):
            raise ParameterError("horizon_days", self.horizon_days, f"a '{self.kind}' test needs a horizon > 0")
        if self.covariates and self.kind != "cox":
            raise ParameterError("covariates", self.covariates, "only a 'cox' test takes covariates")
        if not self.name:
            label = self.kind + ("_adjusted" if self.covariates else "") + ("_stratified" if self.strata else "")
            if self.population.column is not None:
                label += f"_{self.population.name}"
            object.__setattr__(self, "name", label)

    def compared(self, batch: TrialBatch) -> np.ndarray:
        """Participant rows this test compares: control or `active_arm`, and in the population
        (participants of other active arms are not counted, e.g. IMODALS's other dose)."""
        return treatment_indicator(batch, self.active_arm, self.population.mask(batch))[1]

    def run(self, batch: TrialBatch, layout: SurvivalLayout | None = None) -> pd.DataFrame:
        """Per trial: estimate, se, z, one-sided p for benefit, converged; `n` (and, for survival
        tests, `events`): participants (deaths) in the two compared arms of the population.
        `layout` (`survival_layout(batch)`) shares one sort of the rows between log-rank and Cox tests."""
        subset = self.population.mask(batch)
        if self.kind == "logrank":
            r = logrank_batch(batch, strata=self.strata, subset=subset, active_arm=self.active_arm, layout=layout)
            est, se, ok = r.observed_minus_expected, np.sqrt(r.variance), r.variance > 0
            extra = {"events": r.events}
        elif self.kind == "cox":
            r = cox_batch(batch, covariates=self.covariates, strata=self.strata, subset=subset,
                          active_arm=self.active_arm, layout=layout)
            est, se, ok = r.coef[:, 0], r.se[:, 0], r.converged
            extra = {"events": r.events}
        elif self.kind == "slope":
            r = slopes_batch(batch, subset=subset, active_arm=self.active_arm)
            est, se, ok = r.slope_difference_per_month, r.slope_difference_se, r.converged
            extra = {}
        else:
            r = survival_at_horizon(batch, self.horizon_days, subset=subset, active_arm=self.active_arm)
            if self.kind == "survival":
                est, se = r.survival_difference, r.survival_difference_se
            else:
                est, se = r.rmst_difference_days, r.rmst_difference_se
            ok = se > 0
            extra = {"events": _events(batch, self.compared(batch))}
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(ok, est / se, np.nan)
        p = np.where(ok, norm_sf(BENEFIT_SIGN[self.kind] * z), np.nan)
        out = pd.DataFrame({"estimate": est, "se": se, "z": z, "p_benefit": p, "converged": ok, **extra})
        out["n"] = _count(batch, self.compared(batch))
        return out


def _run_cached(test: Test, batch: TrialBatch, cache: dict | None) -> pd.DataFrame:
    """`test.run(batch)`, once per batch for equal tests (the name is a label, not part of the test)."""
    if cache is None:
        return test.run(batch)
    key = replace(test, name="")
    if key not in cache:
        layout = None
        if test.kind in ("logrank", "cox"):  # the batch's rows sorted once for all its survival tests
            if _LAYOUT not in cache:
                cache[_LAYOUT] = survival_layout(batch)
            layout = cache[_LAYOUT]
        cache[key] = test.run(batch, layout)
    return cache[key]


def _count(batch: TrialBatch, subset: np.ndarray | None) -> np.ndarray:
    t = batch.participants["trial"].to_numpy() - batch.first_trial
    w = None if subset is None else subset.astype(float)
    return np.bincount(t, weights=w, minlength=batch.n_trials).astype(np.int64)


def _events(batch: TrialBatch, rows: np.ndarray | None) -> np.ndarray:
    """Deaths per trial among participant rows `rows` (None: all); survival rows are aligned with
    participants in a batch (checked by the batch estimators)."""
    t = batch.survival["trial"].to_numpy() - batch.first_trial
    event = batch.survival["event"].to_numpy(dtype=float)
    w = event if rows is None else event * rows
    return np.bincount(t, weights=w, minlength=batch.n_trials).astype(np.int64)


def _screened(batch: TrialBatch, randomised: np.ndarray) -> np.ndarray:
    """Candidates screened per trial: `metadata['screening']` (mndtrial.sim), `metadata['screened']`
    (the exponential design), or the randomised number when the source screens no one out."""
    meta = batch.metadata or {}
    if isinstance(meta.get("screening"), pd.DataFrame):
        sc = meta["screening"].set_index("trial")["screened"]
        return sc.reindex(batch.trial_index).to_numpy(dtype=np.int64)
    if meta.get("screened") is not None:
        return np.asarray(meta["screened"], dtype=np.int64)
    return randomised


@dataclass(frozen=True)
class Criterion:
    """Success of one test: one-sided p for benefit < alpha (two-sided: p/2 rule, same thing for
    a symmetric test), optionally also the estimate on the side of benefit."""

    test: Test
    alpha: float = 0.025
    sided: Literal["one", "two"] = "one"
    require_benefit: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ParameterError("alpha", self.alpha, "must be in (0, 1)")
        # Anything else (e.g. "two-sided") would silently run the one-sided rule.
        if self.sided not in ("one", "two"):
            raise ParameterError("sided", self.sided, "must be 'one' or 'two'")

    def success(self, res: pd.DataFrame) -> np.ndarray:
        p = res["p_benefit"].to_numpy()
        if self.sided == "two":
            p = 2 * np.minimum(p, 1 - p)
        ok = res["converged"].to_numpy() & (p < self.alpha)
        if self.require_benefit:
            ok &= BENEFIT_SIGN[self.test.kind] * res["estimate"].to_numpy() > 0
        return ok


@dataclass(frozen=True)
class Analysis:
    """Success rule (criteria combined by 'all' or 'any') and the tests reported beside it.

    Example:
        >>> low = Population("low", "csf_pnfh", upper=3700)
        >>> a = Analysis((Criterion(Test("logrank"), alpha=0.0125),
        ...               Criterion(Test("logrank", population=low), alpha=0.0125)), combine="any")
        >>> [t.name for t in a.tests]
        ['logrank', 'logrank_low']
    """

    criteria: tuple[Criterion, ...]
    combine: Literal["all", "any"] = "all"
    report: tuple[Test, ...] = field(default=())
    name: str = "analysis"

    def __post_init__(self) -> None:
        if not self.criteria:
            raise ParameterError("criteria", self.criteria, "declare at least one success criterion")
        if self.combine not in ("all", "any"):
            raise ParameterError("combine", self.combine, "must be 'all' or 'any'")
        names = [t.name for t in self.tests]
        if len(set(names)) != len(names):
            raise ParameterError("report", names, "test names must be unique")

    @property
    def tests(self) -> tuple[Test, ...]:
        seen: dict[str, Test] = {}
        for t in [c.test for c in self.criteria] + list(self.report):
            if t.name in seen and seen[t.name] != t:
                raise ParameterError("tests", t.name, "two different tests share this name")
            seen.setdefault(t.name, t)
        return tuple(seen.values())

    @property
    def tables(self) -> tuple[str, ...]:
        """The batch tables the tests read: participants and survival, and ALSFRS-R for a slope
        test (a trial source may leave the others out: `mndtrial.sim.simulate(tables=...)`).

        Example:
            >>> Analysis((Criterion(Test("logrank")),), report=(Test("slope"),)).tables
            ('participants', 'survival', 'alsfrs')
        """
        slope = any(t.kind == "slope" for t in self.tests)
        return ("participants", "survival") + (("alsfrs",) if slope else ())

    @property
    def total_alpha(self) -> float:
        return float(sum(c.alpha for c in self.criteria)) if self.combine == "any" else \
            float(max(c.alpha for c in self.criteria))

    def evaluate(self, batch: TrialBatch, cache: dict | None = None) -> pd.DataFrame:
        """One row per trial: every test's columns (`<test>_<column>`), `success`, counts.

        `n_compared`/`events`: participants/deaths in the arms the success criteria compare
        (control and their active arm(s), whole population); `n_randomised`/`events_all_arms`:
        every arm (the same in a two-arm design, not with IMODALS's two doses). `cache` (a dict
        kept for one batch) shares a test's results between analyses of the same trials: the
        stratified strategy runs the same tests as all-comers."""
        cols: dict[str, np.ndarray] = {"trial": batch.trial_index}
        results = {}
        for t in self.tests:
            res = _run_cached(t, batch, cache)
            results[t.name] = res
            for c in res.columns:
                cols[f"{t.name}_{c}"] = res[c].to_numpy()
        hits = np.stack([c.success(results[c.test.name]) for c in self.criteria])
        cols["success"] = hits.all(axis=0) if self.combine == "all" else hits.any(axis=0)
        compared = np.zeros(len(batch.participants), dtype=bool)
        for c in self.criteria:
            compared |= treatment_indicator(batch, c.test.active_arm)[1]
        cols["n_compared"] = _count(batch, compared)
        cols["n_randomised"] = _count(batch, None)
        cols["n_screened"] = _screened(batch, cols["n_randomised"])
        cols["events"] = _events(batch, compared)
        cols["events_all_arms"] = _events(batch, None)
        return pd.DataFrame(cols)
