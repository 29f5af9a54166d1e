"""ALSFRS-R decline: slopes per arm from a linear mixed model, their difference and ratio.

Model (REML, statsmodels MixedLM through `fit_random_slope_lmm`, checked against lme4):

    total_ij = β0 + β1·months_ij + Σ_k (γ_k·A_ik + δ_k·months_ij·A_ik) + covariates + b0_i + b1_i·months_ij + ε_ij

with months = day / 30.44, A_ik the indicator of active arm k, (b0_i, b1_i) ~ N(0, G) unstructured
and ε ~ N(0, σ²). The placebo slope is β1, the slope of arm k is β1 + δ_k, their difference δ_k,
and the slope ratio (MIROCALS's "decrease in the rate of change") is

    R_k = (slope_placebo − slope_k) / slope_placebo = −δ_k / β1

with a delta-method SE from the gradient (δ_k/β1², −1/β1) and the fixed-effect covariance.
Baseline covariates are centred, enter as main effects and (by default) as covariate × months
terms, so the arm slopes are those of a participant with average covariates. See docs/function.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..data import Trial
from ..data.schema import DAYS_PER_MONTH
from ..errors import AnalysisError, ParameterError
from ._common import (ByPopulation, Subgroups, control_and_active, covariate_columns, html_table, json_safe,
                      resolve_subgroups)
from .lmm import MixedModelFit, fit_lmm_arrays, wald
from .slope_data import SlopeData, SlopePopulation, SlopeVisits
from .estimator import FittedEstimator
from .distributions import chi2_sf

__all__ = ["SlopeAnalysis", "SlopeFit", "SlopeResult", "slope_frame", "slope_interaction_in", "slope_interaction_test"]

ANALYSIS = "ALSFRS-R slope"


def slope_frame(trial: Trial, horizon_days: float | None = None,
                covariates: Sequence[str] = ()) -> tuple[pd.DataFrame, dict[str, int]]:
    """ALSFRS-R visits from day 0 to the horizon joined with arm and covariates, `months` added.

    Returns the frame and counts of the visits left out (before randomisation, after the horizon),
    which the result reports. Raises AnalysisError when a slope cannot be estimated.
    """
    alsfrs = trial.alsfrs
    if alsfrs is None or alsfrs.empty:
        raise AnalysisError(ANALYSIS, "the trial has no alsfrs table")
    control_and_active(trial, ANALYSIS)
    missing = [c for c in covariates if c not in trial.participant_column_names]
    if missing:
        raise ParameterError("covariates", missing, "must be columns of the participants table")
    participants = trial.participant_columns(*dict.fromkeys(("subject_id", "arm", *covariates)))
    before = alsfrs["day"] < 0
    after = alsfrs["day"] > horizon_days if horizon_days is not None else pd.Series(False, index=alsfrs.index)
    excluded = {"visits_before_randomisation": int(before.sum()), "visits_after_horizon": int(after.sum())}
    visits = alsfrs.loc[~before & ~after, ["subject_id", "day", "total"]]
    # an inner join of the visits to their participant's arm and covariates, in the visits' order
    row = pd.Index(participants["subject_id"]).get_indexer(visits["subject_id"])
    visits = visits.loc[row >= 0]
    row = row[row >= 0]
    frame = visits.reset_index(drop=True)
    for column in ("arm", *dict.fromkeys(c for c in covariates if c not in ("subject_id", "day", "total"))):
        frame[column] = participants[column].iloc[row].set_axis(frame.index)  # dtype kept
    frame["months"] = frame["day"] / DAYS_PER_MONTH
    if frame.empty:
        raise AnalysisError(ANALYSIS, "no ALSFRS-R visits between day 0 and the horizon")
    if (frame["day"] > 0).sum() == 0:
        survival = trial.survival
        if (survival["event"] == 1).all():
            raise AnalysisError(ANALYSIS, "all participants died before the first follow-up visit: no "
                                          "ALSFRS-R was recorded after baseline, so no slope exists")
        raise AnalysisError(ANALYSIS, "only one visit (baseline) per participant: a slope needs "
                                      "ALSFRS-R at two or more visits")
    if frame["day"].nunique() < 2:
        raise AnalysisError(ANALYSIS, "only one visit day in the ALSFRS-R table: a slope needs two or more")
    return frame, excluded


@dataclass(frozen=True)
class SlopeFit:
    """The slope analysis of one population (the whole trial or one subgroup)."""

    population: str
    control_arm: str
    arms: pd.DataFrame          # one row per arm: slope_per_month, se, ci, n_participants, n_visits
    comparisons: pd.DataFrame   # one row per (active arm, quantity): slope difference and slope ratio
    lmm: MixedModelFit
    excluded_visits: dict

    @property
    def problems(self) -> tuple[str, ...]:
        return self.lmm.problems

    def to_dict(self) -> dict:
        comparisons: dict = {}
        for (arm, quantity), row in _rows(self.comparisons).items():
            comparisons.setdefault(arm, {})[quantity] = row
        return json_safe({
            "control_arm": self.control_arm,
            "arms": _rows(self.arms),
            "comparisons": comparisons,
            "random_effects": {"sd": self.lmm.random_sd.to_dict(), "correlation": self.lmm.random_correlation,
                               "residual_sd": float(np.sqrt(self.lmm.residual_variance))},
            "reml_criterion": self.lmm.reml_criterion, "n_visits": self.lmm.n_obs,
            "n_participants": self.lmm.n_groups, "excluded_visits": self.excluded_visits,
            "converged": self.lmm.converged, "problems": list(self.lmm.problems),
            "warnings": list(self.lmm.warnings)})


def _rows(table: pd.DataFrame) -> dict:
    """`table.to_dict(orient="index")`, column by column (pandas' own is slow on small tables)."""
    columns = {c: table[c].tolist() for c in table.columns}
    return {key: {c: values[i] for c, values in columns.items()} for i, key in enumerate(table.index)}


@dataclass(frozen=True)
class SlopeResult(ByPopulation):
    """Slope analysis overall and per subgroup; `summary` has one row per estimate."""

    fits: tuple[SlopeFit, ...]
    covariates: tuple[str, ...]
    level: float

    @property
    def summary(self) -> pd.DataFrame:
        rows = []
        for f in self.fits:
            for arm, r in f.arms.iterrows():
                rows.append({"population": f.population, "arm": arm, "quantity": "slope_per_month", **r})
            for (arm, quantity), r in f.comparisons.iterrows():
                rows.append({"population": f.population, "arm": arm, "quantity": quantity, **r})
        cols = ["population", "arm", "quantity", "estimate", "se", "ci_low", "ci_high", "p",
                "n_participants", "n_visits"]
        return pd.DataFrame(rows).reindex(columns=cols).set_index(["population", "arm", "quantity"])

    @property
    def problems(self) -> dict[str, tuple[str, ...]]:
        return {f.population: f.problems for f in self.fits if f.problems}

    def to_dict(self) -> dict:
        out = {"covariates": list(self.covariates), "level": self.level, "overall": self.overall.to_dict(),
               "subgroups": {f.population: f.to_dict() for f in self.fits if f.population != "overall"}}
        return json_safe(out)

    def _repr_html_(self) -> str:
        notes = [f"{pop}: {p}" for pop, ps in self.problems.items() for p in ps]
        return html_table("ALSFRS-R slope (linear mixed model, REML)", self.summary, notes)


class SlopeAnalysis(FittedEstimator):
    """ALSFRS-R slope per arm, slope difference and slope ratio, overall and per subgroup.

    Parameters: `covariates` (participants columns; categorical ones are dummy-coded),
    `covariates_on_slope` (also let covariates change the slope, default True), `subgroups`
    (a participants column or {label: subject ids | boolean mask by subject_id}),
    `horizon_days` (visits after it are left out; default the trial's horizon), `level` (CI level).

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> result = SlopeAnalysis().fit(example_trial()).result_
        >>> sorted(result.overall.arms.index)
        ['il2_2miu', 'placebo']
    """

    def __init__(self, covariates: Sequence[str] = (), covariates_on_slope: bool = True,
                 subgroups: Subgroups | None = None, horizon_days: float | None = None,
                 level: float = 0.95):
        if not 0 < level < 1:
            raise ParameterError("level", level, "must be between 0 and 1")
        if horizon_days is not None and horizon_days <= 0:
            raise ParameterError("horizon_days", horizon_days, "must be positive")
        self.covariates = tuple(covariates)
        self.covariates_on_slope = covariates_on_slope
        self.subgroups = subgroups
        self.horizon_days = horizon_days
        self.level = level

    def fit(self, trial: Trial) -> "SlopeAnalysis":
        horizon = self.horizon_days if self.horizon_days is not None else trial.info.horizon_days
        populations = {"overall": None, **resolve_subgroups(trial, self.subgroups)}
        data = SlopeData(trial, self.covariates)
        fits = []
        for label, ids in populations.items():
            if ids is not None and not ids:
                raise AnalysisError(ANALYSIS, f"subgroup '{label}' has no participants")
            fits.append(self.fit_population(data.population(ids), label, horizon))
        self.result_ = SlopeResult(fits=tuple(fits), covariates=self.covariates, level=self.level)
        return self

    def fit_population(self, population: SlopePopulation, label: str, horizon: float | None) -> SlopeFit:
        """The slope analysis of one population of a trial's `SlopeData` (as of the trial
        `Trial.select` makes of its participants)."""
        control, active = population.arms(f"{ANALYSIS} ({label})")
        visits = population.visits(horizon)
        months = visits.months
        columns = {"months": months}
        for arm in active:
            indicator = (visits.arm == arm).astype(float)
            columns[f"arm[{arm}]"] = indicator
            columns[f"months:arm[{arm}]"] = months * indicator
        lmm = _fit(population.data, visits, columns, self.covariates, self.covariates_on_slope)
        counts = _counts_by_arm(visits, [control, *active])
        arm_rows = {control: {**wald(float(lmm.params["months"]), float(lmm.bse["months"]), self.level),
                              **counts[control]}}
        comparisons = {}
        for arm in active:
            slope = lmm.linear_combination({"months": 1.0, f"months:arm[{arm}]": 1.0}, self.level)
            arm_rows[arm] = {**slope, **counts[arm]}
            difference = lmm.linear_combination({f"months:arm[{arm}]": 1.0}, self.level)
            comparisons[(arm, "slope_difference_per_month")] = difference
            comparisons[(arm, "slope_ratio")] = _slope_ratio(lmm, arm, self.level)
        arms = _table(arm_rows, pd.Index(list(arm_rows), name="arm"))
        comp = _table(comparisons, pd.MultiIndex.from_tuples(list(comparisons), names=["arm", "quantity"]))
        return SlopeFit(population=label, control_arm=control, arms=arms, comparisons=comp, lmm=lmm,
                        excluded_visits=visits.excluded)


def _table(rows: dict, index: pd.Index) -> pd.DataFrame:
    """Rows with the same keys as a table, column by column (the counts stay integers): what
    `pd.DataFrame(list(rows.values()))` gives, at a tenth of its cost on a few rows."""
    columns = list(next(iter(rows.values())))
    return pd.DataFrame({c: [row[c] for row in rows.values()] for c in columns}, index=index)


def _fit(data: SlopeData, visits: SlopeVisits, columns: dict[str, np.ndarray], covariates: Sequence[str],
         on_slope: bool) -> MixedModelFit:
    """The random-slope model of `total` on `columns` (and the coded covariates) over these visits."""
    fixed = list(columns)
    if covariates:  # coded on the visit table, as the covariates have always been
        frame = visits.frame(data)
        for name, values in columns.items():
            frame[name] = values
        frame, covariate_terms = _covariate_terms(frame, covariates, on_slope)
        fixed += covariate_terms
        X = frame[fixed].to_numpy(dtype=float)
    else:
        # column-major, as `DataFrame.to_numpy` lays a table out: the products X'X, X'y then add in
        # the same order as on the table, so the fit is the same to the last bit
        X = np.empty((len(visits.day), len(columns)), order="F")
        for j, values in enumerate(columns.values()):
            X[:, j] = values
    return fit_lmm_arrays(visits.total.astype(float), X, fixed, visits.group, 0,
                          names_used=["total", "subject_id", *fixed], group_name="subject_id")


def _counts_by_arm(visits: SlopeVisits, arms: Sequence[str]) -> dict[str, dict[str, int]]:
    """Participants and visits per arm (an arm without visits is not in the model: a KeyError, as before)."""
    out = {}
    for arm in arms:
        rows = visits.arm == arm
        if not rows.any():
            raise KeyError(arm)
        out[arm] = {"n_participants": len(pd.unique(visits.subject_id[rows])), "n_visits": int(rows.sum())}
    return out


def _slope_ratio(lmm: MixedModelFit, arm: str, level: float) -> dict[str, float]:
    """(slope_placebo − slope_arm)/slope_placebo = −δ/β1 with its delta-method SE."""
    names = ["months", f"months:arm[{arm}]"]
    beta1, delta = (float(lmm.params[n]) for n in names)
    if beta1 == 0:
        raise AnalysisError(ANALYSIS, "the placebo slope is exactly zero: the slope ratio is undefined")
    gradient = np.array([delta / beta1 ** 2, -1.0 / beta1])
    at = lmm.params.index.get_indexer(names)
    cov = lmm.cov_params.to_numpy()[np.ix_(at, at)]
    se = float(np.sqrt(gradient @ cov @ gradient))
    return wald(-delta / beta1, se, level)


def _covariate_terms(frame: pd.DataFrame, covariates: Sequence[str],
                     on_slope: bool) -> tuple[pd.DataFrame, list[str]]:
    """Centred covariate columns (dummies for categorical ones) and, optionally, × months."""
    if not covariates:
        return frame, []
    missing = frame[list(covariates)].isna().any(axis=1)
    if missing.any():
        subjects = frame.loc[missing, "subject_id"].unique()
        raise AnalysisError(ANALYSIS, f"{len(subjects)} participants have a missing covariate among "
                                      f"{list(covariates)} (e.g. {list(subjects[:3])}); impute or drop them explicitly")
    frame = frame.copy()
    terms: list[str] = []
    for c in covariates:
        for name, col in covariate_columns(frame[c], c).items():
            # Centring at the participant mean keeps the arm slopes those of an average participant.
            per_subject_mean = col.groupby(frame["subject_id"]).first().mean()
            frame[name] = col - per_subject_mean
            terms.append(name)
            if on_slope:
                frame[f"months:{name}"] = frame["months"] * frame[name]
                terms.append(f"months:{name}")
    return frame, terms


def slope_interaction_test(trial: Trial, groups: Mapping[str, Sequence[str]], horizon_days: float | None = None,
                           covariates: Sequence[str] = (), covariates_on_slope: bool = True,
                           level: float = 0.95) -> dict:
    """Does the treatment effect on the ALSFRS-R slope differ between subgroups?

    One mixed model on the participants of all `groups` (label → subject ids, disjoint):
    the slope model of `SlopeAnalysis` plus, for each non-reference group g, the terms g,
    months·g, A_k·g and months·A_k·g. The months·A_k·g coefficients (the difference of the slope
    difference between group g and the first group) are tested jointly by a Wald χ² with
    (groups − 1) × (active arms) degrees of freedom.

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> trial = example_trial()
        >>> p = trial.participants
        >>> groups = {"low": p.subject_id[p.csf_pnfh <= 2000], "high": p.subject_id[p.csf_pnfh > 2000]}
        >>> out = slope_interaction_test(trial, groups)
        >>> out["df"]
        1
    """
    horizon = horizon_days if horizon_days is not None else trial.info.horizon_days
    return slope_interaction_in(SlopeData(trial, covariates), groups, horizon, covariates, covariates_on_slope, level)


def slope_interaction_in(data: SlopeData, groups: Mapping[str, Sequence[str]], horizon_days: float | None,
                         covariates: Sequence[str] = (), covariates_on_slope: bool = True,
                         level: float = 0.95) -> dict:
    """`slope_interaction_test` on a trial's `SlopeData` (read once for many tests); `horizon_days` as given."""
    labels = list(groups)
    if len(labels) < 2:
        raise ParameterError("groups", labels, "needs at least two subgroups")
    member: dict[str, str] = {}
    for label in labels:
        for subject in groups[label]:
            if subject in member:
                raise ParameterError("groups", label, f"subgroups must be disjoint; '{subject}' is in "
                                                      f"'{member[subject]}' and '{label}'")
            member[str(subject)] = label
    return _interaction(data, labels, member, horizon_days, covariates, covariates_on_slope, level)


def _interaction(data: SlopeData, labels: list[str], member: dict[str, str], horizon_days: float | None,
                 covariates: Sequence[str], covariates_on_slope: bool, level: float) -> dict:
    population = data.population(list(member))
    control, active = population.arms(f"{ANALYSIS} interaction")
    visits = population.visits(horizon_days)
    group = np.array([member.get(s) for s in visits.subject_id], dtype=object)
    months = visits.months
    columns = {"months": months}
    tested = []
    for arm in active:
        indicator = (visits.arm == arm).astype(float)
        columns[f"arm[{arm}]"] = indicator
        columns[f"months:arm[{arm}]"] = months * indicator
    for label in labels[1:]:
        g = (group == label).astype(float)
        columns[f"group[{label}]"] = g
        columns[f"months:group[{label}]"] = months * g
        for arm in active:
            columns[f"arm[{arm}]:group[{label}]"] = columns[f"arm[{arm}]"] * g
            columns[f"months:arm[{arm}]:group[{label}]"] = columns[f"months:arm[{arm}]"] * g
            tested.append(f"months:arm[{arm}]:group[{label}]")
    lmm = _fit(data, visits, columns, covariates, covariates_on_slope)
    b = lmm.params[tested].to_numpy()
    V = lmm.cov_params.loc[tested, tested].to_numpy()
    chi2 = float(b @ np.linalg.solve(V, b))
    terms = {t: lmm.linear_combination({t: 1.0}, level) for t in tested}
    return json_safe({"reference_group": labels[0], "groups": labels, "terms": terms, "chi2": chi2,
                      "df": len(tested), "p": float(chi2_sf(chi2, len(tested))),
                      "n_participants": lmm.n_groups, "problems": list(lmm.problems),
                      "warnings": list(lmm.warnings)})
