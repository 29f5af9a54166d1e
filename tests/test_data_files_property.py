"""Property: whatever bytes a trial folder holds, `read_trial` returns a `Trial` or raises
`TrialDataError` (each problem on one line), and never changes a file.

Each table is one of: a valid CSV or Parquet file, a table with columns of arbitrary dtypes
(integers of every width, floats with NaN and infinities, nullable booleans and integers, text
with any characters, categoricals, dates, durations, bytes, lists, structs, decimals, nulls) saved
as Parquet or as CSV in an arbitrary encoding and separator, arbitrary bytes, a valid file with
bytes changed, inserted or cut, or no file; `trial.toml` likewise. The default suite runs a few
hundred examples; the slow suite 5,000.
"""

from __future__ import annotations

import decimal
import hashlib
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mndtrial import Trial, TrialDataError, read_trial
from mndtrial.data.example import example_trial
from mndtrial.data.schema import TABLES

BASE = example_trial(n_per_arm=3, seed=11)
TABLE_NAMES = tuple(TABLES)
IDS = tuple(BASE.participants["subject_id"])


def _valid_files() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for fmt in ("csv", "parquet"):
            folder = BASE.write(Path(tmp) / fmt, format=fmt)
            files |= {p.name: p.read_bytes() for p in folder.iterdir()}
        return files


VALID = _valid_files()
SIZES = st.integers(0, 6)
TEXT = st.text(max_size=8)


@st.composite
def arbitrary_column(draw, n: int):
    """n values of one arbitrary dtype, as a pandas Series (or a list pyarrow infers a type for)."""
    kind = draw(st.sampled_from(["int64", "uint64", "int8", "float64", "float32", "bool", "boolean", "Int64",
                                 "text", "text_or_none", "ids", "number_text", "category", "datetime",
                                 "timedelta", "bytes", "list", "struct", "decimal", "null"]))
    if kind in ("int64", "uint64", "int8"):
        info = np.iinfo(kind)
        return pd.Series(draw(st.lists(st.integers(int(info.min), int(info.max)), min_size=n, max_size=n)),
                         dtype=kind)
    if kind in ("float64", "float32"):
        width = 64 if kind == "float64" else 32
        return pd.Series(draw(st.lists(st.floats(width=width), min_size=n, max_size=n)), dtype=kind)
    if kind == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if kind == "boolean":
        return pd.Series(draw(st.lists(st.none() | st.booleans(), min_size=n, max_size=n)), dtype="boolean")
    if kind == "Int64":
        return pd.Series(draw(st.lists(st.none() | st.integers(-10, 10**6), min_size=n, max_size=n)), dtype="Int64")
    if kind == "text":
        return pd.Series(draw(st.lists(TEXT, min_size=n, max_size=n)), dtype=object)
    if kind == "text_or_none":
        return pd.Series(draw(st.lists(st.none() | TEXT, min_size=n, max_size=n)), dtype=object)
    if kind == "ids":  # real ids, with blanks around or repeated, to reach the checks across tables
        ids = st.sampled_from(IDS) | st.sampled_from(IDS).map(lambda s: f"{s} ") | st.sampled_from(IDS).map(str.lower)
        return pd.Series(draw(st.lists(ids, min_size=n, max_size=n)), dtype=object)
    if kind == "number_text":
        numbers = st.floats(allow_nan=True).map(repr) | st.sampled_from(["1,5", " 3", "1e400", "-0", "0x10", "½"])
        return pd.Series(draw(st.lists(numbers, min_size=n, max_size=n)), dtype=object)
    if kind == "category":
        return pd.Series(pd.Categorical(draw(st.lists(st.sampled_from(["M", "F", "limb", "1", "0", "%"]),
                                                      min_size=n, max_size=n))))
    if kind == "datetime":
        return pd.Series(pd.to_datetime(draw(st.lists(st.integers(0, 2**31), min_size=n, max_size=n)), unit="s"))
    if kind == "timedelta":
        return pd.Series(pd.to_timedelta(draw(st.lists(st.integers(-10**5, 10**5), min_size=n, max_size=n)),
                                         unit="D"))
    if kind == "bytes":
        return pd.Series(draw(st.lists(st.binary(max_size=6), min_size=n, max_size=n)), dtype=object)
    if kind == "list":
        return pd.Series(draw(st.lists(st.lists(st.integers(-5, 5), max_size=3), min_size=n, max_size=n)), dtype=object)
    if kind == "struct":
        return pd.Series(draw(st.lists(st.fixed_dictionaries({"a": st.integers(0, 9)}), min_size=n, max_size=n)),
                         dtype=object)
    if kind == "decimal":
        values = st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-1000, max_value=1000)
        return pd.Series(draw(st.lists(values, min_size=n, max_size=n)), dtype=object)
    return pd.Series([None] * n, dtype=object)


@st.composite
def arbitrary_frame(draw, table: str) -> pd.DataFrame:
    """The valid table with some columns replaced, added or dropped, and rows cut."""
    df = BASE.tables()[table]
    n = draw(st.integers(0, len(df)))
    df = df.iloc[:n].reset_index(drop=True)
    names = [c.name for c in TABLES[table]] + ["extra", "Subject_ID", " event", ""]
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["replace", "drop"]))
        name = draw(st.sampled_from(names))
        if action == "drop" and name in df.columns:
            df = df.drop(columns=name)
        elif action == "replace":
            df[name] = draw(arbitrary_column(n)).to_numpy()
    return df


ENCODINGS = ("utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "utf-32", "ascii")


@st.composite
def table_file(draw, table: str) -> tuple[str, bytes] | None:
    """(file name, bytes) for one table, or None for no file."""
    # a valid file half the time, so that whole folders are accepted too, not only refused
    variant = draw(st.sampled_from(["csv"] * 4 + ["parquet"] * 3 + ["frame_parquet", "frame_csv", "bytes", "mutated",
                                                                     "absent"]))
    ext = draw(st.sampled_from(["csv", "parquet"]))
    if variant in ("csv", "parquet"):
        return f"{table}.{variant}", VALID[f"{table}.{variant}"]
    if variant == "absent":
        return None
    if variant == "bytes":
        return f"{table}.{ext}", draw(st.binary(max_size=400))
    if variant == "mutated":
        data = bytearray(VALID[f"{table}.{ext}"])
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(data)))
            op = draw(st.sampled_from(["replace", "insert", "cut"]))
            if op == "cut":
                data = data[:at]
            elif op == "insert":
                data[at:at] = draw(st.binary(min_size=1, max_size=4) | st.sampled_from([b'"', b",", b"\n", b"\x00"]))
            elif at < len(data):
                data[at] = draw(st.integers(0, 255))
        return f"{table}.{ext}", bytes(data)
    df = draw(arbitrary_frame(table))
    if variant == "frame_parquet":
        try:
            import io

            buffer = io.BytesIO()
            df.to_parquet(buffer, index=False)
        except Exception:  # pyarrow cannot store this mix (e.g. lists beside numbers): write bytes instead
            return f"{table}.parquet", repr(df.to_dict()).encode()[:400]
        return f"{table}.parquet", buffer.getvalue()
    sep = draw(st.sampled_from([",", ",", ";", "\t"]))
    encoding = draw(st.sampled_from(ENCODINGS))
    return f"{table}.csv", df.to_csv(index=False, sep=sep).encode(encoding, errors="replace")


@st.composite
def folders(draw) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for table in TABLE_NAMES:
        made = draw(table_file(table))
        if made is not None:
            files[made[0]] = made[1]
        if draw(st.integers(0, 29)) == 0:  # now and then both formats of a table
            files[f"{table}.parquet"] = VALID[f"{table}.parquet"]
    toml = draw(st.sampled_from(["valid", "valid", "absent", "absent", "bytes", "text"]))
    if toml == "valid":
        files["trial.toml"] = VALID["trial.toml"]
    elif toml == "bytes":
        files["trial.toml"] = draw(st.binary(max_size=200))
    elif toml == "text":
        files["trial.toml"] = draw(st.text(max_size=80)).encode("utf-8", errors="replace")
    return files


FILE_RULES = {"empty_file", "encoding", "csv_fields", "csv_syntax", "duplicate_column", "unreadable_file",
              "ambiguous_file", "toml", "trial_info"}


def check_folder(files: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
        try:
            trial = read_trial(folder)
        except TrialDataError as exc:
            assert exc.problems
            # shown by --hypothesis-show-statistics: how often each kind of outcome is reached
            event("refused: file" if exc.rules & FILE_RULES else "refused: data only")
            for problem in exc.problems:
                assert problem.table and problem.rule
                assert "\n" not in str(problem) and "\r" not in str(problem), str(problem)
        else:
            event("accepted")
            assert isinstance(trial, Trial) and trial.n_participants > 0
        after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
        assert after == before


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(folders())
def test_read_trial_returns_a_trial_or_refuses_by_name(files):
    check_folder(files)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck))
@given(folders())
def test_read_trial_returns_a_trial_or_refuses_by_name_5000(files):
    check_folder(files)
