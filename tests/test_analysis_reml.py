"""mndtrial's own REML engine equals the statsmodels route it replaced, fit by fit (double programming).

The reference (`tests/lmm_statsmodels_reference.py`) is the former `fit_random_slope_lmm` through
statsmodels' MixedLM; both are compared on real-shaped data: the example trial's ALSFRS-R slope
models (with and without covariates, a subgroup), random-intercept-only models as the Treg
analysis fits, ML as well as REML, and a model whose slope variance is at the boundary.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from lmm_statsmodels_reference import fit_random_slope_lmm as statsmodels_fit
from mndtrial.analysis.lmm import fit_random_slope_lmm
from mndtrial.analysis.reml import group_moments, reml_objective


@pytest.fixture(scope="module")
def slope_frame():
    from mndtrial.data.example import example_trial

    example_trial = example_trial()
    parts = example_trial.participants
    d = example_trial.alsfrs.merge(parts[["subject_id", "arm", "age", "sex"]], on="subject_id")
    d = d.assign(months=d["day"] / 30.44, act=(d["arm"] == "il2_2miu").astype(float),
                 age_c=d["age"] - parts["age"].mean(), male=(d["sex"] == "M").astype(float))
    d["mxa"] = d["months"] * d["act"]
    d["mxage"] = d["months"] * d["age_c"]
    return d


def _both(frame, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_random_slope_lmm(frame, *args, **kwargs), statsmodels_fit(frame, *args, **kwargs)


def _assert_same(ours, ref, se_rel=1e-4):
    assert ours.converged and ref.converged
    assert list(ours.params.index) == list(ref.params.index)
    np.testing.assert_allclose(ours.params, ref.params, rtol=0, atol=1e-4 * max(1.0, np.abs(ref.params).max()))
    np.testing.assert_allclose(ours.bse, ref.bse, rtol=se_rel)
    np.testing.assert_allclose(ours.residual_variance, ref.residual_variance, rtol=1e-4)
    # The optimum: our criterion never above statsmodels' (it may find a slightly better one).
    assert ours.reml_criterion <= ref.reml_criterion + 1e-5
    assert ours.reml_criterion == pytest.approx(ref.reml_criterion, abs=1e-3)
    np.testing.assert_allclose(ours.cov_re, ref.cov_re, rtol=2e-3, atol=1e-6 * ref.residual_variance)


@pytest.mark.parametrize("fixed", [["months", "act", "mxa"], ["months", "act", "mxa", "age_c", "mxage", "male"]])
@pytest.mark.parametrize("reml", [True, False])
def test_random_slope_models_equal_statsmodels(slope_frame, fixed, reml):
    ours, ref = _both(slope_frame, "total", "months", "subject_id", fixed=fixed, reml=reml)
    _assert_same(ours, ref)
    assert ours.method == ref.method == ("REML" if reml else "ML")


def test_a_subgroup_and_a_random_intercept_model_equal_statsmodels(slope_frame):
    sub = slope_frame[slope_frame["sex"] == "F"]
    _assert_same(*_both(sub, "total", "months", "subject_id", fixed=["months", "act", "mxa"]))
    # Treg-shaped: random intercept only
    _assert_same(*_both(slope_frame, "total", None, "subject_id", fixed=["months", "act", "age_c"]))


def test_boundary_fit_is_flagged_as_statsmodels_route_did():
    rng = np.random.default_rng(5)
    groups = np.repeat(np.arange(40), 5)
    t = np.tile(np.arange(5.0), 40)
    y = 40 - 0.8 * t + rng.normal(0, 2, 40)[groups] + rng.normal(0, 1, 200)  # no slope variance
    d = pd.DataFrame({"y": y, "t": t, "g": groups})
    ours, ref = _both(d, "y", "t", "g", fixed=["t"])
    np.testing.assert_allclose(ours.params, ref.params, atol=1e-3)
    assert ours.reml_criterion <= ref.reml_criterion + 1e-5
    assert ours.cov_re.loc["t", "t"] / ours.residual_variance < 1e-3


def test_analytic_gradient_equals_finite_differences(slope_frame):
    d = slope_frame
    X = np.column_stack([np.ones(len(d)), d["months"], d["act"], d["mxa"], d["age_c"]])
    Z = np.column_stack([np.ones(len(d)), d["months"]])
    m = group_moments(d["total"].to_numpy(float), X, Z, d["subject_id"].to_numpy())
    theta = np.array([2.0, 0.1, 0.3])
    for reml in (True, False):
        f, g, _ = reml_objective(theta, m, reml)
        h = 1e-6
        numeric = [(reml_objective(theta + h * e, m, reml)[0] - reml_objective(theta - h * e, m, reml)[0]) / (2 * h)
                   for e in np.eye(3)]
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-5)
