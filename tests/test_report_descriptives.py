"""Descriptive aggregates against plain loops and statsmodels' t interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.weightstats import DescrStatsW

from mndtrial import Trial
from mndtrial.errors import AnalysisError
from mndtrial.report.descriptives import arm_order, consort_flow, visit_means


def test_consort_flow_matches_a_plain_count(example_trial):
    flow = consort_flow(example_trial)
    horizon = example_trial.info.horizon_days
    arms = dict(zip(example_trial.participants["subject_id"], example_trial.participants["arm"]))
    counts: dict[str, dict[str, int]] = {}
    for row in example_trial.survival.itertuples():
        c = counts.setdefault(arms[row.subject_id], {"randomised": 0, "events": 0, "lost": 0, "completed": 0})
        c["randomised"] += 1
        if row.event == 1:
            c["events"] += 1
        elif row.time_days < horizon:
            c["lost"] += 1
        else:
            c["completed"] += 1
    for arm, c in counts.items():
        assert flow.loc[arm, "randomised"] == c["randomised"]
        assert flow.loc[arm, "events"] == c["events"]
        assert flow.loc[arm, "lost_to_follow_up"] == c["lost"]
        assert flow.loc[arm, "completed_alive"] == c["completed"]
    assert flow.loc["total", "randomised"] == example_trial.n_participants
    assert list(flow.index) == ["placebo", "il2_2miu", "total"]


def test_consort_flow_without_horizon_does_not_guess(example_trial):
    info = example_trial.info.model_copy(update={"horizon_days": None})
    t = Trial(example_trial.participants, example_trial.survival, info=info)
    flow = consort_flow(t)
    assert flow["lost_to_follow_up"].isna().all()
    assert (flow["censored"] + flow["events"] == flow["randomised"]).all()


def test_visit_means_ci_matches_statsmodels(example_trial):
    m = visit_means(example_trial)
    alsfrs = example_trial.alsfrs.merge(example_trial.participants[["subject_id", "arm"]], on="subject_id")
    for r in m.itertuples():
        x = alsfrs.loc[(alsfrs["arm"] == r.arm) & (alsfrs["day"] == r.visit), "total"].to_numpy(float)
        assert r.n == len(x)
        assert r.mean == pytest.approx(x.mean(), rel=1e-12)
        lo, hi = DescrStatsW(x).tconfint_mean(alpha=0.05)
        assert (r.ci_lower, r.ci_upper) == pytest.approx((lo, hi), rel=1e-10)
    assert m.attrs["visit_unit"] == "day"


def test_visits_scattered_over_many_days_are_binned_to_months(example_trial):
    rng = np.random.default_rng(3)
    alsfrs = example_trial.alsfrs
    alsfrs["day"] = alsfrs["day"] + np.where(alsfrs["day"] > 0, rng.integers(-5, 6, len(alsfrs)), 0)
    surv = example_trial.survival
    t = Trial(example_trial.participants, surv, alsfrs.loc[alsfrs["day"] <= alsfrs["subject_id"].map(
        surv.set_index("subject_id")["time_days"])], example_trial.biomarkers, info=example_trial.info)
    m = visit_means(t)
    assert m.attrs["visit_unit"] == "month"
    assert set(m["visit"]) <= {0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 18.0}


def test_missing_tables_and_analytes_are_clear_errors(example_trial):
    t = Trial(example_trial.participants, example_trial.survival, info=example_trial.info)
    with pytest.raises(AnalysisError, match="no alsfrs table"):
        visit_means(t)
    with pytest.raises(AnalysisError, match="no 'treg_count' measurements"):
        visit_means(example_trial, "biomarkers", "value", analyte="treg_count")


def test_arm_order_puts_control_first_then_dose():
    from mndtrial import Arm, TrialInfo

    p = pd.DataFrame({"subject_id": ["a", "b", "c"], "arm": ["hi", "placebo", "lo"]})
    s = pd.DataFrame({"subject_id": ["a", "b", "c"], "time_days": [1.0, 2.0, 3.0], "event": [0, 0, 0]})
    info = TrialInfo(arms=(Arm(name="hi", dose_miu=2.0), Arm(name="placebo", control=True),
                           Arm(name="lo", dose_miu=1.0)))
    assert arm_order(Trial(p, s, info=info)) == ["placebo", "lo", "hi"]
