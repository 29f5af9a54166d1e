"""Batched ALSFRS-R REML slope model against statsmodels MixedLM, trial by trial."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from batch_reference import statsmodels_slopes
from mndtrial.batch import BatchSlopes, slopes_batch
from mndtrial.batch._slopes_kernel import eigh3
from mndtrial.batch._slopes_numpy import evaluate as _evaluate, hessian as _hessian, start as _start
from mndtrial.batch.slopes import _sufficient_statistics
from mndtrial.data import TrialBatch
from mndtrial.errors import AnalysisError, ParameterError
from mndtrial.power.exponential import ExponentialDesign

DESIGN = ExponentialDesign(n_per_arm=15, hazard_ratio=0.8, dropout_per_year=0.3, intercept_slope_corr=0.0,
                           slope_difference_per_month=0.2)


def check_equals_statsmodels(batch: TrialBatch, tol: float = 1e-4, min_share: float = 0.9) -> None:
    """Every converged fit is at least as good an optimum as statsmodels' best; where statsmodels
    reaches the same optimum, slope difference and its SE (statsmodels' observed-information SE)
    agree to `tol`."""
    res = slopes_batch(batch)
    compared = 0
    for i in np.flatnonzero(res.converged):
        fit, criterion = statsmodels_slopes(batch.trial(int(batch.first_trial + i)), res.reml_criterion[i])
        assert res.reml_criterion[i] <= criterion + 1e-6
        if criterion - res.reml_criterion[i] < 1e-6:
            compared += 1
            assert res.slope_difference_per_month[i] == pytest.approx(fit.params["months:arm"], abs=tol)
            assert res.slope_difference_se_observed[i] == pytest.approx(fit.bse["months:arm"], abs=tol)
            assert res.residual_variance[i] == pytest.approx(fit.scale, rel=1e-4)
            np.testing.assert_allclose(res.random_effects_cov[i], fit.cov_re.to_numpy(), rtol=1e-3, atol=1e-4)
    assert compared >= min_share * batch.n_trials


def test_slopes_equal_statsmodels():
    check_equals_statsmodels(DESIGN.simulate_chunk(0, 5, seed=3))


@pytest.mark.slow
def test_200_trials_slopes_equal_statsmodels():
    check_equals_statsmodels(DESIGN.simulate_chunk(0, 200, seed=2026))


@pytest.mark.slow
def test_simulated_mirocals_slopes_equal_statsmodels():
    from mndtrial.sim import mirocals, simulate

    check_equals_statsmodels(simulate(mirocals(), n_trials=10, seed=2026))


def test_analytic_gradient_equals_numerical_gradient():
    st = _sufficient_statistics(DESIGN.simulate_chunk(0, 4, seed=8), None, None)
    st["N"] = st["n"].sum(1)
    theta = _start(st) * 1.3
    grad = _evaluate(st, theta)["grad"]
    numeric = np.empty_like(grad)
    for k in range(3):
        h = np.zeros_like(theta)
        h[:, k] = 1e-6
        numeric[:, k] = (_evaluate(st, theta + h, False)["f"] - _evaluate(st, theta - h, False)["f"]) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5)


def test_analytic_hessian_equals_differences_of_the_gradient():
    st = _sufficient_statistics(DESIGN.simulate_chunk(0, 4, seed=8), None, None)
    st["N"] = st["n"].sum(1)
    theta = _start(st) * np.array([1.3, 0.7, 1.1])
    H = _hessian(st, theta, _evaluate(st, theta))
    numeric = np.empty_like(H)
    for k in range(3):
        h = np.zeros_like(theta)
        h[:, k] = 1e-5
        numeric[:, :, k] = (_evaluate(st, theta + h)["grad"] - _evaluate(st, theta - h)["grad"]) / 2e-5
    np.testing.assert_allclose(H, numeric, rtol=1e-5, atol=1e-4)


def test_jacobi_eigen_decomposition_equals_lapack():
    rng = np.random.default_rng(4)
    w, V, scratch = np.empty(3), np.empty((3, 3)), np.empty((3, 3))
    for scale in (1e-3, 1.0, 1e4):
        for _ in range(20):
            m = rng.normal(size=(3, 3)) * scale
            A = m + m.T
            eigh3(A, w, V, scratch)
            np.testing.assert_allclose(np.sort(w), np.linalg.eigvalsh(A), rtol=1e-12, atol=1e-12 * scale)
            np.testing.assert_allclose(V @ np.diag(w) @ V.T, A, rtol=1e-12, atol=1e-12 * scale)


def test_known_truth_slope_difference_is_recovered():
    design = ExponentialDesign(n_per_arm=200, slope_difference_per_month=0.3, median_survival_control_days=5000)
    res = slopes_batch(design.simulate_chunk(0, 20, seed=1))
    assert res.converged.all()
    est = res.slope_difference_per_month
    assert abs(est.mean() - 0.3) < 3 * est.std(ddof=1) / np.sqrt(len(est))
    # The model-based SE describes the spread of the estimate across trials.
    assert res.slope_difference_se.mean() == pytest.approx(est.std(ddof=1), rel=0.4)


def test_boundary_fits_are_flagged():
    # No random slope in truth: some fits put the slope variance on the boundary.
    b = ExponentialDesign(n_per_arm=15, slope_sd_per_month=0.0).simulate_chunk(0, 12, seed=5)
    res = slopes_batch(b)
    assert set(res.status) <= {"converged", "boundary"}
    assert (res.status == "boundary").any()


def test_too_few_observations_and_bad_input():
    b = DESIGN.simulate_chunk(0, 2, seed=1)
    keep = (b.participants["trial"] == 0).to_numpy() | (b.participants["arm"] == "placebo").to_numpy()
    res = slopes_batch(b, subset=keep)  # trial 1 keeps only its placebo arm
    assert list(res.status) == ["converged", "too_few_observations"]
    with pytest.raises(ParameterError):
        BatchSlopes(max_iter=0)
    with pytest.raises(AnalysisError):
        slopes_batch(TrialBatch(info=b.info, n_trials=2, participants=b.participants, survival=b.survival))


def test_input_not_modified_and_serialises():
    b = DESIGN.simulate_chunk(0, 2, seed=1)
    before = b.alsfrs.copy()
    res = slopes_batch(b)
    pd.testing.assert_frame_equal(b.alsfrs, before)
    assert res.to_dict()["trials"][0]["status"] == "converged"


def test_fitting_in_slices_gives_identical_results(monkeypatch):
    import mndtrial.batch.slopes as slopes

    b = DESIGN.simulate_chunk(0, 6, seed=2)
    whole = BatchSlopes(engine="numpy").fit(b).result_
    monkeypatch.setattr(slopes, "_CELLS_PER_CHUNK", 1)  # one trial per slice (the numpy route's arrays)
    sliced = BatchSlopes(engine="numpy").fit(b).result_
    np.testing.assert_array_equal(sliced.fixed_effects, whole.fixed_effects)
    np.testing.assert_array_equal(sliced.fixed_effects_cov, whole.fixed_effects_cov)
    np.testing.assert_array_equal(sliced.fixed_effects_cov_observed, whole.fixed_effects_cov_observed)
    assert list(sliced.status) == list(whole.status)


def test_equals_the_single_trial_route_of_the_analysis_module():
    """mndtrial.analysis fits with statsmodels and reports lme4's conditional vcov: the default SE."""
    from mndtrial.analysis.lmm import fit_random_slope_lmm
    from mndtrial.sim import mirocals, simulate

    b = simulate(mirocals(), n_trials=2, seed=8)
    res = slopes_batch(b)
    for i in range(2):
        t = b.trial(i)
        df = t.alsfrs.merge(t.participants[["subject_id", "arm"]], on="subject_id")
        df["months"] = df["day"] / 30.44
        df["active"] = (df["arm"] == "il2_2miu").astype(float)
        df["months_active"] = df["months"] * df["active"]
        fit = fit_random_slope_lmm(df, "total", "months", "subject_id", fixed=["months", "active", "months_active"])
        assert not fit.problems
        assert res.slope_difference_per_month[i] == pytest.approx(fit.params["months_active"], abs=1e-4)
        se = np.sqrt(fit.cov_params.loc["months_active", "months_active"])
        assert res.slope_difference_se[i] == pytest.approx(se, abs=1e-4)


@pytest.mark.parametrize("shuffle", [False, True])
def test_alsfrs_rows_of_no_participant_are_a_clear_error(shuffle):
    b = DESIGN.simulate_chunk(0, 2, seed=3)
    a = b.alsfrs.copy()
    a.loc[7, "subject"] = 10_000
    a = a.sample(frac=1.0, random_state=1) if shuffle else a.sort_values(["trial", "subject"])
    a = a.sort_values("trial", kind="stable")  # a TrialBatch keeps trials in order; subjects may be mixed
    with pytest.raises(AnalysisError, match="1 ALSFRS-R rows belong to no participant"):
        slopes_batch(dataclasses.replace(b, alsfrs=a))


def test_missing_alsfrs_values_are_a_clear_error():
    b = DESIGN.simulate_chunk(0, 2, seed=3)
    a = b.alsfrs.copy()
    a.loc[5, "total"] = np.nan
    with pytest.raises(AnalysisError, match="missing day or total"):
        slopes_batch(dataclasses.replace(b, alsfrs=a))


def _edge_case_batch() -> tuple[TrialBatch, np.ndarray]:
    """Trials without a random slope in truth (boundary fits), participants with one visit, visit
    days all distinct in half the trials (one group per participant) and an arm left out by the subset."""
    b = ExponentialDesign(n_per_arm=15, slope_sd_per_month=0.0).simulate_chunk(0, 12, seed=5)
    a = b.alsfrs.copy()
    first = ~a.duplicated(["trial", "subject"])
    a = a[first | (a["subject"] % 5 != 0)]  # every fifth participant: one visit
    jitter = np.random.default_rng(1).uniform(0, 3, len(a)) * (a["trial"] >= 6)
    a = a.assign(day=a["day"] + np.where(a["day"] > 0, jitter, 0.0)).reset_index(drop=True)
    keep = ~((b.participants["trial"] == 2) & (b.participants["arm"] != "placebo")).to_numpy()
    return dataclasses.replace(b, alsfrs=a), keep


def test_compiled_kernel_equals_the_numpy_route_trial_by_trial():
    """Double programming: the compiled route (participants grouped by visit pattern) against the
    numpy passes (participant by participant) on MIROCALS-size trials and on edge cases."""
    from mndtrial.sim import mirocals, simulate

    batch = simulate(mirocals(), n_trials=64, seed=11)
    pairs = [(BatchSlopes(engine=e).fit(batch).result_ for e in ("compiled", "numpy"))]
    small = DESIGN.simulate_chunk(0, 40, 3)
    pairs.append(BatchSlopes(engine=e).fit(small).result_ for e in ("compiled", "numpy"))
    edge, keep = _edge_case_batch()
    pairs.append(BatchSlopes(engine=e).fit(edge, subset=keep).result_ for e in ("compiled", "numpy"))
    pairs = [tuple(p) for p in pairs]
    edge_status = pairs[2][0].status
    assert {"boundary", "too_few_observations", "converged"} <= set(edge_status)
    for a, b in pairs:
        np.testing.assert_array_equal(a.status, b.status)
        np.testing.assert_array_equal(a.n_observations, b.n_observations)
        np.testing.assert_array_equal(a.n_subjects, b.n_subjects)
        ok = a.status != "too_few_observations"
        assert np.isnan(a.fixed_effects[~ok]).all() and np.isnan(b.fixed_effects[~ok]).all()
        np.testing.assert_allclose(a.fixed_effects[ok], b.fixed_effects[ok], rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(a.fixed_effects_cov[ok], b.fixed_effects_cov[ok], rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(a.fixed_effects_cov_observed[ok], b.fixed_effects_cov_observed[ok],
                                   rtol=1e-4, atol=1e-10)
        np.testing.assert_allclose(a.reml_criterion[ok], b.reml_criterion[ok], rtol=1e-10)
        assert np.abs(a.iterations - b.iterations).max() <= 1
    with pytest.raises(ParameterError):
        BatchSlopes(engine="gpu")


def test_unsorted_tables_give_the_same_fits():
    """The one-pass participant sums need tables sorted by (trial, subject); others are looked up."""
    b, keep = _edge_case_batch()
    mixed = b.alsfrs.sample(frac=1.0, random_state=3).sort_values("trial", kind="stable")  # subjects mixed
    shuffled = dataclasses.replace(b, alsfrs=mixed)
    for engine in ("compiled", "numpy"):
        a = BatchSlopes(engine=engine).fit(b, subset=keep).result_
        c = BatchSlopes(engine=engine).fit(shuffled, subset=keep).result_
        np.testing.assert_array_equal(a.status, c.status)
        np.testing.assert_allclose(a.fixed_effects, c.fixed_effects, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(a.slope_difference_se, c.slope_difference_se, rtol=1e-8)
