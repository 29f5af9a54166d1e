"""`simulate(design, n_trials, seed)` → `TrialBatch`, vectorised over trials and participants.

Reproducibility whatever the chunking: trials are made in fixed blocks of `TRIALS_PER_BLOCK`;
block `b` draws everything from its own stream `SeedSequence(seed, spawn_key=(b,))`. A chunk
`[first_trial, first_trial + n_trials)` makes the blocks it overlaps and keeps its trials, so
trial `i` is the same whether it was simulated alone, in a chunk, or in one big run.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..data.batch import TrialBatch
from ..data.schema import DAYS_PER_MONTH
from ..errors import ParameterError
from ._kernels import alsfrs_rows, biomarker_rows
from .design import Design
from .measurement import assay_rng
from .randomise import permuted_blocks
from .screening import SCREENING_COLUMNS, screen

__all__ = ["simulate", "simulate_chunk", "TRIALS_PER_BLOCK", "TABLES", "SCREENING_COLUMNS"]

TRIALS_PER_BLOCK = 32
TABLES = ("participants", "survival", "alsfrs", "biomarkers")
ANALYTES = ("treg_pct_cd4", "serum_nfl")
UNITS = ("%", "pg/mL")


def _checked_tables(tables) -> tuple[str, ...]:
    if isinstance(tables, str) or not all(isinstance(t, str) for t in tables):
        raise ParameterError("tables", tables, f"must be a sequence of table names among {TABLES}")
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise ParameterError("tables", tuple(tables), f"unknown table {unknown[0]!r}; the tables are {TABLES}")
    if "participants" not in tables or "survival" not in tables:
        raise ParameterError("tables", tuple(tables), "a batch always has 'participants' and 'survival'; name both")
    return tuple(t for t in TABLES if t in tables)


def simulate(design: Design, n_trials: int, seed: int, first_trial: int = 0,
             tables: Sequence[str] = TABLES) -> TrialBatch:
    """Simulate trials `first_trial .. first_trial + n_trials - 1` of `design` from `seed`.

    Screening counts per trial are in `batch.metadata["screening"]` (a DataFrame with a `trial`
    column: screened, eligible, enrichment_excluded, randomised). Beyond the data model's columns,
    `participants` has `vital_capacity_pct` (screening), `entry_day` (calendar day of
    randomisation from the trial's start) and `withdrawal_day` (day of leaving follow-up other
    than by death; NaN if the participant stayed to death or the horizon).

    `tables`: the tables to make, `participants` and `survival` always among them. A table left
    out is None in the batch (`batch.metadata["tables"]` names those made) and is not drawn at
    all, which saves most of the time when an analysis reads no biomarkers (or no ALSFRS-R); the
    tables made are the same, number for number, as in a run that makes every table.

    Example:
        >>> from mndtrial.sim import mirocals
        >>> batch = simulate(mirocals(), n_trials=2, seed=1)
        >>> batch.trial(0).n_participants
        220
        >>> simulate(mirocals(), n_trials=2, seed=1, tables=("participants", "survival")).alsfrs is None
        True
    """
    if not isinstance(design, Design):
        raise ParameterError("design", type(design).__name__, "must be a mndtrial.sim.Design (e.g. mirocals())")
    for name, value, least in (("n_trials", n_trials, 1), ("first_trial", first_trial, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
            raise ParameterError(name, value, f"must be a whole number >= {least}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ParameterError("seed", seed, "must be a whole number >= 0")
    tables = _checked_tables(tables)
    first_block = first_trial // TRIALS_PER_BLOCK
    last_block = (first_trial + n_trials - 1) // TRIALS_PER_BLOCK
    blocks = [_simulate_block(design, int(seed), b, tables) for b in range(first_block, last_block + 1)]
    lo = first_trial - first_block * TRIALS_PER_BLOCK
    # Table by table, so that each block's arrays are freed once joined (peak memory).
    joined = {name: _join([b.pop(name) for b in blocks], first_block, lo, n_trials)
              for name in (*tables, "screening")}
    return _batch(design, joined, n_trials, first_trial, int(seed))


def simulate_chunk(design: Design, seed: int, first_trial: int, n_trials: int,
                   tables: Sequence[str] = TABLES) -> TrialBatch:
    """Trials [first_trial, first_trial + n_trials) of the run `simulate(design, N, seed)`.

    For distributing a run over processes: the chunks, joined with `TrialBatch.concat`, equal
    the single run exactly.
    """
    return simulate(design, n_trials=n_trials, seed=seed, first_trial=first_trial, tables=tables)


# -- one block of trials ------------------------------------------------------------------------
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


def _simulate_block(design: Design, seed: int, block: int, tables: tuple[str, ...] = TABLES) -> dict:
    """One block's tables (`tables`), as flat columns. The block's stream is drawn in a fixed
    order, the biomarker samples last, so a table left out changes none of the others."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block,)))
    B, n = TRIALS_PER_BLOCK, design.n_randomised
    p, counts = screen(design, rng, B, assay_rng(seed, (block,)))
    entry = np.sort(rng.random((B, n)), axis=1) * design.accrual_days
    stratum, n_strata = _strata_codes(design, p)
    arm = permuted_blocks(rng, stratum, n_strata, design.weights, design.block_size)
    dose = np.array([a.dose_miu for a in design.arms])[arm]
    rise = design.drug.treg_rise(rng, dose)
    covariates = {"csf_pnfh": p["csf_pnfh"], "serum_nfl": p["serum_nfl"], "delta_fs": p["delta_fs_true"],
                  "age": p["age"], "bulbar": p["bulbar"]}
    log_hr, slope_ratio = design.drug.effect(dose, rise, covariates)
    slope = p["slope_per_month"] * slope_ratio
    if design.cohort.p["survival"]["death_log_hr_per_alsfrs_point"] == 0:
        death = np.maximum(np.ceil(design.cohort.death_days(rng, p["log_hazard"] + log_hr)), 1.0)
    else:  # informative dropout: the hazard follows the true ALSFRS-R (same draws from rng)
        death = np.maximum(design.cohort.death_days_given_alsfrs(
            rng, p["log_hazard"] + log_hr, p["alsfrs_r_baseline"], slope, design.horizon_days), 1.0)
    if design.dropout_weibull is None:
        dropout = np.full((B, n), np.inf)
    else:
        shape, scale = design.dropout_weibull
        dropout = np.maximum(np.ceil(scale * rng.standard_exponential((B, n)) ** (1 / shape)), 1.0)
    end = np.minimum(design.horizon_days, dropout) if design.dropout_censors_survival else np.full((B, n), design.horizon_days)
    event = death <= end
    time = np.where(event, death, end)
    first = block * B
    out = {"participants": _participants(design, p, arm, entry, death, dropout, first),
           "survival": {"trial": np.repeat(first + np.arange(B), n), "subject": np.tile(np.arange(n), B),
                        "time_days": time.ravel(), "event": event.ravel().astype(np.int64)},
           "screening": {"trial": first + np.arange(B), **counts}}
    horizon = float(design.horizon_days)
    # ALSFRS-R: the baseline visit is the screening score; later visits follow the slope plus noise.
    if "alsfrs" in tables or "biomarkers" in tables:  # the biomarkers' draws come after these
        visits = np.asarray(design.alsfrs_visit_days, dtype=float)
        noise = rng.standard_normal((B, n, len(visits)))
        if "alsfrs" in tables:
            decline = np.asarray(design.cohort.decline(visits / DAYS_PER_MONTH), dtype=float)
            cols = alsfrs_rows(p["alsfrs_r_baseline"], slope, decline, noise,
                               float(design.cohort.p["trajectory"]["residual_sd_points"]), visits, horizon,
                               death, dropout, first)
            out["alsfrs"] = dict(zip(("trial", "subject", "day", "total"), cols))
    if "biomarkers" in tables:
        out["biomarkers"] = _biomarkers(design, rng, p, rise, death, dropout, first)
    return out


def _participants(design: Design, p: dict, arm: np.ndarray, entry: np.ndarray, death: np.ndarray,
                  dropout: np.ndarray, first: int) -> dict:
    # csf_pnfh / serum_nfl are the screening measurements (what an enrichment rule saw, assay
    # error included; the effect used the true levels).
    B, n = arm.shape
    duration = np.round(p["symptom_duration_months"], 1)
    return {
        "trial": np.repeat(first + np.arange(B), n), "subject": np.tile(np.arange(n), B),
        "arm": arm.ravel().astype(np.int8),
        "age": np.round(p["age"], 1).ravel(), "sex": (~p["male"]).ravel().astype(np.int8),
        "onset_site": p["bulbar"].ravel().astype(np.int8),
        "symptom_duration_months": duration.ravel(), "alsfrs_r_baseline": p["alsfrs_r_baseline"].ravel(),
        "delta_fs": np.round((48 - p["alsfrs_r_baseline"]) / duration, 3).ravel(),
        "riluzole": p["riluzole"].ravel(), "country": p["country"].ravel().astype(np.int16),
        "csf_pnfh": np.where(p["pnfh_missing"], np.nan, np.round(p["csf_pnfh_measured"], 1)).ravel(),
        "serum_nfl": np.round(p["serum_nfl_measured"], 1).ravel(),
        "vital_capacity_pct": np.round(p["vital_capacity_pct"], 1).ravel(),
        "entry_day": np.floor(entry).ravel(),
        "withdrawal_day": np.where((dropout < death) & (dropout <= design.horizon_days), dropout, np.nan).ravel(),
    }


def _biomarkers(design: Design, rng: np.random.Generator, p: dict, rise: np.ndarray, death: np.ndarray,
                dropout: np.ndarray, first: int) -> dict:
    """Tregs follow the IL-2 courses; serum NfL varies around its baseline level. The samples
    (day 0 included) each have their own variation; some are missing at random."""
    B, n = rise.shape
    dp, meas = design.drug.p, design.cohort.p["measurement"]
    t_days = np.asarray(design.treg_visit_days, dtype=float)
    n_days = np.asarray(design.serum_nfl_visit_days, dtype=float)
    treg_base = np.maximum(dp["treg_baseline_mean_pct"] + dp["treg_baseline_sd_pct"] * rng.standard_normal((B, n)), 0.5)
    treg_z = rng.standard_normal((B, n, len(t_days)))
    nfl_factor = np.exp(meas["serum_nfl_visit_log_sd"] * rng.standard_normal((B, n, len(n_days))))
    u = rng.random((B, n, len(t_days) + len(n_days)))
    kinetics = np.asarray(design.drug.kinetics(t_days, design.treatment_days), dtype=float)
    cols = biomarker_rows(treg_base, rise, kinetics, treg_z, float(dp["treg_measurement_sd_pct"]), p["serum_nfl"],
                          nfl_factor, u, float(meas["biomarker_missing_fraction"]), np.concatenate([t_days, n_days]),
                          float(design.horizon_days), death, dropout, first)
    return dict(zip(("trial", "subject", "day", "analyte", "value"), cols))


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
                             "event": S["event"], "event_type": _categorical(1 - S["event"], ("death", "censored"))},
                            copy=False)
    alsfrs = biomarkers = None
    if t.get("alsfrs") is not None and len(t["alsfrs"]["trial"]):
        alsfrs = pd.DataFrame(t["alsfrs"], copy=False)
    Bm = t.get("biomarkers")
    if Bm is not None and len(Bm["trial"]):
        biomarkers = pd.DataFrame({"trial": Bm["trial"], "subject": Bm["subject"], "day": Bm["day"],
                                   "analyte": _categorical(Bm["analyte"], ANALYTES), "value": Bm["value"],
                                   "unit": _categorical(Bm["analyte"], UNITS)}, copy=False)
    screening = pd.DataFrame(t["screening"])
    metadata = {"design": design.name, "seed": seed, "trials_per_block": TRIALS_PER_BLOCK,
                "screening": screening, "tables": tuple(k for k in TABLES if k in t)}
    return TrialBatch(info=design.trial_info(), n_trials=n_trials, participants=participants,
                      survival=survival, alsfrs=alsfrs, biomarkers=biomarkers,
                      first_trial=first_trial, metadata=metadata)
