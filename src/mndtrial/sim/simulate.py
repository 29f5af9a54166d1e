"""`simulate(design, n_trials, seed)` → `TrialBatch`, vectorised over trials and participants.

Reproducibility whatever the chunking: trials are made in fixed blocks of `TRIALS_PER_BLOCK`;
block `b` draws everything from its own stream `SeedSequence(seed, spawn_key=(b,))`. A chunk
`[first_trial, first_trial + n_trials)` makes the blocks it overlaps and keeps its trials, so
trial `i` is the same whether it was simulated alone, in a chunk, or in one big run.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np
import pandas as pd

from ..data.batch import TrialBatch
from ..data.schema import DAYS_PER_MONTH
from ..errors import ParameterError
from ._normal import TABLES as ZIGGURAT_TABLES, pcg64_state, standard_normal
from ._fused import participant_columns, treatment, weibull_days
from ._kernels import alsfrs_rows, alsfrs_rows_drawn, biomarker_rows, visit_rows
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
    return _batch(design, _run(design, int(seed), int(first_trial), int(n_trials), tables), n_trials, first_trial, int(seed))


def simulate_chunk(design: Design, seed: int, first_trial: int, n_trials: int,
                   tables: Sequence[str] = TABLES) -> TrialBatch:
    """Trials [first_trial, first_trial + n_trials) of the run `simulate(design, N, seed)`.

    For distributing a run over processes: the chunks, joined with `TrialBatch.concat`, equal
    the single run exactly.
    """
    return simulate(design, n_trials=n_trials, seed=seed, first_trial=first_trial, tables=tables)


# -- the run: every block's participants, then the visit tables ----------------------------------
# Each block draws from its own stream in a fixed order: screening, entry, randomisation, Treg rise,
# death, dropout (phase 1), then the ALSFRS-R noise and the biomarker samples (phase 2). Phase 2
# runs once phase 1 has made every block, on the same generators (each left where its phase 1
# ended), so that the visit tables are written once into columns of their final size; the draws
# and the arithmetic are those of one block made start to finish.
PARTICIPANT_DTYPES = {"trial": np.int64, "subject": np.int64, "arm": np.int8, "age": float, "sex": np.int8,
                      "onset_site": np.int8, "symptom_duration_months": float, "alsfrs_r_baseline": float,
                      "delta_fs": float, "riluzole": bool, "country": np.int16, "csf_pnfh": float,
                      "serum_nfl": float, "vital_capacity_pct": float, "entry_day": float, "withdrawal_day": float}
SURVIVAL_DTYPES = {"trial": np.int64, "subject": np.int64, "time_days": float, "event": np.int64}


def _run(design: Design, seed: int, first_trial: int, n_trials: int, tables: tuple[str, ...]) -> dict:
    """{table: {column: array}} of trials [first_trial, first_trial + n_trials), and "screening"."""
    B, n = TRIALS_PER_BLOCK, design.n_randomised
    first_block = first_trial // B
    n_blocks = (first_trial + n_trials - 1) // B - first_block + 1
    lo = first_trial - first_block * B  # the kept trials are [lo, lo + n_trials) of the blocks'
    covered = n_blocks * B
    trials = np.arange(first_block * B, (first_block + n_blocks) * B)
    P, S = _columns((covered, n), PARTICIPANT_DTYPES, SURVIVAL_DTYPES)
    keep = ("slope", "death", "dropout") + (("rise", "serum_nfl_true") if "biomarkers" in tables else ())
    K = {k: np.empty((covered, n)) for k in keep}
    generators, screening = [], []
    drug, arm_doses = design.drug, np.array([a.dose_miu for a in design.arms])
    # once per run, not per block: the arms' mean Treg rises and the reference dose's
    drug_means = (drug.treg_rise_mean(arm_doses), float(drug.treg_rise_mean(drug.p["reference_dose_miu"])))
    for k in range(n_blocks):
        rows = slice(k * B, (k + 1) * B)
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(first_block + k,)))
        counts = _participants_block(design, drug_means, rng, assay_rng(seed, (first_block + k,)),
                                     (first_block + k) * B, {c: a[rows] for c, a in P.items()},
                                     {c: a[rows] for c, a in S.items()}, {c: a[rows] for c, a in K.items()})
        screening.append(counts)
        generators.append(rng)
    kept = slice(lo, lo + n_trials)
    out = {"participants": {c: a[kept].reshape(-1) for c, a in P.items()},
           "survival": {c: a[kept].reshape(-1) for c, a in S.items()},
           "screening": {"trial": trials[kept], **{c: np.concatenate([s[c] for s in screening])[kept]
                                                   for c in SCREENING_COLUMNS}}}
    if "alsfrs" in tables or "biomarkers" in tables:  # the biomarkers' draws come after these
        out.update(_visit_tables(design, generators, P["alsfrs_r_baseline"], K, first_block * B, lo, n_trials, tables))
    return out


def _columns(shape: tuple[int, ...], *tables: dict) -> list[dict]:
    """Empty columns of `shape` for each {column: dtype} of `tables`, cut from one allocation.

    One large allocation is mapped in far fewer page faults than many (the kernel backs it with
    huge pages where it can, and numpy asks for them from 4 MiB on); the page faults of fresh
    output columns were a large part of the system time of a run. The columns are views that
    keep the allocation alive together, as the tables of one batch do anyway.
    """
    size = int(np.prod(shape))
    specs = [(t, k, np.dtype(d)) for t, table in enumerate(tables) for k, d in table.items()]
    offsets, at = [], 0
    for _, _, d in specs:
        offsets.append(at)
        at += -(-size * d.itemsize // 64) * 64  # each column on a 64-byte boundary
    buffer = np.empty(max(at, 1), dtype=np.uint8)
    out: list[dict] = [{} for _ in tables]
    for (t, k, d), o in zip(specs, offsets):
        out[t][k] = buffer[o:o + size * d.itemsize].view(d).reshape(shape)
    return out


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


def _participants_block(design: Design, drug_means: tuple, rng: np.random.Generator, assay: np.random.Generator,
                        first: int, P: dict, S: dict, K: dict) -> dict:
    """Phase 1 of one block: screening to survival, written into the block's rows of P (participants),
    S (survival) and K (what phase 2 reads); returns the screening counts."""
    B, n = TRIALS_PER_BLOCK, design.n_randomised
    p, counts = screen(design, rng, B, assay)
    entry = rng.random((B, n))
    entry.sort(axis=1)
    np.multiply(entry, design.accrual_days, out=entry)
    stratum, n_strata = _strata_codes(design, p)
    arm = permuted_blocks(rng, stratum, n_strata, design.weights, design.block_size)
    arm_doses = np.array([a.dose_miu for a in design.arms])
    drug, cohort = design.drug, design.cohort
    rise_mean, reference_rise = drug_means
    informative = cohort.p["survival"]["death_log_hr_per_alsfrs_point"] != 0
    death, dropout = K["death"], K["dropout"]
    if drug.effect_function is None and not informative:
        # the default effect and Weibull deaths in compiled loops (`_fused`), the same draws and numbers
        z = standard_normal(rng, (B, n))
        e_death = rng.standard_exponential((B, n))
        rise, minus_lp = treatment(drug, arm, rise_mean, z, p["csf_pnfh"], p["slope_per_month"], p["log_hazard"],
                                   K["slope"], reference_rise)
        s = cohort.p["survival"]
        weibull_days(e_death, minus_lp, s["weibull_shape"], s["weibull_scale_days"], death)
    else:
        dose = arm_doses[arm]
        rise = drug.treg_rise(rng, dose, mean=rise_mean[arm])
        covariates = {"csf_pnfh": p["csf_pnfh"], "serum_nfl": p["serum_nfl"], "delta_fs": p["delta_fs_true"],
                      "age": p["age"], "bulbar": p["bulbar"]}
        log_hr, slope_ratio = drug.effect(dose, rise, covariates)
        slope = np.multiply(p["slope_per_month"], slope_ratio, out=K["slope"])
        if not informative:
            np.maximum(np.ceil(cohort.death_days(rng, p["log_hazard"] + log_hr)), 1.0, out=death)
        else:  # informative dropout: the hazard follows the true ALSFRS-R (same draws from rng)
            np.maximum(cohort.death_days_given_alsfrs(
                rng, p["log_hazard"] + log_hr, p["alsfrs_r_baseline"], slope, design.horizon_days), 1.0, out=death)
    if design.dropout_weibull is None:
        dropout.fill(np.inf)
    else:
        shape, scale = design.dropout_weibull
        weibull_days(rng.standard_exponential((B, n)), None, shape, scale, dropout)
    if "rise" in K:
        K["rise"][...] = rise
        K["serum_nfl_true"][...] = p["serum_nfl"]
    # The participants' columns, censoring and survival in one loop (`_fused.participant_columns`;
    # tests/sim_reference.py has them in numpy). csf_pnfh / serum_nfl are the screening
    # measurements (what an enrichment rule saw, assay error included; the effect used the true
    # levels).
    participant_columns(first, arm, p["age"], p["male"], p["bulbar"], p["symptom_duration_months"],
                        p["alsfrs_r_baseline"], p["riluzole"], p["country"], p["pnfh_missing"], p["csf_pnfh_measured"],
                        p["serum_nfl_measured"], p["vital_capacity_pct"], entry, death, dropout,
                        float(design.horizon_days), bool(design.dropout_censors_survival),
                        tuple(P[c] for c in PARTICIPANT_DTYPES), tuple(S[c] for c in SURVIVAL_DTYPES))
    return counts


def _visit_tables(design: Design, generators: list, baseline: np.ndarray, K: dict, first: int, lo: int,
                  n_trials: int, tables: tuple[str, ...]) -> dict:
    """Phase 2: the ALSFRS-R visits (into columns of their final size) and the biomarker samples."""
    B, n = TRIALS_PER_BLOCK, design.n_randomised
    horizon = float(design.horizon_days)
    visits = np.asarray(design.alsfrs_visit_days, dtype=float)
    kept = slice(lo, lo + n_trials)
    out = {}
    if "alsfrs" in tables:
        rows = visit_rows(visits, horizon, K["death"][kept], K["dropout"][kept])
        A = tuple(_columns((rows,), dict(zip(("trial", "subject", "day", "total"),
                                             (np.int64, np.int64, float, float))))[0].values())
        decline = np.asarray(design.cohort.decline(visits / DAYS_PER_MONTH), dtype=float)
        sd = float(design.cohort.p["trajectory"]["residual_sd_points"])
    noise = None
    at, parts = 0, []
    for k, rng in enumerate(generators):
        block = slice(k * B, (k + 1) * B)
        drawn = False
        if "alsfrs" in tables:
            rows = (baseline[block], K["slope"][block], decline, sd, visits, horizon, K["death"][block],
                    K["dropout"][block], first + k * B, max(lo - k * B, 0), min(lo + n_trials - k * B, B), *A, at)
            with pcg64_state(rng) as state:  # the noise drawn in the loop that uses it (no noise array)
                if state is not None:
                    at, drawn = alsfrs_rows_drawn(state, *ZIGGURAT_TABLES, *rows), True
        if not drawn:  # the noise as an array: numpy's own draws, or only to move the stream past it
            noise = np.empty((B, n, len(visits))) if noise is None else noise
            standard_normal(rng, out=noise)
            if "alsfrs" in tables:
                at = alsfrs_rows(*rows[:3], noise, *rows[3:])
        if "biomarkers" in tables:
            parts.append(_biomarkers(design, rng, K["serum_nfl_true"][block], K["rise"][block], K["death"][block],
                                     K["dropout"][block], first + k * B))
    if "alsfrs" in tables:
        out["alsfrs"] = dict(zip(("trial", "subject", "day", "total"), A))
    if "biomarkers" in tables:
        out["biomarkers"] = _join(parts, first + lo, n_trials)
    return out


def _biomarkers(design: Design, rng: np.random.Generator, serum_nfl: np.ndarray, rise: np.ndarray,
                death: np.ndarray, dropout: np.ndarray, first: int) -> dict:
    """Tregs follow the IL-2 courses; serum NfL varies around its baseline level. The samples
    (day 0 included) each have their own variation; some are missing at random."""
    B, n = rise.shape
    dp, meas = design.drug.p, design.cohort.p["measurement"]
    t_days = np.asarray(design.treg_visit_days, dtype=float)
    n_days = np.asarray(design.serum_nfl_visit_days, dtype=float)
    treg_base = np.maximum(dp["treg_baseline_mean_pct"] + dp["treg_baseline_sd_pct"] * standard_normal(rng, (B, n)), 0.5)
    treg_z = standard_normal(rng, (B, n, len(t_days)))
    nfl_factor = np.exp(meas["serum_nfl_visit_log_sd"] * standard_normal(rng, (B, n, len(n_days))))
    u = rng.random((B, n, len(t_days) + len(n_days)))
    kinetics = np.asarray(design.drug.kinetics(t_days, design.treatment_days), dtype=float)
    cols = biomarker_rows(treg_base, rise, kinetics, treg_z, float(dp["treg_measurement_sd_pct"]), serum_nfl,
                          nfl_factor, u, float(meas["biomarker_missing_fraction"]), np.concatenate([t_days, n_days]),
                          float(design.horizon_days), death, dropout, first)
    return dict(zip(("trial", "subject", "day", "analyte", "value"), cols))


# -- assembling the batch -----------------------------------------------------------------------
def _join(parts: list[dict], start: int, n_trials: int) -> dict:
    """The blocks' rows of trials [start, start + n_trials)."""
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    t = cols["trial"]
    a, b = np.searchsorted(t, start, "left"), np.searchsorted(t, start + n_trials, "left")
    return {k: v[a:b] for k, v in cols.items()}


@functools.lru_cache(maxsize=64)
def _category_dtype(categories: tuple) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(list(categories))


def _categorical(codes: np.ndarray, categories) -> pd.Categorical:
    # The codes are in range by construction: no validation pass, and codes of the dtype pandas
    # keeps (int8 below 128 categories), so none are copied twice.
    dtype = _category_dtype(tuple(categories))
    kind = np.int8 if len(dtype.categories) < 128 else np.int16
    return pd.Categorical.from_codes(codes.astype(kind, copy=False), dtype=dtype, validate=False)


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
    screening = pd.DataFrame(t["screening"], copy=False)
    metadata = {"design": design.name, "seed": seed, "trials_per_block": TRIALS_PER_BLOCK,
                "screening": screening, "tables": tuple(k for k in TABLES if k in t)}
    return TrialBatch(info=design.trial_info(), n_trials=n_trials, participants=participants,
                      survival=survival, alsfrs=alsfrs, biomarkers=biomarkers,
                      first_trial=first_trial, metadata=metadata)
