"""Baseline distributions: the `[cohort]` section (and the measurement fractions) from participants.

Each estimator matches the simulator's parametrisation in `sim/cohort.py`: normal age, Bernoulli
sex / onset / riluzole, log-normal symptom duration and ΔFS given by mean and sd, log-normal
neurofilaments with CSF-pNfH correlated with ΔFS and serum NfL correlated with CSF-pNfH (log
scale), and vital capacity linear in the baseline ALSFRS-R and onset site.
"""

from __future__ import annotations

import numpy as np

from .estimate import Estimate, log_mean_sd, lognormal_mean_sd, mean_sd, proportion
from .inputs import CohortData

__all__ = ["baseline_estimates", "log_delta_fs"]


def log_delta_fs(data: CohortData) -> np.ndarray:
    """log ΔFS, with ΔFS = 0 (no point lost at baseline) read as half a point over the symptom
    duration: the score is rounded, so 0 means less than half a point lost."""
    dfs = data.delta_fs.copy()
    zero = dfs == 0
    dfs[zero] = 0.5 / data.symptom_duration_months[zero]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(dfs > 0, np.log(dfs), np.nan)


def _corr(x: np.ndarray, y: np.ndarray, parameter: str, what: str) -> Estimate | None:
    ok = np.isfinite(x) & np.isfinite(y)
    n = int(ok.sum())
    if n < 30:
        return None
    r = float(np.corrcoef(x[ok], y[ok])[0, 1])
    return Estimate(parameter, r, (1 - r ** 2) / np.sqrt(n - 3), f"Pearson correlation of {what} (SE by Fisher's z)", n)


def _vital_capacity(data: CohortData, bulbar_fraction: float) -> list[Estimate]:
    ok = np.isfinite(data.vital_capacity_pct) & np.isfinite(data.alsfrs_r_baseline) & np.isfinite(data.bulbar)
    n = int(ok.sum())
    if n < 30:
        return []
    X = np.column_stack([np.ones(n), data.alsfrs_r_baseline[ok] - 37, data.bulbar[ok] - bulbar_fraction])
    y = data.vital_capacity_pct[ok]
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    sigma = float(np.sqrt(resid @ resid / (n - 3)))
    se = np.sqrt(np.diag(np.linalg.inv(X.T @ X))) * sigma
    est = "least squares of vital capacity on (ALSFRS-R baseline - 37) and centred bulbar onset"
    return [Estimate("cohort.vital_capacity_mean_pct", float(beta[0]), float(se[0]), est + ": intercept", n),
            Estimate("cohort.vital_capacity_per_alsfrs_point", float(beta[1]), float(se[1]), est, n),
            Estimate("cohort.vital_capacity_bulbar_shift_pct", float(beta[2]), float(se[2]), est, n),
            Estimate("cohort.vital_capacity_sd_pct", sigma, sigma / np.sqrt(2 * (n - 3)), est + ": residual sd", n)]


def baseline_estimates(data: CohortData) -> list[Estimate]:
    """Every `[cohort]` and `[measurement]` parameter the participants table informs."""
    out = mean_sd(data.age, "cohort", "age_mean_years", "age_sd_years", "age")
    if data.has("male"):
        out.append(proportion(data.male, "cohort.male_fraction", "of men"))
    bulbar = proportion(data.bulbar, "cohort.bulbar_onset_fraction",
                        "with bulbar onset (limb_and_bulbar counted as bulbar)")
    out.append(bulbar)
    if data.has("symptom_duration_months"):
        with np.errstate(divide="ignore", invalid="ignore"):
            log_duration = np.where(data.symptom_duration_months > 0, np.log(data.symptom_duration_months), np.nan)
        out += lognormal_mean_sd(log_duration, "cohort", "symptom_duration_mean_months",
                                 "symptom_duration_sd_months", "symptom duration")
    out += lognormal_mean_sd(log_delta_fs(data), "cohort", "delta_fs_mean", "delta_fs_sd",
                             "ΔFS (0 read as half a point over the symptom duration)")
    if data.has("riluzole"):
        out.append(proportion(data.riluzole, "cohort.riluzole_fraction", "taking riluzole"))
    log_dfs = log_delta_fs(data)
    if data.has("csf_pnfh"):
        out += log_mean_sd(data.csf_pnfh, "cohort", "csf_pnfh", "CSF-pNfH")
        with np.errstate(divide="ignore"):
            log_pnfh = np.log(data.csf_pnfh)
        out += [e for e in (_corr(log_pnfh, log_dfs, "cohort.corr_pnfh_delta_fs", "log CSF-pNfH and log ΔFS"),)
                if e is not None]
        if data.has("serum_nfl"):
            with np.errstate(divide="ignore"):
                e = _corr(log_pnfh, np.log(data.serum_nfl), "cohort.corr_pnfh_nfl", "log CSF-pNfH and log serum NfL")
            out += [e] if e is not None else []
        missing = np.isnan(data.csf_pnfh).astype(float)
        out.append(proportion(missing, "measurement.csf_pnfh_missing_fraction", "of participants without CSF-pNfH"))
    if data.has("serum_nfl"):
        out += log_mean_sd(data.serum_nfl, "cohort", "serum_nfl", "serum NfL at baseline")
    out += _vital_capacity(data, bulbar.value)
    out += _nfl_visit_sd(data)
    return out


def _nfl_visit_sd(data: CohortData) -> list[Estimate]:
    base = data.serum_nfl[data.nfl_subject]
    ok = np.isfinite(base) & (base > 0) & (data.nfl_value > 0)
    n = int(ok.sum())
    if n < 30:
        return []
    d = np.log(data.nfl_value[ok] / base[ok])
    sd = float(np.sqrt(np.mean(d ** 2)))  # the simulator's samples vary around the baseline level, mean 0
    return [Estimate("measurement.serum_nfl_visit_log_sd", sd, sd / np.sqrt(2 * n),
                     "root mean square of log(sample / baseline serum NfL), biomarkers table", n)]
