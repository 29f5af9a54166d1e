"""Group-sequential boundaries against rpact (stored references) and closed forms."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from mndtrial.design import group_sequential_design
from mndtrial.design.recursion import crossing_probabilities
from mndtrial.design.spending import spending_values
from mndtrial.errors import ParameterError

REFERENCE = Path(__file__).parent / "reference" / "rpact"
CASES = json.loads((REFERENCE / "gsd_designs.json").read_text())["cases"]
_PY = {"kMax": "k_max", "alpha": "alpha", "beta": "beta", "informationRates": "information_rates",
       "typeOfDesign": "type_of_design", "gammaA": "gamma_a", "userAlphaSpending": "user_alpha_spending",
       "typeBetaSpending": "type_beta_spending", "gammaB": "gamma_b", "futilityBounds": "futility_bounds",
       "bindingFutility": "binding_futility"}
TOL = 1e-6


def _vec(x):
    return np.atleast_1d(np.asarray([np.nan if v is None else v for v in np.atleast_1d(x)], dtype=float))


def _design(call):
    kwargs = {_PY[k]: v for k, v in call.items() if k != "sided"}
    for key in ("information_rates", "user_alpha_spending", "futility_bounds"):
        if key in kwargs:
            kwargs[key] = np.atleast_1d(kwargs[key]).tolist()
    return group_sequential_design(**kwargs)


def _in_default_suite(case_id: str) -> bool:
    # OF / Pocock / HSD spending (and the classical OF, Pocock) at 2-5 looks, equal and unequal
    # fractions, without futility, with beta-spending futility (binding and not) and fixed binding
    # futility run by default; the other cases (asKD, asUser, HSD(1), other futility) run as slow.
    design = case_id.split("_", 2)[2]
    return (design.startswith(("asOF_", "asP_", "asHSD_-4_")) and not design.endswith(("hsd_nonbinding", "fixed_nonbinding"))
            or design in ("OF_none", "P_none", "OF_fixed_binding", "P_fixed_nonbinding"))


PARAMS = [pytest.param(c, id=c["id"], marks=() if _in_default_suite(c["id"]) else pytest.mark.slow) for c in CASES]


# ref: rpact getDesignGroupSequential / getDesignCharacteristics / getPowerAndAverageSampleNumber
# (tests/reference/rpact/make_gsd_reference.R); Jennison & Turnbull (2000) §19.2.
@pytest.mark.parametrize("case", PARAMS)
def test_design_equals_rpact(case):
    d = _design(case["call"])
    np.testing.assert_allclose(d.critical_values, _vec(case["criticalValues"]), atol=TOL, rtol=0)
    np.testing.assert_allclose(d.stage_levels, _vec(case["stageLevels"]), atol=TOL, rtol=0)
    np.testing.assert_allclose(d.alpha_spent, _vec(case["alphaSpent"]), atol=TOL, rtol=0)
    if case["futilityBounds"] is not None and not np.all(np.isnan(_vec(case["futilityBounds"]))):
        want = _vec(case["futilityBounds"])
        got = np.where(np.isfinite(d.futility_bounds), d.futility_bounds, np.nan)
        np.testing.assert_allclose(got, want, atol=TOL, rtol=0)
    if case["betaSpent"] is not None and not np.all(np.isnan(_vec(case["betaSpent"]))):
        np.testing.assert_allclose(d.beta_spent, _vec(case["betaSpent"]), atol=TOL, rtol=0)
    assert d.shift == pytest.approx(case["shift"], abs=1e-5 * max(1.0, case["shift"]))
    assert d.inflation_factor == pytest.approx(case["inflationFactor"], abs=TOL)
    np.testing.assert_allclose(d.power, _vec(case["power"]), atol=TOL, rtol=0)
    np.testing.assert_allclose(d.reject_h1, _vec(case["rejectionProbabilities"]), atol=TOL, rtol=0)
    if d.k_max > 1:
        np.testing.assert_allclose(d.futility_h1[:-1], _vec(case["futilityProbabilities"]), atol=TOL, rtol=0)
        np.testing.assert_allclose(d.futility_h0[:-1], _vec(case["futilityPerStageH0"]), atol=TOL, rtol=0)
    np.testing.assert_allclose(d.reject_h0, _vec(case["rejectPerStageH0"]), atol=TOL, rtol=0)
    asn = d.average_sample_number
    assert asn["H1"] == pytest.approx(case["averageSampleNumber1"], abs=TOL)
    assert asn["H01"] == pytest.approx(case["averageSampleNumber01"], abs=TOL)
    assert asn["H0"] == pytest.approx(case["averageSampleNumber0"], abs=TOL)
