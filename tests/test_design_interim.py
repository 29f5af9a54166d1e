"""Interim analysis: conditional power and repeated CIs against rpact; observed-information bounds,
futility rules and the integration engine against closed forms."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from mndtrial.design import crossing_probabilities, group_sequential_design
from mndtrial.design.interim import (conditional_power, drift_for_hazard_ratio, futility_bounds_from_conditional_power,
                                     futility_bounds_from_hazard_ratio, observed_bounds,
                                     repeated_confidence_interval)
from mndtrial.errors import ParameterError

CASES = json.loads((Path(__file__).parent / "reference" / "rpact" / "interim.json").read_text())["cases"]
MAX_EVENTS = 200  # the script's planned maximum


# ref: rpact getConditionalPower / getRepeatedConfidenceIntervals / getStageResults
# (tests/reference/rpact/make_interim_reference.R).
@pytest.mark.parametrize("case", CASES, ids=[f"{c['design_call']['typeOfDesign']}_K{c['design_call']['kMax']}_look{c['stage']}"
                                             for c in CASES])
def test_conditional_power_and_rci_equal_rpact(case):
    dc = case["design_call"]
    d = group_sequential_design(k_max=dc["kMax"], type_of_design=dc["typeOfDesign"], gamma_a=dc.get("gammaA"),
                                information_rates=dc["informationRates"])
    k = case["stage"]
    events = np.atleast_1d(case["events"])[-1]
    z = -np.atleast_1d(case["logranks"])[-1]  # rpact's log-rank is negative for benefit
    hr = float(np.exp(-2 * z / np.sqrt(events)))
    assert hr == pytest.approx(case["effect_size"], abs=1e-9)
    cp_h1 = conditional_power(d, k, z, drift_for_hazard_ratio(case["theta_h1"], MAX_EVENTS))
    assert cp_h1 == pytest.approx(case["conditional_power_h1"], abs=1e-6)
    assert conditional_power(d, k, z, "observed") == pytest.approx(case["conditional_power_observed"], abs=1e-6)
    lo, hi = repeated_confidence_interval(d, k, hr, events)
    assert lo == pytest.approx(case["rci_lower"], abs=1e-6)
    assert hi == pytest.approx(case["rci_upper"], abs=1e-6)


# ref: J&T (2000) §19.2 against the bivariate normal CDF (scipy) for two looks.
def test_two_look_crossing_probabilities_equal_bivariate_normal():
    t = np.array([0.4, 1.0])
    rho = np.sqrt(t[0] / t[1])
    mvn = stats.multivariate_normal([0, 0], [[1, rho], [rho, 1]])
    for drift in (0.0, 2.5):
        b, a = np.array([2.6, 2.0]), np.array([0.2, -np.inf])
        up, low = crossing_probabilities(b, a, t, drift)
        m = drift * np.sqrt(t)
        p_cont_then_up = (stats.norm.cdf(b[0] - m[0]) - stats.norm.cdf(a[0] - m[0])
                          - (mvn.cdf(b - m) - mvn.cdf([a[0] - m[0], b[1] - m[1]])))
        assert up[0] == pytest.approx(stats.norm.sf(b[0] - m[0]), abs=1e-12)
        assert low[0] == pytest.approx(stats.norm.cdf(a[0] - m[0]), abs=1e-12)
        assert up[1] == pytest.approx(p_cont_then_up, abs=1e-7)


# ref: J&T (2000) §10.2 closed form for the last interim: 1 - Phi((b_K - z sqrt(t_k) - drift (1 - t_k)) / sqrt(1 - t_k)).
def test_conditional_power_closed_form_one_look_left():
    d = group_sequential_design(k_max=3, type_of_design="asP")
    t2, b3 = d.information_rates[1], d.critical_values[2]
    for z in (0.5, 1.5, 2.2):
        want = stats.norm.sf((b3 - z * np.sqrt(t2) - d.drift * (1 - t2)) / np.sqrt(1 - t2))
        assert conditional_power(d, 2, z) == pytest.approx(want, abs=1e-12)
    with pytest.raises(ParameterError, match="look"):
        conditional_power(d, 3, 1.0)


def test_futility_rules():
    # ref: Schoenfeld Z of a hazard ratio; the conditional-power rule inverts conditional_power.
    z = futility_bounds_from_hazard_ratio(0.9, [100, 200])
    np.testing.assert_allclose(z, -np.log(0.9) * np.sqrt([100, 200]) / 2, rtol=1e-12)
    d = group_sequential_design(k_max=3)
    fb = futility_bounds_from_conditional_power(d, 0.1)
    for k, bound in enumerate(fb, start=1):
        assert conditional_power(d, k, bound) == pytest.approx(0.1, abs=1e-8)
    with_fut = group_sequential_design(k_max=3, futility_bounds=fb.tolist())
    assert with_fut.provenance["futility_bounds"] == "user"
    np.testing.assert_allclose(with_fut.critical_values, d.critical_values)  # non-binding: same efficacy


def test_observed_bounds_over_and_under_running():
    d = group_sequential_design(k_max=3, type_of_design="asOF")
    # as planned: the design's bounds
    planned = observed_bounds(d, [100, 200, 300], 300, final=True)
    np.testing.assert_allclose(planned.critical_values, d.critical_values, atol=1e-9)
    # under-running (final at 280 events) and over-running (final at 330): all alpha spent at the end,
    # equal to an asUser design spending alpha(d_k / d_max) at fractions d_k / d_final (ref: J&T §7.2)
    for events in ([90, 210, 280], [110, 230, 330]):
        ob = observed_bounds(d, events, 300, final=True)
        t = np.array(events) / events[-1]
        user = group_sequential_design(information_rates=t.tolist(), type_of_design="asUser",
                                       user_alpha_spending=ob.alpha_spent.tolist())
        np.testing.assert_allclose(ob.critical_values, user.critical_values, atol=1e-9)
        up, _ = crossing_probabilities(ob.critical_values, np.full(3, -np.inf), t)
        assert up.sum() == pytest.approx(0.025, abs=1e-9)
    with pytest.raises(ParameterError, match="observed_events"):
        observed_bounds(d, [100, 90], 300)


# ref: simulation with known truth -- Brownian motion with drift observed at the looks.
def test_crossing_probabilities_against_simulated_paths():
    rng = np.random.default_rng(7)
    t = np.array([0.2, 0.45, 0.7, 1.0])
    upper, lower, drift = np.array([3.2, 2.6, 2.3, 2.0]), np.array([-0.5, 0.3, 0.9, -np.inf]), 2.2
    n = 200_000
    score = np.cumsum(rng.normal(drift * np.diff(t, prepend=0), np.sqrt(np.diff(t, prepend=0)), size=(n, 4)), axis=1)
    z = score / np.sqrt(t)
    alive = np.ones(n, bool)
    sim_up, sim_low = np.zeros(4), np.zeros(4)
    for k in range(4):
        up_k, low_k = alive & (z[:, k] >= upper[k]), alive & (z[:, k] <= lower[k])
        sim_up[k], sim_low[k] = up_k.mean(), low_k.mean()
        alive &= ~(up_k | low_k)
    up, low = crossing_probabilities(upper, lower, t, drift)
    se = np.sqrt(np.maximum(up * (1 - up), 1e-6) / n)
    assert np.all(np.abs(up - sim_up) < 4.5 * se)
    assert np.all(np.abs(low - sim_low) < 4.5 * np.sqrt(np.maximum(low * (1 - low), 1e-6) / n))
    # a futility bound above the efficacy bound: everyone stops at that look
    up, low = crossing_probabilities([2.0, 2.0], [2.5, -np.inf], [0.5, 1.0])
    assert up[0] + low[0] == pytest.approx(1.0, abs=1e-15) and up[1] == low[1] == 0
