"""Median follow-up by the reverse Kaplan–Meier against R `survfit`, lifelines and a slow loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_lung

from mndtrial.analysis import kaplan_meier
from mndtrial.data import Arm, Trial, TrialInfo
from mndtrial.data.follow_up import median_observed_time_days, reverse_km_median_days
from mndtrial.report import consort_flow

# tests/reference/reference.Rout: survfit(Surv(time, 2 - status) ~ sex, data = lung) medians, and
# the plain medians of the observed times (survival 3.5.3).
R_REVERSE_KM = {"1": 840.0, "2": 529.0, "total": 588.0}
R_OBSERVED = {"1": 224.0, "2": 292.5, "total": 255.5}


@pytest.fixture(scope="module")
def lung_trial() -> Trial:
    lung = load_lung()  # status 1 = died (R's 2)
    ids = [f"L{i:03d}" for i in range(len(lung))]
    participants = pd.DataFrame({"subject_id": ids, "arm": lung["sex"].astype(str).to_numpy()})
    survival = pd.DataFrame({"subject_id": ids, "time_days": lung["time"].astype(float).to_numpy(),
                             "event": lung["status"].astype(int).to_numpy()})
    return Trial(participants, survival, info=TrialInfo(name="lung", arms=(Arm(name="1", control=True), Arm(name="2"))))


def test_reverse_km_median_matches_r_survfit(reference_dir, lung_trial):
    assert "sex=1     138     26    840" in (reference_dir / "reference.Rout").read_text()
    flow = consort_flow(lung_trial)
    summary = lung_trial.summary().per_arm
    km = kaplan_meier(lung_trial).to_dict()["arms"]
    for arm, expected in R_REVERSE_KM.items():
        assert flow.loc[arm, "median_follow_up_days"] == expected
        assert flow.loc[arm, "median_observed_time_days"] == R_OBSERVED[arm]
        if arm != "total":
            assert summary.loc[arm, "median_follow_up_days"] == expected
            assert summary.loc[arm, "median_observed_time_days"] == R_OBSERVED[arm]
            assert km[arm]["median_follow_up_days"] == expected
            assert km[arm]["median_observed_time_days"] == R_OBSERVED[arm]


def slow_reverse_km_median(time: np.ndarray, event: np.ndarray) -> float:
    """Product-limit over each distinct time, one at a time, with censorings as the events."""
    s = 1.0
    for t in sorted(set(time.tolist())):
        at_risk = int((time >= t).sum())
        ended_censored = int(((time == t) & (event == 0)).sum())
        s *= 1 - ended_censored / at_risk
        if s <= 0.5:
            return float(t)
    return float("nan")


@pytest.mark.parametrize("seed", range(12))
def test_reverse_km_median_matches_a_slow_loop_and_lifelines(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 80))
    time = np.round(rng.exponential(300, n))  # rounded: ties between deaths and censorings
    event = rng.random(n) < rng.uniform(0.1, 0.7)
    got = reverse_km_median_days(time, event)
    np.testing.assert_equal(got, slow_reverse_km_median(time, event.astype(int)))
    kmf = KaplanMeierFitter().fit(time, ~event)
    np.testing.assert_equal(got, float(kmf.median_survival_time_) if np.isfinite(kmf.median_survival_time_)
                            else np.nan)
    assert median_observed_time_days(time) == np.median(time)


def test_everyone_died_leaves_the_follow_up_not_estimable():
    # no censoring at all: the potential follow-up is never observed to end
    assert np.isnan(reverse_km_median_days(np.array([10.0, 20.0, 30.0]), np.array([1, 1, 1])))
    assert np.isnan(reverse_km_median_days(np.array([]), np.array([])))
