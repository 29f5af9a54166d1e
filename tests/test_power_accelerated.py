"""The JAX power route: its simulation against known truth, its analyses equal to the CPU batch
estimators on its own trials, its power against Schoenfeld's formula and the CPU route."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

pytest.importorskip("jax", reason="the accelerated route needs JAX: pip install 'mndtrial[gpu]'")

from mndtrial.batch import cox_batch, logrank_batch  # noqa: E402
from mndtrial.data import TrialBatch  # noqa: E402
from mndtrial.errors import ParameterError  # noqa: E402
from mndtrial.power import ExponentialDesign, schoenfeld_power  # noqa: E402
from mndtrial.power.accelerated import power_exponential_accelerated, simulate_exponential_arrays  # noqa: E402
from mndtrial.power.exponential import LOG_PNFH_MEAN, LOG_PNFH_SD  # noqa: E402

DESIGN = ExponentialDesign(n_per_arm=30, median_survival_control_days=600, hazard_ratio=0.7,
                           hazard_ratio_high=0.9, accrual_days=300, follow_up_days=400, dropout_per_year=0.2,
                           time_resolution_days=7, biomarker_log_hr=0.5)


def event_probability(rate, design):
    """P(death observed) for an exponential death rate under uniform accrual, fixed end and
    exponential dropout: λ/κ · (1 − E e^{−κC}), κ = λ + μ, C = A + F − U(0, A)."""
    mu = design.dropout_per_year / 365.25
    k, A, F = rate + mu, design.accrual_days, design.follow_up_days
    return rate / k * (1 - np.exp(-k * F) * (1 - np.exp(-k * A)) / (k * A))


def to_batch(sim: dict, design: ExponentialDesign) -> TrialBatch:
    """JAX-simulated arrays as a TrialBatch, for the CPU estimators."""
    T, n = sim["time"].shape
    base = {"trial": np.repeat(np.arange(T), n), "subject": np.tile(np.arange(n), T)}
    participants = pd.DataFrame({**base, "arm": np.where(sim["active"].ravel() > 0, "active", "placebo"),
                                 "onset_site": np.where(sim["stratum"].ravel() == 0, "bulbar", "limb"),
                                 "csf_pnfh": np.exp(sim["log_pnfh"].ravel())})
    survival = pd.DataFrame({**base, "time_days": sim["time"].ravel(), "event": sim["event"].ravel().astype(int)})
    return TrialBatch(info=design.info, n_trials=T, participants=participants, survival=survival)


@pytest.fixture(scope="module")
def sim():
    return simulate_exponential_arrays(DESIGN, 0, 2000, seed=4)


def test_events_match_the_closed_form(sim):
    """Observed deaths per arm and biomarker group = Σ closed-form probabilities, within 4 SD."""
    d = DESIGN
    high = sim["log_pnfh"] > math.log(d.biomarker_cutoff)
    hr = np.where(sim["active"] > 0, np.where(high, d.hazard_ratio_high, d.hazard_ratio), 1.0)
    rate = math.log(2) / d.median_survival_control_days * np.exp(d.biomarker_log_hr * (sim["log_pnfh"] - LOG_PNFH_MEAN)) * hr
    p = event_probability(rate, d)
    for group in (sim["active"] == 0, (sim["active"] == 1) & high, (sim["active"] == 1) & ~high):
        expected, sd = p[group].sum(), math.sqrt((p[group] * (1 - p[group])).sum())
        assert abs(sim["event"][group].sum() - expected) < 4 * sd


def test_covariates_and_grid(sim):
    n = sim["time"].size
    assert abs((sim["stratum"] == 0).mean() - 0.28) < 4 * math.sqrt(0.28 * 0.72 / n)
    assert abs(sim["log_pnfh"].mean() - LOG_PNFH_MEAN) < 4 * LOG_PNFH_SD / math.sqrt(n)
    assert abs(sim["log_pnfh"].std() / LOG_PNFH_SD - 1) < 0.01
    assert (sim["active"].sum(axis=1) == DESIGN.n_per_arm).all()
    t = sim["time"]
    assert (t >= 7).all() and np.allclose(t % 7, 0)
    assert t.max() <= 7 * math.ceil((DESIGN.accrual_days + DESIGN.follow_up_days) / 7)


def test_death_times_are_exponential():
    """No censoring within reach and no time grid: rate × time is Exp(1) (Kolmogorov–Smirnov)."""
    d = ExponentialDesign(n_per_arm=30, hazard_ratio=0.5, follow_up_days=1e7, time_resolution_days=0)
    s = simulate_exponential_arrays(d, 0, 300, seed=2)
    assert (s["event"] == 1).all()
    rate = math.log(2) / d.median_survival_control_days * np.where(s["active"] > 0, 0.5, 1.0)
    assert stats.kstest((rate * s["time"]).ravel(), "expon").pvalue > 1e-3


def test_enrichment_draws_below_the_cut_off():
    d = ExponentialDesign(n_per_arm=30, enrich=True)
    s = simulate_exponential_arrays(d, 0, 200, seed=3)
    assert (s["log_pnfh"] <= math.log(d.biomarker_cutoff)).all()
    b = (math.log(d.biomarker_cutoff) - LOG_PNFH_MEAN) / LOG_PNFH_SD
    mean = stats.truncnorm(-np.inf, b, LOG_PNFH_MEAN, LOG_PNFH_SD).mean()
    assert abs(s["log_pnfh"].mean() - mean) < 4 * LOG_PNFH_SD / math.sqrt(s["log_pnfh"].size)


def test_fused_route_equals_cpu_estimators_on_its_own_trials(sim):
    """Simulate + analyse in one compiled function gives, trial by trial, what the CPU batch
    estimators give on the same (JAX-simulated) trials; any chunk size gives the same trials."""
    res = power_exponential_accelerated(DESIGN, 60, seed=4, chunk_trials=30)
    first = power_exponential_accelerated(DESIGN, 30, seed=4, chunk_trials=30)  # one compilation for both
    pd.testing.assert_frame_equal(res.trials.iloc[:30], first.trials)
    batch = to_batch({k: v[:60] for k, v in sim.items()}, DESIGN)
    lr, cx = logrank_batch(batch, strata=("onset_site",)), cox_batch(batch, strata=("onset_site",))
    np.testing.assert_allclose(res.trials["logrank_z"], lr.z, rtol=0, atol=1e-8)
    np.testing.assert_allclose(res.trials["coef"], cx.coef[:, 0], rtol=0, atol=1e-8)
    np.testing.assert_allclose(res.trials["se"], cx.se[:, 0], rtol=0, atol=1e-8)
    assert (res.trials["status"] == cx.status).all()
    crit = stats.norm.isf(0.025)
    assert res.power_logrank == pytest.approx((lr.z < -crit).mean())
    assert res.power_cox == pytest.approx((cx.converged & (cx.z[:, 0] < -crit)).mean())


def test_bad_parameters_are_refused():
    with pytest.raises(ParameterError, match="strata"):
        power_exponential_accelerated(DESIGN, 10, strata=("country",))
    with pytest.raises(ParameterError, match="population"):
        power_exponential_accelerated(DESIGN, 10, population="high")
    with pytest.raises(ParameterError, match="n_trials"):
        power_exponential_accelerated(DESIGN, 0)
    with pytest.raises(ParameterError, match="alpha"):
        power_exponential_accelerated(DESIGN, 10, alpha=1.5)


@pytest.mark.slow
def test_type_one_error_is_alpha():
    d = ExponentialDesign(n_per_arm=110, accrual_days=365, dropout_per_year=0.05)
    res = power_exponential_accelerated(d, 40_000, seed=8)
    se = math.sqrt(0.025 * 0.975 / res.n_trials)
    assert abs(res.power_logrank - 0.025) < 4 * se
    assert abs(res.power_cox - 0.025) < 4 * se


@pytest.mark.slow
def test_power_matches_schoenfeld_and_the_cpu_route():
    """HR 0.7: log-rank power ≈ Schoenfeld at the mean number of deaths, and equal (within Monte
    Carlo error) to the numpy simulator analysed by the CPU batch estimators."""
    d = ExponentialDesign(n_per_arm=110, hazard_ratio=0.7, accrual_days=365, dropout_per_year=0.05)
    res = power_exponential_accelerated(d, 40_000, seed=9)
    assert res.power_logrank == pytest.approx(schoenfeld_power(res.mean_events, 0.7), abs=0.015)
    batch = d.simulate_chunk(0, 2000, seed=9)
    crit = stats.norm.isf(0.025)
    cpu = (logrank_batch(batch, strata=("onset_site",)).z < -crit).mean()
    se = math.sqrt(cpu * (1 - cpu) / 2000 + res.power_logrank * (1 - res.power_logrank) / res.n_trials)
    assert abs(res.power_logrank - cpu) < 4 * se
    cpu_events = batch.survival["event"].sum() / 2000
    assert res.mean_events == pytest.approx(cpu_events, rel=0.02)
    low = power_exponential_accelerated(d, 4000, seed=9, population="low")
    assert low.mean_events < res.mean_events
