"""Virtual patients fitted to real data: calibrate the cohort model from a trial.

`calibrate(trial)` estimates the natural-history parameters of `CohortModel` (baseline
distributions and correlations, the ALSFRS-R slope model, residual noise, Weibull survival with
its covariates, attrition) from a validated trial — an imported PRO-ACT export or a trial's
placebo arm — and returns a complete parameter file. Not to be confused with
`mndtrial.sim.calibration` (the check of the simulator against published figures).

Example:
    >>> from mndtrial.sim import Design, ArmSpec, simulate
    >>> design = Design(name="cohort", arms=(ArmSpec("placebo", control=True),), n_randomised=600,
    ...                 horizon_days=640.0, treatment_days=0.0, alsfrs_visit_days=(0, 84, 168, 336, 504, 640))
    >>> fit = calibrate(simulate(design, n_trials=1, seed=5).trial(0))
    >>> fit.parameters.section("survival")["weibull_shape"] > 1
    True
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from ...data import Trial
from ..cohort import CohortModel, lognormal_params
from ..measurement import assay_cvs
from ..parameters import SimParameters, load_parameters
from .assay import without_assay_error
from .baseline import baseline_estimates, log_delta_fs
from .dropout import attrition_estimates, leaving_times
from .estimate import Estimate
from .inputs import CohortData, cohort_data
from .result import CALIBRATED_SECTIONS, CohortCalibration, to_toml
from .slope import slope_estimates
from .weibull import fit_weibull_ph

__all__ = ["calibrate", "CohortCalibration", "file_hashes", "to_toml"]

COVARIATES = ("z_pnfh", "z_delta_fs", "bulbar_c", "age10")
SURVIVAL_PARAMS = {"z_pnfh": "log_hr_per_sd_log_pnfh", "z_delta_fs": "log_hr_per_sd_log_delta_fs",
                   "bulbar_c": "log_hr_bulbar", "age10": "log_hr_per_10y_age"}
SURVIVAL_ESTIMATOR = "Weibull proportional hazards, maximum likelihood (SE from the observed information)"


def file_hashes(folder: str | Path) -> dict[str, str]:
    """sha256 of every file in a trial folder (the data set a calibration came from)."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _digest(trial: Trial, files: dict[str, str] | None) -> str:
    h = hashlib.sha256()
    if files:
        for name, value in sorted(files.items()):
            h.update(f"{name}:{value}\n".encode())
    else:
        for name, table in trial.tables().items():
            if table is not None:
                h.update(name.encode())
                h.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _covariates(data: CohortData, v: dict) -> dict[str, np.ndarray]:
    c = v["cohort"]
    mu_f, sd_f = lognormal_params(c["delta_fs_mean"], c["delta_fs_sd"])
    with np.errstate(divide="ignore", invalid="ignore"):
        z_pnfh = (np.log(data.csf_pnfh) - c["csf_pnfh_log_mean"]) / c["csf_pnfh_log_sd"]
    # ΔFS = (48 - ALSFRS-R) / duration is computed from a whole-point score and a rounded
    # duration: the error attenuates its effects. Regression calibration: shrink each z towards 0
    # by its reliability, with the rounding variance (1/12 point^2, 0.1^2/12 month^2) by the delta method.
    points = np.maximum(48 - data.alsfrs_r_baseline, 0.5)
    error_var = (1 / 12) / points ** 2 + (0.01 / 12) / data.symptom_duration_months ** 2
    reliability = 1 / (1 + error_var / sd_f ** 2)
    return {"z_pnfh": z_pnfh, "z_delta_fs": reliability * (log_delta_fs(data) - mu_f) / sd_f,
            "bulbar_c": data.bulbar - c["bulbar_onset_fraction"], "age10": (data.age - c["age_mean_years"]) / 10}


def _covariance(v: dict) -> np.ndarray:
    c = v["cohort"]
    p, r = c["bulbar_onset_fraction"], c["corr_pnfh_delta_fs"]
    cov = np.diag([1.0, 1.0, p * (1 - p), (c["age_sd_years"] / 10) ** 2])
    cov[0, 1] = cov[1, 0] = r
    return cov


def _survival(data: CohortData, z: dict, v: dict, latent: bool) -> list[Estimate]:
    names = [k for k in COVARIATES if not (latent and k == "z_pnfh")]
    X = np.column_stack([z[k] for k in names])
    ok = np.all(np.isfinite(X), axis=1) & np.isfinite(data.time_days) & (data.time_days > 0)
    offset, frailty = np.zeros(int(ok.sum())), 0.0
    if latent:
        b, r = v["survival"]["log_hr_per_sd_log_pnfh"], v["cohort"]["corr_pnfh_delta_fs"]
        offset, frailty = b * r * z["z_delta_fs"][ok], b * np.sqrt(1 - r ** 2)
    fit = fit_weibull_ph(data.time_days[ok], data.event[ok], X[ok], offset, frailty)
    how = SURVIVAL_ESTIMATOR + (", latent pNfH integrated out (no CSF-pNfH in the trial)" if latent else "")
    # Centring the covariates at estimated means moves log(scale) by b'(error)/shape; add its variance.
    b = np.zeros(4)
    b[[COVARIATES.index(k) for k in names]] = fit.coef
    if latent:
        b[0] = v["survival"]["log_hr_per_sd_log_pnfh"]
    centring_var = float(b @ _covariance(v) @ b) / fit.n / fit.shape ** 2
    se_scale = fit.scale_days * float(np.sqrt(fit.cov[1, 1] + centring_var))
    out = [Estimate("survival.weibull_shape", fit.shape, fit.se_shape, how, fit.n),
           Estimate("survival.weibull_scale_days", fit.scale_days, se_scale, how, fit.n)]
    # z covariates are scaled by estimated sds: their relative error 1/sqrt(2n) rescales the coefficient.
    scaled = np.array([k in ("z_pnfh", "z_delta_fs") for k in names])
    se = np.sqrt(fit.se_coef ** 2 + np.where(scaled, fit.coef ** 2 / (2 * fit.n), 0.0))
    out += [Estimate(f"survival.{SURVIVAL_PARAMS[k]}", float(fit.coef[j]), float(se[j]), how, fit.n)
            for j, k in enumerate(names)]
    return out


def _reasons(dropout_reason: str | None) -> dict[str, str]:
    no_pnfh = "no CSF-pNfH values in the trial (participants.csf_pnfh)"
    out = {"cohort.male_fraction": "no participants.sex values",
           "cohort.riluzole_fraction": "no participants.riluzole values",
           "cohort.symptom_duration_mean_months": "no participants.symptom_duration_months values",
           "cohort.symptom_duration_sd_months": "no participants.symptom_duration_months values",
           "cohort.csf_pnfh_log_mean": no_pnfh, "cohort.csf_pnfh_log_sd": no_pnfh,
           "cohort.corr_pnfh_delta_fs": no_pnfh,
           "cohort.corr_pnfh_nfl": "needs CSF-pNfH and serum NfL at baseline in the same participants",
           "cohort.serum_nfl_log_mean": "no participants.serum_nfl values",
           "cohort.serum_nfl_log_sd": "no participants.serum_nfl values",
           "trajectory.slope_log_per_sd_log_pnfh": no_pnfh, "survival.log_hr_per_sd_log_pnfh": no_pnfh,
           "trajectory.early_to_late_ratio": "used only with trajectory = 'faster_early'; the calibration fits the "
                                             "simulator's linear decline",
           "trajectory.early_tau_months": "used only with trajectory = 'faster_early'",
           "survival.death_log_hr_per_alsfrs_point": "the calibrated Weibull model has no link from the current "
                                                     "ALSFRS-R to the death hazard (joint model: docs/joint.md)",
           "measurement.csf_pnfh_missing_fraction": no_pnfh,
           "measurement.biomarker_missing_fraction": "depends on a design's sampling schedule; not estimated",
           "measurement.csf_pnfh_assay_cv": "one baseline measurement per participant cannot separate the assay "
                                            "error from the biological variation (a retest study can)",
           "measurement.serum_nfl_assay_cv": "one baseline measurement per participant cannot separate the assay "
                                             "error from the biological variation (a retest study can)",
           "measurement.serum_nfl_visit_log_sd": "no later serum NfL samples with a baseline value (biomarkers "
                                                 "table)"}
    for key in ("mean_pct", "sd_pct", "per_alsfrs_point", "bulbar_shift_pct"):
        out[f"cohort.vital_capacity_{key}"] = "no participants.vital_capacity_pct values"
    for key in ("attrition_6_months", "attrition_12_months"):
        out[f"dropout.{key}"] = dropout_reason or "not estimated"
    return out


def calibrate(trial: Trial, arm: str | None = None, *, defaults: SimParameters | None = None,
              files: dict[str, str] | None = None, name: str | None = None) -> CohortCalibration:
    """Fit the cohort model to `trial` (the participants of `arm`, or all of them).

    `defaults` supplies what the data cannot inform (the shipped parameters.toml if None);
    `files` maps the data set's file names to their sha256 (see `file_hashes`) for the record.
    Raises `AnalysisError` naming what is missing when the data cannot support the fit (too
    few deaths, no ALSFRS-R, a single visit per participant).
    """
    defaults = defaults if defaults is not None else load_parameters()
    data = cohort_data(trial, arm)
    values = _copy(defaults.values)
    estimates: list[Estimate] = []

    def take(new: list[Estimate]) -> None:
        for e in new:
            section, key = e.parameter.split(".")
            values[section][key] = e.value
        estimates.extend(new)

    take(without_assay_error(baseline_estimates(data), assay_cvs(defaults.section("measurement"))))
    latent = not data.has("csf_pnfh")
    z = _covariates(data, values)
    names = [k for k in COVARIATES if not (latent and k == "z_pnfh")]
    latent_slope = (values["trajectory"]["slope_log_per_sd_log_pnfh"], values["cohort"]["corr_pnfh_delta_fs"]) \
        if latent else None
    slope, _ = slope_estimates(data, z, _covariance(values), names, latent_slope)
    take(slope)
    take(_survival(data, z, values, latent))
    attrition, dropout_reason = attrition_estimates(data)
    take(attrition)
    route = leaving_times(data)[2] if attrition else "none (defaults kept)"

    digest = _digest(trial, files)
    label = name or trial.info.name
    dataset_tag = f"{label} [sha256 {digest[:12]}]"
    sources = _copy(defaults.sources)
    done = {e.parameter: e for e in estimates}
    reasons = _reasons(dropout_reason)
    kept = {}
    for section in CALIBRATED_SECTIONS:
        for key in defaults.section(section):
            dotted = f"{section}.{key}"
            if dotted in done:
                sources[section][key] = done[dotted].source(dataset_tag)
            else:
                kept[dotted] = reasons.get(dotted, "not informed by this trial")
                sources[section][key] = f"default kept ({kept[dotted]}): {defaults.sources[section][key]}"
    params = SimParameters(values=values, sources=sources)
    CohortModel(params)  # the fitted values must make a valid cohort model (ParameterError if not)
    dataset = {"name": label, "selection": f"arm {arm}" if arm is not None else "all arms",
               "n_participants": data.n, "deaths": int(np.nansum(data.event)),
               "visits": int(len(data.visit_day)), "digest": digest, "files": dict(files or {})}
    return CohortCalibration(parameters=params, estimates=tuple(estimates), kept=kept, dataset=dataset,
                             dropout_route=route, latent_pnfh=latent, defaults=defaults)


def _copy(d: dict) -> dict:
    return {k: (_copy(v) if isinstance(v, dict) else (list(v) if isinstance(v, list) else v)) for k, v in d.items()}
