"""PRO-ACT ALSFRS form -> the ALSFRS-R table (0-48) and, kept apart, the original ALSFRS (0-40).

PRO-ACT pools trials that used the original ALSFRS (Cedarbaum & Stambler 1997: ten items, item 10
`Q10_Respiratory`, total `ALSFRS_Total` 0-40) and trials that used the revised ALSFRS-R
(Cedarbaum et al. 1999: item 10 replaced by `R_1_Dyspnea`, `R_2_Orthopnea`,
`R_3_Respiratory_Insufficiency`, total `ALSFRS_R_Total` 0-48). The scales are not
interchangeable, so only ALSFRS-R goes to the data model's `alsfrs` table; original-scale scores
go to `alsfrs_original.csv`. Item 5 is `Q5a_Cutting_without_Gastrostomy` or
`Q5b_Cutting_with_Gastrostomy` (whichever applies). Half points occur in some trials and are kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import SCREENING_WINDOW_DAYS
from .files import has_column, numeric_column
from .log import ImportLog

__all__ = ["ITEM_COLUMNS", "dedupe_rows", "map_alsfrs"]

# data-model item -> PRO-ACT column (q5 is handled separately: Q5a / Q5b / Q5_Cutting)
ITEM_COLUMNS = {
    "q1": "Q1_Speech", "q2": "Q2_Salivation", "q3": "Q3_Swallowing", "q4": "Q4_Handwriting",
    "q6": "Q6_Dressing_and_Hygiene", "q7": "Q7_Turning_in_Bed", "q8": "Q8_Walking", "q9": "Q9_Climbing_Stairs",
    "q10": "R_1_Dyspnea", "q11": "R_2_Orthopnea", "q12": "R_3_Respiratory_Insufficiency",
}
ITEMS = [f"q{i}" for i in range(1, 13)]
ORIGINAL_ITEMS = [f"q{i}" for i in range(1, 10)] + ["q10_respiratory"]
FORM = "alsfrs"


def dedupe_rows(df: pd.DataFrame, keys: list[str], form: str, log: ImportLog) -> pd.DataFrame:
    """Collapse identical rows of one key; drop every row of a key whose rows differ (both logged)."""
    if not df.duplicated(keys, keep=False).any():
        return df
    exact = df.duplicated(keep="first").to_numpy()
    log.add("duplicate_visit", form, df["subject_id"].to_numpy()[exact], unit="rows")
    df = df.loc[~exact]
    conflict = df.duplicated(keys, keep=False).to_numpy()
    log.add("conflicting_visit", form, df["subject_id"].to_numpy()[conflict], unit="rows")
    return df.loc[~conflict]


def _range_checked(values: np.ndarray, high: float, subjects: np.ndarray, detail: str, log: ImportLog) -> np.ndarray:
    bad = (values < 0) | (values > high)
    if bad.any():
        log.add("alsfrs_out_of_range", FORM, subjects[bad], unit="rows", detail=detail)
        values = np.where(bad, np.nan, values)
    return values


def _item5(raw: pd.DataFrame, subjects: np.ndarray, log: ImportLog) -> tuple[np.ndarray, np.ndarray]:
    a = _range_checked(numeric_column(raw, "Q5a_Cutting_without_Gastrostomy", FORM, log), 4, subjects, "Q5a", log)
    b = _range_checked(numeric_column(raw, "Q5b_Cutting_with_Gastrostomy", FORM, log), 4, subjects, "Q5b", log)
    both = ~np.isnan(a) & ~np.isnan(b)
    differ = both & (a != b)
    log.add("alsfrs_q5_both", FORM, subjects[differ], unit="rows")
    q5 = np.where(np.isnan(b), a, np.where(np.isnan(a), b, np.where(differ, np.nan, a)))
    if has_column(raw, "Q5_Cutting"):
        combined = _range_checked(numeric_column(raw, "Q5_Cutting", FORM, log), 4, subjects, "Q5_Cutting", log)
        q5 = np.where(np.isnan(q5) & ~differ, combined, q5)
    gastrostomy = np.where(~np.isnan(b) & np.isnan(a), 1.0, np.where(~np.isnan(a) & np.isnan(b), 0.0, np.nan))
    return q5, gastrostomy


def map_alsfrs(raw: pd.DataFrame, log: ImportLog) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return (ALSFRS-R rows, original-ALSFRS rows, contact days of every dated row)."""
    day = numeric_column(raw, "ALSFRS_Delta", FORM, log)
    subjects_all = raw["subject_id"].to_numpy(dtype=object)
    dated = ~np.isnan(day)
    log.add("missing_day", FORM, subjects_all[~dated], unit="rows")
    early = dated & (day < -SCREENING_WINDOW_DAYS)
    log.add("before_screening_window", FORM, subjects_all[early], unit="rows")
    kept = dated & ~early
    raw = raw.loc[kept].reset_index(drop=True)
    day = day[kept]
    subjects = subjects_all[kept]
    contacts = pd.DataFrame({"subject_id": subjects, "day": day})

    items = {q: _range_checked(numeric_column(raw, col, FORM, log), 4, subjects, col, log)
             for q, col in ITEM_COLUMNS.items()}
    items["q5"], gastrostomy = _item5(raw, subjects, log)
    item_matrix = np.column_stack([items[q] for q in ITEMS])
    complete = ~np.isnan(item_matrix).any(axis=1)
    item_sum = item_matrix.sum(axis=1)

    total = _range_checked(numeric_column(raw, "ALSFRS_R_Total", FORM, log), 48, subjects, "ALSFRS_R_Total", log)
    from_items = np.isnan(total) & complete
    log.add("alsfrs_r_total_from_items", FORM, subjects[from_items], unit="rows")
    total = np.where(from_items, item_sum, total)
    mismatch = complete & ~from_items & (np.abs(item_sum - total) > 1e-9)
    log.add("alsfrs_r_total_items_mismatch", FORM, subjects[mismatch], unit="rows")
    item_matrix[mismatch] = np.nan

    orig_items = np.column_stack([items[q] for q in ORIGINAL_ITEMS[:9]]
                                 + [_range_checked(numeric_column(raw, "Q10_Respiratory", FORM, log), 4, subjects,
                                                   "Q10_Respiratory", log)])
    orig_total = _range_checked(numeric_column(raw, "ALSFRS_Total", FORM, log), 40, subjects, "ALSFRS_Total", log)
    orig_from_items = np.isnan(orig_total) & ~np.isnan(orig_items).any(axis=1)
    orig_total = np.where(orig_from_items, orig_items.sum(axis=1), orig_total)

    has_r = ~np.isnan(total)
    has_orig = ~np.isnan(orig_total)
    log.add("alsfrs_original_scale", FORM, subjects[~has_r & has_orig], unit="rows")
    log.add("alsfrs_r_incomplete", FORM, subjects[~has_r & ~has_orig], unit="rows")

    revised = pd.DataFrame({"subject_id": subjects, "day": day, "total": total})
    for j, q in enumerate(ITEMS):
        revised[q] = item_matrix[:, j]
    revised["q5_with_gastrostomy"] = gastrostomy
    revised = dedupe_rows(revised.loc[has_r], ["subject_id", "day"], FORM, log)

    original = pd.DataFrame({"subject_id": subjects, "day": day, "alsfrs_total": orig_total,
                             "total_from_items": orig_from_items})
    for j, q in enumerate(ORIGINAL_ITEMS):
        original[q] = orig_items[:, j]
    original = dedupe_rows(original.loc[has_orig], ["subject_id", "day"], "alsfrs (original)", log)
    return revised.reset_index(drop=True), original.reset_index(drop=True), contacts
