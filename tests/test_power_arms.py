"""Per-test and per-trial counts of a multi-arm design (IMODALS: placebo and two IL-2 doses) count
the arms compared, not every arm: checked against a direct count on the simulated trials."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mndtrial.power import DesignPoint, family, power, strategy_analysis


@pytest.fixture(scope="module")
def imodals():
    fam = family("imodals", horizon_days=720.0)  # longer than the trial: enough deaths to count
    return fam, fam.source(90, enriched=False)


def _direct(batch, arms, group=None):
    """(participants, deaths) per trial among `arms` (and the CSF-pNfH `group` bounds), by pandas."""
    p = batch.participants.merge(batch.survival[["trial", "subject", "event"]], on=["trial", "subject"])
    keep = p["arm"].astype(str).isin(arms)
    if group is not None:
        keep &= p["csf_pnfh"].between(*group)
    g = p[keep].groupby("trial")
    idx = batch.trial_index
    return (g.size().reindex(idx, fill_value=0).to_numpy(),
            g["event"].sum().reindex(idx, fill_value=0).to_numpy())


def test_counts_are_of_the_compared_arms(imodals):
    fam, source = imodals
    batch = source.simulate_chunk(0, 6, seed=5)
    df = strategy_analysis("all-comers", fam, slope=False).evaluate(batch)
    compared = ("placebo", fam.active_arm)
    n, events = _direct(batch, compared)
    n_all, events_all = _direct(batch, ("placebo", "il2_1miu", "il2_2miu"))
    assert events_all.sum() > events.sum() > 0  # deaths in the left-out arm: the test can fail
    for test in ("logrank", "cox", "cox_adjusted"):
        np.testing.assert_array_equal(df[f"{test}_n"], n)
        np.testing.assert_array_equal(df[f"{test}_events"], events)
    n_low, events_low = _direct(batch, compared, (fam.low.lower, fam.low.upper))
    np.testing.assert_array_equal(df["logrank_low_n"], n_low)
    np.testing.assert_array_equal(df["logrank_low_events"], events_low)
    np.testing.assert_array_equal(df["n_compared"], n)
    np.testing.assert_array_equal(df["events"], events)
    np.testing.assert_array_equal(df["n_randomised"], n_all)
    np.testing.assert_array_equal(df["events_all_arms"], events_all)


def test_table_means_are_of_the_compared_arms(imodals):
    fam, source = imodals
    analysis = strategy_analysis("all-comers", fam, slope=False, horizon_days=360.0)
    res = power([DesignPoint(source, analysis)], n_trials=4, seed=5, n_workers=1)
    row = res.table.iloc[0]
    batch = source.simulate_chunk(0, 4, seed=5)
    n, events = _direct(batch, ("placebo", fam.active_arm))
    n_all, events_all = _direct(batch, ("placebo", "il2_1miu", "il2_2miu"))
    assert row["logrank_n_mean"] == pytest.approx(n.mean())
    assert row["rmst_n_mean"] == pytest.approx(n.mean())
    assert row["rmst_events_mean"] == pytest.approx(events.mean())
    assert row["events_mean"] == pytest.approx(events.mean())
    assert row["n_compared_mean"] == pytest.approx(n.mean())
    assert row["events_all_arms_mean"] == pytest.approx(events_all.mean())
    assert row["n_randomised_mean"] == pytest.approx(n_all.mean()) == 90
    assert pd.notna(row["logrank_events_mean"])
