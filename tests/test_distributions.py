"""`mndtrial.analysis.distributions` against scipy.stats, the functions it stands in for (bit for bit)."""

import numpy as np
import pytest
from scipy import stats

from mndtrial.analysis import distributions as D


@pytest.mark.parametrize("df", [1, 2, 3, 7, 40])
def test_tails_and_quantiles_equal_scipy_stats_bit_for_bit(df):
    rng = np.random.default_rng(df)
    x = rng.normal(size=500) * 6
    q = rng.uniform(size=200)
    assert np.array_equal(D.chi2_sf(np.abs(x), df), stats.chi2.sf(np.abs(x), df))
    assert np.array_equal(D.t_sf(x, df), stats.t.sf(x, df))
    assert np.array_equal(D.t_ppf(q, df), stats.t.ppf(q, df))
    assert np.array_equal(D.norm_sf(x), stats.norm.sf(x))
    assert np.array_equal(D.norm_ppf(q), stats.norm.ppf(q))
    # a statistic a rounding below 0 (a difference of log-likelihoods) has tail 1, as in scipy
    assert D.chi2_sf(-1e-13, df) == stats.chi2.sf(-1e-13, df) == 1.0
    assert float(D.chi2_sf(2.5, df)) == float(stats.chi2.sf(2.5, df))


def test_midranks_and_mann_whitney_equal_scipy():
    rng = np.random.default_rng(7)
    for _ in range(300):
        scores = rng.integers(-6, 6, size=int(rng.integers(4, 80)))  # many ties, as CAFS scores
        k = int(rng.integers(1, len(scores) - 1))
        assert np.array_equal(D.rankdata(scores), stats.rankdata(scores))
        ours = D.mann_whitney(scores[:k], scores[k:])
        ref = stats.mannwhitneyu(scores[:k], scores[k:], alternative="two-sided", method="asymptotic",
                                 use_continuity=True)
        assert ours.statistic == float(ref.statistic)
        assert ours.pvalue == float(ref.pvalue)
