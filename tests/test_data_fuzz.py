"""Random corruptions of a valid trial: accepted unchanged, or refused with TrialDataError."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mndtrial import Trial, TrialDataError
from mndtrial.data.example import example_trial
from mndtrial.data.schema import TABLES

BASE = example_trial(n_per_arm=6, seed=7)
TABLE_NAMES = ("participants", "survival", "alsfrs", "biomarkers")
JUNK = st.one_of(st.none(), st.just(np.nan), st.just(np.inf), st.integers(-5, 100), st.floats(-1e3, 1e3),
                 st.text(max_size=4), st.booleans(), st.sampled_from(["placebo", "M", "limb", "%", "1", "EX001"]))


@st.composite
def corruptions(draw):
    tables = BASE.tables()
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(TABLE_NAMES))
        df = tables[name]
        action = draw(st.sampled_from(["cell", "drop_row", "drop_column", "duplicate_row"]))
        if action == "cell":
            col = draw(st.sampled_from(list(df.columns)))
            row = draw(st.integers(0, len(df) - 1))
            df = df.astype({col: object})
            df.iat[row, df.columns.get_loc(col)] = draw(JUNK)
        elif action == "drop_row" and len(df) > 1:
            df = df.drop(index=df.index[draw(st.integers(0, len(df) - 1))]).reset_index(drop=True)
        elif action == "drop_column":
            df = df.drop(columns=draw(st.sampled_from(list(df.columns))))
        else:
            df = pd.concat([df, df.iloc[[draw(st.integers(0, len(df) - 1))]]], ignore_index=True)
        tables[name] = df
    return tables


# docs/data-model.md: a bool column (`riluzole`) reads true/false, 1/0 or yes/no, in any case
# and with spaces around -- the one spelling a trial stores in another form than it was given.
# The spellings are the documentation's, written here as the reference; which columns are bool
# is the schema's, so a bool column added later is read the same way.
BOOL_SPELLINGS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
BOOL_COLUMNS = {col.name for columns in TABLES.values() for col in columns if col.kind == "bool"}


def _as_given(col: str, value):
    if col in BOOL_COLUMNS and isinstance(value, str):
        return BOOL_SPELLINGS.get(value.strip().lower(), value)
    return value


def _same_values(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        x, y = a[col].to_numpy(dtype=object), b[col].to_numpy(dtype=object)
        for u, v in zip(x, y):
            if pd.isna(u) and pd.isna(v):
                continue
            assert u == _as_given(col, v), (col, u, v)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corruptions())
@example({**BASE.tables(), "participants": BASE.participants.astype({"riluzole": object})
          .assign(riluzole=[" 0", "YES", "1", "no", True, False, 1, 0, 1.0, "true", "False", None])})
def test_corruption_is_accepted_unchanged_or_refused(tables):
    snapshot = {k: v.copy() for k, v in tables.items()}
    try:
        trial = Trial(info=BASE.info, **tables)
    except TrialDataError as exc:
        assert exc.problems and all(p.table and p.rule for p in exc.problems)
    else:
        for name, df in trial.tables().items():
            _same_values(df, tables[name])
    for name in tables:  # inputs are never modified in place
        pd.testing.assert_frame_equal(tables[name], snapshot[name])
