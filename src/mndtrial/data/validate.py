"""Validation of a trial's tables against the data model in `schema.py`.

`validate_tables` checks every rule, collects every problem, and either raises one
`TrialDataError` listing them all or returns normalised *copies* of the tables (canonical dtypes,
spec columns first, index reset). Inputs are never modified. Nothing is coerced that could change
a value: numbers must already be numbers (the readers parse text files), text must be text.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from ..errors import Problem, TrialDataError
from .info import TrialInfo
from .schema import ALSFRS_ITEMS, ANALYTE_UNITS, ANALYTES, REQUIRED_TABLES, TABLES, Column
from .toml_errors import nearest

__all__ = ["validate_tables", "unrecognised_columns"]

TRUE_TEXT = {"true", "yes", "1"}
FALSE_TEXT = {"false", "no", "0"}


def _subjects(df: pd.DataFrame) -> np.ndarray:
    if "subject_id" in df.columns:
        return df["subject_id"].to_numpy(dtype=object)
    return np.full(len(df), None, dtype=object)


def _report(problems: list[Problem], table: str, column: str, rule: str, message: str,
            mask: np.ndarray, values: np.ndarray, subjects: np.ndarray) -> None:
    for row in np.flatnonzero(mask):
        sid = subjects[row]
        problems.append(Problem(table=table, column=column, rule=rule, message=message,
                                subject_id=None if sid is None else str(sid),
                                value=_plain(values[row]), row=int(row)))


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _as_float(s: pd.Series, col: Column, table: str, subjects, problems) -> tuple[np.ndarray, np.ndarray]:
    """The column as float64 (NaN where missing or not a number) and the mask of cells already
    reported as not a number, which later checks skip: one problem per cell."""
    raw = s.to_numpy(dtype=object) if s.dtype == object else None
    if pd.api.types.is_bool_dtype(s.dtype):
        bad = s.notna().to_numpy()
        _report(problems, table, col.name, "numeric", f"'{col.name}' must be numeric, not true/false",
                bad, s.to_numpy(dtype=object), subjects)
        return np.full(len(s), np.nan), bad
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.to_numpy(dtype="float64", na_value=np.nan), np.zeros(len(s), dtype=bool)
    if raw is None:  # string or other extension dtype: every non-missing value is non-numeric
        raw = s.to_numpy(dtype=object)
    missing = pd.isna(s).to_numpy()
    numeric = np.fromiter((_is_number(v) for v in raw), dtype=bool, count=len(raw))
    bad = ~(numeric | missing)
    _report(problems, table, col.name, "numeric", f"'{col.name}' must be a number", bad, raw, subjects)
    out = np.full(len(s), np.nan)
    out[numeric] = raw[numeric].astype("float64")
    return out, bad


def _check_numeric(values: np.ndarray, col: Column, table: str, subjects, problems,
                   reported: np.ndarray) -> None:
    missing = np.isnan(values) & ~reported
    if not col.nullable:
        _report(problems, table, col.name, "missing", f"'{col.name}' must not be missing", missing, values, subjects)
    infinite = np.isinf(values)
    _report(problems, table, col.name, "finite", f"'{col.name}' must be finite", infinite, values, subjects)
    finite = np.where(infinite, np.nan, values)  # an infinite value is reported once, as not finite
    with np.errstate(invalid="ignore"):
        if col.minimum is not None:
            _report(problems, table, col.name, "range", f"'{col.name}' must be >= {col.minimum:g}",
                    finite < col.minimum, values, subjects)
        if col.maximum is not None:
            _report(problems, table, col.name, "range", f"'{col.name}' must be <= {col.maximum:g}",
                    finite > col.maximum, values, subjects)
        if col.multiple_of is not None:
            steps = finite / col.multiple_of
            off_step = np.abs(steps - np.round(steps)) > 1e-9
            points = " (whole or half points)" if col.multiple_of == 0.5 else ""
            _report(problems, table, col.name, "multiple_of",
                    f"'{col.name}' must be a multiple of {col.multiple_of:g}{points}", off_step, values, subjects)
    if col.allowed is not None:
        allowed = np.array([float(a) for a in col.allowed])
        bad = ~np.isnan(values) & ~np.isin(values, allowed)
        _report(problems, table, col.name, "allowed_values",
                f"'{col.name}' must be one of {', '.join(col.allowed)}", bad, values, subjects)


def _as_text(s: pd.Series, col: Column, table: str, subjects, problems) -> np.ndarray:
    raw = s.to_numpy(dtype=object)
    missing = pd.isna(s).to_numpy()
    is_text = np.fromiter((isinstance(v, str) for v in raw), dtype=bool, count=len(raw))
    hint = " (convert with .astype(str))" if col.kind == "id" else ""
    _report(problems, table, col.name, "text", f"'{col.name}' must be text{hint}", ~is_text & ~missing, raw, subjects)
    # Blank text is refused rather than read as missing: the two are not the same fact.
    blank = is_text & np.fromiter((isinstance(v, str) and not v.strip() for v in raw), dtype=bool, count=len(raw))
    _report(problems, table, col.name, "blank_text", f"'{col.name}' is blank text (use a missing value instead)",
            blank, raw, subjects)
    if not col.nullable:
        _report(problems, table, col.name, "missing", f"'{col.name}' must not be missing", missing, raw, subjects)
    if col.allowed is not None:
        bad = is_text & ~missing & ~blank & ~np.isin(np.where(is_text, raw, "").astype(str), np.array(col.allowed))
        _report(problems, table, col.name, "allowed_values",
                f"'{col.name}' must be one of {', '.join(col.allowed)}", bad, raw, subjects)
    out = raw.copy()
    # A value already reported as not text (a number, a list from a Parquet file) is blanked, so
    # the checks across tables (which hash ids, arms and analytes) see only text or None.
    out[missing | ~is_text] = None
    return out


def _as_bool(s: pd.Series, col: Column, table: str, subjects, problems) -> pd.array:
    raw = s.to_numpy(dtype=object)
    out = np.full(len(raw), None, dtype=object)
    bad = np.zeros(len(raw), dtype=bool)
    for i, v in enumerate(raw):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            continue
        if isinstance(v, (bool, np.bool_)):
            out[i] = bool(v)
        elif _is_number(v) and v in (0, 1):
            out[i] = bool(v)
        elif isinstance(v, str) and v.strip().lower() in TRUE_TEXT | FALSE_TEXT:
            out[i] = v.strip().lower() in TRUE_TEXT
        else:
            bad[i] = True
    _report(problems, table, col.name, "boolean", f"'{col.name}' must be true/false (or 1/0, yes/no)",
            bad, raw, subjects)
    return pd.array(out, dtype="boolean")


def _normalise_table(name: str, df: pd.DataFrame, problems: list[Problem]) -> pd.DataFrame | None:
    specs = TABLES[name]
    if df.shape[1] == 0 or len(df) == 0:
        problems.append(Problem(table=name, rule="empty_table",
                                message="the table is empty (leave an optional table out instead)"))
        return None
    missing_cols = [c.name for c in specs if c.required and c.name not in df.columns]
    misnamed = _misnamed_columns(name, df)
    for c in missing_cols:
        hint = f": the header has '{misnamed.pop(c)}' (names are case-sensitive)" if c in misnamed else ""
        problems.append(Problem(table=name, column=c, rule="required_column",
                                message=f"required column '{c}' is missing{hint}"))
    for known, given in misnamed.items():
        problems.append(Problem(table=name, column=given, rule="misnamed_column",
                                message=f"not a known column; did you mean '{known}'? (names are case-sensitive)"))
    duplicated_cols = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    for c in duplicated_cols:
        problems.append(Problem(table=name, column=str(c), rule="duplicate_column", message="column appears twice"))
    if missing_cols or duplicated_cols:
        return None
    df = df.reset_index(drop=True)
    subjects = _subjects(df)
    out: dict[str, object] = {}
    for col in specs:
        if col.name not in df.columns:
            continue
        s = df[col.name]
        if col.kind in ("float", "int"):
            values, not_numbers = _as_float(s, col, name, subjects, problems)
            _check_numeric(values, col, name, subjects, problems, reported=not_numbers)
            if col.kind == "int":
                # Only a clean column becomes int64; a column with problems is never returned.
                if not col.nullable and np.isfinite(values).all():
                    values = values.astype("int64")
            out[col.name] = values
        elif col.kind in ("id", "text", "category"):
            out[col.name] = _as_text(s, col, name, subjects, problems)
        elif col.kind == "bool":
            out[col.name] = _as_bool(s, col, name, subjects, problems)
    known = {c.name for c in specs}
    extras = [c for c in df.columns if c not in known]
    frame = pd.DataFrame(out, index=df.index)
    for c in extras:
        frame[c] = df[c].copy()
    return frame


def _misnamed_columns(table: str, df: pd.DataFrame) -> dict[str, str]:
    """{known column: column of df} for a known column written with other case, blanks or hyphens
    (`CSF_pNfH`, `Subject ID`) while the known one is absent: it would otherwise be kept as an
    extra column and never used."""
    known = [c.name for c in TABLES[table]]
    out: dict[str, str] = {}
    for col in df.columns:
        if isinstance(col, str) and col not in known:
            match = nearest(col, known, fuzzy=False)
            if match is not None and match not in df.columns:
                out.setdefault(match, col)
    return out


def unrecognised_columns(tables: dict[str, pd.DataFrame | None]) -> list[str]:
    """One line per table with columns beyond the data model (kept, but no analysis reads them
    unless a plan names them), each with the nearest known name where one is close.

    Example:
        >>> import pandas as pd
        >>> unrecognised_columns({"participants": pd.DataFrame(columns=["subject_id", "arm", "csf_pnf", "site"])})
        ["participants: 2 columns not in the data model, kept as extra columns: 'csf_pnf' (did you mean 'csf_pnfh'?), 'site'"]
    """
    lines = []
    for table, df in tables.items():
        if df is None or table not in TABLES:
            continue
        known = [c.name for c in TABLES[table]]
        extras = [c for c in df.columns if c not in known]
        if extras:
            named = [f"'{c}'" + (f" (did you mean '{m}'?)" if (m := nearest(str(c), known)) else "") for c in extras]
            lines.append(f"{table}: {len(extras)} column{'s' if len(extras) > 1 else ''} not in the data model, "
                         f"kept as extra columns: {', '.join(named)}")
    return lines


def _duplicates(df: pd.DataFrame, keys: list[str], table: str, rule: str, message: str, problems) -> None:
    # a row with a missing key is reported as missing already; it is no one's duplicate
    dup = (df.duplicated(subset=keys, keep="first") & df[keys].notna().all(axis=1)).to_numpy()
    _report(problems, table, keys[-1], rule, message, dup, df[keys[-1]].to_numpy(dtype=object), _subjects(df))


def _whitespace_twins(ids: np.ndarray, stray: np.ndarray, randomised: pd.Index) -> np.ndarray:
    """For each stray id, the participant id it equals once whitespace is stripped ('' if none)."""
    out = np.full(len(ids), "", dtype=object)
    if not stray.any():
        return out
    by_stripped: dict[str, str] = {}
    for pid in randomised:
        if isinstance(pid, str):
            by_stripped.setdefault(pid.strip(), pid)
    for row in np.flatnonzero(stray):
        out[row] = by_stripped.get(str(ids[row]).strip(), "")
    return out


def _cross_table(t: dict[str, pd.DataFrame | None], info: TrialInfo, problems: list[Problem]) -> None:
    parts, surv = t["participants"], t["survival"]
    if parts is None:
        return
    _duplicates(parts, ["subject_id"], "participants", "duplicate_subject", "subject_id appears more than once", problems)
    randomised = pd.Index(parts["subject_id"])

    arms = parts["arm"].to_numpy(dtype=object)
    unknown = ~np.isin(arms.astype(str), np.array(info.arm_names)) & pd.notna(arms)
    _report(problems, "participants", "arm", "unknown_arm",
            f"arm is not one of the trial's arms {list(info.arm_names)}", unknown, arms, _subjects(parts))
    present = set(arms[pd.notna(arms)].astype(str))
    for arm in info.arm_names:
        if arm not in present:
            problems.append(Problem(table="participants", column="arm", rule="empty_arm", value=arm,
                                    message=f"arm '{arm}' of the trial has no participants"))
    for stratum in info.strata:
        if stratum not in parts.columns:
            problems.append(Problem(table="participants", column=stratum, rule="missing_stratum_column",
                                    message=f"stratum '{stratum}' named in TrialInfo is not a column"))

    for name in ("survival", "alsfrs", "biomarkers"):
        df = t[name]
        if df is None:
            continue
        ids = df["subject_id"].to_numpy(dtype=object)
        stray = ~pd.Index(ids).isin(randomised) & pd.notna(ids)
        near = _whitespace_twins(ids, stray, randomised)
        _report(problems, name, "subject_id", "not_randomised",
                "subject is not in participants (not randomised)", stray & ~near.astype(bool), ids, ids)
        for row in np.flatnonzero(near.astype(bool)):
            problems.append(Problem(table=name, column="subject_id", rule="id_whitespace", subject_id=ids[row],
                                    value=ids[row], row=int(row),
                                    message=f"subject is not in participants: it differs only by leading or "
                                            f"trailing whitespace from participant {near[row]!r}"))

    if surv is not None:
        _duplicates(surv, ["subject_id"], "survival", "duplicate_subject", "more than one survival row", problems)
        lacking = ~randomised.isin(surv["subject_id"])
        _report(problems, "participants", "subject_id", "missing_survival",
                "participant has no row in survival", np.asarray(lacking), parts["subject_id"].to_numpy(dtype=object),
                parts["subject_id"].to_numpy(dtype=object))

    alsfrs = t.get("alsfrs")
    if alsfrs is not None:
        _duplicates(alsfrs, ["subject_id", "day"], "alsfrs", "duplicate_visit", "two ALSFRS-R rows on the same day", problems)
        items = [q for q in ALSFRS_ITEMS if q in alsfrs.columns]
        if len(items) == len(ALSFRS_ITEMS):
            item_sum = alsfrs[items].to_numpy(dtype=float).sum(axis=1)
            mismatch = np.abs(item_sum - alsfrs["total"].to_numpy()) > 1e-9  # NaN items never mismatch
            _report(problems, "alsfrs", "total", "items_total",
                    "total is not the sum of items q1..q12", mismatch, alsfrs["total"].to_numpy(), _subjects(alsfrs))
        if surv is not None:
            deaths = surv.loc[surv["event"] == 1].drop_duplicates("subject_id").set_index("subject_id")["time_days"]
            death_day = alsfrs["subject_id"].map(deaths).to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                after = alsfrs["day"].to_numpy() > death_day
            _report(problems, "alsfrs", "day", "visit_after_death",
                    "ALSFRS-R visit after the subject's death (survival.time_days with event = 1)",
                    after, alsfrs["day"].to_numpy(), _subjects(alsfrs))

    bio = t.get("biomarkers")
    if bio is not None:
        units = {**ANALYTE_UNITS, **info.analyte_units}
        analyte = bio["analyte"].to_numpy(dtype=object)
        unit = bio["unit"].to_numpy(dtype=object)
        expected = np.array([units.get(a) for a in analyte], dtype=object)
        unknown = np.array([e is None for e in expected]) & pd.notna(analyte)
        _report(problems, "biomarkers", "analyte", "unknown_analyte",
                f"analyte has no known unit (known: {sorted(units)}; declare others in TrialInfo.analyte_units)",
                unknown, analyte, _subjects(bio))
        wrong = ~unknown & pd.notna(analyte) & pd.notna(unit) & (expected != unit)
        for row in np.flatnonzero(wrong):
            problems.append(Problem(table="biomarkers", column="unit", rule="unit",
                                    message=f"unit for analyte '{analyte[row]}' must be '{expected[row]}'",
                                    subject_id=str(bio["subject_id"].iat[row]), value=unit[row], row=int(row)))
        _analyte_ranges(bio, problems)
        _duplicates(bio, ["subject_id", "analyte", "day"], "biomarkers", "duplicate_measurement",
                    "two measurements of the same analyte on the same day", problems)


def _analyte_ranges(bio: pd.DataFrame, problems: list[Problem]) -> None:
    """Values outside what each known analyte can be (schema.ANALYTES): a negative concentration,
    a Treg percentage above 100."""
    analyte = bio["analyte"].to_numpy(dtype=object)
    value = bio["value"].to_numpy(dtype=float)
    subjects = _subjects(bio)
    for name, spec in ANALYTES.items():
        rows = analyte == name
        if not rows.any():
            continue
        lo = -np.inf if spec.minimum is None else spec.minimum
        hi = np.inf if spec.maximum is None else spec.maximum
        with np.errstate(invalid="ignore"):
            outside = rows & ((value < lo) | (value > hi))
        span = f"{lo:g} to {hi:g}" if spec.maximum is not None else f">= {lo:g}"
        _report(problems, "biomarkers", "value", "analyte_range",
                f"a {name} value must be {span} {spec.unit}", outside, value, subjects)


def validate_tables(tables: dict[str, pd.DataFrame | None], info: TrialInfo) -> dict[str, pd.DataFrame | None]:
    """Validate and normalise a trial's tables; raise `TrialDataError` listing every problem."""
    problems: list[Problem] = []
    normalised: dict[str, pd.DataFrame | None] = {}
    for name in TABLES:
        df = tables.get(name)
        if df is None:
            if name in REQUIRED_TABLES:
                problems.append(Problem(table=name, rule="required_table", message="required table is missing"))
            normalised[name] = None
            continue
        if not isinstance(df, pd.DataFrame):
            problems.append(Problem(table=name, rule="dataframe", message=f"expected a pandas DataFrame, got {type(df).__name__}"))
            normalised[name] = None
            continue
        normalised[name] = _normalise_table(name, df, problems)
    _cross_table(normalised, info, problems)
    if problems:
        raise TrialDataError(problems)
    return normalised
