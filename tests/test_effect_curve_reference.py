"""Treatment × natural-spline interaction against R (coxph and lmer on the same ns basis).

References: tests/reference/who_benefits/references.R run on the stored simulated trial.
"""

import json

import numpy as np
import pytest

from mndtrial.analysis.effect_curve import cox_spline_interaction, slope_spline_interaction, sup_t_critical
from mndtrial.data import read_trial


@pytest.fixture(scope="module")
def ref(reference_dir):
    return json.loads((reference_dir / "who_benefits" / "references.json").read_text())


@pytest.fixture(scope="module")
def trial(reference_dir):
    return read_trial(reference_dir / "who_benefits" / "trial")


@pytest.fixture(scope="module")
def cox_fit(trial):
    return cox_spline_interaction(trial, "csf_pnfh", spline_df=3, draws=2000, seed=3)


def test_cox_spline_interaction_equals_r_coxph(cox_fit, ref):
    r = ref["cox"]
    assert cox_fit.n == r["n"] and cox_fit.info["events"] == r["events"]
    np.testing.assert_allclose(cox_fit.spline.knots, r["knots"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(cox_fit.spline.boundary_knots, r["boundary"], rtol=0, atol=1e-12)
    for term, coef in r["coef"].items():
        assert cox_fit.coefficients.loc[term, "coef"] == pytest.approx(coef, abs=1e-6), term
        assert cox_fit.coefficients.loc[term, "se"] == pytest.approx(r["se"][term], abs=1e-6), term
    # the ns() formula route in R (basis rebuilt from the knots) gives the same model
    np.testing.assert_allclose(cox_fit.coefficients["coef"], r["formula_coef"], atol=1e-6, rtol=0)
    assert cox_fit.info["log_likelihood"] == pytest.approx(r["loglik"], abs=1e-6)
    assert cox_fit.test["lr_chi2"] == pytest.approx(r["lr_interaction"], abs=1e-6)


def test_cox_curve_is_the_linear_combination(cox_fit):
    c = cox_fit.coefficients["coef"]
    x = np.log(cox_fit.curve.marker_grid)
    B = cox_fit.spline.basis(x)
    expected = c["treatment"] + B @ c[["treatment:ns1", "treatment:ns2", "treatment:ns3"]].to_numpy()
    np.testing.assert_allclose(cox_fit.curve.estimate, expected, atol=1e-12)
    low, high = cox_fit.curve.simultaneous
    plow, phigh = cox_fit.curve.pointwise
    assert np.all(low <= plow + 1e-12) and np.all(high >= phigh - 1e-12)
    assert cox_fit.curve.critical_value > 1.96


def test_lmm_spline_interaction_equals_lmer(trial, ref):
    r = ref["lmer"]
    fit = slope_spline_interaction(trial, "csf_pnfh", spline_df=3, horizon_days=640, draws=500)
    assert fit.n == r["n_subjects"] and fit.info["n_visits"] == r["n_visits"]
    np.testing.assert_allclose(fit.spline.knots, r["knots"], rtol=0, atol=1e-12)
    for term, value in r["fixef"].items():
        name = "Intercept" if term == "(Intercept)" else term
        assert fit.coefficients.loc[name, "coef"] == pytest.approx(value, abs=1e-4), term
        assert fit.coefficients.loc[name, "se"] == pytest.approx(r["se"][term], abs=1e-4), term
    assert fit.info["reml_criterion"] == pytest.approx(r["reml_criterion"], abs=1e-4)


def test_sup_t_critical_value_for_independent_points_is_sidak():
    # closed form: k independent standard normals, P(max |Z| <= c) = (2Φ(c) − 1)^k
    from scipy import stats
    k = 5
    exact = stats.norm.ppf(0.5 + 0.5 * 0.95 ** (1 / k))
    assert sup_t_critical(np.eye(k), np.eye(k), 0.05, 200_000, 7) == pytest.approx(exact, abs=0.01)
