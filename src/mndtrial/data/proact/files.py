"""Finding and reading the PRO-ACT form files, in either naming.

The current download names forms `PROACT_<FORM>.csv`, some with an `F_` prefix
(`F_PROACT_ALSFRS.csv`); the 2016 archive (`2016_01_04_ALL_FORMS_CSV`) names them `alsfrs.csv`,
`DeathData.csv`, `AlsHistory.csv`, ... Both reduce to the same form key once lower-cased and
stripped of `F_` and `PROACT_`. Columns are the same in both (`subject_id`, `ALSFRS_Delta`, ...);
they are matched exactly, or case-insensitively when the exact name is absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import Problem, TrialDataError
from .log import ImportLog

__all__ = ["FORMS", "ProactFiles", "find_proact_files", "numeric_column", "parse_floats", "read_form", "text_column"]

# form key -> (current-download stem, 2016-archive stem, whether the data model uses it)
FORMS: dict[str, tuple[str, str, bool]] = {
    "alsfrs": ("PROACT_ALSFRS", "alsfrs", True),
    "deathdata": ("PROACT_DEATHDATA", "DeathData", True),
    "demographics": ("PROACT_DEMOGRAPHICS", "demographics", True),
    "treatment": ("PROACT_TREATMENT", "Treatment", True),
    "alshistory": ("PROACT_ALSHISTORY", "AlsHistory", True),
    "riluzole": ("PROACT_RILUZOLE", "Riluzole", True),
    "fvc": ("PROACT_FVC", "Fvc", True),
    "svc": ("PROACT_SVC", "Svc", True),
    "labs": ("PROACT_LABS", "Labs", True),
    "vitalsigns": ("PROACT_VITALSIGNS", "VitalSigns", True),
    "adverseevents": ("PROACT_ADVERSEEVENTS", "AdverseEvents", False),
    "conmeds": ("PROACT_CONMEDS", "ConMeds", False),
    "familyhistory": ("PROACT_FAMILYHISTORY", "FamilyHistory", False),
    "elescorial": ("PROACT_ELESCORIAL", "ElEscorial", False),
    "handgripstrength": ("PROACT_HANDGRIPSTRENGTH", "HandGripStrength", False),
    "musclestrength": ("PROACT_MUSCLESTRENGTH", "MuscleStrength", False),
    "neurofilament": ("PROACT_NEUROFILAMENT", "Neurofilament", False),
}
REQUIRED_FORMS = ("treatment",)
MISSING_TEXT = ("", "NA", "N/A", "NaN", "nan", "NULL")


def form_key(stem: str) -> str:
    key = stem.lower()
    key = key.removeprefix("f_")
    key = key.removeprefix("proact_")
    return key


@dataclass(frozen=True)
class ProactFiles:
    """The forms found in a folder: form key -> path, and which naming each file used."""

    folder: Path
    paths: dict[str, Path]
    naming: dict[str, str]  # form key -> "current", "current (F_ prefix)" or "2016"

    @property
    def namings(self) -> set[str]:
        return {n.split(" ")[0] for n in self.naming.values()}


def find_proact_files(folder: str | Path, log: ImportLog | None = None) -> ProactFiles:
    """Map the CSV files of a PRO-ACT export folder to form keys; refuse ambiguous folders.

    Example:
        >>> files = find_proact_files("PROACT_2024")  # doctest: +SKIP
        >>> files.paths["alsfrs"].name  # doctest: +SKIP
        'PROACT_ALSFRS.csv'
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise TrialDataError([Problem(table="(proact)", rule="folder", value=str(folder),
                                      message="PRO-ACT folder does not exist or is not a folder")])
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != ".csv" or not path.is_file():
            continue
        key = form_key(path.stem)
        if key not in FORMS:
            if log is not None:
                log.add("file_not_recognised", "(folder)", [], count=1, unit="files", detail=path.name)
            continue
        found.setdefault(key, []).append(path)
    problems = [Problem(table="(proact)", rule="ambiguous_file", value=[p.name for p in paths],
                        message=f"several files for the PRO-ACT form '{key}'; keep one")
                for key, paths in found.items() if len(paths) > 1]
    problems += [Problem(table="(proact)", rule="required_form", value=key,
                         message=f"the PRO-ACT form '{key}' ({FORMS[key][0]}.csv or {FORMS[key][1]}.csv) is required")
                 for key in REQUIRED_FORMS if key not in found]
    if problems:
        raise TrialDataError(problems)
    paths = {k: v[0] for k, v in found.items()}
    naming = {k: _naming(p.stem) for k, p in paths.items()}
    if log is not None:
        for key, (current, _, used) in FORMS.items():
            if key not in paths and used:
                log.add("missing_form", key, [], count=1, unit="files")
            elif key in paths and not used:
                log.add("form_not_imported", key, [], count=1, unit="files", detail=paths[key].name)
    return ProactFiles(folder, paths, naming)


def _naming(stem: str) -> str:
    low = stem.lower()
    if low.startswith("f_proact_"):
        return "current (F_ prefix)"
    return "current" if low.startswith("proact_") else "2016"


def read_form(files: ProactFiles, key: str, log: ImportLog | None = None) -> pd.DataFrame | None:
    """Read one form as text (parsing is done column by column so bad values can be logged).

    UTF-8 (with or without a byte-order mark) is expected; a file that is not UTF-8 is read as
    Latin-1, which decodes any byte, and the log says so."""
    path = files.paths.get(key)
    if path is None:
        return None
    options = {"dtype": str, "keep_default_na": False, "na_values": list(MISSING_TEXT)}
    try:
        df = pd.read_csv(path, encoding="utf-8-sig", **options)
    except UnicodeDecodeError:
        df = pd.read_csv(path, encoding="latin-1", **options)
        if log is not None:
            log.add("file_not_utf8", key, [], count=1, unit="files", detail=path.name)
    sid = _resolve(df, "subject_id")
    if sid is None:
        raise TrialDataError([Problem(table=path.name, column="subject_id", rule="required_column",
                                      message="PRO-ACT form has no subject_id column")])
    if sid != "subject_id":
        df = df.rename(columns={sid: "subject_id"})
    missing_id = df["subject_id"].isna()
    if missing_id.any():
        raise TrialDataError([Problem(table=path.name, column="subject_id", rule="missing", row=int(r),
                                      message="subject_id is missing") for r in np.flatnonzero(missing_id)[:50]])
    codes, uniques = pd.factorize(df["subject_id"])
    df["subject_id"] = np.array([u.strip() for u in uniques], dtype=object)[codes]
    return df


def _resolve(df: pd.DataFrame, name: str) -> str | None:
    if name in df.columns:
        return name
    low = {c.lower(): c for c in df.columns}
    return low.get(name.lower())


def has_column(df: pd.DataFrame, name: str) -> bool:
    return _resolve(df, name) is not None


def text_column(df: pd.DataFrame, name: str) -> pd.Series:
    """The column as stripped text (missing where absent or blank)."""
    col = _resolve(df, name)
    if col is None:
        return pd.Series(pd.NA, index=df.index, dtype="string")
    # Columns are low-cardinality (arms, units, test names): strip each distinct value once.
    codes, uniques = pd.factorize(df[col])
    cleaned = pd.Series(uniques, dtype="string").str.strip()
    cleaned = cleaned.mask(cleaned == "")
    values = pd.array(cleaned, dtype="string").take(codes, allow_fill=True)
    return pd.Series(values, index=df.index, dtype="string")


def _float_or_nan(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return np.nan


def parse_floats(raw: pd.Series) -> np.ndarray:
    """Text -> float64, exactly as Python's float() reads it (pd.to_numeric's fast parser can be
    one ulp off); text that is not a number becomes NaN."""
    try:
        return raw.astype("float64").to_numpy()
    except (TypeError, ValueError):
        return np.fromiter((_float_or_nan(v) for v in raw.to_numpy(dtype=object)), dtype="float64", count=len(raw))


def numeric_column(df: pd.DataFrame, name: str, form: str, log: ImportLog) -> np.ndarray:
    """The column as float64; text that is not a number becomes missing and is logged."""
    col = _resolve(df, name)
    if col is None:
        return np.full(len(df), np.nan)
    raw = df[col]
    values = parse_floats(raw)
    bad = np.isnan(values) & raw.notna().to_numpy()
    if bad.any():
        log.add("non_numeric_value", form, df["subject_id"].to_numpy()[bad], unit="rows", detail=col)
    return values
