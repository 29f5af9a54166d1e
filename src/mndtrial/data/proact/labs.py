"""PRO-ACT labs form -> rows of the `biomarkers` table, for the lab tests named in a map.

`Test_Result` is text in PRO-ACT (numbers, but also '<5', 'NEG', '-', ...); only results that are
plain numbers are imported, the rest are logged. `Test_Name` is matched case-insensitively with
runs of spaces collapsed (the export has both 'Bilirubin (Total)' and 'Bilirubin (total)').
Units are not converted: a row whose `Test_Unit` is not the analyte's unit is logged (spellings
of one unit that differ only in case, spaces or the micro sign are the same unit).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import SCREENING_WINDOW_DAYS
from .alsfrs import dedupe_rows
from .files import numeric_column, parse_floats, text_column
from .log import ImportLog

__all__ = ["DEFAULT_LAB_TESTS", "map_labs"]

FORM = "labs"
# PRO-ACT Test_Name -> (analyte in the data model, unit it must be recorded in)
DEFAULT_LAB_TESTS: dict[str, tuple[str, str]] = {
    "Creatinine": ("creatinine", "umol/L"),
    "CK": ("creatine_kinase", "U/L"),
    "Albumin": ("albumin", "g/L"),
}


def _norm(text: pd.Series) -> pd.Series:
    codes, uniques = pd.factorize(text)
    normal = pd.Series(uniques, dtype="string").str.lower().str.replace(r"\s+", " ", regex=True)
    return pd.Series(pd.array(normal, dtype="string").take(codes, allow_fill=True), index=text.index)


def _unit_key(units: pd.Series) -> pd.Series:
    """Spellings of one unit compare equal: case, spaces, and micro as 'µ', 'μ' or 'u'."""
    return units.str.lower().str.replace(r"\s+", "", regex=True).str.replace("µ", "u").str.replace("μ", "u")


def map_labs(labs: pd.DataFrame | None, lab_tests: dict[str, tuple[str, str]], log: ImportLog) -> pd.DataFrame | None:
    if labs is None or not lab_tests:
        return None
    names = _norm(text_column(labs, "Test_Name"))
    wanted = {k.lower(): v for k, v in ((" ".join(n.split()), v) for n, v in lab_tests.items())}
    selected = names.isin(list(wanted)).to_numpy()
    skipped = names[~selected].fillna("(no Test_Name)").value_counts()
    for test, n in skipped.items():
        log.add("lab_test_not_imported", FORM, [], count=int(n), unit="rows", detail=str(test))
    labs = labs.loc[selected].reset_index(drop=True)
    names = names[selected].reset_index(drop=True)
    subjects = labs["subject_id"].to_numpy(dtype=object, na_value=None)

    day = numeric_column(labs, "Laboratory_Delta", FORM, log)
    result_text = text_column(labs, "Test_Result")
    value = parse_floats(result_text)
    not_numeric = np.isnan(value) & result_text.notna().to_numpy()
    log.add("lab_result_not_numeric", FORM, subjects[not_numeric], unit="rows")
    analyte = names.map({k: v[0] for k, v in wanted.items()}).to_numpy(dtype=object, na_value=None)
    expected_unit = names.map({k: v[1] for k, v in wanted.items()}).to_numpy(dtype=object, na_value=None)
    unit = _unit_key(text_column(labs, "Test_Unit")).to_numpy(dtype=object, na_value=None)
    unit_ok = (unit == _unit_key(pd.Series(expected_unit, dtype="string")).to_numpy(dtype=object, na_value=None))
    unit_ok = unit_ok.astype(bool)
    has_value = ~np.isnan(value)
    log.add("lab_unit_unexpected", FORM, subjects[has_value & ~unit_ok], unit="rows")
    dated = ~np.isnan(day)
    log.add("missing_day", FORM, subjects[has_value & unit_ok & ~dated], unit="rows")
    early = dated & (day < -SCREENING_WINDOW_DAYS)
    log.add("before_screening_window", FORM, subjects[has_value & unit_ok & early], unit="rows")
    keep = has_value & unit_ok & dated & ~early
    out = pd.DataFrame({"subject_id": subjects[keep], "day": day[keep], "analyte": analyte[keep],
                        "value": value[keep], "unit": expected_unit[keep]})
    out = dedupe_rows(out, ["subject_id", "analyte", "day"], FORM, log)
    return out.reset_index(drop=True) if len(out) else None
