"""Screening: candidates drawn in rounds until every trial has its randomised number.

Each round draws, for every trial of the block, `per_round` candidates from the cohort model
(`CohortModel.draw_raw`), their country, riluzole use and missing CSF sample, and the assay errors
of their neurofilament tests (a separate stream, `measurement.assay_rng`). A candidate is accepted
if eligible (`Eligibility`) and, with an enrichment rule, if the *measured* biomarker is in range;
the first `n_randomised` accepted candidates of a trial are randomised.

Only what eligibility and the enrichment rule read is computed for every candidate; the rest (the
neurofilaments, slope, hazard, measured values) only for those randomised. Every quantity is an
elementwise function of the draws, so the values are those of computing everything for everyone.
"""

from __future__ import annotations

import numpy as np

from ._fused import categories, chosen_positions, gather, latent_fields, screening_fields, screening_measured
from ._normal import standard_normal
from .design import Design
from .measurement import MARKERS, REPLICATES, assay_cvs, assay_normals, screening_value

__all__ = ["screen", "SCREENING_COLUMNS"]

SCREENING_COLUMNS = ("screened", "eligible", "enrichment_excluded", "randomised")


def _per_round(design: Design) -> int:
    # Drawn at once per round: the expected need and a margin, so one round almost always suffices.
    return int(np.ceil(design.n_randomised / design.acceptance * 1.15)) + 8


def _assay_normals(assay: np.random.Generator, shape: tuple[int, int], retest: bool) -> np.ndarray:
    """`assay_normals(assay, shape)`; without a retest the last quarter (serum NfL's second
    replicate, read by nothing) is left undrawn (NaN): `screen` draws it before another round."""
    if retest:
        return assay_normals(assay, shape)
    z = np.empty((len(MARKERS), REPLICATES, *shape))
    flat = z.reshape(len(MARKERS) * REPLICATES, -1)
    standard_normal(assay, out=flat[:-1])  # the stream's order: (marker, replicate, trial, candidate)
    flat[-1] = np.nan
    return z


def _round(design: Design, rng: np.random.Generator, assay: np.random.Generator, shape: tuple[int, int]) -> dict:
    """One round of candidates: their draws, screening fields, eligibility and acceptance."""
    cohort = design.cohort
    meas = cohort.p["measurement"]
    raw = cohort.draw_raw(rng, shape)
    # rng.choice(countries, p=fractions) draws one uniform per candidate and looks it up in the
    # cumulative fractions; the uniforms are drawn here, looked up for the chosen only.
    raw["country_u"] = rng.random(shape)
    ril = cohort.p["cohort"]["riluzole_fraction"] if design.riluzole_fraction is None else design.riluzole_fraction
    raw["riluzole"] = rng.random(shape) < ril
    raw["pnfh_missing"] = rng.random(shape) < meas["csf_pnfh_missing_fraction"]
    raw["assay_z"] = _assay_normals(assay, shape, design.screening_retest)
    fields, eligible = screening_fields(cohort, design.eligibility, raw)
    accepted = eligible
    e = design.enrichment
    if e is not None:
        true = cohort.markers(raw)[e.biomarker]
        v = screening_value(true, raw["assay_z"], e.biomarker, assay_cvs(meas)[e.biomarker], design.screening_retest)
        in_range = (v >= e.low) & (v <= e.high)
        if e.biomarker == "csf_pnfh":
            in_range &= ~raw["pnfh_missing"]
        accepted = eligible & in_range
    return {**raw, **fields, "eligible": eligible, "accepted": accepted}


def screen(design: Design, rng: np.random.Generator, n_trials: int,
           assay: np.random.Generator) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """({variable: (n_trials, n_randomised) array} of the randomised, {count: per-trial array}).

    Variables: the cohort model's (`CohortModel.draw`), `country` (index into the design's
    countries), `riluzole`, `pnfh_missing`, `csf_pnfh_measured`, `serum_nfl_measured`; counts:
    `SCREENING_COLUMNS`.
    """
    n = design.n_randomised
    shape = (n_trials, _per_round(design))
    rounds = []
    accepted = np.zeros(n_trials, dtype=int)
    while True:
        if rounds and not design.screening_retest:
            assay.standard_normal(shape)  # the previous round's undrawn replicates (`_assay_normals`)
        rounds.append(_round(design, rng, assay, shape))
        accepted += rounds[-1]["accepted"].sum(axis=1)
        if np.all(accepted >= n):
            break
    # candidates along the last axis, round after round (every array ends with (trial, candidate))
    cand = rounds[0] if len(rounds) == 1 else {k: np.concatenate([r[k] for r in rounds], axis=-1) for k in rounds[0]}
    # the first n accepted of each trial, in order: flat positions in (trial, candidate) order
    index, screened, eligible = chosen_positions(cand["accepted"], cand["eligible"], n)
    counts = {"screened": screened, "eligible": eligible,
              "enrichment_excluded": eligible - n, "randomised": np.full(n_trials, n)}
    floats = ("age", "symptom_duration_months", "delta_fs_true", "alsfrs_r_baseline", "vital_capacity_pct", "country_u")
    bools = ("male", "bulbar", "riluzole", "pnfh_missing")
    z, assay_z = cand["z"].reshape(7, -1), cand["assay_z"].reshape(4, -1)
    values = np.empty((7 + len(floats) + 4, n_trials * n))
    gather(index, (*z, *(cand[k].reshape(-1) for k in floats), *assay_z), values)
    flags = np.empty((len(bools), n_trials * n), dtype=bool)
    gather(index, tuple(cand[k].reshape(-1) for k in bools), flags)
    chosen = {"z": values[:7].reshape(7, n_trials, n),
              **{k: values[7 + j].reshape(n_trials, n) for j, k in enumerate(floats)},
              **{k: flags[j].reshape(n_trials, n) for j, k in enumerate(bools)}}
    chosen.update(latent_fields(design.cohort, chosen))
    cdf = np.asarray(design.country_fractions, dtype=float).cumsum()
    cdf /= cdf[-1]
    chosen["country"] = categories(cdf, chosen.pop("country_u").reshape(-1)).reshape(n_trials, n)
    measured = screening_measured(chosen, values[7 + len(floats):].reshape(len(MARKERS), REPLICATES, n_trials, n),
                                  assay_cvs(design.cohort.p["measurement"]), design.screening_retest)
    chosen.update({f"{m}_measured": v for m, v in measured.items()})
    del chosen["z"]
    return chosen, counts
