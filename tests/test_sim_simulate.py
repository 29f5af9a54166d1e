"""simulate(): output shape, data-model validity, reproducibility under any chunking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mndtrial.data import Trial, TrialBatch
from mndtrial.sim import TRIALS_PER_BLOCK, imodals, mirocals, simulate, simulate_chunk


@pytest.fixture(scope="module")
def design():
    return mirocals()


@pytest.fixture(scope="module")
def batch(design):
    return simulate(design, n_trials=40, seed=11)


def test_batch_has_one_row_per_participant_and_sorted_trials(batch, design):
    n = design.n_randomised
    assert batch.n_trials == 40 and batch.first_trial == 0
    assert len(batch.participants) == len(batch.survival) == 40 * n
    for df in (batch.participants, batch.survival, batch.alsfrs, batch.biomarkers):
        assert np.all(np.diff(df["trial"].to_numpy()) >= 0)
    counts = batch.participants.groupby("trial").size()
    assert (counts == n).all()
    assert np.array_equal(batch.participants["subject"].to_numpy(), np.tile(np.arange(n), 40))


def test_every_trial_is_a_valid_trial_in_the_data_model(batch):
    for i in (0, 17, 39):
        trial = batch.trial(i)
        assert isinstance(trial, Trial)
        assert trial.n_participants == 220
        assert set(trial.participants["arm"]) == {"placebo", "il2_2miu"}
        assert trial.info.strata == ("country", "onset_site")


def test_no_visit_after_death_or_horizon(batch):
    surv = batch.survival.set_index(["trial", "subject"])
    a = batch.alsfrs.join(surv, on=["trial", "subject"])
    assert (a["day"] <= 640).all()
    dead = a["event"] == 1
    assert (a.loc[dead, "day"] < a.loc[dead, "time_days"]).all()
    assert a["total"].between(0, 48).all()


def test_stratified_blocks_keep_arms_balanced_within_strata(batch):
    # Permuted blocks of 4 within each stratum: per stratum, |n_active - n_placebo| <= 2.
    p = batch.participants
    tab = p.groupby(["trial", "country", "onset_site", "arm"], observed=True).size().unstack("arm", fill_value=0)
    assert (abs(tab["il2_2miu"] - tab["placebo"]) <= 2).all()


def test_same_seed_same_data_whatever_the_chunking(design):
    whole = simulate(design, n_trials=2 * TRIALS_PER_BLOCK + 5, seed=3)
    cuts = [0, 7, TRIALS_PER_BLOCK + 1, 2 * TRIALS_PER_BLOCK + 5]
    parts = [simulate_chunk(design, seed=3, first_trial=a, n_trials=b - a) for a, b in zip(cuts, cuts[1:])]
    joined = TrialBatch.concat(parts)
    for name in ("participants", "survival", "alsfrs", "biomarkers"):
        pd.testing.assert_frame_equal(getattr(whole, name), getattr(joined, name))
    pd.testing.assert_frame_equal(whole.metadata["screening"], joined.metadata["screening"])
    # one trial on its own is the same trial
    alone = simulate(design, n_trials=1, seed=3, first_trial=TRIALS_PER_BLOCK + 2)
    assert alone.trial(TRIALS_PER_BLOCK + 2).equals(whole.trial(TRIALS_PER_BLOCK + 2))


def test_other_seed_other_data(design):
    a = simulate(design, n_trials=1, seed=1).survival["time_days"].to_numpy()
    b = simulate(design, n_trials=1, seed=2).survival["time_days"].to_numpy()
    assert not np.array_equal(a, b)


def test_imodals_three_arms_and_treg_table():
    batch = simulate(imodals(), n_trials=3, seed=5)
    trial = batch.trial(1)
    assert trial.n_participants == 36
    assert trial.info.arm_names == ("placebo", "il2_1miu", "il2_2miu")
    assert trial.participants["arm"].value_counts().to_dict() == {"placebo": 12, "il2_1miu": 12, "il2_2miu": 12}
    assert trial.participants["withdrawal_day"].isna().all()  # E:L41: no dropout in IMODALS
    assert (trial.survival["time_days"][trial.survival["event"] == 0] == 84).all()
    assert set(trial.biomarkers["analyte"]) == {"treg_pct_cd4", "serum_nfl"}
