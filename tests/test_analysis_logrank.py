"""Log-rank tests against R `survdiff` (lung), lifelines, statsmodels and a slow loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_lung, load_rossi
from lifelines.statistics import logrank_test as lifelines_logrank
from lifelines.statistics import multivariate_logrank_test
from statsmodels.duration.survfunc import survdiff

from mndtrial.analysis import logrank, logrank_test
from mndtrial.data import Trial
from mndtrial.errors import AnalysisError


def slow_logrank(time, event, group, strata):
    """Textbook two-group (stratified) log-rank, one event time at a time, no vectorisation."""
    o_minus_e, var = 0.0, 0.0
    levels = sorted(set(group))
    for s in sorted(set(strata)):
        rows = [i for i in range(len(time)) if strata[i] == s]
        for t in sorted({time[i] for i in rows if event[i] == 1}):
            at_risk = [i for i in rows if time[i] >= t]
            n = len(at_risk)
            n1 = sum(1 for i in at_risk if group[i] == levels[0])
            d = sum(1 for i in at_risk if time[i] == t and event[i] == 1)
            d1 = sum(1 for i in at_risk if time[i] == t and event[i] == 1 and group[i] == levels[0])
            o_minus_e += d1 - d * n1 / n
            if n > 1:
                var += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    return o_minus_e ** 2 / var


def test_lung_sex_matches_r_survdiff():
    lung = load_lung()
    res = logrank(lung.time, lung.status, lung.sex)
    assert res.chi2 == pytest.approx(10.3267, abs=5e-5)
    assert res.df == 1
    assert res.summary.loc[1, "observed"] == 112 and res.summary.loc[2, "observed"] == 53
    assert res.summary.loc[1, "expected"] == pytest.approx(91.6, abs=0.05)
    assert res.summary.loc[2, "expected"] == pytest.approx(73.4, abs=0.05)


def _tied_data(seed, n=150, k=2, n_strata=3):
    rng = np.random.default_rng(seed)
    group = rng.integers(0, k, n)
    time = np.round(rng.exponential(100 * (1 + 0.3 * group)), -1) + 1  # rounded: many ties
    event = (rng.random(n) < 0.7).astype(int)
    strata = rng.integers(0, n_strata, n)
    return time, event, group, strata


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_unstratified_equals_lifelines(seed):
    time, event, group, _ = _tied_data(seed)
    ref = lifelines_logrank(time[group == 0], time[group == 1], event[group == 0], event[group == 1])
    assert logrank(time, event, group).chi2 == pytest.approx(ref.test_statistic, rel=1e-10)
    time3, event3, group3, _ = _tied_data(seed, k=3)
    ref3 = multivariate_logrank_test(time3, group3, event3)
    res3 = logrank(time3, event3, group3)
    assert res3.df == 2 and res3.chi2 == pytest.approx(ref3.test_statistic, rel=1e-10)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_stratified_equals_statsmodels_and_slow_loop(seed):
    time, event, group, strata = _tied_data(seed)
    ours = logrank(time, event, group, strata)
    sm_chi2, sm_p = survdiff(time, event, group, strata=strata)
    assert ours.chi2 == pytest.approx(sm_chi2, rel=1e-10)
    assert ours.p == pytest.approx(sm_p, rel=1e-8)
    assert ours.chi2 == pytest.approx(slow_logrank(time, event, group, strata), rel=1e-10)
    assert ours.n_strata == 3


def test_rossi_fin_stratified_by_race_equals_statsmodels():
    r = load_rossi()
    assert logrank(r.week, r.arrest, r.fin, r.race).chi2 == pytest.approx(
        survdiff(r.week, r.arrest, r.fin, strata=r.race)[0], rel=1e-10)


def test_trial_logrank_stratified_uses_the_trial_strata(example_trial):
    res = logrank_test(example_trial, strata=["country", "onset_site"])
    d = example_trial.survival_by_subject()
    keys = d.country + "/" + d.onset_site
    assert res.chi2 == pytest.approx(survdiff(d.time_days, d.event, d.arm, strata=keys)[0], rel=1e-10)
    assert list(res.summary.index) == ["placebo", "il2_2miu"]
    assert res.summary["observed"].sum() == d.event.sum()


def test_degenerate_inputs_are_analysis_errors():
    with pytest.raises(AnalysisError, match="only one group"):
        logrank([1, 2, 3], [1, 0, 1], ["a", "a", "a"])
    with pytest.raises(AnalysisError, match="no events"):
        logrank([1, 2, 3], [0, 0, 0], ["a", "b", "a"])
    ids = ["a", "b", "c", "d"]
    parts = pd.DataFrame({"subject_id": ids, "arm": ["placebo", "il2", "placebo", "il2"],
                          "country": ["UK", None, "UK", "FR"]})
    surv = pd.DataFrame({"subject_id": ids, "time_days": [10.0, 20, 30, 40], "event": [1, 1, 0, 1]})
    with pytest.raises(AnalysisError, match="stratum missing for 1 participant"):
        logrank_test(Trial(parts, surv), strata=["country"])
