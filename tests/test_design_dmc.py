"""The DMC analysis at a look: stage-wise ordering p-value, median-unbiased estimate, final CI,
conditional power, repeated CIs, beta-spending futility at the observed information and the
enrichment closed test against rpact 3.3.4; the stage-wise ordering also against a slow direct
computation with the multivariate normal CDF."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import brentq

from mndtrial.design import group_sequential_design
from mndtrial.design.dmc import analyse_looks, stage_statistics
from mndtrial.design.dmc_enrichment import analyse_enrichment
from mndtrial.design.interim import observed_bounds
from mndtrial.design.spec import design_from_dict
from mndtrial.design.stagewise import ordering_tail, stagewise_ordering
from mndtrial.errors import ParameterError



def _nulls(value):
    """R's NULL list entries arrive as {} from jsonlite: make them None."""
    if isinstance(value, dict):
        return None if not value else {k: _nulls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nulls(v) for v in value]
    return value


REF = _nulls(json.loads((Path(__file__).parent / "reference" / "rpact" / "dmc_analysis.json").read_text()))
_KEYS = {"kMax": "k_max", "typeOfDesign": "type_of_design", "gammaA": "gamma_a", "informationRates": "information_rates",
         "typeBetaSpending": "type_beta_spending", "gammaB": "gamma_b", "bindingFutility": "binding_futility",
         "beta": "beta"}


def _design_args(call: dict) -> dict:
    return {_KEYS[k]: v for k, v in call.items()}


def _spec(case: dict, max_events: float):
    test = "inverse_normal" if case["kind"] == "inverseNormal" else "group_sequential"
    return design_from_dict({"design": _design_args(case["design_call"]), "events": {"max_events": max_events},
                             "analysis": {"test": test, "hazard_ratio": 0.7}})


def _gs_id(c: dict) -> str:
    dc = c["design_call"]
    return f"{c['kind']}-{dc['typeOfDesign']}-{dc.get('typeBetaSpending', 'none')}-{c['scenario']}"


# ref: rpact getStageResults / getFinalPValue / getFinalConfidenceInterval(tolerance = 1e-12) /
# getConditionalPower / getRepeatedConfidenceIntervals (tests/reference/rpact/make_dmc_reference.R).
_GS = [pytest.param(c, marks=pytest.mark.slow) if c["scenario"] == "final_4looks" else c for c in REF["group_sequential"]]


@pytest.mark.parametrize("case", _GS, ids=_gs_id)
def test_dmc_analysis_equals_rpact(case):
    events = np.atleast_1d(np.asarray(case["events"], dtype=float))
    z = -np.atleast_1d(np.asarray(case["logranks"], dtype=float))  # rpact's log-rank < 0 is benefit
    final = case["scenario"].startswith("final")
    max_events = events[-1] if final else 300.0
    res = analyse_looks(_spec(case, max_events), events, z, final=final)
    k = events.size
    crit = np.atleast_1d(case["critical_values"])
    # the bounds at the observed events are those of rpact's design at the observed information rates
    assert res.summary["z_efficacy"].to_numpy() == pytest.approx(crit[:k], abs=1e-6)
    fut_ref = np.atleast_1d(case["futility_bounds"] if case["futility_bounds"] is not None else [])
    fut_ref = np.where(np.asarray(fut_ref, dtype=float) <= -6, np.nan, fut_ref)
    n_int = min(k, crit.size - 1) - (1 if final else 0)
    if fut_ref.size and n_int > 0 and case["kind"] == "groupSequential":
        np.testing.assert_allclose(res.summary["z_futility"].to_numpy()[:n_int], fut_ref[:n_int], atol=1e-6)
    fin = res.final_inference
    if case["final_p_value"] is None:
        assert fin is None
    else:
        assert fin["final_stage"] == case["final_stage"]
        assert fin["p_value"] == pytest.approx(case["final_p_value"], abs=1e-6)
        assert fin["hazard_ratio_median_unbiased"] == pytest.approx(case["median_unbiased"], abs=1e-6)
        lo, hi = fin["hazard_ratio_confidence_interval"]
        assert lo == pytest.approx(case["final_ci_lower"], abs=1e-6)
        assert hi == pytest.approx(case["final_ci_upper"], abs=1e-6)
        if case.get("final_p_value_analysis") is not None:  # getAnalysisResults says the same
            assert fin["p_value"] == pytest.approx(case["final_p_value_analysis"], abs=1e-6)
            assert fin["hazard_ratio_median_unbiased"] == pytest.approx(case["median_unbiased_analysis"], abs=1e-6)
            assert res.summary["rci_lower"].to_numpy() == pytest.approx(np.atleast_1d(case["rci_lower_analysis"]), abs=1e-6)
            assert res.summary["rci_upper"].to_numpy() == pytest.approx(np.atleast_1d(case["rci_upper_analysis"]), abs=1e-6)
        if case["kind"] == "inverseNormal":
            assert fin["combination_p_value"] == pytest.approx(stats.norm.sf(res.summary["combined_z"].iloc[-1]))
    if case.get("rci_lower") is not None:
        assert res.summary["rci_lower"].to_numpy() == pytest.approx(np.atleast_1d(case["rci_lower"]), abs=1e-6)
        assert res.summary["rci_upper"].to_numpy() == pytest.approx(np.atleast_1d(case["rci_upper"]), abs=1e-6)
    if case.get("conditional_power_h1") is not None and res.conditional_power is not None:
        cp = res.conditional_power
        assert cp["remaining_events"] == pytest.approx(np.atleast_1d(case["n_planned"]))
        assert cp["design"]["value"] == pytest.approx(case["conditional_power_h1"], abs=1e-6)
        assert cp["observed"]["value"] == pytest.approx(case["conditional_power_observed"], abs=1e-6)


# ref: rpact getDesignGroupSequential(informationRates = observed / maximum events, planned after).
@pytest.mark.parametrize("case", REF["futility"], ids=lambda c: f"{c['design_call']['typeBetaSpending']}-"
                                                                 f"{'binding' if c['design_call']['bindingFutility'] else 'nonbinding'}-"
                                                                 f"{np.size(c['observed_events'])}looks")
def test_beta_spending_futility_at_observed_information_equals_rpact(case):
    call = {**_design_args(case["design_call"]), "information_rates": case["planned_rates"]}
    call.pop("k_max")
    planned = group_sequential_design(**call)
    obs = np.atleast_1d(case["observed_events"])
    ob = observed_bounds(planned, obs, case["max_events"])
    k = obs.size
    assert ob.futility_bounds == pytest.approx(np.atleast_1d(case["futility_bounds"])[:k], abs=1e-6)
    assert ob.critical_values == pytest.approx(np.atleast_1d(case["critical_values"])[:k], abs=1e-6)


def _cumulative(stage_events, stage_z):
    d = np.asarray(stage_events, dtype=float)
    z = np.asarray(stage_z, dtype=float)
    have = np.isfinite(d)
    cd = np.where(have, np.cumsum(np.where(have, d, 0)), np.nan)
    cz = np.where(have, np.cumsum(np.where(have, np.sqrt(d) * z, 0)) / np.sqrt(cd), np.nan)
    return cd, cz


def _rows(matrix, k):
    return np.asarray([[np.nan if v is None else v for v in row] for row in matrix], dtype=float).reshape(-1, k)


_TESTS = {"Simes": "simes", "Bonferroni": "bonferroni", "Sidak": "sidak", "SpiessensDebois": "spiessens_debois"}


# ref: rpact getStageResults + getClosedCombinationTestResults on getDataset(S1 = ..., F = ...),
# stratifiedAnalysis = TRUE (make_dmc_reference.R); hypothesis rows by rpact's indices (S1, F).
@pytest.mark.parametrize("case", REF["enrichment"], ids=lambda c: f"{c['intersection_test']}-{c['scenario']}")
def test_enrichment_closed_test_equals_rpact(case):
    k = np.atleast_1d(case["events_s"]).size
    ds, zs = _cumulative(np.atleast_1d(case["events_s"]), -np.atleast_1d(case["logranks_s"]).astype(float))
    f_ev = np.array([np.nan if v is None else v for v in np.atleast_1d(case["events_f"])], dtype=float)
    f_lr = np.array([np.nan if v is None else v for v in np.atleast_1d(case["logranks_f"])], dtype=float)
    df, zf = _cumulative(f_ev, -f_lr)
    design = group_sequential_design(k_max=2, information_rates=[0.5, 1.0])
    r = analyse_enrichment(design, ds, zs, df, zf, method=_TESTS[case["intersection_test"]])
    pops = r.populations.set_index(["population", "look"])
    sep = _rows(case["separate_p"], k)
    np.testing.assert_allclose([pops.loc[("S", j + 1), "stage_p"] for j in range(k)], sep[0], atol=1e-9)
    np.testing.assert_allclose([pops.loc[("F", j + 1), "stage_p"] for j in range(k)], sep[1], atol=1e-9)
    hyp = r.summary.set_index(["hypothesis", "look"])
    order = {"11": "S∩F", "10": "S", "01": "F"}  # rows of rpact's indices matrix (S1, F)
    adj, comb = _rows(case["adjusted_stage_p"], k), _rows(case["overall_adjusted_z"], k)
    for row, name in enumerate(case["hypotheses"]):
        h = order[name]
        np.testing.assert_allclose([hyp.loc[(h, j + 1), "stage_p"] for j in range(k)], adj[row], atol=1e-9)
        np.testing.assert_allclose([hyp.loc[(h, j + 1), "combined_z"] for j in range(k)], comb[row], atol=1e-9)
    rej = _rows(case["rejected"], k).astype(bool)
    for row, h in enumerate(("S", "F")):
        assert [bool(hyp.loc[(h, j + 1), "rejected_closed_test"]) for j in range(k)] == rej[row].tolist()


# Double programming: the stage-wise ordering probability straight from the multivariate normal
# CDF of (Z_1, ..., Z_k) (scipy), for two and three looks, p-value and median-unbiased drift.
def _direct_tail(theta, z, b, d):
    k = len(d)
    a = np.sqrt(np.asarray(d, dtype=float))
    cov = np.sqrt(np.minimum.outer(d, d) / np.maximum.outer(d, d))
    mean = theta * a
    total = 0.0
    for j in range(k):  # P(Z_1 < b_1, ..., Z_{j-1} < b_{j-1}, Z_j >= c_j), c_j = b_j or z at the last look
        c = b[j] if j < k - 1 else z
        if j == 0:
            total += stats.norm.sf(c - mean[0])
            continue
        sub = cov[: j + 1, : j + 1]
        upper = np.concatenate([b[:j], [c]]) - mean[: j + 1]
        below = stats.multivariate_normal(np.zeros(j), sub[:j, :j]).cdf(upper[:j]) if j > 1 else stats.norm.cdf(upper[0])
        both = stats.multivariate_normal(np.zeros(j + 1), sub, abseps=1e-8, releps=1e-8).cdf(upper)
        total += below - both
    return total


_DIRECT = [(2.3, [2.963, 1.969], [100.0, 200.0]), (3.0, [3.71, 2.511, 1.993], [90.0, 185.0]),
           pytest.param(2.1, [3.71, 2.511, 1.993], [90.0, 185.0, 280.0], marks=pytest.mark.slow)]


@pytest.mark.parametrize("z, b, d", _DIRECT)
def test_stagewise_ordering_equals_direct_multivariate_normal(z, b, d):
    b = np.asarray(b)
    k = len(d)
    t = np.asarray(d) / d[-1]
    for theta in (0.0, 0.1):
        assert ordering_tail(theta, z, b, t, np.sqrt(d)) == pytest.approx(_direct_tail(theta, z, b, d), abs=1e-6)
    res = stagewise_ordering(np.r_[np.full(k - 1, 0.5), z], b, t, np.sqrt(d), alpha=0.025, final=True)
    mue = brentq(lambda th: _direct_tail(th, z, b, d) - 0.5, -1, 1, xtol=1e-9)
    assert res.p_value == pytest.approx(_direct_tail(0.0, z, b, d), abs=1e-6)
    assert res.median_unbiased == pytest.approx(mue, abs=1e-5)


def test_stage_one_stop_is_the_fixed_sample_inference():
    # ref: closed form -- stopping at look 1 the ordering is the one-look normal tail.
    res = stagewise_ordering([3.5], [3.2, 2.0], [0.5, 1.0], [10.0], alpha=0.025)
    assert res.final_stage == 1
    assert res.p_value == pytest.approx(stats.norm.sf(3.5), rel=1e-9)
    assert res.median_unbiased == pytest.approx(0.35, abs=1e-9)
    assert res.confidence_interval == pytest.approx(((3.5 - 1.959964) / 10, (3.5 + 1.959964) / 10), abs=1e-6)


def test_stage_statistics_are_independent_increments():
    # ref: closed form -- the cumulative Z is the events-weighted combination of the stage Z's.
    d, z = np.array([80.0, 170.0, 260.0]), np.array([1.1, 1.9, 2.4])
    sd, sz = stage_statistics(d, z)
    assert np.cumsum(np.sqrt(sd) * sz) / np.sqrt(d) == pytest.approx(z)
    with pytest.raises(ParameterError, match="increase"):
        stage_statistics([80, 60], [1.0, 1.0])


def test_analysis_refuses_a_design_without_events_and_too_many_looks():
    spec = design_from_dict({"design": {"k_max": 2}})
    with pytest.raises(ParameterError, match="maximum events"):
        analyse_looks(spec, [50], [1.0])
    spec = design_from_dict({"design": {"k_max": 2}, "events": {"max_events": 100}})
    with pytest.raises(ParameterError, match="2 looks"):
        analyse_looks(spec, [30, 60, 90], [1.0, 1.5, 2.0])


def test_enrichment_example_toml_declares_the_closed_test():
    from mndtrial.design.spec import load_design

    spec = load_design(Path(__file__).parents[1] / "docs" / "examples" / "design-enrichment.toml")
    assert spec.test == "inverse_normal" and spec.strata == ("onset_site",)
    assert spec.enrichment.intersection_test == "simes" and spec.enrichment.cutoffs == (3700.0,)
    with pytest.raises(ParameterError, match="inverse-normal"):
        design_from_dict({"design": {"k_max": 2}, "analysis": {"test": "group_sequential"},
                          "enrichment": {"biomarker": "csf_pnfh", "cutoffs": [3700], "group": "<= 3700"}})
