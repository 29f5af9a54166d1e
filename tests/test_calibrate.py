"""`calibrate`: known truth (simulate from the defaults, recover them), refusal of data that cannot
support the fit, the parameter file's round trip through simulate/power, and the predictive check
on the synthetic PRO-ACT export."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mndtrial.data import Trial, read_trial
from mndtrial.data.proact import import_proact
from mndtrial.data.proact_synthetic import write_synthetic_proact
from mndtrial.errors import AnalysisError, ParameterError
from mndtrial.sim import ArmSpec, CohortModel, Design, calibrate, load_parameters, mirocals, simulate
from mndtrial.sim.fit_cohort.check import predictive_check

# What a trial simulated without eligibility limits cannot inform: the faster-early shape, the
# design-dependent biomarker sampling, and the informative-dropout link the Weibull fit leaves out.
NOT_ESTIMABLE = {"trajectory.early_to_late_ratio", "trajectory.early_tau_months",
                 "measurement.biomarker_missing_fraction", "survival.death_log_hr_per_alsfrs_point",
                 "measurement.csf_pnfh_assay_cv", "measurement.serum_nfl_assay_cv"}


def _cohort(n: int, seed: int) -> Trial:
    """A large single-arm cohort from the default parameters, no eligibility limits (so the
    data's distributions are the model's), MIROCALS visits and follow-up, default attrition."""
    design = Design(name="truth", arms=(ArmSpec("placebo", control=True),), n_randomised=n, horizon_days=640.0,
                    treatment_days=0.0, alsfrs_visit_days=(0, 84, 168, 252, 336, 420, 504, 588, 640),
                    serum_nfl_visit_days=(0, 168, 336))
    return simulate(design, n_trials=1, seed=seed).trial(0)


def _z_scores(fit) -> dict[str, float]:
    truth = load_parameters()
    out = {}
    for e in fit.estimates:
        section, key = e.parameter.split(".")
        out[e.parameter] = (e.value - truth.section(section)[key]) / e.se
    return out


def _check_known_truth(n: int, seed: int, limit: float) -> None:
    fit = calibrate(_cohort(n, seed))
    assert set(fit.kept) == NOT_ESTIMABLE
    z = _z_scores(fit)
    assert len(z) == 36
    far = {k: round(v, 2) for k, v in z.items() if abs(v) > limit}
    assert not far, f"estimates more than {limit} SEs from the truth: {far}"


def test_known_truth_recovered_small_cohort():
    _check_known_truth(2000, seed=7, limit=3.5)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2026])
def test_known_truth_recovered_within_3_se_at_5000(seed):
    _check_known_truth(5000, seed=seed, limit=3.0)


def test_without_csf_pnfh_the_latent_biomarker_is_integrated_out():
    trial = _cohort(3000, seed=3)
    p = trial.participants.drop(columns=["csf_pnfh"])
    fit = calibrate(Trial(p, trial.survival, trial.alsfrs, trial.biomarkers, trial.info))
    assert fit.latent_pnfh
    for name in ("cohort.csf_pnfh_log_mean", "trajectory.slope_log_per_sd_log_pnfh",
                 "survival.log_hr_per_sd_log_pnfh", "cohort.corr_pnfh_delta_fs"):
        assert "CSF-pNfH" in fit.kept[name]
    z = _z_scores(fit)
    # The ΔFS effects are the simulator's conditional ones (not ΔFS + pNfH x correlation).
    for name in ("trajectory.slope_log_per_sd_log_delta_fs", "survival.log_hr_per_sd_log_delta_fs",
                 "trajectory.slope_mean_points_per_month", "trajectory.slope_log_sd", "survival.weibull_scale_days",
                 "survival.weibull_shape"):
        assert abs(z[name]) < 3.5, (name, z[name])


def _with(trial: Trial, **tables) -> Trial:
    t = {"participants": trial.participants, "survival": trial.survival, "alsfrs": trial.alsfrs,
         "biomarkers": trial.biomarkers, **tables}
    return Trial(t["participants"], t["survival"], t["alsfrs"], t["biomarkers"], trial.info)


@pytest.fixture(scope="module")
def small_trial() -> Trial:
    return _cohort(300, seed=4)


def test_refuses_too_few_deaths_naming_the_count(small_trial):
    s = small_trial.survival
    dead = np.flatnonzero(s["event"].to_numpy() == 1)[5:]
    s.loc[dead, "event"] = 0
    s.loc[dead, "event_type"] = "censored"
    with pytest.raises(AnalysisError, match=r"too few deaths.*5 in table survival.*at least 20"):
        calibrate(_with(small_trial, survival=s))


def test_refuses_no_alsfrs(small_trial):
    with pytest.raises(AnalysisError, match=r"no ALSFRS-R visits: table alsfrs is absent"):
        calibrate(_with(small_trial, alsfrs=None))


def test_refuses_a_single_visit_per_participant(small_trial):
    a = small_trial.alsfrs
    with pytest.raises(AnalysisError, match=r"only 0 participant\(s\).*single visit per participant"):
        calibrate(_with(small_trial, alsfrs=a[a["day"] == 0]))


def test_refuses_a_missing_covariate_column(small_trial):
    p = small_trial.participants.drop(columns=["delta_fs"])
    with pytest.raises(AnalysisError, match=r"participants has no values in column\(s\) \['delta_fs'\]"):
        calibrate(_with(small_trial, participants=p))


def test_unknown_arm_is_a_parameter_error(small_trial):
    with pytest.raises(ParameterError, match="not an arm"):
        calibrate(small_trial, arm="active")


def test_parameter_file_round_trip(small_trial, tmp_path):
    fit = calibrate(small_trial, name="cohort-300")
    path = fit.write(tmp_path / "params.toml")
    loaded = load_parameters(path)
    for e in fit.estimates:
        section, key = e.parameter.split(".")
        assert loaded.section(section)[key] == e.value  # written at full precision
        src = loaded.source(e.parameter)
        assert src.startswith("calibrated from cohort-300 [sha256 ") and f"SE {e.se:.3g}" in src
    assert loaded.source("trajectory.early_tau_months").startswith("default kept (used only with")
    assert loaded.values["designs"] == load_parameters().values["designs"]
    CohortModel(loaded)
    batch = simulate(mirocals(loaded), n_trials=2, seed=1)
    assert batch.trial(1).n_participants == 220


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mndtrial", *args], capture_output=True, text=True)


def test_cli_calibrate_then_simulate_with_the_file(small_trial, tmp_path):
    from typer.testing import CliRunner

    from mndtrial.cli import app

    folder = small_trial.write(tmp_path / "trial")
    r = CliRunner().invoke(app, ["calibrate", str(folder), "--out", str(tmp_path / "params.toml")])
    assert r.exit_code == 0, r.output
    assert "parameters estimated" in r.output
    text = (tmp_path / "params.toml").read_text()
    assert "participants.csv  sha256 " in text
    r = CliRunner().invoke(app, ["simulate", "--parameters", str(tmp_path / "params.toml"), "--seed", "2",
                                 "--out", str(tmp_path / "sim")])
    assert r.exit_code == 0, r.output
    assert read_trial(tmp_path / "sim").n_participants == 220


@pytest.mark.slow
def test_cli_power_with_a_calibrated_file_and_a_refusal_in_one_line(small_trial, tmp_path):
    folder = small_trial.write(tmp_path / "trial")
    assert _cli("calibrate", str(folder), "--out", str(tmp_path / "params.toml")).returncode == 0
    r = _cli("power", "--parameters", str(tmp_path / "params.toml"), "--n-trials", "4", "--designs", "all-comers",
             "--no-slope", "--workers", "1", "--out", str(tmp_path / "power"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "power" / "power.csv").exists()
    a = small_trial.alsfrs
    folder = _with(small_trial, alsfrs=a[a["day"] == 0]).write(tmp_path / "one-visit")
    r = _cli("calibrate", str(folder), "--out", str(tmp_path / "refused.toml"))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "single visit per participant" in r.stderr
    assert not (tmp_path / "refused.toml").exists()


@pytest.fixture(scope="module")
def proact_trial(tmp_path_factory) -> Trial:
    folder = tmp_path_factory.mktemp("proact")
    write_synthetic_proact(folder, n_subjects=1500, seed=21)
    return import_proact(folder).trial


def test_proact_calibration_reproduces_km_and_mean_slope(proact_trial):
    fit = calibrate(proact_trial)
    assert fit.latent_pnfh and fit.dropout_route == "survival censored before the horizon"
    check = predictive_check(fit, proact_trial, n_replicates=200, seed=3)
    table = check.checks.set_index("at")
    assert list(table.index) == ["12 months", "18 months", "per-participant least squares"]
    assert table["simulated_mean_in_ci"].all(), table.to_string()
    assert check.simulated_km.shape[0] == 200


def test_calibration_report_page(proact_trial, tmp_path):
    from mndtrial.report.calibration_report import write_calibration_report

    fit = calibrate(proact_trial)
    out = write_calibration_report(tmp_path / "calibration.html", proact_trial, fit, n_replicates=24, seed=2)
    html = out["report"].read_text()
    for name in ("vpc_km", "vpc_trajectory", "vpc_spaghetti", "vpc_slopes", "vpc_baseline"):
        assert f'data-figure="{name}"' in html
    assert "Kept from the defaults" in html and "12 months" in html
    ids = proact_trial.participants["subject_id"].astype(str)
    assert not any(f">{i}<" in html for i in ids[:50])
