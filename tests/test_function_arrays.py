"""The slope analysis's array route (`analysis.slope_data`) equals the obvious table route, to the bit.

The reference below is the route `SlopeAnalysis` and `slope_interaction_test` took before the
array route (mndtrial 7f3cdf8): select the population's `Trial`, build its visit table with
`slope_frame`, add the design columns to the table and fit it with `fit_random_slope_lmm`. The
fast route must give the same `to_dict()` exactly (same rows, same order, same arithmetic), and
the same errors with the same reasons, population by population.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mndtrial.analysis._common import control_and_active, json_safe
from mndtrial.analysis.distributions import chi2_sf
from mndtrial.analysis.function import (ANALYSIS, SlopeAnalysis, SlopeFit, _counts_by_arm, _covariate_terms,
                                        _slope_ratio, slope_frame, slope_interaction_in, slope_interaction_test)
from mndtrial.analysis.lmm import fit_random_slope_lmm, wald
from mndtrial.analysis.slope_data import SlopeData, SlopeVisits
from mndtrial.data import Trial
from mndtrial.errors import AnalysisError, ParameterError


def _reference_fit(trial: Trial, label: str, horizon, covariates=(), on_slope=True, level=0.95) -> SlopeFit:
    """`SlopeAnalysis._fit_population` of 7f3cdf8: the selected trial's table, fitted as a table."""
    control, active = control_and_active(trial, f"{ANALYSIS} ({label})")
    frame, excluded = slope_frame(trial, horizon, covariates)
    fixed = ["months"]
    for arm in active:
        frame[f"arm[{arm}]"] = (frame["arm"] == arm).astype(float)
        frame[f"months:arm[{arm}]"] = frame["months"] * frame[f"arm[{arm}]"]
        fixed += [f"arm[{arm}]", f"months:arm[{arm}]"]
    frame, covariate_terms = _covariate_terms(frame, covariates, on_slope)
    lmm = fit_random_slope_lmm(frame, "total", "months", "subject_id", fixed=fixed + covariate_terms)
    visits = SlopeVisits(frame["subject_id"].to_numpy(), frame["day"].to_numpy(), frame["total"].to_numpy(),
                         frame["arm"].to_numpy(), np.zeros(len(frame), int), excluded, np.zeros(len(frame), int))
    counts = _counts_by_arm(visits, [control, *active])
    arm_rows = {control: {**wald(float(lmm.params["months"]), float(lmm.bse["months"]), level), **counts[control]}}
    comparisons = {}
    for arm in active:
        arm_rows[arm] = {**lmm.linear_combination({"months": 1.0, f"months:arm[{arm}]": 1.0}, level), **counts[arm]}
        comparisons[(arm, "slope_difference_per_month")] = lmm.linear_combination({f"months:arm[{arm}]": 1.0}, level)
        comparisons[(arm, "slope_ratio")] = _slope_ratio(lmm, arm, level)
    arms = pd.DataFrame(list(arm_rows.values()), index=pd.Index(list(arm_rows), name="arm"))
    arms = arms.astype({"n_participants": int, "n_visits": int})
    comp = pd.DataFrame(list(comparisons.values()),
                        index=pd.MultiIndex.from_tuples(list(comparisons), names=["arm", "quantity"]))
    return SlopeFit(population=label, control_arm=control, arms=arms, comparisons=comp, lmm=lmm,
                    excluded_visits=excluded)


def _reference_interaction(trial: Trial, groups: dict, horizon, covariates=(), on_slope=True, level=0.95) -> dict:
    """`slope_interaction_test` of 7f3cdf8 (after its checks of the groups)."""
    labels = list(groups)
    member = {str(s): label for label in labels for s in groups[label]}
    sub = trial.select(list(member), name=f"{trial.info.name} [interaction]")
    control, active = control_and_active(sub, f"{ANALYSIS} interaction")
    frame, _ = slope_frame(sub, horizon, covariates)
    group = frame["subject_id"].map(member)
    fixed, tested = ["months"], []
    for arm in active:
        frame[f"arm[{arm}]"] = (frame["arm"] == arm).astype(float)
        frame[f"months:arm[{arm}]"] = frame["months"] * frame[f"arm[{arm}]"]
        fixed += [f"arm[{arm}]", f"months:arm[{arm}]"]
    for label in labels[1:]:
        g = (group == label).astype(float)
        frame[f"group[{label}]"] = g
        frame[f"months:group[{label}]"] = frame["months"] * g
        fixed += [f"group[{label}]", f"months:group[{label}]"]
        for arm in active:
            frame[f"arm[{arm}]:group[{label}]"] = frame[f"arm[{arm}]"] * g
            frame[f"months:arm[{arm}]:group[{label}]"] = frame[f"months:arm[{arm}]"] * g
            fixed += [f"arm[{arm}]:group[{label}]", f"months:arm[{arm}]:group[{label}]"]
            tested.append(f"months:arm[{arm}]:group[{label}]")
    frame, covariate_terms = _covariate_terms(frame, covariates, on_slope)
    lmm = fit_random_slope_lmm(frame, "total", "months", "subject_id", fixed=fixed + covariate_terms)
    b = lmm.params[tested].to_numpy()
    V = lmm.cov_params.loc[tested, tested].to_numpy()
    chi2 = float(b @ np.linalg.solve(V, b))
    terms = {t: lmm.linear_combination({t: 1.0}, level) for t in tested}
    return json_safe({"reference_group": labels[0], "groups": labels, "terms": terms, "chi2": chi2,
                      "df": len(tested), "p": float(chi2_sf(chi2, len(tested))), "n_participants": lmm.n_groups,
                      "problems": list(lmm.problems), "warnings": list(lmm.warnings)})


def _outcome(compute):
    """The fit's JSON and its tables (dtypes and all), or the error's type and reason."""
    try:
        fit = compute()
    except (AnalysisError, ParameterError, KeyError) as exc:
        return (type(exc).__name__, getattr(exc, "reason", None) or str(exc))
    return fit.to_dict(), fit.arms.to_dict("tight"), fit.arms.dtypes.tolist(), fit.comparisons.to_dict("tight"), \
        fit.comparisons.dtypes.tolist()


def _populations(trial: Trial) -> dict[str, list[str]]:
    p = trial.participants
    out = {f"onset_site={v}": p.loc[p["onset_site"] == v, "subject_id"].tolist() for v in p["onset_site"].unique()}
    out["low pNfH"] = p.loc[p["csf_pnfh"] <= p["csf_pnfh"].median(), "subject_id"].tolist()
    out["placebo only"] = p.loc[p["arm"] == "placebo", "subject_id"].tolist()  # an error: one arm
    out["nobody"] = []  # an error: no participants
    out["shuffled"] = p["subject_id"].sample(frac=0.5, random_state=1).tolist()  # the tables' order must win
    return out


@pytest.mark.parametrize("covariates, horizon", [((), None), ((), 200.0), (("age", "onset_site"), 300.0)])
def test_every_population_fits_as_the_table_route(example_trial, covariates, horizon):
    data = SlopeData(example_trial, covariates)
    analysis = SlopeAnalysis(covariates=covariates, horizon_days=horizon)
    fast = _outcome(lambda: analysis.fit(example_trial).result_.overall)
    assert fast == _outcome(lambda: _reference_fit(example_trial, "overall", horizon, covariates))
    for label, ids in _populations(example_trial).items():
        fast = _outcome(lambda: analysis.fit_population(data.population(ids), label, horizon))
        ref = _outcome(lambda: _reference_fit(example_trial.select(ids), label, horizon, covariates))
        assert fast == ref, label


def test_errors_of_degenerate_populations_are_the_table_routes(example_trial):
    p = example_trial.participants
    alsfrs = example_trial.alsfrs
    # participants without any visit after baseline, and a trial without an alsfrs table
    baseline_only = Trial(p, example_trial.survival, alsfrs.loc[alsfrs["day"] <= 0], info=example_trial.info)
    no_alsfrs = Trial(p, example_trial.survival, None, info=example_trial.info)
    for trial in (baseline_only, no_alsfrs):
        data = SlopeData(trial, ("age",))
        ids = p["subject_id"].tolist()[:20]
        fast = _outcome(lambda: SlopeAnalysis(covariates=("age",)).fit_population(data.population(ids), "x", None))
        assert fast == _outcome(lambda: _reference_fit(trial.select(ids), "x", None, ("age",)))
        assert isinstance(fast, tuple)
    missing = _outcome(lambda: SlopeAnalysis(covariates=("no_such",)).fit(example_trial))
    assert missing == _outcome(lambda: _reference_fit(example_trial, "overall", None, ("no_such",)))


@pytest.mark.parametrize("covariates", [(), ("age",)])
def test_interaction_tests_equal_the_table_route(example_trial, covariates):
    p = example_trial.participants
    low = p["csf_pnfh"] <= p["csf_pnfh"].median()
    two = {"high": p.loc[~low, "subject_id"].tolist(), "low": p.loc[low, "subject_id"].tolist()}
    sites = {f"site={v}": p.loc[p["onset_site"] == v, "subject_id"].tolist() for v in p["onset_site"].unique()}
    data = SlopeData(example_trial, covariates)
    for groups in (two, sites):
        ref = _reference_interaction(example_trial, groups, 400.0, covariates)
        assert slope_interaction_in(data, groups, 400.0, covariates) == ref
        assert slope_interaction_test(example_trial, groups, 400.0, covariates) == ref
