"""STEPP, the cut-off search and the fast subset Cox fits against slow loops of lifelines fits
and mndtrial's R-checked log-rank test (double programming)."""

import numpy as np
import pytest

from mndtrial.analysis.cox_binary import cox_treatment_fits, logrank_statistics, risk_counts
from mndtrial.analysis.cutoff_search import CutoffSearch
from mndtrial.analysis.stepp import stepp
from mndtrial.data import read_trial
from mndtrial.errors import ParameterError

from who_benefits_helpers import lifelines_log_hr, logrank_oe_var, trial_arrays


@pytest.fixture(scope="module")
def data(reference_dir):
    return trial_arrays(read_trial(reference_dir / "who_benefits" / "trial"))


def test_subset_cox_and_logrank_equal_lifelines_and_logrank(data):
    marker, time, event, treat = data
    time = np.ceil(time / 7.0)  # weeks: many tied event times, so Efron's handling is exercised
    rng = np.random.default_rng(5)
    subsets = [marker <= np.quantile(marker, q) for q in (0.3, 0.6, 1.0)]
    draws = rng.integers(0, len(marker), len(marker))
    multiplicity = np.bincount(draws, minlength=len(marker)).astype(float)
    W = np.vstack([s.astype(float) for s in subsets] + [multiplicity])
    counts = risk_counts(time, event, treat, W)
    coef, se, ok = cox_treatment_fits(counts)
    oe, var = logrank_statistics(counts)
    assert ok.all()
    for k, s in enumerate(subsets):
        c, e = lifelines_log_hr(time[s], event[s], treat[s])
        assert coef[k] == pytest.approx(c, abs=1e-6) and se[k] == pytest.approx(e, abs=1e-6)
        o, v = logrank_oe_var(time[s], event[s], treat[s])
        assert oe[k] == pytest.approx(o, abs=1e-9) and var[k] == pytest.approx(v, rel=1e-9)
    # a bootstrap resample is the data with each participant repeated as often as drawn
    c, e = lifelines_log_hr(time[draws], event[draws], treat[draws])
    assert coef[3] == pytest.approx(c, abs=1e-6) and se[3] == pytest.approx(e, abs=1e-6)


def test_subset_without_events_in_an_arm_is_not_estimable():
    time = np.arange(1.0, 9.0)
    event = np.array([1, 1, 0, 1, 1, 0, 1, 0])
    treat = np.array([0, 1, 0, 1, 0, 1, 0, 1.0])
    W = np.array([[1, 0, 1, 0, 1, 1, 1, 1.0], np.ones(8)])  # the first leaves out both treated deaths
    coef, se, ok = cox_treatment_fits(risk_counts(time, event, treat, W))
    assert not ok[0] and np.isnan(coef[0]) and ok[1]


def _slow_windows(marker, size, step):
    """Windows written out: consecutive ranks, the last ending at the top, ties kept together."""
    values = np.sort(marker)
    n = len(values)
    starts = list(range(0, n - size + 1, step))
    if starts[-1] + size < n:
        starts.append(n - size)
    return [(values[s], values[s + size - 1]) for s in starts]


def test_stepp_equals_a_loop_of_subgroup_cox_fits(data):
    upper = data[0] > np.quantile(data[0], 0.4)  # a weak effect there, so permutations do exceed
    marker, time, event, treat = (a[upper] for a in data)
    res = stepp(marker, time, event, treat, window_size=40, window_step=20, permutations=4, seed=11)
    bounds = _slow_windows(marker, 40, 20)
    assert len(res.windows) == len(bounds)
    slow = []
    for (lo, hi), (_, row) in zip(bounds, res.windows.iterrows()):
        inside = (marker >= lo) & (marker <= hi)
        c, e = lifelines_log_hr(time[inside], event[inside], treat[inside])
        slow.append((c, e))
        assert (row.marker_low, row.marker_high, row.n) == (lo, hi, inside.sum())
        assert row.log_hr == pytest.approx(c, abs=1e-6) and row.se == pytest.approx(e, abs=1e-6)
    assert res.overall["log_hr"] == pytest.approx(lifelines_log_hr(time, event, treat)[0], abs=1e-6)

    def spread(fits):  # max |θ_i − θ̄| / se_i, θ̄ the inverse-variance-weighted mean
        c, e = np.array(fits).T
        mean = np.sum(c / e ** 2) / np.sum(1 / e ** 2)
        return np.max(np.abs(c - mean) / e)

    assert res.statistic == pytest.approx(spread(slow), abs=1e-6)
    # the permutation test, slowly: the same seeded permutations of the biomarker values
    rng = np.random.default_rng(np.random.SeedSequence(11))
    order = np.argsort(marker, kind="mergesort")
    exceed = 0
    for _ in range(4):
        permuted = np.empty_like(marker)
        permuted[rng.permutation(len(marker))] = marker[order]   # participant at rank r gets the r-th value
        fits = [lifelines_log_hr(time[(permuted >= lo) & (permuted <= hi)], event[(permuted >= lo) & (permuted <= hi)],
                                 treat[(permuted >= lo) & (permuted <= hi)]) for lo, hi in bounds]
        exceed += spread(fits) >= res.statistic
    assert exceed > 0 and res.p_value == pytest.approx((1 + exceed) / 5)


def test_stepp_refuses_bad_windows(data):
    marker, time, event, treat = data
    with pytest.raises(ParameterError):
        stepp(marker, time, event, treat, window_size=1)
    with pytest.raises(ParameterError):
        stepp(marker, time, event, treat, window_size=50, window_step=80)


def test_cutoff_search_equals_slow_loops(data):
    # the participants above the median, where the effect is weak: permutations then do exceed
    upper = data[0] > np.median(data[0])
    marker, time, event, treat = (a[upper] for a in data)
    cutoffs = np.quantile(marker, [0.25, 0.45, 0.6, 0.75])
    search = CutoffSearch(cutoffs, "low_subgroup", min_events=5, permutations=6, bootstraps=4, seed=3).fit(
        marker, time, event, treat)
    res = search.result_
    def slow_z(m, t, e, a):
        out = []
        for cut in cutoffs:
            low = m <= cut
            if min(e[low & (a == 1)].sum(), e[low & (a == 0)].sum()) < 5:
                out.append(np.nan)  # too few events in an arm: not a candidate
                continue
            oe, v = logrank_oe_var(t[low], e[low], a[low])
            out.append(-oe / np.sqrt(v))
        return np.array(out)

    z = slow_z(marker, time, event, treat)
    np.testing.assert_allclose(res.candidates["z"], z, atol=1e-9)
    best = int(np.nanargmax(z))
    assert res.selected_cutoff == cutoffs[best]
    low = marker <= cutoffs[best]
    c, e = lifelines_log_hr(time[low], event[low], treat[low])
    assert res.naive["log_hr"] == pytest.approx(c, abs=1e-6) and res.naive["se"] == pytest.approx(e, abs=1e-6)
    # the seeded permutations (treatment labels) and bootstrap resamples, written out
    perm_rng, boot_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(3).spawn(2))
    exceed = sum(np.nanmax(slow_z(marker, time, event, perm_rng.permutation(treat))) >= np.nanmax(z) - 1e-12
                 for _ in range(6))
    assert 0 < exceed < 6 and res.adjusted["p"] == pytest.approx((1 + exceed) / 7)
    optimism = []
    for _ in range(4):
        draws = boot_rng.integers(0, len(marker), len(marker))
        m, t, e_, a = marker[draws], time[draws], event[draws], treat[draws]
        b = int(np.nanargmax(slow_z(m, t, e_, a)))
        apparent = lifelines_log_hr(t[m <= cutoffs[b]], e_[m <= cutoffs[b]], a[m <= cutoffs[b]])[0]
        test = lifelines_log_hr(time[marker <= cutoffs[b]], event[marker <= cutoffs[b]], treat[marker <= cutoffs[b]])[0]
        optimism.append(apparent - test)
    assert res.adjusted["optimism_log_hr"] == pytest.approx(np.mean(optimism), abs=1e-6)
    assert res.adjusted["log_hr_corrected"] == pytest.approx(c - np.mean(optimism), abs=1e-6)


def test_interaction_statistic_is_the_standardised_difference_of_peto_estimates(data):
    marker, time, event, treat = data
    cut = float(np.median(marker))
    search = CutoffSearch([cut], "interaction", permutations=2, bootstraps=2).fit(marker, time, event, treat)
    low = marker <= cut
    (o_l, v_l), (o_h, v_h) = (logrank_oe_var(time[g], event[g], treat[g]) for g in (low, ~low))
    expected = (o_h / v_h - o_l / v_l) / np.sqrt(1 / v_l + 1 / v_h)
    assert search.result_.max_statistic == pytest.approx(expected, abs=1e-9)
