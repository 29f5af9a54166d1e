"""`Trial.select` skips re-validation: its tables must equal those of validating the same subset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mndtrial.data import Trial
from mndtrial.data.example import example_trial


def _trials():
    from mndtrial.sim import mirocals, simulate

    yield example_trial()
    yield simulate(mirocals(n_randomised=60), n_trials=1, seed=3).trial(0)


@pytest.mark.parametrize("seed", range(3))
def test_select_equals_validating_the_subset(seed):
    rng = np.random.default_rng(seed)
    for trial in _trials():
        ids = trial.participants["subject_id"]
        for size in (len(ids) // 2, 5):
            chosen = rng.choice(ids.to_numpy(), size=size, replace=False)
            fast = trial.select(chosen, name="subset")
            tables = trial.tables()
            rows = {k: (None if df is None else df.loc[df["subject_id"].isin(chosen)]) for k, df in tables.items()}
            rows = {k: (None if (df is None or len(df) == 0) and k in ("alsfrs", "biomarkers") else df)
                    for k, df in rows.items()}
            slow = Trial(info=fast.info, **rows)
            assert fast.info == slow.info
            for name, want in slow.tables().items():
                got = fast.tables()[name]
                if want is None:
                    assert got is None
                else:
                    pd.testing.assert_frame_equal(got, want)


def test_participant_columns_are_a_copy_of_those_columns(example_trial):
    cols = example_trial.participant_columns("subject_id", "arm")
    assert list(cols.columns) == ["subject_id", "arm"]
    assert cols.equals(example_trial.participants[["subject_id", "arm"]])
    cols.loc[0, "arm"] = "changed"  # the trial's own table is not changed through the copy
    assert example_trial.participants.loc[0, "arm"] != "changed"
    assert example_trial.participant_column_names == tuple(example_trial.participants.columns)
