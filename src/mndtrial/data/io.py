"""Read and write a trial folder: `participants`, `survival`, `alsfrs`, `biomarkers` as `.csv` or
`.parquet`, plus an optional `trial.toml` holding `TrialInfo`."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import tomli_w
from pydantic import ValidationError

from ..errors import Problem, TrialDataError
from .info import TrialInfo
from .schema import TABLES

if TYPE_CHECKING:
    from .trial import Trial

__all__ = ["read_trial", "write_trial", "read_table"]

FORMATS = ("csv", "parquet")


def _parse_numbers(s: pd.Series) -> pd.Series:
    """Parse a text column of a CSV into numbers; leave unparsable cells as text for validation
    to report (with subject and value) rather than turning them into missing values.

    Python's float() is used because it parses the shortest round-trip repr exactly, which
    `pd.to_numeric`'s fast parser does not (0.30000000000000004 would come back as 0.3)."""
    try:
        return s.astype("float64")
    except ValueError:
        pass

    def parse(text):
        if text is None or (isinstance(text, float) and np.isnan(text)):
            return np.nan
        try:
            return float(text)
        except ValueError:
            return text

    return s.map(parse).astype(object)


def read_table(path: Path, table: str) -> pd.DataFrame:
    """Read one table file, parsing spec columns from text the way the data model expects."""
    specs = {c.name: c for c in TABLES[table]}
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    text_cols = {name: str for name in specs}
    df = pd.read_csv(path, dtype=text_cols, keep_default_na=False, na_values=[""])
    for name, col in specs.items():
        if name in df.columns and col.kind in ("float", "int"):
            df[name] = _parse_numbers(df[name])
    return df


def _find(folder: Path, table: str, problems: list[Problem]) -> Path | None:
    found = [folder / f"{table}.{ext}" for ext in FORMATS if (folder / f"{table}.{ext}").exists()]
    if len(found) > 1:
        problems.append(Problem(table=table, rule="ambiguous_file",
                                message=f"both {found[0].name} and {found[1].name} exist; keep one"))
        return None
    return found[0] if found else None


def _read_info(folder: Path, problems: list[Problem]) -> TrialInfo | None:
    path = folder / "trial.toml"
    if not path.exists():
        return None
    try:
        data = tomllib.loads(path.read_text())
        return TrialInfo(**data, source="trial.toml")
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem(table="trial.toml", rule="toml", message=f"not valid TOML: {exc}"))
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(Problem(table="trial.toml", column=".".join(map(str, err["loc"])),
                                    rule="trial_info", message=err["msg"], value=err.get("input")))
    except TypeError as exc:
        problems.append(Problem(table="trial.toml", rule="trial_info", message=str(exc)))
    return None


def read_trial(path: str | Path) -> "Trial":
    """Read a trial folder and validate it; raise `TrialDataError` listing every problem.

    Example:
        >>> import tempfile
        >>> from mndtrial.data.example import example_trial
        >>> folder = example_trial().write(tempfile.mkdtemp())
        >>> read_trial(folder).n_participants
        60
    """
    from .trial import Trial

    folder = Path(path)
    if not folder.is_dir():
        raise TrialDataError([Problem(table="(folder)", rule="folder", value=str(folder),
                                      message="trial folder does not exist or is not a folder")])
    problems: list[Problem] = []
    tables: dict[str, pd.DataFrame | None] = {}
    for table in TABLES:
        file = _find(folder, table, problems)
        if file is None:
            tables[table] = None
            continue
        try:
            tables[table] = read_table(file, table)
        except pd.errors.EmptyDataError:
            problems.append(Problem(table=table, rule="empty_file", message=f"{file.name} is empty"))
        except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
            problems.append(Problem(table=table, rule="unreadable_file", message=f"{file.name}: {exc}"))
    info = _read_info(folder, problems)
    if problems:
        # Validate what could be read too, so the user sees every problem at once.
        try:
            Trial(info=info, **{k: v for k, v in tables.items() if not any(p.table == k for p in problems)})
        except TrialDataError as exc:
            problems += [p for p in exc.problems if p.rule != "required_table"
                         or not any(q.table == p.table for q in problems)]
        raise TrialDataError(problems)
    if info is None:
        arms = tables["participants"]["arm"] if tables.get("participants") is not None \
            and "arm" in tables["participants"].columns else pd.Series([], dtype=object)
        info = TrialInfo.from_arm_names([a for a in arms.dropna().astype(str)] or ["(none)"], name=folder.name)
    return Trial(info=info, **tables)


def write_trial(trial: "Trial", path: str | Path, format: Literal["csv", "parquet"] = "csv") -> Path:
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    for table, df in trial.tables().items():
        for ext in FORMATS:  # a stale file in the other format would make the folder ambiguous
            stale = folder / f"{table}.{ext}"
            if stale.exists():
                stale.unlink()
        if df is None:
            continue
        if format == "csv":
            df.to_csv(folder / f"{table}.csv", index=False)
        else:
            df.to_parquet(folder / f"{table}.parquet", index=False)
    (folder / "trial.toml").write_text(tomli_w.dumps(_toml_safe(trial.info.to_toml_dict())))
    return folder


def _toml_safe(value):
    if isinstance(value, dict):
        return {k: _toml_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_toml_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
