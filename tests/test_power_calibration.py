"""Calibration through the batch engine: equal to the analysis-module route, and the published figures.

The per-trial route (`mndtrial.sim.calibration`, the analysis module's `CoxModel` and
`SlopeAnalysis`, i.e. lifelines and the lme4-matched statsmodels LMM) is the reference; the batch
route (`mndtrial.power.calibration`, `BatchCox` and `BatchSlopes`) must give the same per-trial
table, so that the ≥ 1,000-trial calibration (slow) is the statistic the analysis module reports.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mndtrial.data import TrialBatch
from mndtrial.errors import ParameterError
from mndtrial.power.calibration import calibration_tables, mirocals_statistics_batch, placebo_statistics_batch
from mndtrial.sim import mirocals, simulate
from mndtrial.sim.calibration import (PLACEBO_TARGETS, calibration_table, mirocals_statistics, placebo_statistics,
                                      pnfh_groups)


def _without_high_group_deaths_on_il2(batch: TrialBatch, trial: int) -> TrialBatch:
    """Trial `trial` with every IL-2 death in the high CSF-pNfH group censored: no finite HR there."""
    p = batch.participants
    _, high = pnfh_groups(p)
    keys = p.loc[high & (p["trial"] == trial).to_numpy() & (p["arm"] == "il2_2miu").to_numpy(), ["trial", "subject"]]
    s = batch.survival.merge(keys.assign(hit=True), on=["trial", "subject"], how="left")
    survival = batch.survival.assign(event=np.where(s["hit"].eq(True).to_numpy(), 0, batch.survival["event"]))
    return TrialBatch(info=batch.info, n_trials=batch.n_trials, first_trial=batch.first_trial,
                      participants=batch.participants, survival=survival, alsfrs=batch.alsfrs)


@pytest.fixture(scope="module")
def trials() -> TrialBatch:
    return _without_high_group_deaths_on_il2(simulate(mirocals(), 4, seed=2025), trial=3)


def test_mirocals_statistics_batch_equal_analysis_module(trials):
    reference = mirocals_statistics(trials)
    fast = mirocals_statistics_batch(trials)
    assert list(fast.columns) == list(reference.columns) and list(fast.index) == list(reference.index)
    exact = ["alive_il2", "alive_placebo", "fraction_low_pnfh"]
    pd.testing.assert_frame_equal(fast[exact], reference[exact], check_dtype=False)
    for hr in ["hr_all", "hr_low_pnfh", "hr_high_pnfh"]:
        np.testing.assert_allclose(fast[hr], reference[hr], rtol=1e-6)
    # The altered trial has no finite HR in the high group: missing in both routes, not an estimate.
    assert np.isnan(reference.loc[3, "hr_high_pnfh"]) and np.isnan(fast.loc[3, "hr_high_pnfh"])
    assert reference["slope_reduction_low_pnfh"].notna().all()  # every LMM converged
    np.testing.assert_allclose(fast["slope_reduction_low_pnfh"], reference["slope_reduction_low_pnfh"], atol=1e-4)


def test_placebo_statistics_batch_equal_analysis_module(trials):
    reference = placebo_statistics(trials)
    fast = placebo_statistics_batch(trials)
    assert list(fast.columns) == list(reference.columns)
    np.testing.assert_allclose(fast["slope_per_month"], reference["slope_per_month"], atol=1e-4)
    rest = [c for c in reference.columns if c != "slope_per_month"]
    pd.testing.assert_frame_equal(fast[rest], reference[rest])


def test_placebo_arms_small():
    table = calibration_table(placebo_statistics_batch(simulate(mirocals(), 150, seed=21)), PLACEBO_TARGETS)
    assert table["pass"].all(), table.to_string()
    assert (table["missing"] == 0).all()


def _pooled(batch: TrialBatch) -> TrialBatch:
    """All trials of a batch as one large trial (subject = trial * n + subject)."""
    n = batch.participants.groupby("trial").size().iloc[0]
    pool = lambda df: df.assign(subject=df["trial"] * n + df["subject"], trial=0)
    return TrialBatch(info=batch.info, n_trials=1, participants=pool(batch.participants),
                      survival=pool(batch.survival), alsfrs=pool(batch.alsfrs))


def test_mirocals_small_pooled():
    # A fast version of the slow check: 16 trials pooled into one large trial, estimates near the
    # published figures (the drug model's targets; slope ratio 0.77 ⇒ reduction 0.23).
    row = mirocals_statistics_batch(_pooled(simulate(mirocals(), 16, seed=22))).iloc[0]
    assert row["hr_all"] == pytest.approx(0.78, abs=0.1)
    assert row["hr_low_pnfh"] == pytest.approx(0.52, abs=0.1)
    assert row["hr_high_pnfh"] == pytest.approx(1.37, abs=0.35)
    assert row["fraction_low_pnfh"] == pytest.approx(0.70, abs=0.03)
    assert row["slope_reduction_low_pnfh"] == pytest.approx(0.23, abs=0.06)
    assert row["alive_il2"] / 16 == pytest.approx(69, abs=5) and row["alive_placebo"] / 16 == pytest.approx(61, abs=5)


def test_calibration_tables_refuse_too_few_trials():
    with pytest.raises(ParameterError, match="n_trials"):
        calibration_tables(n_trials=5)


@pytest.mark.slow
def test_published_figures_in_1000_simulated_trials():
    tables = calibration_tables(n_trials=1000, seed=2025)
    for name, table in tables.items():
        assert table["pass"].all(), f"{name}\n{table.to_string()}"
        assert (table["trials"] + table["missing"] == 1000).all()
