"""The simulator's numpy route, kept as the slow, obvious reference of `mndtrial.sim.simulate`.

This is `mndtrial.sim.simulate` (with `CohortModel.draw` and `randomise.permuted_blocks`) as it
was before the compiled route (mndtrial 2026-12, issue 12): every candidate's variables computed
at screening, `rng.choice` for the country, `np.argsort` for the permuted blocks, `np.nonzero` for
the visit tables, every table drawn. The fast route must give the same trials, number for number
(tests/test_sim_fast_route.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mndtrial.data.batch import TrialBatch
from mndtrial.data.schema import DAYS_PER_MONTH
from mndtrial.errors import ParameterError
from mndtrial.sim.cohort import lognormal_params
from mndtrial.sim.design import Design
from mndtrial.sim.measurement import assay_cvs, assay_normals, assay_rng, screening_values

TRIALS_PER_BLOCK = 32
ANALYTES = ("treg_pct_cd4", "serum_nfl")
UNITS = ("%", "pg/mL")


def reference_simulate(design: Design, n_trials: int, seed: int, first_trial: int = 0) -> TrialBatch:
    """The simulator as it was before its compiled route (every table, all arithmetic on whole grids)."""
    if not isinstance(design, Design):
        raise ParameterError("design", type(design).__name__, "must be a mndtrial.sim.Design (e.g. mirocals())")
    for name, value, least in (("n_trials", n_trials, 1), ("first_trial", first_trial, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
            raise ParameterError(name, value, f"must be a whole number >= {least}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ParameterError("seed", seed, "must be a whole number >= 0")
    first_block = first_trial // TRIALS_PER_BLOCK
    last_block = (first_trial + n_trials - 1) // TRIALS_PER_BLOCK
    blocks = [_simulate_block(design, int(seed), b) for b in range(first_block, last_block + 1)]
    lo = first_trial - first_block * TRIALS_PER_BLOCK
    # Table by table, so that each block's arrays are freed once joined (peak memory).
    tables = {name: _join([b.pop(name) for b in blocks], first_block, lo, n_trials)
              for name in ("participants", "survival", "alsfrs", "biomarkers", "screening")}
    return _batch(design, tables, n_trials, first_trial, int(seed))


def cohort_draw(cohort, rng: np.random.Generator, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Candidates for screening: every baseline variable plus the latent slope and hazard."""
    c, t, s = cohort.p["cohort"], cohort.p["trajectory"], cohort.p["survival"]
    z = rng.standard_normal((7, *shape))
    age = c["age_mean_years"] + c["age_sd_years"] * z[0]
    male = rng.random(shape) < c["male_fraction"]
    bulbar = rng.random(shape) < c["bulbar_onset_fraction"]
    mu_d, sd_d = lognormal_params(c["symptom_duration_mean_months"], c["symptom_duration_sd_months"])
    duration = np.exp(mu_d + sd_d * z[1])
    mu_f, sd_f = lognormal_params(c["delta_fs_mean"], c["delta_fs_sd"])
    z_dfs = z[2]
    delta_fs_true = np.exp(mu_f + sd_f * z_dfs)
    r1, r2 = c["corr_pnfh_delta_fs"], c["corr_pnfh_nfl"]
    z_pnfh = r1 * z_dfs + np.sqrt(1 - r1 ** 2) * z[3]
    z_nfl = r2 * z_pnfh + np.sqrt(1 - r2 ** 2) * z[4]
    csf_pnfh = np.exp(c["csf_pnfh_log_mean"] + c["csf_pnfh_log_sd"] * z_pnfh)
    serum_nfl = np.exp(c["serum_nfl_log_mean"] + c["serum_nfl_log_sd"] * z_nfl)
    baseline = np.clip(np.round(48 - delta_fs_true * duration), 0, 48)
    vc = (c["vital_capacity_mean_pct"] + c["vital_capacity_per_alsfrs_point"] * (baseline - 37)
          + c["vital_capacity_bulbar_shift_pct"] * (bulbar - c["bulbar_onset_fraction"])
          + c["vital_capacity_sd_pct"] * z[5]).clip(10.0, 130.0)  # keep % predicted physiological
    age10 = (age - c["age_mean_years"]) / 10
    bulbar_c = bulbar - c["bulbar_onset_fraction"]
    log_slope = (np.log(t["slope_mean_points_per_month"]) - t["slope_log_sd"] ** 2 / 2
                 + t["slope_log_per_sd_log_pnfh"] * z_pnfh + t["slope_log_per_sd_log_delta_fs"] * z_dfs
                 + t["slope_log_bulbar"] * bulbar_c + t["slope_log_per_10y_age"] * age10
                 + cohort._slope_residual_sd * z[6])
    log_hazard = (s["log_hr_per_sd_log_pnfh"] * z_pnfh + s["log_hr_per_sd_log_delta_fs"] * z_dfs
                  + s["log_hr_bulbar"] * bulbar_c + s["log_hr_per_10y_age"] * age10)
    return {"age": age, "male": male, "bulbar": bulbar, "symptom_duration_months": duration,
            "delta_fs_true": delta_fs_true, "csf_pnfh": csf_pnfh, "serum_nfl": serum_nfl,
            "alsfrs_r_baseline": baseline, "vital_capacity_pct": vc,
            "slope_per_month": np.exp(log_slope), "log_hazard": log_hazard}


def permuted_blocks(rng: np.random.Generator, stratum: np.ndarray, n_strata: int,
                    weights: tuple[int, ...], block_size: int) -> np.ndarray:
    """Arm index (position in `weights`) for participants `stratum[trial, arrival]`.

    `block_size` must be a multiple of `sum(weights)`; the last block of a stratum may be
    incomplete, as in a real trial.
    """
    unit = sum(weights)
    if block_size <= 0 or block_size % unit:
        raise ParameterError("block_size", block_size, f"must be a positive multiple of the allocation total ({unit})")
    n_trials, n = stratum.shape
    onehot = stratum[..., None] == np.arange(n_strata)
    rank = (np.cumsum(onehot, axis=1) - 1)[onehot].reshape(n_trials, n)
    n_blocks = -(-n // block_size)
    template = np.repeat(np.arange(len(weights)), np.asarray(weights) * (block_size // unit))
    order = np.argsort(rng.random((n_trials, n_strata, n_blocks, block_size)), axis=-1)
    arms = template[order]
    trial = np.broadcast_to(np.arange(n_trials)[:, None], (n_trials, n))
    return arms[trial, stratum, rank // block_size, rank % block_size]


# -- one block of trials ------------------------------------------------------------------------
def _screen(design: Design, rng: np.random.Generator, n_trials: int,
            assay: np.random.Generator) -> tuple[dict, dict]:
    """Draw candidates in rounds until every trial has `n_randomised` accepted ones.

    Each candidate's neurofilaments are measured at screening (`measurement.screening_values`,
    assay errors from the separate stream `assay`); the enrichment rule sees the measured value.
    """
    n = design.n_randomised
    per_round = int(np.ceil(n / design.acceptance * 1.15)) + 8
    meas = design.cohort.p["measurement"]
    cvs = assay_cvs(meas)
    rounds: list[dict] = []
    accepted = np.zeros(n_trials, dtype=int)
    while True:
        cand = cohort_draw(design.cohort, rng, (n_trials, per_round))
        cand["country"] = rng.choice(len(design.countries), size=(n_trials, per_round), p=design.country_fractions)
        ril = design.cohort.p["cohort"]["riluzole_fraction"] if design.riluzole_fraction is None else design.riluzole_fraction
        cand["riluzole"] = rng.random((n_trials, per_round)) < ril
        cand["pnfh_missing"] = rng.random((n_trials, per_round)) < meas["csf_pnfh_missing_fraction"]
        measured = screening_values(cand, assay_normals(assay, (n_trials, per_round)), cvs, design.screening_retest)
        cand.update({f"{m}_measured": v for m, v in measured.items()})
        eligible = design.eligibility.mask(cand)
        in_range = np.ones_like(eligible)
        if design.enrichment is not None:
            e = design.enrichment
            v = cand[f"{e.biomarker}_measured"]
            in_range = (v >= e.low) & (v <= e.high)
            if e.biomarker == "csf_pnfh":
                in_range &= ~cand["pnfh_missing"]
        cand["eligible"], cand["accepted"] = eligible, eligible & in_range
        rounds.append(cand)
        accepted += cand["accepted"].sum(axis=1)
        if np.all(accepted >= n):
            break
    cand = {k: np.concatenate([r[k] for r in rounds], axis=1) for k in rounds[0]}
    position = np.cumsum(cand["accepted"], axis=1)
    screened = np.argmax(position >= n, axis=1) + 1
    seen = np.arange(position.shape[1])[None, :] < screened[:, None]
    take = cand["accepted"] & (position <= n)
    chosen = {k: v[take].reshape(n_trials, n) for k, v in cand.items()}
    eligible = (cand["eligible"] & seen).sum(axis=1)
    counts = {"screened": screened, "eligible": eligible,
              "enrichment_excluded": eligible - n, "randomised": np.full(n_trials, n)}
    return chosen, counts


def _strata_codes(design: Design, p: dict) -> tuple[np.ndarray, int]:
    codes = {"country": (p["country"], len(design.countries)),
             "onset_site": (p["bulbar"].astype(int), 2), "sex": (p["male"].astype(int), 2)}
    stratum = np.zeros(p["age"].shape, dtype=int)
    n_strata = 1
    for s in design.strata:
        code, size = codes[s]
        stratum = stratum * size + code
        n_strata *= size
    return stratum, n_strata


def _simulate_block(design: Design, seed: int, block: int) -> dict:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block,)))
    B, n = TRIALS_PER_BLOCK, design.n_randomised
    p, counts = _screen(design, rng, B, assay_rng(seed, (block,)))
    entry = np.sort(rng.random((B, n)), axis=1) * design.accrual_days
    stratum, n_strata = _strata_codes(design, p)
    arm = permuted_blocks(rng, stratum, n_strata, design.weights, design.block_size)
    dose = np.array([a.dose_miu for a in design.arms])[arm]
    rise = design.drug.treg_rise(rng, dose)
    covariates = {"csf_pnfh": p["csf_pnfh"], "serum_nfl": p["serum_nfl"], "delta_fs": p["delta_fs_true"],
                  "age": p["age"], "bulbar": p["bulbar"]}
    log_hr, slope_ratio = design.drug.effect(dose, rise, covariates)
    if design.cohort.p["survival"]["death_log_hr_per_alsfrs_point"] == 0:
        death = np.maximum(np.ceil(design.cohort.death_days(rng, p["log_hazard"] + log_hr)), 1.0)
    else:  # informative dropout: the hazard follows the true ALSFRS-R (same draws from rng)
        death = np.maximum(design.cohort.death_days_given_alsfrs(
            rng, p["log_hazard"] + log_hr, p["alsfrs_r_baseline"], p["slope_per_month"] * slope_ratio,
            design.horizon_days), 1.0)
    if design.dropout_weibull is None:
        dropout = np.full((B, n), np.inf)
    else:
        shape, scale = design.dropout_weibull
        dropout = np.maximum(np.ceil(scale * rng.standard_exponential((B, n)) ** (1 / shape)), 1.0)
    end = np.minimum(design.horizon_days, dropout) if design.dropout_censors_survival else np.full((B, n), design.horizon_days)
    event = death <= end
    time = np.where(event, death, end)
    in_follow_up = lambda days: ((days <= design.horizon_days) & (days < death[..., None])  # noqa: E731
                                 & (days <= dropout[..., None]))

    # ALSFRS-R: the baseline visit is the screening score; later visits follow the slope plus noise.
    visits = np.asarray(design.alsfrs_visit_days, dtype=float)
    decline = design.cohort.decline(visits / DAYS_PER_MONTH)
    noise = rng.standard_normal((B, n, len(visits))) * design.cohort.p["trajectory"]["residual_sd_points"]
    noise[..., visits == 0] = 0.0
    total = p["alsfrs_r_baseline"][..., None] - (p["slope_per_month"] * slope_ratio)[..., None] * decline + noise
    total = np.clip(np.round(total), 0, 48)
    a_mask = in_follow_up(visits)

    # Biomarkers: Tregs follow the IL-2 courses; serum NfL varies around its baseline level.
    dp = design.drug.p
    meas = design.cohort.p["measurement"]
    t_days = np.asarray(design.treg_visit_days, dtype=float)
    treg_base = np.maximum(dp["treg_baseline_mean_pct"] + dp["treg_baseline_sd_pct"] * rng.standard_normal((B, n)), 0.5)
    treg = (treg_base[..., None] + rise[..., None] * design.drug.kinetics(t_days, design.treatment_days)
            + dp["treg_measurement_sd_pct"] * rng.standard_normal((B, n, len(t_days))))
    treg = np.round(np.maximum(treg, 0.1), 2)
    n_days = np.asarray(design.serum_nfl_visit_days, dtype=float)
    nfl = np.round(p["serum_nfl"][..., None] * np.exp(meas["serum_nfl_visit_log_sd"]
                                                     * rng.standard_normal((B, n, len(n_days)))), 1)
    bio_days = np.concatenate([t_days, n_days])
    bio_value = np.concatenate([treg, nfl], axis=2)
    bio_analyte = np.concatenate([np.zeros(len(t_days), dtype=np.int8), np.ones(len(n_days), dtype=np.int8)])
    b_mask = in_follow_up(bio_days) & (rng.random(bio_value.shape) >= meas["biomarker_missing_fraction"])
    # participants.csf_pnfh / serum_nfl are the screening measurements (what an enrichment rule
    # saw, assay error included; the effect above used the true levels); the biomarkers table
    # holds the later samples, day 0 included, each with its own variation.
    nfl0 = np.round(p["serum_nfl_measured"], 1)

    trial_index = np.broadcast_to((block * B + np.arange(B))[:, None], (B, n))
    subject = np.broadcast_to(np.arange(n)[None, :], (B, n))
    duration = np.round(p["symptom_duration_months"], 1)
    participants = {
        "trial": trial_index.ravel(), "subject": subject.ravel(), "arm": arm.ravel().astype(np.int8),
        "age": np.round(p["age"], 1).ravel(), "sex": (~p["male"]).ravel().astype(np.int8),
        "onset_site": p["bulbar"].ravel().astype(np.int8),
        "symptom_duration_months": duration.ravel(), "alsfrs_r_baseline": p["alsfrs_r_baseline"].ravel(),
        "delta_fs": np.round((48 - p["alsfrs_r_baseline"]) / duration, 3).ravel(),
        "riluzole": p["riluzole"].ravel(), "country": p["country"].ravel().astype(np.int16),
        "csf_pnfh": np.where(p["pnfh_missing"], np.nan, np.round(p["csf_pnfh_measured"], 1)).ravel(),
        "serum_nfl": nfl0.ravel(), "vital_capacity_pct": np.round(p["vital_capacity_pct"], 1).ravel(),
        "entry_day": np.floor(entry).ravel(),
        "withdrawal_day": np.where((dropout < death) & (dropout <= design.horizon_days), dropout, np.nan).ravel(),
    }
    survival = {"trial": trial_index.ravel(), "subject": subject.ravel(), "time_days": time.ravel(),
                "event": event.ravel().astype(np.int64)}
    t, i, v = np.nonzero(a_mask)
    alsfrs = {"trial": block * B + t, "subject": i, "day": visits[v], "total": total[t, i, v]}
    t, i, v = np.nonzero(b_mask)
    biomarkers = {"trial": block * B + t, "subject": i, "day": bio_days[v],
                  "analyte": bio_analyte[v], "value": bio_value[t, i, v]}
    screening = {"trial": block * B + np.arange(B), **counts}
    return {"participants": participants, "survival": survival, "alsfrs": alsfrs,
            "biomarkers": biomarkers, "screening": screening}


# -- assembling the batch -----------------------------------------------------------------------
def _join(parts: list[dict], first_block: int, lo: int, n_trials: int) -> dict:
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    start = first_block * TRIALS_PER_BLOCK + lo
    t = cols["trial"]
    a, b = np.searchsorted(t, start, "left"), np.searchsorted(t, start + n_trials, "left")
    return {k: v[a:b] for k, v in cols.items()}


def _categorical(codes: np.ndarray, categories) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.astype(np.int16), categories=list(categories))


def _batch(design: Design, t: dict, n_trials: int, first_trial: int, seed: int) -> TrialBatch:
    P = t["participants"]
    participants = pd.DataFrame({
        "trial": P["trial"], "subject": P["subject"],
        "arm": _categorical(P["arm"], design.arm_names),
        "age": P["age"], "sex": _categorical(P["sex"], ("M", "F")),
        "onset_site": _categorical(P["onset_site"], ("limb", "bulbar")),
        "symptom_duration_months": P["symptom_duration_months"], "alsfrs_r_baseline": P["alsfrs_r_baseline"],
        "delta_fs": P["delta_fs"], "riluzole": P["riluzole"],
        "country": _categorical(P["country"], design.countries),
        "csf_pnfh": P["csf_pnfh"], "serum_nfl": P["serum_nfl"],
        "vital_capacity_pct": P["vital_capacity_pct"], "entry_day": P["entry_day"],
        "withdrawal_day": P["withdrawal_day"],
    }, copy=False)
    S = t["survival"]
    survival = pd.DataFrame({"trial": S["trial"], "subject": S["subject"], "time_days": S["time_days"],
                             "event": S["event"], "event_type": _categorical(1 - S["event"], ("death", "censored"))})
    alsfrs = pd.DataFrame(t["alsfrs"], copy=False)
    Bm = t["biomarkers"]
    biomarkers = pd.DataFrame({"trial": Bm["trial"], "subject": Bm["subject"], "day": Bm["day"],
                               "analyte": _categorical(Bm["analyte"], ANALYTES), "value": Bm["value"],
                               "unit": _categorical(Bm["analyte"], UNITS)}, copy=False)
    screening = pd.DataFrame(t["screening"])
    metadata = {"design": design.name, "seed": seed, "trials_per_block": TRIALS_PER_BLOCK,
                "screening": screening}
    return TrialBatch(info=design.trial_info(), n_trials=n_trials, participants=participants,
                      survival=survival, alsfrs=alsfrs if len(alsfrs) else None,
                      biomarkers=biomarkers if len(biomarkers) else None,
                      first_trial=first_trial, metadata=metadata)
