"""The simulator's compiled passes (`mndtrial.sim._fused`, the drawn ALSFRS-R rows in `_kernels`)
equal numpy's arithmetic bit for bit.

Double programming twice over: each fused function against the model method it replaces in the
simulator (`CohortModel.screening_fields` / `latent_fields` / `death_days`, `Eligibility.mask`,
`screening_values`, `DrugModel.treg_rise` / `effect`, `np.searchsorted`), on random inputs with
the edge cases (a score rounding to -0.0, equal keys, NaN), and whole simulations against the
numpy route (tests/sim_reference.py) trial by trial for several designs and seeds, with the
compiled draws and with numpy's (the fallback where numba has no ziggurat tables).
"""

from __future__ import annotations

import numpy as np
import pytest
from sim_reference import reference_simulate

import mndtrial.sim._normal as normal
from mndtrial.sim import TABLES, CohortModel, DrugModel, Enrichment, imodals, mirocals, simulate
from mndtrial.sim import _fused
from mndtrial.sim.measurement import assay_cvs, screening_values


def same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype == np.float64:  # the bits: -0.0 differs from 0.0, NaN equals NaN
        return bool(np.array_equal(a.view(np.int64), b.view(np.int64)))
    return bool(np.array_equal(a, b))


def raw_candidates(seed: int, shape=(16, 300)) -> dict:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((7, *shape)) * 1.5
    return {"z": z, "male": rng.random(shape) < 0.6, "bulbar": rng.random(shape) < 0.3}


@pytest.mark.parametrize("seed", [1, 2])
def test_screening_fields_and_eligibility_equal_the_cohort_methods(seed):
    cohort = CohortModel(delta_fs_mean=1.2)  # many scores below 0 before clipping: -0.0 cases
    design = mirocals(cohort=cohort)
    raw = raw_candidates(seed)
    fields, eligible = _fused.screening_fields(cohort, design.eligibility, raw)
    expected = cohort.screening_fields(raw)
    assert fields.keys() == expected.keys()
    for k in expected:
        assert same_bits(fields[k], expected[k]), k
    assert np.signbit(expected["alsfrs_r_baseline"]).any()  # -0.0 scores were met
    assert same_bits(eligible, design.eligibility.mask(expected))
    assert 0 < eligible.mean() < 1


@pytest.mark.parametrize("seed", [3, 4])
def test_latent_fields_equal_the_cohort_method(seed):
    cohort = CohortModel()
    raw = raw_candidates(seed)
    got, expected = _fused.latent_fields(cohort, raw), cohort.latent_fields(raw)
    assert got.keys() == expected.keys()
    for k in expected:
        assert same_bits(got[k], expected[k]), k


@pytest.mark.parametrize("retest", [False, True])
@pytest.mark.parametrize("cvs", [None, {"csf_pnfh": 0.0, "serum_nfl": 0.0}])
def test_screening_measurements_equal_screening_values(retest, cvs):
    rng = np.random.default_rng(5)
    true = {"csf_pnfh": np.exp(rng.normal(7, 1, (8, 50))), "serum_nfl": np.exp(rng.normal(4, 0.6, (8, 50)))}
    z = rng.standard_normal((2, 2, 8, 50))
    cvs = cvs or assay_cvs(CohortModel().p["measurement"])
    got, expected = _fused.screening_measured(true, z, cvs, retest), screening_values(true, z, cvs, retest)
    for k in expected:
        assert same_bits(got[k], expected[k]), k


def test_chosen_positions_equal_the_cumulative_count():
    rng = np.random.default_rng(6)
    accepted, eligible = rng.random((10, 200)) < 0.5, rng.random((10, 200)) < 0.8
    n = 40
    index, screened, n_eligible = _fused.chosen_positions(accepted, eligible, n)
    position = np.cumsum(accepted, axis=1)
    expected_screened = np.argmax(position >= n, axis=1) + 1
    seen = np.arange(200)[None, :] < expected_screened[:, None]
    assert np.array_equal(index, np.flatnonzero(accepted & (position <= n)))
    assert np.array_equal(screened, expected_screened)
    assert np.array_equal(n_eligible, (eligible & seen).sum(axis=1))


def test_categories_equal_searchsorted_right_ties_included():
    cdf = np.array([0.25, 0.5, 0.5, 0.75, 1.0])
    u = np.concatenate([np.random.default_rng(7).random(1000), cdf, [0.0]])
    assert np.array_equal(_fused.categories(cdf, u), np.searchsorted(cdf, u, side="right"))


@pytest.mark.parametrize("cv", [0.4, 0.0])
def test_treatment_equals_the_drug_model(cv):
    drug = DrugModel(treg_response_cv=cv) if cv else DrugModel()
    rng = np.random.default_rng(8)
    shape = (6, 120)
    arm = rng.integers(0, 3, shape)
    doses = np.array([0.0, 1.0, 2.0])
    z = np.random.default_rng(11).standard_normal(shape)
    csf = np.exp(rng.normal(7.5, 1.2, shape))
    csf[0, :3] = [drug.p["pnfh_low_band_min_pg_ml"], drug.p["pnfh_cutoff_pg_ml"], 0.0]  # on the band edges
    slope_per_month, log_hazard = np.exp(rng.normal(0, 0.5, shape)), rng.normal(0, 0.5, shape)
    slope = np.empty(shape)
    rise, minus_lp = _fused.treatment(drug, arm, drug.treg_rise_mean(doses), z, csf, slope_per_month, log_hazard, slope)
    expected_rise = drug.treg_rise(np.random.default_rng(11), doses[arm], mean=drug.treg_rise_mean(doses)[arm])
    log_hr, ratio = drug.effect(doses[arm], expected_rise, {"csf_pnfh": csf})
    assert same_bits(rise, expected_rise)
    assert same_bits(slope, slope_per_month * ratio)
    assert same_bits(minus_lp, -(log_hazard + log_hr))


@pytest.mark.parametrize("shape_parameter", [2.0, 1.3])
def test_weibull_days_equal_death_days(shape_parameter):
    cohort = CohortModel(weibull_shape=shape_parameter)
    rng = np.random.default_rng(9)
    log_hazard = rng.normal(0, 1, (5, 200))
    expected = np.maximum(np.ceil(cohort.death_days(np.random.default_rng(10), log_hazard)), 1.0)
    e = np.random.default_rng(10).standard_exponential(log_hazard.shape)
    got = np.empty(log_hazard.shape)
    s = cohort.p["survival"]
    _fused.weibull_days(e, -log_hazard, s["weibull_shape"], s["weibull_scale_days"], got)
    assert same_bits(got, expected)
    scale = 3000.0  # dropout: no hazard term
    dropout = np.empty(e.shape)
    _fused.weibull_days(e, None, shape_parameter, scale, dropout)
    assert same_bits(dropout, np.maximum(np.ceil(scale * e ** (1 / shape_parameter)), 1.0))


def _columns_of(batch, name):
    df = getattr(batch, name)
    return {c: (df[c].cat.codes.to_numpy() if hasattr(df[c], "cat") else df[c].to_numpy()) for c in df.columns}


DESIGNS = {
    "mirocals": lambda: mirocals(),
    "enriched on CSF-pNfH": lambda: mirocals(n_randomised=120, enrichment=Enrichment("csf_pnfh", 750, 3700)),
    "imodals, biomarkers, three arms": lambda: imodals(),
    "a user's effect function": lambda: mirocals(n_randomised=60, drug=DrugModel(
        effect=lambda dose, rise, cov: (-0.1 * rise, np.full(np.shape(dose), 0.9)))),
}


@pytest.mark.parametrize("seed", [21, 22])
@pytest.mark.parametrize("name", list(DESIGNS))
def test_every_trial_equals_the_numpy_route(name, seed):
    design = DESIGNS[name]()
    fast = simulate(design, n_trials=6, seed=seed, first_trial=30)  # across a block boundary
    slow = reference_simulate(design, n_trials=6, seed=seed, first_trial=30)
    for table in TABLES:
        f, s = getattr(fast, table), getattr(slow, table)
        for trial in range(30, 36):
            a, b = f[f["trial"] == trial], s[s["trial"] == trial]
            assert len(a) == len(b) and len(a) > 0, (table, trial)
            for c in f.columns:
                x, y = a[c], b[c]
                x, y = (x.cat.codes, y.cat.codes) if hasattr(x, "cat") else (x, y)
                assert same_bits(x.to_numpy(), y.to_numpy()), (table, trial, c)


def test_numpys_draws_where_the_compiled_ones_do_not_apply(monkeypatch):
    """Without the ziggurat tables the simulator draws with numpy and writes the ALSFRS-R rows from
    a noise array: the same trials."""
    design = mirocals(n_randomised=80)
    fast = simulate(design, n_trials=5, seed=31, first_trial=29)
    monkeypatch.setattr(normal, "TABLES", None)
    fallback = simulate(design, n_trials=5, seed=31, first_trial=29)
    for table in TABLES:
        a, b = _columns_of(fast, table), _columns_of(fallback, table)
        for c in a:
            assert same_bits(a[c], b[c]), (table, c)
