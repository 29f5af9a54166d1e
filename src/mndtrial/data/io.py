"""Read and write a trial folder: `participants`, `survival`, `alsfrs`, `biomarkers` as `.csv` or
`.parquet`, plus an optional `trial.toml` holding `TrialInfo`."""

from __future__ import annotations

import csv
import io
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import tomli_w
from pydantic import ValidationError

from ..errors import ConfigFileError, Problem, TrialDataError
from .info import TrialInfo
from .schema import TABLES
from .toml_errors import check_keys, schema_of, toml_line

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


def _one_line(text: object) -> str:
    """An exception's text on one line (pandas and pyarrow messages carry newlines)."""
    return " ".join(str(text).split())


def _file_problem(table: str, file: Path, rule: str, message: str) -> TrialDataError:
    return TrialDataError([Problem(table=table, rule=rule, message=f"{file.name}: {message}")])


def _decode(data: bytes, table: str, file: Path) -> str:
    """The file's text; a CSV must be UTF-8 (a UTF-8 byte-order mark is allowed). Another
    encoding is refused, never guessed: a wrong guess would change names silently."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(data) > 1 and data.count(b"\x00") * 4 >= len(data)):
        raise _file_problem(table, file, "encoding", "is UTF-16 (or another wide encoding), not UTF-8; "
                                                     "save it as CSV UTF-8")
    if b"\x00" in data:
        line = data[:data.index(b"\x00")].count(b"\n") + 1
        raise _file_problem(table, file, "encoding", f"has a NUL byte on line {line}: not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise _file_problem(table, file, "encoding",
                            f"is not UTF-8: byte 0x{data[exc.start]:02x} on line {line} (Latin-1 or "
                            f"Windows-1252 text?); save it as CSV UTF-8") from None


def _csv_records(text: str, table: str, file: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV, every row with exactly as many fields as the header.

    pandas' reader would take a first row with one field too many as a row label and shift its
    values into the wrong columns, and fills short rows with missing values; both are refused."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[list[str]] = []
    header: list[str] | None = None
    record_line = 1
    try:
        for row in reader:
            if row:  # blank lines are skipped, as every CSV reader does
                if header is None:
                    header = row
                elif len(row) != len(header):
                    raise _file_problem(table, file, "csv_fields",
                                        f"line {record_line} has {len(row)} fields but the header has "
                                        f"{len(header)} (an extra or missing comma, or an unquoted comma "
                                        f"in a value?)")
                else:
                    rows.append(row)
            record_line = reader.line_num + 1
    except csv.Error as exc:
        raise _file_problem(table, file, "csv_syntax",
                            f"not valid CSV from line {record_line}: {_one_line(exc)} (an unclosed "
                            f"or stray quote?)") from None
    if header is None:
        raise _file_problem(table, file, "empty_file", "is empty")
    return header, rows


def _csv_header(text: str, table: str, file: Path) -> list[str]:
    try:
        header = next((row for row in csv.reader(io.StringIO(text, newline=""), strict=True) if row), None)
    except csv.Error as exc:
        raise _file_problem(table, file, "csv_syntax", f"the header is not valid CSV: {_one_line(exc)}") from None
    if header is None:
        raise _file_problem(table, file, "empty_file", "is empty")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise TrialDataError([Problem(table=table, column=c, rule="duplicate_column",
                                      message=f"{file.name}: the header names column '{c}' "
                                              f"{header.count(c)} times") for c in repeated])
    return header


def _check_delimiter(header: list[str], table: str, file: Path) -> None:
    """A header read as one column holding ';' (or a tab, or '|') is a file separated by that
    character, as spreadsheets save "CSV" in locales with a decimal comma: say so, rather than
    report every required column missing. The file is not re-read with a guessed separator."""
    if len(header) != 1:
        return
    for sep, name in ((";", "';'"), ("\t", "tabs"), ("|", "'|'")):
        if sep in header[0]:
            shown = header[0] if len(header[0]) <= 40 else header[0][:37] + "..."
            raise _file_problem(table, file, "csv_delimiter",
                                f"has one column, {shown!r}: its values are separated by {name}, not commas; "
                                "save it as CSV (comma-separated)")


def _csv_frame_arrow(text: str, header: list[str]) -> pd.DataFrame | None:
    """Every cell as text (empty: missing) by pyarrow's fast reader, for a file without quotes;
    None where it does not read the file exactly as `_csv_records` would (then that reader
    decides, and names the line of a problem).

    Only a file without a quote character comes here: pyarrow reads `"x"y` as `xy` where the
    csv module refuses a stray quote; without quotes the two readers agree (both refuse a row
    with more or fewer fields than the header)."""
    if '"' in text:
        return None
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    try:
        arrow = pa_csv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            parse_options=pa_csv.ParseOptions(quote_char=False),
            convert_options=pa_csv.ConvertOptions(column_types={c: pa.string() for c in header},
                                                  strings_can_be_null=True, null_values=[""],
                                                  quoted_strings_can_be_null=True))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if arrow.column_names != header:
        return None
    return arrow.to_pandas()


def _csv_table(data: bytes, table: str, file: Path) -> pd.DataFrame:
    text = _decode(data, table, file)
    header = _csv_header(text, table, file)
    _check_delimiter(header, table, file)
    df = _csv_frame_arrow(text, header)
    if df is None:
        header, rows = _csv_records(text, table, file)  # names the line, or reads what pyarrow would not
        cells = np.array(rows, dtype=object).reshape(len(rows), len(header))
        cells[cells == ""] = None  # an empty field is a missing value; everything else stays text
        df = pd.DataFrame({name: cells[:, j] for j, name in enumerate(header)})
    specs = {c.name: c for c in TABLES[table]}
    for name, col in specs.items():
        if name in df.columns and col.kind in ("float", "int"):
            df[name] = _parse_numbers(df[name])
    extras = [c for c in header if c not in specs and c.strip()]
    if extras and len(df):
        # Columns beyond the data model are typed as pandas would (numbers, true/false, text), as
        # before; the rows' shape is checked above, so pandas' guesses about it cannot happen.
        try:
            typed = pd.read_csv(io.StringIO(text), usecols=extras, index_col=False, keep_default_na=False,
                                na_values=[""])
        except (ValueError, pd.errors.ParserError):
            return df
        for name in extras:
            df[name] = typed[name].to_numpy()
    return df


def _parquet_table(data: bytes, table: str, file: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(io.BytesIO(data))
    except MemoryError:
        raise
    except Exception as exc:
        # Whatever pyarrow cannot make of the bytes (not Parquet, truncated, an unsupported type)
        # is a property of the file the user brought: say so, with pyarrow's reason.
        raise _file_problem(table, file, "unreadable_file",
                            f"is not a readable Parquet file: {_one_line(exc) or type(exc).__name__}") from None


def read_table(path: str | Path, table: str) -> pd.DataFrame:
    """Read one table file (`.csv` or `.parquet`), parsing spec columns from text the way the
    data model expects; a file that cannot be read is a `TrialDataError` naming table, file and rule.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> file = Path(tempfile.mkdtemp()) / "survival.csv"
        >>> _ = file.write_text("subject_id,time_days,event\\nA1,640,0\\n")
        >>> read_table(file, "survival").dtypes["time_days"]
        dtype('float64')
    """
    file = Path(path)
    if table not in TABLES:
        raise ValueError(f"table must be one of {sorted(TABLES)}, got {table!r}")
    try:
        data = file.read_bytes()  # the only access to the file: it is read, never opened for writing
    except OSError as exc:
        reason = "permission denied" if isinstance(exc, PermissionError) else _one_line(exc.strerror or exc)
        raise _file_problem(table, file, "unreadable_file", f"cannot be read: {reason}") from None
    if not data.strip():
        raise _file_problem(table, file, "empty_file", "is empty")
    if file.suffix == ".parquet":
        return _parquet_table(data, table, file)
    return _csv_table(data, table, file)


def _find(folder: Path, table: str, problems: list[Problem]) -> Path | None:
    found = [folder / f"{table}.{ext}" for ext in FORMATS if (folder / f"{table}.{ext}").exists()]
    if len(found) > 1:
        newer = max(found, key=lambda f: f.stat().st_mtime_ns)
        problems.append(Problem(table=table, rule="ambiguous_file",
                                message=f"both {found[0].name} and {found[1].name} exist; keep one and "
                                        f"remove the other ({newer.name} is the newer)"))
        return None
    return found[0] if found else None


def _read_info(folder: Path, problems: list[Problem]) -> TrialInfo | None:
    path = folder / "trial.toml"
    if not path.exists():
        return None
    text = ""
    try:
        text = path.read_bytes().decode("utf-8")
        data = tomllib.loads(text)
        check_keys(data, schema_of(TrialInfo), "trial.toml", text)
        return TrialInfo(**data, source="trial.toml")
    except ConfigFileError as exc:
        problems.append(Problem(table="trial.toml", column=exc.parameter, rule="trial_info", message=str(exc)))
    except OSError as exc:
        problems.append(Problem(table="trial.toml", rule="unreadable_file",
                                message=f"trial.toml cannot be read: {_one_line(exc.strerror or exc)}"))
    except UnicodeDecodeError:
        problems.append(Problem(table="trial.toml", rule="encoding", message="trial.toml is not UTF-8 text"))
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem(table="trial.toml", rule="toml", message=f"not valid TOML: {_one_line(exc)}"))
    except ValidationError as exc:
        for err in exc.errors():
            line = toml_line(text, err["loc"])
            problems.append(Problem(table="trial.toml", column=".".join(map(str, err["loc"])), rule="trial_info",
                                    message=(f"trial.toml:{line}: " if line else "") + _one_line(err["msg"]),
                                    value=err.get("input")))
    except TypeError as exc:
        problems.append(Problem(table="trial.toml", rule="trial_info", message=_one_line(exc)))
    return None


def read_trial(path: str | Path) -> "Trial":
    """Read a trial folder and validate it; raise `TrialDataError` listing every problem.

    Files are only read, never written. Every problem with a file (empty, not UTF-8, malformed
    CSV, not Parquet, unreadable, in both formats) is a `Problem` naming the table, the file and
    the rule; the tables that could be read are validated too, so all problems show at once.

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
    files: dict[str, str] = {}
    for table in TABLES:
        file = _find(folder, table, problems)
        tables[table] = None
        if file is not None:
            files[table] = file.name
            try:
                tables[table] = read_table(file, table)
            except TrialDataError as exc:
                problems += exc.problems
    info = _read_info(folder, problems)

    def in_files(found: list[Problem]) -> list[Problem]:
        # a problem of a table's values names the file it was read from
        return [replace(p, file=files[p.table]) if p.table in files and p.file is None else p for p in found]

    if problems:
        # Validate what could be read too, so the user sees every problem at once; a table with a
        # file problem is not also reported as missing.
        try:
            Trial(info=info, **tables)
        except TrialDataError as exc:
            problems += in_files([p for p in exc.problems if p.rule != "required_table"
                                  or not any(q.table == p.table for q in problems)])
        raise TrialDataError(problems)
    if info is None:
        info = _derived_info(tables["participants"], folder.name)
    try:
        return Trial(info=info, **tables)
    except TrialDataError as exc:
        raise TrialDataError(in_files(exc.problems)) from None


def _derived_info(participants: pd.DataFrame | None, name: str) -> TrialInfo:
    arms = participants["arm"].tolist() if participants is not None and "arm" in participants.columns else []
    return TrialInfo.from_arm_names(arms, name=name)


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
