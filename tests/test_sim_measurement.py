"""Screening measurements of the neurofilaments (mndtrial.sim.measurement) and enrolment on them.

References: closed forms (the log-normal joint draw's correlation, the assay factor's mean and
CV, CV/√2 after a retest) within Monte Carlo error, and an exact identity: a serum NfL that
equals CSF-pNfH (perfect correlation, no assay error) enrols the same participants.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from mndtrial.errors import ParameterError
from mndtrial.power import SimFamily, design_points, power
from mndtrial.sim import CohortModel, Enrichment, load_parameters, mirocals, simulate
from mndtrial.sim.measurement import (assay_factor, assay_normals, matched_level, measured_log_normal,
                                      screening_values)
from mndtrial.data import TrialBatch

N = 200_000


def _measured(cvs, retest, seed=5):
    cohort = CohortModel(**{"csf_pnfh_assay_cv": cvs[0], "serum_nfl_assay_cv": cvs[1]})
    true = cohort.draw(np.random.default_rng(seed), (N,))
    z = assay_normals(np.random.default_rng(seed + 1), (N,))
    m = screening_values(true, z, {"csf_pnfh": cvs[0], "serum_nfl": cvs[1]}, retest)
    return cohort, true, m


def test_joint_draw_has_the_declared_correlation_and_measured_correlation():
    cohort, true, m = _measured((0.10, 0.06), retest=False)
    c = cohort.p["cohort"]
    r_true = np.corrcoef(np.log(true["csf_pnfh"]), np.log(true["serum_nfl"]))[0, 1]
    se = (1 - c["corr_pnfh_nfl"] ** 2) / np.sqrt(N)  # large-sample SE of a correlation
    assert r_true == pytest.approx(c["corr_pnfh_nfl"], abs=4 * se)
    # log measured = log true + σ z − σ²/2: the measured correlation in closed form
    s2 = [np.log1p(0.10 ** 2), np.log1p(0.06 ** 2)]
    sd = [c["csf_pnfh_log_sd"], c["serum_nfl_log_sd"]]
    r_meas = c["corr_pnfh_nfl"] * sd[0] * sd[1] / np.sqrt((sd[0] ** 2 + s2[0]) * (sd[1] ** 2 + s2[1]))
    got = np.corrcoef(np.log(m["csf_pnfh"]), np.log(m["serum_nfl"]))[0, 1]
    assert got == pytest.approx(r_meas, abs=4 * se) and got < r_true
    for k, marker in enumerate(("csf_pnfh", "serum_nfl")):
        mu, s = measured_log_normal(c[f"{marker}_log_mean"], sd[k], (0.10, 0.06)[k], retest=False)
        logs = np.log(m[marker])
        assert logs.mean() == pytest.approx(mu, abs=4 * s / np.sqrt(N))
        assert logs.std() == pytest.approx(s, rel=4 / np.sqrt(2 * N))


@pytest.mark.parametrize("retest", [False, True])
def test_assay_error_has_mean_one_and_the_declared_cv(retest):
    cvs = (0.25, 0.10)
    _, true, m = _measured(cvs, retest)
    for marker, cv in zip(("csf_pnfh", "serum_nfl"), cvs):
        ratio = m[marker] / true[marker]
        want = cv / np.sqrt(2) if retest else cv  # the mean of two independent measurements
        assert ratio.mean() == pytest.approx(1.0, abs=4 * want / np.sqrt(N))
        # SE of a sample sd ≈ sd·sqrt((κ − 1)/(4N)), κ ≤ 4 for these log-normals
        assert ratio.std() == pytest.approx(want, rel=4 * np.sqrt(3 / (4 * N)))


def test_zero_cv_measures_the_true_level_exactly():
    z = np.random.default_rng(1).standard_normal((2, 2, 50))
    true = {"csf_pnfh": np.exp(np.random.default_rng(2).normal(7.6, 0.7, 50)), "serum_nfl": np.full(50, 60.0)}
    for retest in (False, True):
        m = screening_values(true, z, {"csf_pnfh": 0.0, "serum_nfl": 0.0}, retest)
        assert np.array_equal(m["csf_pnfh"], true["csf_pnfh"]) and np.array_equal(m["serum_nfl"], true["serum_nfl"])
    with pytest.raises(ParameterError, match="assay_cv"):
        assay_factor(z, -0.1)


def _identical_markers(serum_like_csf: bool = True):
    """Parameters where serum NfL is CSF-pNfH seen through a perfect, error-free test."""
    p = load_parameters()
    c = p.section("cohort")
    over = {"cohort.corr_pnfh_nfl": 1.0, "measurement.csf_pnfh_assay_cv": 0.0, "measurement.serum_nfl_assay_cv": 0.0,
            "measurement.csf_pnfh_missing_fraction": 0.0}  # a serum sample is never missing; a CSF one may be
    if serum_like_csf:
        over.update({"cohort.serum_nfl_log_mean": c["csf_pnfh_log_mean"], "cohort.serum_nfl_log_sd": c["csf_pnfh_log_sd"]})
    return load_parameters(overrides=over)


def _same_trials(a: TrialBatch, b: TrialBatch) -> None:
    drop = ["csf_pnfh", "serum_nfl"]
    pd.testing.assert_frame_equal(a.participants.drop(columns=drop), b.participants.drop(columns=drop))
    for name in ("survival", "alsfrs", "biomarkers"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    pd.testing.assert_frame_equal(a.metadata["screening"], b.metadata["screening"])


def test_serum_enrolment_reproduces_csf_enrolment_without_error_and_with_perfect_correlation():
    params = _identical_markers()
    csf = simulate(mirocals(params, enrichment=Enrichment("csf_pnfh", 750, 3700)), n_trials=3, seed=11)
    serum = simulate(mirocals(params, enrichment=Enrichment("serum_nfl", 750, 3700)), n_trials=3, seed=11)
    _same_trials(csf, serum)
    assert np.array_equal(csf.participants["csf_pnfh"], serum.participants["serum_nfl"])
    assert csf.metadata["screening"]["screened"].gt(220).all()  # enrichment turned candidates away
    # The power engine gives the same table, the low group defined by either marker.
    fam = SimFamily(mirocals(params))
    tables = [power(design_points(f, [220], ("enriched", "stratified"), slope=False), n_trials=8, seed=4).table
              for f in (fam, fam.with_marker("serum_nfl"))]
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_matched_serum_cutoff_enrols_the_same_participants_on_the_published_serum_scale():
    # Serum NfL keeps its own (published) distribution: the matched band is on its pg/mL scale.
    params = _identical_markers(serum_like_csf=False)
    fam = SimFamily(mirocals(params))
    band = fam.with_marker("serum_nfl").screening_population
    assert band.column == "serum_nfl" and 10 < band.lower < band.upper < 200
    a = fam.source(220, enriched=True).simulate_chunk(0, 3, 7)
    b = fam.with_marker("serum_nfl").source(220, enriched=True).simulate_chunk(0, 3, 7)
    _same_trials(a, b)


def test_matched_level_inverts_and_keeps_the_quantile():
    p = load_parameters()
    c, m = p.section("cohort"), p.section("measurement")
    v = matched_level(2500.0, "csf_pnfh", "serum_nfl", c, m, retest=True)
    assert matched_level(v, "serum_nfl", "csf_pnfh", c, m, retest=True) == pytest.approx(2500.0, rel=1e-12)
    mu_c, sd_c = measured_log_normal(c["csf_pnfh_log_mean"], c["csf_pnfh_log_sd"], m["csf_pnfh_assay_cv"], True)
    mu_s, sd_s = measured_log_normal(c["serum_nfl_log_mean"], c["serum_nfl_log_sd"], m["serum_nfl_assay_cv"], True)
    assert (np.log(v) - mu_s) / sd_s == pytest.approx((np.log(2500.0) - mu_c) / sd_c, abs=1e-12)
    assert matched_level(np.inf, "csf_pnfh", "serum_nfl", c, m) == np.inf
    with pytest.raises(ParameterError, match="target"):
        matched_level(1.0, "csf_pnfh", "plasma_nfl", c, m)


def test_assay_errors_do_not_move_the_cohort_and_chunking_does_not_move_anything():
    base = mirocals(n_randomised=60)
    retest = base.replace(screening_retest=True)
    a, b = simulate(base, n_trials=2, seed=3), simulate(retest, n_trials=2, seed=3)
    # Without enrichment a retest changes only the recorded neurofilaments, not who or what happens.
    _same_trials(a, b)
    assert not np.array_equal(a.participants["serum_nfl"], b.participants["serum_nfl"])
    # Enrolment on serum NfL with published errors and a retest: one run = its chunks joined.
    d = mirocals(n_randomised=60, enrichment=Enrichment("serum_nfl", 25.0, 94.0), screening_retest=True)
    whole = simulate(d, n_trials=40, seed=9)
    parts = TrialBatch.concat([simulate(d, n_trials=13, seed=9), simulate(d, n_trials=27, seed=9, first_trial=13)])
    for name in ("participants", "survival", "alsfrs", "biomarkers"):
        pd.testing.assert_frame_equal(getattr(whole, name), getattr(parts, name))
    assert whole.participants["serum_nfl"].between(25.0, 94.05).all()  # measured, rounded to 0.1
    # ... and the power engine's table does not depend on the chunking either.
    points = design_points(SimFamily(mirocals()).with_marker("serum_nfl"), [60], ("enriched",), slope=False)
    tables = [power(points, n_trials=40, seed=9, chunk_size=c).table for c in (7, 64)]
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_bad_marker_settings_are_refused():
    with pytest.raises(ParameterError, match="screening_retest"):
        mirocals(screening_retest="yes")
    with pytest.raises(ParameterError, match="marker"):
        SimFamily(mirocals(), marker="plasma_nfl")
    with pytest.raises(ParameterError, match="cutoff"):
        SimFamily(mirocals()).with_parameters(cutoff=500)
    with pytest.raises(ParameterError, match="assay_cv"):
        CohortModel(serum_nfl_assay_cv=-0.1)


def test_adaptive_enrichment_pool_defines_s_by_either_marker():
    from mndtrial.analysis import BiomarkerRule
    from mndtrial.power import AdaptiveEnrichmentDesign, SimPool, simulate_enrichment

    pool = SimPool(mirocals(_identical_markers(), horizon_days=2000.0))
    runs = [simulate_enrichment(AdaptiveEnrichmentDesign(pool, n_randomised_max=100, events=(20, 40),
                                                         critical_z=(2.797, 1.977),
                                                         population=BiomarkerRule(biomarker=m, cutoffs=(3700,))),
                                n_trials=2, seed=2).trials for m in ("csf_pnfh", "serum_nfl")]
    pd.testing.assert_frame_equal(runs[0], runs[1])
    assert runs[0]["n_randomised_s"].between(1, 99).all()  # S is a real subgroup of the pool


@pytest.mark.slow
def test_enrolling_on_serum_nfl_loses_power_with_published_values():
    # Serum NfL (r = 0.78 with CSF-pNfH, assay CVs 6% and 10%) misclassifies at the MIROCALS
    # cut-off, so fewer of those enrolled have the true low CSF-pNfH the effect needs (docs/power.md).
    fam = SimFamily(mirocals())
    tables = [power(design_points(f, [220], ("enriched",), slope=False), n_trials=300, seed=21).table.loc[0]
              for f in (fam, fam.with_marker("serum_nfl"))]
    loss = tables[0]["power"] - tables[1]["power"]
    se = np.hypot(tables[0]["power_mcse"], tables[1]["power_mcse"])
    assert loss > 2 * se, (tables[0]["power"], tables[1]["power"])
    assert tables[1]["cox_hr_geometric_mean"] > tables[0]["cox_hr_geometric_mean"]  # a diluted effect


def test_calibration_takes_the_assay_error_out_of_the_neurofilament_moments():
    from mndtrial.sim.fit_cohort.assay import without_assay_error
    from mndtrial.sim.fit_cohort.estimate import Estimate, log_mean_sd

    cvs = {"csf_pnfh": 0.4, "serum_nfl": 0.3}  # large, so that the uncorrected moments are far off
    cohort, true, m = _measured((cvs["csf_pnfh"], cvs["serum_nfl"]), retest=False, seed=8)
    c = cohort.p["cohort"]
    r = np.corrcoef(np.log(m["csf_pnfh"]), np.log(m["serum_nfl"]))[0, 1]
    raw = (log_mean_sd(m["csf_pnfh"], "cohort", "csf_pnfh", "CSF-pNfH")
           + log_mean_sd(m["serum_nfl"], "cohort", "serum_nfl", "serum NfL")
           + [Estimate("cohort.corr_pnfh_nfl", float(r), 0.0, "Pearson", N)])
    fixed = {e.parameter: e.value for e in without_assay_error(raw, cvs)}
    tol = 4 / np.sqrt(N)
    for marker in ("csf_pnfh", "serum_nfl"):
        assert fixed[f"cohort.{marker}_log_mean"] == pytest.approx(c[f"{marker}_log_mean"], abs=tol)
        assert fixed[f"cohort.{marker}_log_sd"] == pytest.approx(c[f"{marker}_log_sd"], abs=tol)
    assert fixed["cohort.corr_pnfh_nfl"] == pytest.approx(c["corr_pnfh_nfl"], abs=tol)
    assert abs(r - c["corr_pnfh_nfl"]) > 10 * tol  # uncorrected, the correlation is attenuated
