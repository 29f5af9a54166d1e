"""The JAX route's log-rank and Cox equal the CPU batch estimators (and lifelines) on the same data.

The references: `logrank_batch` / `cox_batch` (both engines), themselves held to lifelines,
statsmodels and R in test_batch_survival.py; lifelines directly on a few trials; and a plain
Python log-rank loop for hand-made edge cases.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="the accelerated route needs JAX: pip install 'mndtrial[gpu]'")

from batch_reference import lifelines_cox, logrank_references  # noqa: E402
from mndtrial.batch import cox_batch, logrank_batch  # noqa: E402
from mndtrial.batch.accelerated import (require_jax, survival_matrices, survival_tests_arrays,  # noqa: E402
                                        survival_tests_batch)
from mndtrial.errors import ParameterError  # noqa: E402
from mndtrial.power.exponential import ExponentialDesign  # noqa: E402

# A 30-day grid: many tied event times, so Efron's correction matters; a prognostic biomarker
# and a different effect above the cut-off.
DESIGN = ExponentialDesign(n_per_arm=40, hazard_ratio=0.7, hazard_ratio_high=0.9, accrual_days=300,
                           dropout_per_year=0.1, time_resolution_days=30, biomarker_log_hr=0.5)
TOL = 1e-8


@pytest.fixture(scope="module")
def batch():
    return DESIGN.simulate_chunk(0, 40, seed=5)


def assert_equal_cpu(res, batch, strata, ties="efron", subset=None, engine="compiled"):
    with np.errstate(invalid="ignore"):  # a trial without deaths has z = 0/0 on both routes
        _assert_equal_cpu(res, batch, strata, ties, subset, engine)


def _assert_equal_cpu(res, batch, strata, ties, subset, engine):
    lr = logrank_batch(batch, strata=strata, subset=subset)
    cx = cox_batch(batch, strata=strata, ties=ties, subset=subset, engine=engine)
    np.testing.assert_allclose(res.observed_minus_expected, lr.observed_minus_expected, rtol=0, atol=TOL)
    np.testing.assert_allclose(res.variance, lr.variance, rtol=0, atol=TOL)
    np.testing.assert_allclose(res.logrank_z, lr.z, rtol=0, atol=TOL)
    np.testing.assert_array_equal(res.events, lr.events)
    np.testing.assert_array_equal(res.events_active, lr.events_active)
    np.testing.assert_array_equal(res.n, lr.n)
    np.testing.assert_array_equal(res.status, cx.status)
    np.testing.assert_array_equal(res.iterations, cx.iterations)
    np.testing.assert_allclose(res.coef, cx.coef[:, 0], rtol=0, atol=TOL)
    # a monotone fit's SE is huge (information near 0): equal in relative terms there
    mono = cx.status == "monotone_likelihood"
    np.testing.assert_allclose(res.se[~mono], cx.se[~mono, 0], rtol=0, atol=TOL)
    np.testing.assert_allclose(res.se[mono], cx.se[mono, 0], rtol=1e-6)
    np.testing.assert_allclose(res.loglik, cx.loglik, rtol=0, atol=1e-7)
    np.testing.assert_allclose(res.loglik_null, cx.loglik_null, rtol=0, atol=1e-7)


@pytest.mark.parametrize("strata", [(), ("onset_site",)])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_equals_cpu_batch_route(batch, strata, ties):
    assert_equal_cpu(survival_tests_batch(batch, strata=strata, ties=ties), batch, strata, ties)


def test_equals_numpy_engine_on_a_subset(batch):
    """Trials of unequal size (the low-biomarker group only): padding changes nothing."""
    low = batch.participants["csf_pnfh"].to_numpy() <= DESIGN.biomarker_cutoff
    res = survival_tests_batch(batch, strata=("onset_site",), subset=low)
    assert len(set(res.n)) > 1
    assert_equal_cpu(res, batch, ("onset_site",), subset=low, engine="numpy")


def test_equals_lifelines_on_a_few_trials(batch):
    res = survival_tests_batch(batch, strata=("onset_site",))
    plain = survival_tests_batch(batch)
    for i in range(4):
        trial = batch.trial(i)
        ref = lifelines_cox(trial, (), ("onset_site",))
        assert res.coef[i] == pytest.approx(ref.params_.iloc[0], abs=1e-6)
        assert res.se[i] == pytest.approx(ref.standard_errors_.iloc[0], abs=1e-6)
        lr = logrank_references(trial, strata="onset_site")
        assert plain.logrank_z[i] ** 2 == pytest.approx(lr["lifelines"], abs=TOL)
        assert res.logrank_z[i] ** 2 == pytest.approx(lr["statsmodels_stratified"], abs=TOL)


def test_edge_cases_equal_cpu_route(batch):
    """No deaths, deaths on one arm only (monotone likelihood), everyone dead at one time."""
    small = dataclasses.replace(batch, survival=batch.survival.copy(), alsfrs=None)
    s = small.survival
    arm = small.participants["arm"].to_numpy()
    s.loc[s.trial == 0, "event"] = 0
    s.loc[(s.trial == 1) & (arm == "active"), "event"] = 0
    s.loc[s.trial == 2, ["time_days", "event"]] = [30.0, 1]
    with np.errstate(invalid="ignore"):
        res = survival_tests_batch(small)
    assert list(res.status[:3]) == ["no_events", "monotone_likelihood", "converged"]
    assert_equal_cpu(res, small, ())


def plain_logrank(time, event, active):
    """O − E and V by a loop over distinct event times: the textbook definition."""
    o_e = var = 0.0
    for t in np.unique(time[event == 1]):
        at_risk = time >= t
        n, n1 = at_risk.sum(), (at_risk & (active == 1)).sum()
        d, d1 = ((time == t) & (event == 1)).sum(), ((time == t) & (event == 1) & (active == 1)).sum()
        o_e += d1 - d * n1 / n
        var += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1) if n > 1 else 0.0
    return o_e, var


def test_logrank_equals_plain_loop_with_heavy_ties():
    rng = np.random.default_rng(3)
    time = rng.integers(1, 6, (25, 30)).astype(float)
    event = (rng.random((25, 30)) < 0.7).astype(float)
    active = (rng.random((25, 30)) < 0.5).astype(float)
    inputs = [time.copy(), event.copy(), active.copy()]
    out = survival_tests_arrays(time, event, active)
    for given, copy in zip((time, event, active), inputs):  # inputs are never modified
        np.testing.assert_array_equal(given, copy)
    for i in range(25):
        o_e, var = plain_logrank(time[i], event[i], active[i])
        assert out["observed_minus_expected"][i] == pytest.approx(o_e, abs=1e-12)
        assert out["variance"][i] == pytest.approx(var, abs=1e-12)


def test_matrices_round_trip(batch):
    m = survival_matrices(batch, strata=("onset_site",))
    assert m["time"].shape == (40, 80) and m["valid"].all()
    np.testing.assert_array_equal(np.sort(m["time"][3]), np.sort(batch.survival.time_days[batch.survival.trial == 3]))


def test_bad_input_is_refused():
    t = np.ones((2, 3))
    with pytest.raises(ParameterError, match="one shape"):
        survival_tests_arrays(t, np.ones((2, 2)), t)
    with pytest.raises(ParameterError, match="finite time"):
        survival_tests_arrays(np.array([[1.0, np.nan, 2.0]]), np.ones((1, 3)), np.array([[0, 1, 1]]))
    with pytest.raises(ParameterError, match="ties"):
        survival_tests_arrays(t, t, t, ties="exact")


def test_missing_jax_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)
    with pytest.raises(ImportError, match=r"mndtrial\[gpu\]"):
        require_jax()


def test_importing_the_package_does_not_import_jax():
    code = ("import sys, mndtrial.batch, mndtrial.power, mndtrial.batch.accelerated, "
            "mndtrial.power.accelerated; assert 'jax' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
