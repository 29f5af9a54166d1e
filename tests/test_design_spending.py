"""Spending functions (closed forms), design inputs, provenance and the reproducing call."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mndtrial.design import group_sequential_design, hazard_ratio_at_bound  # noqa: F401 (eval below)
from mndtrial.design.spending import spending_values
from mndtrial.errors import ParameterError

T = np.array([0.0, 0.2, 0.5, 0.8, 1.0])


# ref: Lan & DeMets (1983); Hwang, Shih & DeCani (1990); Kim & DeMets (1987) -- the formulas as
# printed (rpact's getDesignGroupSequential documentation), evaluated with scipy.
def test_spending_functions_closed_forms():
    a = 0.025
    with np.errstate(divide="ignore"):
        of = np.where(T > 0, 2 * stats.norm.sf(stats.norm.isf(a / 2) / np.sqrt(T)), 0.0)
    np.testing.assert_allclose(spending_values("asOF", T, a), of, atol=1e-15)
    np.testing.assert_allclose(spending_values("asP", T, a), a * np.log(1 + (np.e - 1) * T), atol=1e-15)
    np.testing.assert_allclose(spending_values("asKD", T, a, gamma=2.5), a * T**2.5, atol=1e-15)
    g = -4.0
    np.testing.assert_allclose(spending_values("asHSD", T, a, gamma=g), a * (1 - np.exp(-g * T)) / (1 - np.exp(-g)),
                               atol=1e-15)
    np.testing.assert_allclose(spending_values("bsHSD", T, 0.2, gamma=0), 0.2 * T, atol=1e-15)
    for kind in ("asOF", "asP", "asHSD", "asKD"):
        v = spending_values(kind, T, a, gamma=1.0)
        assert v[0] == 0 and v[-1] == pytest.approx(a, abs=1e-15) and np.all(np.diff(v) > 0)


def test_bad_spending_inputs_refused():
    with pytest.raises(ParameterError, match="gamma"):
        spending_values("asHSD", T, 0.025)
    with pytest.raises(ParameterError, match="user_spending"):
        spending_values("asUser", [0.5, 1.0], 0.025, user_values=[0.02, 0.01])
    with pytest.raises(ParameterError, match="type_of_design"):
        spending_values("asXY", T, 0.025)
    with pytest.raises(ParameterError, match="information_rates"):
        group_sequential_design(information_rates=[0.5, 0.4, 1.0])
    with pytest.raises(ParameterError, match="alpha"):
        group_sequential_design(k_max=2, alpha=0.7)
    with pytest.raises(ParameterError, match="type_beta_spending"):
        group_sequential_design(k_max=2, type_of_design="OF", type_beta_spending="bsOF")
    with pytest.raises(ParameterError, match="futility_bounds"):
        group_sequential_design(k_max=3, futility_bounds=[0.0])


def test_provenance_and_reproducing_call_rebuild_the_design():
    d = group_sequential_design(information_rates=[0.3, 0.7, 1.0], type_of_design="asHSD", gamma_a=-2.0,
                                type_beta_spending="bsP", binding_futility=True, beta=0.1)
    assert d.provenance["gamma_a"] == "user" and d.provenance["alpha"] == "default"
    assert d.provenance["k_max"] == "derived" and d.provenance["futility_bounds"] == "derived"
    again = eval(d.reproducing_call("python"))
    np.testing.assert_allclose(again.critical_values, d.critical_values, rtol=0, atol=0)
    np.testing.assert_allclose(again.futility_bounds, d.futility_bounds, rtol=0, atol=0)
    r_call = d.reproducing_call("r")
    assert r_call.startswith("getDesignGroupSequential(") and 'typeBetaSpending = "bsP"' in r_call
    assert "bindingFutility = TRUE" in r_call and "informationRates = c(0.3, 0.7, 1.0)" in r_call


# ref: Schoenfeld (1981) -- HR at a bound with d events and allocation r: exp(-z (1 + r) / sqrt(r d)).
def test_table_on_the_hazard_ratio_scale():
    d = group_sequential_design(k_max=2, futility_bounds=[0.0])
    table = d.table(max_events=300, allocation_ratio=2.0)
    np.testing.assert_allclose(table["events"], [150, 300])
    np.testing.assert_allclose(table["hr_efficacy"], np.exp(-d.critical_values * 3 / np.sqrt(2 * table["events"])))
    assert table["hr_futility"].iloc[0] == pytest.approx(1.0) and np.isnan(table["hr_futility"].iloc[1])
    stop = table["p_reject_h1"] + table["p_futility_h1"]
    assert d.expected_events(300)["H1"] == pytest.approx(150 * stop[0] + 300 * (1 - stop[0]))


def test_at_information_recomputes_with_the_same_inputs():
    d = group_sequential_design(k_max=3, type_of_design="asHSD", gamma_a=-2.0, type_beta_spending="bsOF")
    moved = d.at_information([0.3, 0.65, 1.0])
    direct = group_sequential_design(information_rates=[0.3, 0.65, 1.0], type_of_design="asHSD", gamma_a=-2.0,
                                     type_beta_spending="bsOF")
    np.testing.assert_allclose(moved.critical_values, direct.critical_values, rtol=0, atol=0)
    np.testing.assert_allclose(moved.futility_bounds, direct.futility_bounds, rtol=0, atol=0)
    user = group_sequential_design(information_rates=[0.5, 1.0], type_of_design="asUser",
                                   user_alpha_spending=[0.005, 0.02])
    assert user.alpha == 0.02 and user.provenance["alpha"] == "derived"
    with pytest.raises(ParameterError, match="user_spending"):  # spends more than alpha
        group_sequential_design(information_rates=[0.5, 1.0], type_of_design="asUser", alpha=0.01,
                                user_alpha_spending=[0.005, 0.02])
