"""Compiled (numba) passes of the cohort model's arithmetic over a whole block.

The screening fields, the chosen candidates' neurofilaments, slope and hazard, and the
participants' table columns are elementwise: numpy computes each as a chain of array passes
(one per +, ×, clip, round, comparison, each with a temporary), which cost more than the
arithmetic at the block's size. These loops do the chain once per element, in numpy's order of
operations (left to right, no fused multiply-add: numba's default, fastmath off), so each value
is numpy's bit for bit. Every exp stays in numpy: the loops write its arguments, numpy takes the
exp of them all in one call, and a second loop reads the results (numpy's exp is not always the
C library's, which a compiled exp would call).

`CohortModel.screening_fields` / `latent_fields` and `simulate._participants` remain the
definitions; tests/sim_reference.py computes them the numpy way and the simulator must equal it
trial by trial (tests/test_sim_fast_route.py). Compiled on first use and cached on disk.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ParameterError
from .cohort import CohortModel, Eligibility, lognormal_params

__all__ = ["screening_fields", "latent_fields", "chosen_positions", "gather", "categories", "screening_measured",
           "participant_columns", "treatment", "weibull_days"]


@njit(cache=True)
def _screening_exponents(z1, z2, mu_d, sd_d, mu_f, sd_f, out):
    for k in range(z1.shape[0]):
        out[0, k] = mu_d + sd_d * z1[k]
        out[1, k] = mu_f + sd_f * z2[k]


@njit(cache=True)
def _screening_rest(z0, z5, bulbar, e, age_mean, age_sd, vc_mean, vc_per_point, vc_bulbar, bulbar_fraction, vc_sd,
                    age_min, age_max, duration_max, vc_min, age, baseline, vc, eligible):
    for k in range(z0.shape[0]):
        a = age_mean + age_sd * z0[k]
        b = np.rint(48.0 - e[1, k] * e[0, k])
        b = 0.0 if b < 0.0 else b  # as np.clip: a tie keeps b, so -0.0 stays -0.0
        b = 48.0 if b > 48.0 else b
        v = (vc_mean + vc_per_point * (b - 37.0) + vc_bulbar * ((1.0 if bulbar[k] else 0.0) - bulbar_fraction)
             + vc_sd * z5[k])
        v = 10.0 if v < 10.0 else v
        v = 130.0 if v > 130.0 else v
        age[k] = a
        baseline[k] = b
        vc[k] = v
        eligible[k] = a >= age_min and a <= age_max and e[0, k] <= duration_max and v >= vc_min


def screening_fields(cohort: CohortModel, eligibility: Eligibility,
                     raw: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(`cohort.screening_fields(raw)`, `eligibility.mask` of them): the same arrays, in two loops
    and one exp."""
    c = cohort.p["cohort"]
    z, bulbar = raw["z"], raw["bulbar"]
    shape = bulbar.shape
    flat = z.reshape(7, -1)
    mu_d, sd_d = lognormal_params(c["symptom_duration_mean_months"], c["symptom_duration_sd_months"])
    mu_f, sd_f = lognormal_params(c["delta_fs_mean"], c["delta_fs_sd"])
    e = np.empty((2, flat.shape[1]))
    _screening_exponents(flat[1], flat[2], mu_d, sd_d, mu_f, sd_f, e)
    np.exp(e, out=e)  # duration, ΔFS
    age, baseline, vc = np.empty(shape), np.empty(shape), np.empty(shape)
    eligible = np.empty(shape, dtype=bool)
    _screening_rest(flat[0], flat[5], bulbar.reshape(-1), e, float(c["age_mean_years"]), float(c["age_sd_years"]),
                    float(c["vital_capacity_mean_pct"]), float(c["vital_capacity_per_alsfrs_point"]),
                    float(c["vital_capacity_bulbar_shift_pct"]), float(c["bulbar_onset_fraction"]),
                    float(c["vital_capacity_sd_pct"]), float(eligibility.age_min_years),
                    float(eligibility.age_max_years), float(eligibility.symptom_duration_max_months),
                    float(eligibility.vital_capacity_min_pct), age.reshape(-1), baseline.reshape(-1), vc.reshape(-1),
                    eligible.reshape(-1))
    fields = {"age": age, "male": raw["male"], "bulbar": bulbar, "symptom_duration_months": e[0].reshape(shape),
              "delta_fs_true": e[1].reshape(shape), "alsfrs_r_baseline": baseline, "vital_capacity_pct": vc}
    return fields, eligible


@njit(cache=True)
def chosen_positions(accepted, eligible, n):
    """(flat positions of the first `n` accepted candidates of each trial, in (trial, candidate)
    order; candidates screened per trial, up to and including its n-th accepted; eligible among them)."""
    n_trials, m = accepted.shape
    index = np.empty(n_trials * n, np.int64)
    screened = np.zeros(n_trials, np.int64)
    n_eligible = np.zeros(n_trials, np.int64)
    k = 0
    for t in range(n_trials):
        taken = 0
        for c in range(m):
            n_eligible[t] += eligible[t, c]
            if accepted[t, c]:
                index[k] = t * m + c
                k += 1
                taken += 1
                if taken == n:
                    screened[t] = c + 1
                    break
    return index, screened, n_eligible


@njit(cache=True)
def _latent_exponents(z0, z2, z3, z4, z6, bulbar, r1, s1, r2, s2, pnfh_mean, pnfh_sd, nfl_mean, nfl_sd, age_mean,
                      age_sd, bulbar_fraction, slope_const, a_pnfh, a_dfs, a_bulbar, a_age, residual_sd, h_pnfh,
                      h_dfs, h_bulbar, h_age, e, log_hazard):
    for k in range(z0.shape[0]):
        z_pnfh = r1 * z2[k] + s1 * z3[k]
        z_nfl = r2 * z_pnfh + s2 * z4[k]
        age10 = ((age_mean + age_sd * z0[k]) - age_mean) / 10.0
        bulbar_c = (1.0 if bulbar[k] else 0.0) - bulbar_fraction
        e[0, k] = pnfh_mean + pnfh_sd * z_pnfh
        e[1, k] = nfl_mean + nfl_sd * z_nfl
        e[2, k] = (slope_const + a_pnfh * z_pnfh + a_dfs * z2[k] + a_bulbar * bulbar_c + a_age * age10
                   + residual_sd * z6[k])
        log_hazard[k] = h_pnfh * z_pnfh + h_dfs * z2[k] + h_bulbar * bulbar_c + h_age * age10


def latent_fields(cohort: CohortModel, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`cohort.latent_fields(raw)`: the same arrays, in one loop and one exp."""
    c, t, s = cohort.p["cohort"], cohort.p["trajectory"], cohort.p["survival"]
    shape = raw["bulbar"].shape
    z = raw["z"].reshape(7, -1)
    r1, r2 = c["corr_pnfh_delta_fs"], c["corr_pnfh_nfl"]
    slope_const = np.log(t["slope_mean_points_per_month"]) - t["slope_log_sd"] ** 2 / 2
    e = np.empty((3, z.shape[1]))
    log_hazard = np.empty(shape)
    _latent_exponents(z[0], z[2], z[3], z[4], z[6], raw["bulbar"].reshape(-1), float(r1), float(np.sqrt(1 - r1 ** 2)),
                      float(r2), float(np.sqrt(1 - r2 ** 2)), float(c["csf_pnfh_log_mean"]),
                      float(c["csf_pnfh_log_sd"]), float(c["serum_nfl_log_mean"]), float(c["serum_nfl_log_sd"]),
                      float(c["age_mean_years"]), float(c["age_sd_years"]), float(c["bulbar_onset_fraction"]),
                      float(slope_const), float(t["slope_log_per_sd_log_pnfh"]),
                      float(t["slope_log_per_sd_log_delta_fs"]), float(t["slope_log_bulbar"]), float(t["slope_log_per_10y_age"]), float(cohort._slope_residual_sd),
                      float(s["log_hr_per_sd_log_pnfh"]), float(s["log_hr_per_sd_log_delta_fs"]),
                      float(s["log_hr_bulbar"]), float(s["log_hr_per_10y_age"]), e, log_hazard.reshape(-1))
    np.exp(e, out=e)
    return {"csf_pnfh": e[0].reshape(shape), "serum_nfl": e[1].reshape(shape), "slope_per_month": e[2].reshape(shape),
            "log_hazard": log_hazard}


@njit(cache=True)
def _round(x, scale):
    return np.rint(x * scale) / scale  # np.round(x, d), scale = 10.0 ** d, as numpy computes it


@njit(cache=True)
def participant_columns(first_trial, arm, age, male, bulbar, duration, baseline, riluzole, country, pnfh_missing,
                        csf_pnfh, serum_nfl, vital_capacity, entry, death, dropout, horizon, censors, P, S):
    """The block's rows of the participants (`P`) and survival (`S`) tables, as `simulate._participants`
    and the censoring in `simulate._participants_block` compute them with numpy; `P`, `S` are
    tuples of the columns in `PARTICIPANT_DTYPES` / `SURVIVAL_DTYPES` order."""
    (p_trial, p_subject, p_arm, p_age, p_sex, p_onset, p_duration, p_baseline, p_delta_fs, p_riluzole, p_country,
     p_csf, p_nfl, p_vc, p_entry, p_withdrawal) = P
    s_trial, s_subject, s_time, s_event = S
    for t in range(arm.shape[0]):
        for i in range(arm.shape[1]):
            p_trial[t, i] = first_trial + t
            p_subject[t, i] = i
            s_trial[t, i] = first_trial + t
            s_subject[t, i] = i
            d, q = death[t, i], dropout[t, i]
            end = (horizon if horizon < q else q) if censors else horizon  # np.minimum(horizon, dropout)
            event = d <= end
            s_time[t, i] = d if event else end
            s_event[t, i] = event
            p_arm[t, i] = arm[t, i]
            p_age[t, i] = _round(age[t, i], 10.0)
            p_sex[t, i] = 0 if male[t, i] else 1
            p_onset[t, i] = 1 if bulbar[t, i] else 0
            dur = _round(duration[t, i], 10.0)
            p_duration[t, i] = dur
            p_baseline[t, i] = baseline[t, i]
            p_delta_fs[t, i] = _round((48.0 - baseline[t, i]) / dur, 1000.0)
            p_riluzole[t, i] = riluzole[t, i]
            p_country[t, i] = country[t, i]
            p_csf[t, i] = np.nan if pnfh_missing[t, i] else _round(csf_pnfh[t, i], 10.0)
            p_nfl[t, i] = _round(serum_nfl[t, i], 10.0)
            p_vc[t, i] = _round(vital_capacity[t, i], 10.0)
            p_entry[t, i] = np.floor(entry[t, i])
            p_withdrawal[t, i] = q if (q < d and q <= horizon) else np.nan


@njit(cache=True)
def gather(index, sources, out):
    """out[r, k] = sources[r][index[k]]: the chosen candidates' values of many variables in one call."""
    for r in range(len(sources)):
        src = sources[r]
        row = out[r]
        for k in range(index.shape[0]):
            row[k] = src[index[k]]


@njit(cache=True)
def categories(cdf, u):
    """np.searchsorted(cdf, u, side="right") for a sorted `cdf`: how many of its values are <= u."""
    out = np.empty(u.shape[0], np.int64)
    for k in range(u.shape[0]):
        c = 0
        for j in range(cdf.shape[0]):
            c += cdf[j] <= u[k]
        out[k] = c
    return out


@njit(cache=True)
def _assay_exponents(z, scale, shift, replicates, out):
    # z (marker, replicate, candidate); row m * replicates + r of out: scale[m]·z − shift[m]
    for m in range(z.shape[0]):
        for r in range(replicates):
            for k in range(z.shape[2]):
                out[m * replicates + r, k] = scale[m] * z[m, r, k] - shift[m]


@njit(cache=True)
def _assay_values(true_pnfh, true_nfl, factors, replicates, pnfh, nfl):
    for k in range(true_pnfh.shape[0]):
        if replicates == 1:
            pnfh[k] = true_pnfh[k] * factors[0, k]
            nfl[k] = true_nfl[k] * factors[1, k]
        else:  # the mean of two measurements
            pnfh[k] = true_pnfh[k] * ((factors[0, k] + factors[1, k]) / 2.0)
            nfl[k] = true_nfl[k] * ((factors[2, k] + factors[3, k]) / 2.0)


def screening_measured(true: dict[str, np.ndarray], z: np.ndarray, cvs: dict[str, float],
                       retest: bool) -> dict[str, np.ndarray]:
    """`measurement.screening_values(true, z, cvs, retest)` for MARKERS = (csf_pnfh, serum_nfl): the same
    arrays, in two loops and one exp."""
    shape = true["csf_pnfh"].shape
    sigma2 = [np.log1p(cvs[m] ** 2) for m in ("csf_pnfh", "serum_nfl")]  # as measurement.assay_factor
    for m in ("csf_pnfh", "serum_nfl"):
        if not 0 <= cvs[m] < 10:
            raise ParameterError("assay_cv", cvs[m], "must be a coefficient of variation in [0, 10)")
    replicates = 2 if retest else 1
    flat = z.reshape(2, 2, -1)
    f = np.empty((2 * replicates, flat.shape[2]))
    _assay_exponents(flat, np.array([float(np.sqrt(s)) for s in sigma2]), np.array([float(s / 2) for s in sigma2]),
                     replicates, f)
    np.exp(f, out=f)
    pnfh, nfl = np.empty(shape), np.empty(shape)
    _assay_values(true["csf_pnfh"].reshape(-1), true["serum_nfl"].reshape(-1), f, replicates, pnfh.reshape(-1),
                  nfl.reshape(-1))
    return {"csf_pnfh": pnfh, "serum_nfl": nfl}


@njit(cache=True)
def _rise_exponents(z, sigma, shift, out):
    for k in range(z.shape[0]):
        out[k] = sigma * z[k] - shift


@njit(cache=True)
def _effect(arm, rise_mean, factor, csf_pnfh, reference_rise, band_low, band_cut, log_hr_by_band, reduction_by_band,
            slope_per_month, log_hazard, rise, slope, minus_lp):
    # DrugModel.treg_rise (given its normals' exp) and .neurofilament_effect, the slope, and the
    # exponent −(log hazard + log HR) of CohortModel.death_days
    for k in range(arm.shape[0]):
        r = rise_mean[arm[k]] * factor[k]
        relative = r / reference_rise
        # np.searchsorted([band_low, band_cut], csf, side="right"), its binary search
        band = 2 if band_cut <= csf_pnfh[k] else (1 if band_low <= csf_pnfh[k] else 0)
        log_hr = relative * log_hr_by_band[band]
        ratio = 1.0 - relative * reduction_by_band[band]
        ratio = ratio if (ratio >= 0.0 or ratio != ratio) else 0.0  # np.maximum(ratio, 0.0)
        rise[k] = r
        slope[k] = slope_per_month[k] * ratio
        minus_lp[k] = -(log_hazard[k] + log_hr)


def treatment(drug, arm: np.ndarray, rise_mean: np.ndarray, z: np.ndarray, csf_pnfh: np.ndarray,
              slope_per_month: np.ndarray, log_hazard: np.ndarray, slope: np.ndarray,
              reference_rise: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(Treg rise, −(log hazard + log HR)) of each participant, and `slope` (out) = slope · slope ratio:
    `DrugModel.treg_rise(rng, dose, mean=rise_mean[arm])` from its normals `z` and the default
    `DrugModel.neurofilament_effect`, in two loops and one exp. `reference_rise`: the drug's
    `treg_rise_mean(reference_dose_miu)` where the caller has it."""
    p = drug.p
    if reference_rise is None:
        reference_rise = float(drug.treg_rise_mean(p["reference_dose_miu"]))
    sigma = np.sqrt(np.log1p(p["treg_response_cv"] ** 2))
    factor = np.empty(arm.size)
    _rise_exponents(z.reshape(-1), float(sigma), float(sigma ** 2 / 2), factor)
    np.exp(factor, out=factor)
    hr = np.array([p["hr_below_low_band"], p["hr_low_pnfh"], p["hr_high_pnfh"]])
    ratio = np.array([p["slope_ratio_below_low_band"], p["slope_ratio_low_pnfh"], p["slope_ratio_high_pnfh"]])
    rise, minus_lp = np.empty(arm.shape), np.empty(arm.shape)
    _effect(arm.reshape(-1), np.ascontiguousarray(rise_mean, dtype=float), factor, csf_pnfh.reshape(-1),
            float(reference_rise), float(p["pnfh_low_band_min_pg_ml"]),
            float(p["pnfh_cutoff_pg_ml"]), np.log(hr), 1 - ratio, slope_per_month.reshape(-1), log_hazard.reshape(-1),
            rise.reshape(-1), slope.reshape(-1), minus_lp.reshape(-1))
    return rise, minus_lp


@njit(cache=True)
def _times(scale, x, out):
    # np.maximum(np.ceil(scale * x), 1.0) of the Weibull times
    for t in range(x.shape[0]):
        for i in range(x.shape[1]):
            v = np.ceil(scale * x[t, i])
            out[t, i] = v if (v >= 1.0 or v != v) else 1.0  # a NaN stays, as in np.maximum


def weibull_days(e: np.ndarray, minus_lp: np.ndarray | None, shape: float, scale: float, out: np.ndarray) -> None:
    """`out` = max(ceil(scale · (e · exp(minus_lp)) ** (1 / shape)), 1) (days, `CohortModel.death_days`;
    the dropout times with `minus_lp` None): numpy's exp and power, then one loop."""
    x = e if minus_lp is None else np.multiply(e, np.exp(minus_lp, out=minus_lp), out=minus_lp)
    _times(float(scale), x ** (1 / shape), out)  # the ** operator, as numpy's own route (its fast powers)
