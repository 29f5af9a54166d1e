"""Synthetic PRO-ACT exports, in the real files' layout and with their quirks, for tests and benchmarks.

PRO-ACT's licence forbids redistributing the data, so tests run on files written here. The
columns, value formats and quirks follow public code that reads PRO-ACT (see docs/proact.md):
duplicate death rows, half-point ALSFRS items, missing ALSFRS-R totals, original-ALSFRS (0-40)
subjects, text lab results, subjects without treatment rows, `F_` file prefixes, Age missing with
Date_of_Birth given, ALS history spread over several rows, same-day duplicate visits, visits after
death, deaths without a day. The generator also returns the truth: what each participant's mapped
values must be, computed from the values it generated, not by the importer's code.

Example:
    >>> import tempfile
    >>> synth = write_synthetic_proact(tempfile.mkdtemp(), n_subjects=50, seed=1)
    >>> int(synth.truth["included"].sum()) <= 50
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from .schema import DAYS_PER_MONTH

__all__ = ["SyntheticProact", "write_synthetic_proact"]

STEMS = {"alsfrs": ("PROACT_ALSFRS", "alsfrs"), "deathdata": ("PROACT_DEATHDATA", "DeathData"),
         "demographics": ("PROACT_DEMOGRAPHICS", "demographics"), "treatment": ("PROACT_TREATMENT", "Treatment"),
         "alshistory": ("PROACT_ALSHISTORY", "AlsHistory"), "riluzole": ("PROACT_RILUZOLE", "Riluzole"),
         "fvc": ("PROACT_FVC", "Fvc"), "labs": ("PROACT_LABS", "Labs"), "vitalsigns": ("PROACT_VITALSIGNS", "VitalSigns")}
ITEM_NAMES = ["Q1_Speech", "Q2_Salivation", "Q3_Swallowing", "Q4_Handwriting", "Q5_cut", "Q6_Dressing_and_Hygiene",
              "Q7_Turning_in_Bed", "Q8_Walking", "Q9_Climbing_Stairs", "R_1_Dyspnea", "R_2_Orthopnea",
              "R_3_Respiratory_Insufficiency"]
HORIZON_DAYS = 660
VISIT_EVERY_DAYS = 30


@dataclass(frozen=True)
class SyntheticProact:
    folder: Path
    truth: pd.DataFrame  # one row per generated subject; `included` says whether import must keep it
    quirks: dict[str, list[str]]  # quirk -> subject ids that carry it


def _pick(rng: np.random.Generator, ids: np.ndarray, share: float, pool: np.ndarray | None = None) -> np.ndarray:
    pool = ids if pool is None else pool
    n = min(len(pool), max(1, round(share * len(ids))))
    return np.sort(rng.choice(pool, n, replace=False))


def _scores(rng, n_visits, deficit, half_points):
    """Item scores 0-4 for each visit from its total deficit, spread by subject-specific weights."""
    weights = rng.dirichlet(np.full(12, 2.0), size=len(deficit))
    raw = 4.0 - np.clip(deficit[:, None] * weights * 1.0, 0, 4)
    step = np.where(half_points, 2.0, 1.0)[:, None]
    return np.clip(np.round(raw * step) / step, 0, 4)


def write_synthetic_proact(folder: str | Path, n_subjects: int = 400, *, naming: Literal["current", "2016"] = "current",
                           seed: int = 0, f_prefix: tuple[str, ...] = ("alsfrs", "alshistory"),
                           quirk_share: float = 0.02) -> SyntheticProact:
    """Write a synthetic PRO-ACT export with `n_subjects` subjects (about 15 ALSFRS rows each)."""
    if naming not in ("current", "2016"):
        raise ValueError(f"naming must be 'current' or '2016', got {naming!r}")
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n = int(n_subjects)
    ids = np.array([str(100 + 7 * i) for i in rng.permutation(n)], dtype=object)
    q = {name: _pick(rng, ids, quirk_share) for name in
         ("no_treatment_row", "half_points", "age_from_dob", "duplicate_death_rows", "onset_other", "site_flags",
          "death_without_day", "duplicate_visit", "spine_onset")}
    q["original_alsfrs"] = _pick(rng, ids, 0.08)
    quirk_of = {k: np.isin(ids, v) for k, v in q.items()}

    arm = np.where(rng.random(n) < 2 / 3, "Active", "Placebo").astype(object)
    age = np.round(np.clip(rng.normal(55, 11, n), 20, 85))
    sex = np.where(rng.random(n) < 0.62, "Male", "Female").astype(object)
    site = rng.choice(["Onset: Limb", "Onset: Bulbar", "Onset: Limb and Bulbar"], n, p=[0.70, 0.26, 0.04]).astype(object)
    site[quirk_of["onset_other"]] = "Onset: Other"
    site[quirk_of["spine_onset"] & ~quirk_of["onset_other"]] = "Onset: Spine"
    onset = -np.round(np.exp(rng.normal(np.log(500), 0.45, n))).astype(int)
    diagnosis = np.round(onset * rng.uniform(0.2, 0.8, n)).astype(int)
    riluzole = np.where(rng.random(n) < 0.7, "Yes", "No").astype(object)

    dfs = np.exp(rng.normal(np.log(0.55), 0.5, n))
    base_deficit = np.clip(dfs * (-onset / DAYS_PER_MONTH), 0, 30)
    slope = np.exp(rng.normal(np.log(0.9), 0.45, n))
    death_day = np.round(rng.exponential(900 / (0.6 + 0.5 * slope))).astype(int)
    dropout_day = np.round(rng.exponential(3000, n)).astype(int)
    dies = (death_day <= HORIZON_DAYS) & (death_day < dropout_day)
    death_day[quirk_of["death_without_day"]] = np.minimum(death_day[quirk_of["death_without_day"]], HORIZON_DAYS)
    dies |= quirk_of["death_without_day"]
    end = np.where(dies, death_day, np.minimum(dropout_day, HORIZON_DAYS))

    # ALSFRS visits: day 0, then about monthly (jittered) until the end of follow-up
    k = np.arange(HORIZON_DAYS // VISIT_EVERY_DAYS + 1)
    vday = k[None, :] * VISIT_EVERY_DAYS + np.where(k[None, :] > 0, rng.integers(-5, 6, (n, len(k))), 0)
    keep = vday <= end[:, None]
    keep &= (vday < death_day[:, None]) | ~dies[:, None]
    subj = np.repeat(np.arange(n), keep.sum(axis=1))
    day = vday[keep]
    deficit = np.clip(base_deficit[subj] + slope[subj] * day / DAYS_PER_MONTH + rng.normal(0, 0.7, len(day)), 0, 47)
    items = _scores(rng, len(day), deficit, quirk_of["half_points"][subj])
    total = items.sum(axis=1)

    original = quirk_of["original_alsfrs"][subj]
    alsfrs = pd.DataFrame({"subject_id": ids[subj]})
    gastro = (deficit > 20) & (rng.random(len(day)) < 0.5)
    for j, name in enumerate(ITEM_NAMES):
        if name == "Q5_cut":
            alsfrs["Q5a_Cutting_without_Gastrostomy"] = np.where(gastro, np.nan, items[:, j])
            alsfrs["Q5b_Cutting_with_Gastrostomy"] = np.where(gastro, items[:, j], np.nan)
        elif name.startswith("R_"):
            alsfrs[name] = np.where(original, np.nan, items[:, j])
        else:
            alsfrs[name] = items[:, j]
    q10 = np.round(items[:, 9:].mean(axis=1))
    alsfrs["Q10_Respiratory"] = np.where(original, q10, np.nan)
    alsfrs["ALSFRS_Delta"] = day
    alsfrs["ALSFRS_Total"] = np.where(original, items[:, :9].sum(axis=1) + q10, np.nan)
    missing_total = rng.random(len(day)) < 0.1
    alsfrs["ALSFRS_R_Total"] = np.where(original | missing_total, np.nan, total)
    alsfrs = alsfrs[["subject_id"] + [c for c in alsfrs.columns if c.startswith("Q")] + ["ALSFRS_Delta", "ALSFRS_Total",
                                                                                        "ALSFRS_R_Total"]
                    + [c for c in alsfrs.columns if c.startswith("R_")]]
    alsfrs["Mode_of_Administration"] = "In person"
    dup_rows = np.flatnonzero(quirk_of["duplicate_visit"][subj] & (day > 0))
    q["duplicate_visit"] = ids[subj[dup_rows]]  # one entry per duplicated row
    q["alsfrs_after_death"] = _pick(rng, ids, quirk_share, pool=ids[dies & ~quirk_of["death_without_day"]
                                                                   & ~quirk_of["original_alsfrs"]
                                                                   & ~quirk_of["no_treatment_row"]])
    late = np.flatnonzero(np.isin(ids, q["alsfrs_after_death"]))
    after = pd.DataFrame({"subject_id": ids[late], "ALSFRS_Delta": death_day[late] + 20,
                          "ALSFRS_R_Total": 10.0, "Mode_of_Administration": "Phone"})
    alsfrs = pd.concat([alsfrs, alsfrs.iloc[dup_rows], after], ignore_index=True)

    last_visit = pd.Series(day).groupby(subj).max().reindex(np.arange(n)).to_numpy()
    lab_days = np.array([0, 84, 168, 252, 336, 420, 504])
    lsub, lk = np.nonzero(lab_days[None, :] <= last_visit[:, None])
    tests = [("Creatinine", "umol/L", 70.0, 15.0), ("CK", "U/L", 180.0, 60.0), ("Albumin", "g/L", 44.0, 3.0),
             ("Hematocrit", "%", 42.0, 3.0)]
    lab_parts = []
    for test, unit, mean, sd in tests:
        lab_parts.append(pd.DataFrame({"subject_id": ids[lsub], "Test_Name": test,
                                       "Test_Result": np.round(rng.normal(mean, sd, len(lsub)), 1).astype(str),
                                       "Test_Unit": unit, "Laboratory_Delta": lab_days[lk]}))
    labs = pd.concat(lab_parts, ignore_index=True)
    creat = np.flatnonzero(labs["Test_Name"].to_numpy() == "Creatinine")
    text_rows = rng.choice(creat, max(1, int(quirk_share * len(creat) / 4)), replace=False)
    labs.loc[text_rows, "Test_Result"] = rng.choice(["<5", "NEG", "-", "see comment"], len(text_rows))
    q["text_lab_results"] = labs.loc[text_rows, "subject_id"].tolist()  # one entry per row

    vis = subj  # FVC and vital signs are measured at the ALSFRS visits
    fvc = pd.DataFrame({"subject_id": ids[vis], "Subject_Liters_Trial_1": np.round(rng.normal(3.2, 0.8, len(vis)), 2),
                        "pct_of_Normal_Trial_1": np.round(rng.normal(85, 15, len(vis)), 1),
                        "Forced_Vital_Capacity_Delta": day})
    vitals = pd.DataFrame({"subject_id": ids[vis], "Weight": np.round(rng.normal(75, 12, len(vis)), 1),
                           "Weight_Units": "Kilograms", "Vital_Signs_Delta": day})

    has_treatment = ~quirk_of["no_treatment_row"]
    treatment = pd.DataFrame({"subject_id": ids[has_treatment], "Study_Arm": arm[has_treatment],
                              "Treatment_Group_Delta": 0})
    demo = pd.DataFrame({"subject_id": ids, "Demographics_Delta": 0, "Age": age.astype(float),
                         "Date_of_Birth": -np.round(age * 365.25), "Sex": sex})
    demo.loc[quirk_of["age_from_dob"], "Age"] = np.nan
    demo.loc[~quirk_of["age_from_dob"], "Date_of_Birth"] = np.nan
    flags = quirk_of["site_flags"] & np.isin(site, ["Onset: Limb", "Onset: Bulbar", "Onset: Limb and Bulbar"])
    hist = pd.concat([
        pd.DataFrame({"subject_id": ids, "Site_of_Onset___Bulbar": np.where(flags & (site != "Onset: Limb"), 1.0, np.nan),
                      "Site_of_Onset___Limb": np.where(flags & (site != "Onset: Bulbar"), 1.0, np.nan),
                      "Subject_ALS_History_Delta": 0, "Site_of_Onset": np.where(flags, None, site)}),
        pd.DataFrame({"subject_id": ids, "Subject_ALS_History_Delta": 0, "Symptom": "WEAKNESS",
                      "Onset_Delta": onset, "Diagnosis_Delta": diagnosis}),
    ], ignore_index=True).sort_values("subject_id", kind="stable")
    ril = pd.DataFrame({"subject_id": ids, "Subject_used_Riluzole": riluzole, "Riluzole_use_Delta": 0})

    died_rows = pd.DataFrame({"subject_id": ids[dies], "Subject_Died": "Yes",
                              "Death_Days": np.where(quirk_of["death_without_day"][dies], np.nan, death_day[dies])})
    alive_reported = ~dies & (rng.random(n) < 0.5)
    alive_rows = pd.DataFrame({"subject_id": ids[alive_reported], "Subject_Died": "No", "Death_Days": np.nan})
    dup_death = died_rows.loc[died_rows["subject_id"].isin(q["duplicate_death_rows"])]
    q["duplicate_death_rows"] = sorted(dup_death["subject_id"])
    death = pd.concat([died_rows, alive_rows, dup_death], ignore_index=True)

    tables = {"alsfrs": alsfrs, "deathdata": death, "demographics": demo, "treatment": treatment,
              "alshistory": hist, "riluzole": ril, "fvc": fvc, "labs": labs, "vitalsigns": vitals}
    for key, df in tables.items():
        current, archive = STEMS[key]
        stem = (f"F_{current}" if key in f_prefix else current) if naming == "current" else archive
        df.to_csv(folder / f"{stem}.csv", index=False, float_format="%g")

    baseline = np.where(quirk_of["original_alsfrs"], np.nan, pd.Series(total[day == 0], index=subj[day == 0])
                        .reindex(np.arange(n)).to_numpy())
    duration = -onset / DAYS_PER_MONTH
    lab_last = np.where(len(lsub), pd.Series(lab_days[lk]).groupby(lsub).max().reindex(np.arange(n)).to_numpy(), np.nan)
    last_contact = np.fmax(last_visit, lab_last)
    site_truth = pd.Series(site).map({"Onset: Limb": "limb", "Onset: Bulbar": "bulbar", "Onset: Spine": "limb",
                                      "Onset: Limb and Bulbar": "limb_and_bulbar"}).to_numpy(dtype=object)
    truth = pd.DataFrame({
        "subject_id": ids, "included": has_treatment & ~quirk_of["death_without_day"],
        "arm": pd.Series(arm).str.lower().to_numpy(dtype=object),
        "age": np.where(quirk_of["age_from_dob"], np.round(age * 365.25) / 365.25, age),
        "sex": np.where(sex == "Male", "M", "F").astype(object), "onset_site": site_truth,
        "symptom_duration_months": duration, "alsfrs_r_baseline": baseline,
        "delta_fs": (48 - baseline) / duration, "riluzole": riluzole == "Yes",
        "event": dies.astype(int), "time_days": np.where(dies, death_day, last_contact).astype(float),
    })
    return SyntheticProact(folder=folder, truth=truth, quirks={k: sorted(v) for k, v in q.items()})
