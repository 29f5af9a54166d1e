"""Known-truth simulations for STEPP and the cut-off search (slow; run by `make test-slow`).

Trials: 1:1 randomisation, CSF-pNfH log-normal with log-mean 7.62 and log-sd 0.74 (MIROCALS,
docs/evidence/mnd-evidence.md line 30), exponential survival with 45% dying by day 640 on control,
administrative censoring at day 640. The numbers each test prints are quoted in docs/who-benefits.md.
"""

import numpy as np
import pytest

from mndtrial.analysis.cox_binary import cox_treatment_fits, risk_counts
from mndtrial.analysis.cutoff_search import CutoffSearch
from mndtrial.analysis.stepp import stepp

pytestmark = pytest.mark.slow

HORIZON_DAYS = 640.0
BASE_HAZARD = -np.log(0.55) / HORIZON_DAYS
CUTOFFS = np.array([1000.0, 1500, 2000, 2500, 3000, 3700, 4500, 5500])


def simulate(n, rng, hr_low=1.0, hr_high=1.0, threshold=3700.0, prognostic_per_log=0.0):
    marker = np.exp(rng.normal(7.62, 0.74, n))
    treatment = rng.permutation(np.arange(n) % 2).astype(float)
    log_hr = np.where(marker <= threshold, np.log(hr_low), np.log(hr_high)) * treatment
    hazard = BASE_HAZARD * np.exp(log_hr + prognostic_per_log * (np.log(marker) - 7.62))
    t = rng.exponential(1 / hazard)
    event = (t <= HORIZON_DAYS).astype(int)
    return marker, np.minimum(t, HORIZON_DAYS), event, treatment


def binomial_band(rate, alpha, reps, k=3.0):
    return abs(rate - alpha) <= k * np.sqrt(alpha * (1 - alpha) / reps)


@pytest.mark.parametrize("prognostic", [0.0, 0.8])
def test_stepp_permutation_test_holds_alpha_without_interaction(prognostic):
    rng = np.random.default_rng(141)
    reps, alpha = 300, 0.05
    p = []
    for i in range(reps):
        marker, time, event, treat = simulate(200, rng, hr_low=0.7, hr_high=0.7, prognostic_per_log=prognostic)
        p.append(stepp(marker, time, event, treat, window_size=60, window_step=30, permutations=99, seed=i).p_value)
    rate = float(np.mean(np.array(p) <= alpha))
    print(f"STEPP permutation test, no interaction (HR 0.7 everywhere, prognostic {prognostic}/log unit): "
          f"rejection rate {rate:.3f} at alpha {alpha} over {reps} trials")
    assert binomial_band(rate, alpha, reps)


def test_selection_adjusted_p_holds_alpha_without_effect():
    rng = np.random.default_rng(142)
    reps, alpha = 400, 0.05
    adjusted, naive = [], []
    for i in range(reps):
        marker, time, event, treat = simulate(300, rng)
        res = CutoffSearch(CUTOFFS, permutations=99, bootstraps=1, seed=i).fit(marker, time, event, treat).result_
        adjusted.append(res.adjusted["p"])
        naive.append(res.naive["p"] / 2)  # one-sided, in the direction the selection looked for
    rate, naive_rate = float(np.mean(np.array(adjusted) <= alpha)), float(np.mean(np.array(naive) <= alpha))
    print(f"cut-off search, no effect: selection-adjusted rejection {rate:.3f}, naive (one-sided at the selected "
          f"cut-off) {naive_rate:.3f}, alpha {alpha}, {reps} trials")
    assert binomial_band(rate, alpha, reps)
    assert naive_rate > alpha + 3 * np.sqrt(alpha * (1 - alpha) / reps)  # what the adjustment is for


def _true_log_hr_below(cutoffs, hr_low, hr_high, threshold, rng, n=400_000):
    """The subgroup's marginal log HR, from one very large trial of the same model (fast Cox)."""
    marker, time, event, treat = simulate(n, rng, hr_low, hr_high, threshold)
    W = (marker[None, :] <= cutoffs[:, None]).astype(float)
    return cox_treatment_fits(risk_counts(time, event, treat, W))[0]


def test_corrected_hr_in_the_selected_subgroup_is_unbiased_where_the_naive_is_not():
    rng = np.random.default_rng(143)
    hr_low, hr_high, threshold = 0.6, 1.0, 3700.0
    truth = _true_log_hr_below(CUTOFFS, hr_low, hr_high, threshold, rng)
    reps = 300
    naive_err, corrected_err = [], []
    for i in range(reps):
        marker, time, event, treat = simulate(300, rng, hr_low, hr_high, threshold)
        res = CutoffSearch(CUTOFFS, permutations=1, bootstraps=100, seed=i).fit(marker, time, event, treat).result_
        true = truth[int(np.flatnonzero(CUTOFFS == res.selected_cutoff)[0])]
        naive_err.append(res.naive["log_hr"] - true)
        corrected_err.append(res.adjusted["log_hr_corrected"] - true)
    naive_err, corrected_err = np.array(naive_err), np.array(corrected_err)
    se_naive = naive_err.std(ddof=1) / np.sqrt(reps)
    se_corr = corrected_err.std(ddof=1) / np.sqrt(reps)
    print(f"step at {threshold:g} (HR {hr_low} below, {hr_high} above), {reps} trials: mean error of log HR in the "
          f"selected subgroup: naive {naive_err.mean():+.4f} (MC se {se_naive:.4f}), corrected "
          f"{corrected_err.mean():+.4f} (MC se {se_corr:.4f}); true log HR per candidate {np.round(truth, 3).tolist()}")
    assert naive_err.mean() < -3 * se_naive            # biased toward benefit
    assert abs(corrected_err.mean()) < 3 * se_corr     # within Monte Carlo error of the truth
