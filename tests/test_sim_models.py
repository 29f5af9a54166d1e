"""Cohort and drug models against closed forms and scipy distributions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mndtrial.errors import ParameterError
from mndtrial.sim import CohortModel, DrugModel, load_parameters, mirocals, no_effect, simulate
from mndtrial.sim.cohort import lognormal_params

P = load_parameters()


@pytest.fixture(scope="module")
def people():
    return CohortModel().draw(np.random.default_rng(1), (200_000,))


def test_neurofilaments_are_lognormal_with_the_file_parameters(people):
    c = P.section("cohort")
    lp, ln = np.log(people["csf_pnfh"]), np.log(people["serum_nfl"])
    assert lp.mean() == pytest.approx(c["csf_pnfh_log_mean"], abs=0.01)
    assert lp.std() == pytest.approx(c["csf_pnfh_log_sd"], abs=0.01)
    assert ln.mean() == pytest.approx(c["serum_nfl_log_mean"], abs=0.01)
    assert stats.kstest((lp - c["csf_pnfh_log_mean"]) / c["csf_pnfh_log_sd"], "norm").pvalue > 1e-3
    assert np.corrcoef(lp, ln)[0, 1] == pytest.approx(c["corr_pnfh_nfl"], abs=0.01)
    # serum NfL vs progression rs = 0.34 (E:L70): Spearman of NfL with ΔFS
    rs = stats.spearmanr(people["serum_nfl"], people["delta_fs_true"]).statistic
    assert rs == pytest.approx(0.34, abs=0.02)


def test_baseline_distributions_match_their_moments(people):
    c = P.section("cohort")
    assert people["delta_fs_true"].mean() == pytest.approx(c["delta_fs_mean"], rel=0.01)
    assert people["delta_fs_true"].std() == pytest.approx(c["delta_fs_sd"], rel=0.03)
    assert people["symptom_duration_months"].mean() == pytest.approx(c["symptom_duration_mean_months"], rel=0.01)
    assert people["male"].mean() == pytest.approx(c["male_fraction"], abs=0.005)
    assert people["slope_per_month"].mean() == pytest.approx(P.section("trajectory")["slope_mean_points_per_month"], rel=0.02)
    assert np.log(people["slope_per_month"]).std() == pytest.approx(P.section("trajectory")["slope_log_sd"], abs=0.01)


def test_death_times_are_weibull_proportional_hazards():
    s = P.section("survival")
    cohort = CohortModel()
    rng = np.random.default_rng(3)
    for lp in (0.0, 0.7):
        t = cohort.death_days(rng, np.full(50_000, lp))
        scale = s["weibull_scale_days"] * np.exp(-lp / s["weibull_shape"])
        assert stats.kstest(t, stats.weibull_min(s["weibull_shape"], scale=scale).cdf).pvalue > 1e-3


def test_lognormal_params_closed_form():
    mu, sd = lognormal_params(13.0, 3.5)
    assert np.exp(mu + sd ** 2 / 2) == pytest.approx(13.0)
    assert np.sqrt((np.exp(sd ** 2) - 1) * np.exp(2 * mu + sd ** 2)) == pytest.approx(3.5)


def test_faster_early_trajectory_averages_the_same_over_24_months():
    linear, early = CohortModel(), CohortModel(trajectory="faster_early")
    months = np.array([3.0, 12.0, 24.0])
    assert np.allclose(linear.decline(months), months)
    d = early.decline(months)
    assert d[2] == pytest.approx(24.0) and d[0] > 3.0 and d[1] > 12.0
    with pytest.raises(ParameterError):
        CohortModel(trajectory="quadratic")


def test_treg_response_passes_through_the_imodals_points():
    drug = DrugModel()
    assert drug.treg_rise_mean([0.0, 1.0, 2.0]) == pytest.approx([0.0, 2.96, 6.15])
    rise = drug.treg_rise(np.random.default_rng(0), np.full(200_000, 2.0))
    assert rise.mean() == pytest.approx(6.15, rel=0.01)
    assert rise.std() / rise.mean() == pytest.approx(P.section("drug")["treg_response_cv"], rel=0.03)


def test_treg_kinetics_closed_form():
    drug = DrugModel()
    k = drug.kinetics(np.array([0.0, 2.5, 5.0, 12.0, 28.0, 33.0, 600.0]), treatment_days=548)
    half = P.section("drug")["treg_half_life_days"]
    assert k[:3] == pytest.approx([0.0, 0.5, 1.0])
    assert k[3] == pytest.approx(0.5 ** (7 / half))
    assert k[4] == pytest.approx(0.0) and k[5] == pytest.approx(1.0)
    assert k[6] < 0.2  # decays after the last course


def test_neurofilament_dependent_effect_by_band():
    drug = DrugModel()
    log_hr, ratio = drug.neurofilament_effect(np.full(3, 6.15), np.array([500.0, 2000.0, 5000.0]))
    assert np.exp(log_hr) == pytest.approx([1.0, 0.52, 1.37])
    assert ratio == pytest.approx([1.0, 0.77, 1.0])
    placebo = drug.effect(np.zeros(3), np.zeros(3), {"csf_pnfh": np.array([500.0, 2000.0, 5000.0])})
    assert np.all(placebo[0] == 0) and np.all(placebo[1] == 1)


def test_user_effect_function_gives_its_hazard_ratio():
    # Simulation with known truth: a constant HR 0.6 for every IL-2 participant; Cox on a large pooled
    # sample (lifelines) recovers it.
    from lifelines import CoxPHFitter

    def constant(dose, rise, cov):
        return np.where(dose > 0, np.log(0.6), 0.0), np.where(dose > 0, 0.5, 1.0)

    batch = simulate(mirocals(drug=DrugModel(effect=constant)), n_trials=20, seed=5)
    df = batch.survival.assign(il2=(batch.participants["arm"] == "il2_2miu").to_numpy(dtype=float))
    fit = CoxPHFitter().fit(df[["time_days", "event", "il2"]], "time_days", "event")
    assert np.exp(fit.params_["il2"]) == pytest.approx(0.6, abs=0.07)
    none = simulate(mirocals(drug=DrugModel(effect=no_effect)), n_trials=20, seed=5)
    df = none.survival.assign(il2=(none.participants["arm"] == "il2_2miu").to_numpy(dtype=float))
    fit = CoxPHFitter().fit(df[["time_days", "event", "il2"]], "time_days", "event")
    assert np.exp(fit.params_["il2"]) == pytest.approx(1.0, abs=0.1)
    with pytest.raises(ParameterError):
        simulate(mirocals(drug=DrugModel(effect=lambda d, r, c: (np.full(d.shape, np.nan), 1.0))), 1, seed=1)
