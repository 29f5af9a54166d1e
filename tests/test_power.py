"""The Monte Carlo power engine against closed forms, known truth and itself across backends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mndtrial.errors import ParameterError
from mndtrial.power import (Analysis, Criterion, ExponentialDesign, ExponentialFamily, Population, Test,
                            design_points, family, logrank_analysis, power, sample_size, schoenfeld_events,
                            schoenfeld_power, strategy_analysis)

# Everyone is followed to death: exactly 2 * n_per_arm events, Schoenfeld's setting.
NO_CENSORING = dict(follow_up_days=1e7, time_resolution_days=0.0, visit_interval_days=1e7)


def test_schoenfeld_closed_form_matches_reference(reference_dir):
    # tests/reference/r-outputs.md: HR 0.7, one-sided 0.025, power 0.9 -> 330.38 events.
    assert "330.38 events" in (reference_dir / "r-outputs.md").read_text()
    assert schoenfeld_events(0.7, alpha=0.025, power=0.9) == pytest.approx(330.38, abs=0.005)
    assert schoenfeld_power(330.38, 0.7) == pytest.approx(0.9, abs=1e-4)


def check_logrank_power_against_schoenfeld(n_trials: int) -> None:
    design = ExponentialDesign(n_per_arm=165, hazard_ratio=0.7, **NO_CENSORING)  # 330 events
    res = power(design, logrank_analysis(0.025), n_trials=n_trials, seed=7, n_workers=1, chunk_size=100)
    row = res.table.iloc[0]
    assert row["events_mean"] == 330
    expected = schoenfeld_power(330, 0.7, 0.025)
    assert abs(row["power"] - expected) < 3 * row["power_mcse"] + 0.01  # 0.01: Schoenfeld's approximation


def test_logrank_power_matches_schoenfeld():
    check_logrank_power_against_schoenfeld(300)


@pytest.mark.slow
def test_logrank_power_matches_schoenfeld_precisely():
    check_logrank_power_against_schoenfeld(4000)


@pytest.mark.slow
@pytest.mark.parametrize("source", ["exponential", "mirocals"])
def test_type_one_error_within_monte_carlo_error(source):
    fam = ExponentialFamily(ExponentialDesign(dropout_per_year=0.2)) if source == "exponential" \
        else family("mirocals")
    fam = fam.without_effect()
    alpha = 0.025
    tests = [Test("logrank", strata=fam.strata), Test("cox"), Test("cox", covariates=fam.adjust_covariates),
             Test("slope")]
    n_trials = 4000 if source == "exponential" else 2000
    for t in tests:
        a = Analysis((Criterion(t, alpha=alpha),))
        res = power(fam.source(220, False), a, n_trials=n_trials, seed=99, n_workers=2)
        row = res.table.iloc[0]
        mcse = np.sqrt(alpha * (1 - alpha) / n_trials)
        assert abs(row["power"] - alpha) < 3 * mcse + 0.003, (t.name, row["power"])
        assert row[f"{t.name}_not_converged"] == 0


def _trials(res) -> pd.DataFrame:
    return res.trials.sort_values(["point", "trial"]).reset_index(drop=True)


def test_same_seed_same_results_any_chunking_and_backend():
    fam = ExponentialFamily(ExponentialDesign(n_per_arm=30, hazard_ratio=0.6, dropout_per_year=0.3))
    points = design_points(fam, [60], strategies=("all-comers", "stratified"))
    base = power(points, n_trials=24, seed=5, n_workers=1, chunk_size=24)
    other = [power(points, n_trials=24, seed=5, n_workers=1, chunk_size=7),
             power(points, n_trials=24, seed=5, n_workers=2, chunk_size=5),
             power(points, n_trials=24, seed=5, backend="dask", chunk_size=10)]
    for res in other:
        pd.testing.assert_frame_equal(_trials(res), _trials(base), check_exact=True)
        pd.testing.assert_frame_equal(res.table, base.table, check_exact=True)
    assert not _trials(power(points, n_trials=24, seed=6, n_workers=1)).equals(_trials(base))


def test_dask_client_from_local_cluster_matches_local():
    from dask.distributed import Client, LocalCluster

    design = family("mirocals").source(60, False)
    analysis = strategy_analysis("stratified", family("mirocals"))
    local = power(design, analysis, n_trials=8, seed=3, n_workers=1, chunk_size=8)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        remote = power(design, analysis, n_trials=8, seed=3, backend="dask", client=client, chunk_size=3)
    pd.testing.assert_frame_equal(_trials(remote), _trials(local), check_exact=True)


def test_enrichment_screening_numbers_match_the_biomarker_distribution():
    design = ExponentialDesign(n_per_arm=50, enrich=True)
    res = power(design, logrank_analysis(), n_trials=200, seed=2, n_workers=1)
    p_low = stats.norm.cdf((np.log(3700) - 7.62) / 0.74)
    row = res.table.iloc[0]
    expected = 100 / p_low  # negative binomial: n / p candidates per n eligible
    assert abs(row["n_screened_mean"] - expected) < 4 * np.sqrt(100 * (1 - p_low) / p_low ** 2 / 200)
    assert row["n_randomised_mean"] == 100


def test_stratified_strategy_splits_alpha_and_succeeds_if_either_test_does():
    fam = ExponentialFamily(ExponentialDesign(hazard_ratio=0.6, hazard_ratio_high=1.3))
    a = strategy_analysis("stratified", fam, alpha=0.025, alpha_split=0.4)
    assert [c.alpha for c in a.criteria] == pytest.approx([0.01, 0.015]) and a.total_alpha == pytest.approx(0.025)
    res = power([p for p in design_points(fam, [200], strategies=("stratified",), alpha_split=0.4)], n_trials=60, seed=1,
                n_workers=1)
    t = res.trials
    either = (t["logrank_stratified_p_benefit"] < 0.01) | (t["logrank_stratified_low_p_benefit"] < 0.015)
    assert (t["success"] == either).all()


def test_estimates_recover_known_truth():
    design = ExponentialDesign(n_per_arm=150, hazard_ratio=0.7, slope_difference_per_month=0.25)
    a = Analysis((Criterion(Test("cox")),), report=(Test("slope"),))
    row = power(design, a, n_trials=120, seed=4, n_workers=1).table.iloc[0]
    assert abs(row["cox_mean"] - np.log(0.7)) < 3 * row["cox_mcse"]
    assert abs(row["slope_mean"] - 0.25) < 3 * row["slope_mcse"]


def test_sample_size_brackets_the_target():
    fam = ExponentialFamily(ExponentialDesign(hazard_ratio=0.6, **NO_CENSORING))
    res = sample_size(fam, target_power=0.8, n_min=40, n_max=400, step=20, n_trials=150, seed=3, n_workers=1)
    ev = res.evaluated.set_index("n")["power"]
    assert ev[res.n] >= 0.8 and ev.get(res.n - 20, 0.0) < 0.8
    # Everyone dies: Schoenfeld's events are the participants; the search lands near them.
    assert abs(res.n - schoenfeld_events(0.6, 0.025, 0.8)) < 60


def test_bad_parameters_are_refused():
    with pytest.raises(ParameterError):
        power(ExponentialDesign(), None, n_trials=10)
    with pytest.raises(ParameterError):
        power(ExponentialDesign(), logrank_analysis(), n_trials=0)
    with pytest.raises(ParameterError):
        power(ExponentialDesign(), logrank_analysis(), n_trials=4, backend="cloud", n_workers=1)
    with pytest.raises(ParameterError):
        Criterion(Test("logrank"), alpha=1.5)
    with pytest.raises(ParameterError):
        Test("rmst")
    with pytest.raises(ParameterError):
        strategy_analysis("adaptive", ExponentialFamily())
    with pytest.raises(ParameterError):
        family("nonesuch")
    with pytest.raises(ParameterError):
        ExponentialFamily().source(101, False)
    with pytest.raises(ParameterError):
        Population("low", "no_column", upper=1).mask(ExponentialDesign(n_per_arm=5).simulate_chunk(0, 1, 1))


def test_declared_criteria_and_run_settings_are_checked_not_reinterpreted():
    batch = ExponentialDesign(n_per_arm=5).simulate_chunk(0, 1, 1)
    # A misspelt side was silently run as the one-sided rule (twice the intended two-sided error).
    for sided in ("both", "two-sided", "2"):
        with pytest.raises(ParameterError, match="sided"):
            Criterion(Test("logrank"), alpha=0.05, sided=sided)
    with pytest.raises(ParameterError, match="lower <= upper"):
        Population("low", "csf_pnfh", lower=3700, upper=750)
    with pytest.raises(ParameterError, match="numeric"):
        Population("bulbar", "onset_site", lower=0, upper=1).mask(batch)
    for bad in (dict(n_trials=2.5), dict(seed=-1), dict(seed=1.5), dict(chunk_size=0)):
        with pytest.raises(ParameterError):
            power(ExponentialDesign(n_per_arm=5), logrank_analysis(), **{"n_trials": 2, "n_workers": 1, **bad})


def test_result_serialises(tmp_path):
    res = power(ExponentialDesign(n_per_arm=20), logrank_analysis(), n_trials=6, seed=1, n_workers=1)
    paths = res.write(tmp_path)
    assert pd.read_csv(paths["csv"]).loc[0, "n_trials"] == 6
    assert '"points"' in paths["json"].read_text()
    assert "<table" in res._repr_html_()
