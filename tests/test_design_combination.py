"""Inverse-normal combination and closed testing of (H_S, H_F): closed forms and double programming."""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import numpy as np
import pytest
from scipy import stats

from mndtrial.design import (bivariate_normal_equal_cdf, closed_test, intersection_p, inverse_normal_p,
                             inverse_normal_weights, inverse_normal_z, spiessens_debois_correlation)
from mndtrial.errors import ParameterError


# ref: Lehmacher & Wassmer (1999) inverse-normal method, written out stage by stage.
def test_inverse_normal_matches_formula_per_trial():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(50, 3))
    w = np.array([0.3, 0.5, 0.8])
    got = inverse_normal_z(z, w)
    for i in range(50):
        for k in range(3):
            want = sum(w[j] * z[i, j] for j in range(k + 1)) / math.sqrt(sum(w[j] ** 2 for j in range(k + 1)))
            assert got[i, k] == pytest.approx(want, abs=1e-12)
    p = stats.norm.sf(z)
    np.testing.assert_allclose(inverse_normal_p(p, w), stats.norm.sf(got), rtol=1e-10)


# ref: the combined statistic is N(0,1) under H0 with group-sequential covariance sqrt(t_j/t_k).
def test_inverse_normal_covariance_is_group_sequential():
    t = np.array([0.3, 0.6, 1.0])
    w = inverse_normal_weights(t)
    cov = np.zeros((3, 3))
    for j, k in itertools.product(range(3), range(3)):
        lo = min(j, k)
        cov[j, k] = np.sum(w[: lo + 1] ** 2) / math.sqrt(np.sum(w[: j + 1] ** 2) * np.sum(w[: k + 1] ** 2))
    np.testing.assert_allclose(cov, np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t)), atol=1e-12)


def test_inverse_normal_nan_propagates_and_bad_weights_refused():
    out = inverse_normal_z([1.0, np.nan, 1.0], [1, 1, 1])
    assert np.isfinite(out[0]) and np.isnan(out[1:]).all()
    with pytest.raises(ParameterError, match="weights"):
        inverse_normal_z([1.0, 2.0], [1.0])
    with pytest.raises(ParameterError, match="information_rates"):
        inverse_normal_weights([0.6, 0.5, 1.0])


# ref: closed forms for two p-values -- Bonferroni 2 min p; Simes (1986) min(2 p(1), p(2)); Sidak.
def test_intersection_tests_closed_forms():
    rng = np.random.default_rng(2)
    p = rng.uniform(size=(200, 2))
    for method, form in {"bonferroni": lambda a, b: min(1.0, 2 * min(a, b)),
                         "simes": lambda a, b: min(2 * min(a, b), max(a, b)),
                         "sidak": lambda a, b: 1 - (1 - min(a, b)) ** 2}.items():
        got = intersection_p(p[:, 0], p[:, 1], method)
        want = [form(a, b) for a, b in p]
        np.testing.assert_allclose(got, want, rtol=1e-12)
        # one population not continued: the other's p-value (rpact)
        np.testing.assert_allclose(intersection_p(p[:, 0], np.nan, method), p[:, 0])


# ref: Spiessens & Debois (2010) max-type test = 1 - Phi2(z_max, z_max; rho); scipy's
# multivariate_normal integrator as the independent reference for the bivariate CDF.
def test_spiessens_debois_against_scipy_bivariate_normal():
    rng = np.random.default_rng(3)
    p = rng.uniform(0.0005, 0.5, size=(12, 2))
    rho = rng.uniform(0.1, 0.95, size=12)
    got = intersection_p(p[:, 0], p[:, 1], "spiessens_debois", correlation=rho)
    for i in range(12):
        z = stats.norm.isf(p[i].min())
        mvn = stats.multivariate_normal(mean=[0, 0], cov=[[1, rho[i]], [rho[i], 1]])
        want = 1 - mvn.cdf([z, z])
        assert got[i] == pytest.approx(want, abs=2e-6)
    # it lies between Sidak (rho = 0) and the unadjusted minimum (rho = 1)
    sidak = intersection_p(p[:, 0], p[:, 1], "sidak")
    assert np.all(got <= sidak + 1e-12) and np.all(got >= p.min(axis=1) - 1e-12)
    np.testing.assert_allclose(intersection_p(p[:, 0], p[:, 1], "spiessens_debois", correlation=0.0), sidak,
                               rtol=1e-9)
    assert float(bivariate_normal_equal_cdf(1.3, 1.0)) == pytest.approx(stats.norm.cdf(1.3), abs=1e-14)
    assert float(spiessens_debois_correlation(30, 120)) == 0.5
    with pytest.raises(ParameterError, match="correlation"):
        intersection_p(0.1, 0.2, "spiessens_debois")
    with pytest.raises(ParameterError, match="method"):
        intersection_p(0.1, 0.2, "holm")


_STD_NORMAL = NormalDist()


def _one_minus_qnorm(p):
    if math.isnan(p):
        return math.nan
    z = math.inf if p <= 1e-100 else -math.inf if p >= 1 else -_STD_NORMAL.inv_cdf(p)
    return z if abs(z) <= 21 else math.copysign(21.273453560965319, z)  # rpact's clamp


def _closed_test_slow(p_s, p_f, rho, weights, crit, fut, method, success_criterion):
    """A literal per-trial transcription of rpact's .performClosedCombinationTestForSimulationEnrichment
    (rpact 3.3.4) for gMax = 2: loops, lists and plain floats only."""
    k_max = len(p_s)
    indices = [(1, 1), (1, 0), (0, 1)]  # rpact's order: S∩F, S, F
    separate = [list(p_s), list(p_f)]
    rejected_int_before = [False] * 3
    rejected = [[False] * k_max for _ in range(2)]
    futility = [[False] * k_max for _ in range(2)]
    adjusted = [[math.nan] * k_max for _ in range(3)]
    success_stop, futility_stop = [False] * k_max, [False] * k_max
    for k in range(k_max):
        rej_int, fut_int = [False] * 3, [False] * 3
        for i, idx in enumerate(indices):
            ps = [separate[g][k] for g in range(2) if idx[g] == 1 and not math.isnan(separate[g][k])]
            if ps:
                m = len(ps)
                if method == "bonferroni":
                    adj = min(m * min(ps), 1.0)
                elif method == "simes":
                    adj = min(m / (j + 1) * q for j, q in enumerate(sorted(ps)))
                elif method == "sidak":
                    adj = 1 - (1 - min(ps)) ** m
                else:
                    zmax = _one_minus_qnorm(min(ps))
                    if m == 1:
                        adj = 1 - _STD_NORMAL.cdf(zmax)
                    else:
                        r = rho[k]
                        adj = 1 - stats.multivariate_normal(mean=[0, 0], cov=[[1, r], [r, 1]]).cdf([zmax, zmax])
                adjusted[i][k] = adj
            zs = [_one_minus_qnorm(adjusted[i][j]) for j in range(k + 1)]
            if any(math.isnan(v) for v in zs):
                continue
            stat = sum(weights[j] * zs[j] for j in range(k + 1)) / math.sqrt(sum(w * w for w in weights[: k + 1]))
            rej_int[i] = stat >= crit[k]
            if k < k_max - 1:
                fut_int[i] = stat <= fut[k]
        rej_int = [a or b for a, b in zip(rej_int, rejected_int_before)]
        rejected_int_before = rej_int
        for g in range(2):
            rejected[g][k] = all(rej_int[i] for i, idx in enumerate(indices) if idx[g] == 1)
            if k < k_max - 1:
                futility[g][k] = any(fut_int[i] for i, idx in enumerate(indices) if idx[g] == 1)
        selected = [not math.isnan(separate[g][k]) for g in range(2)]
        if success_criterion == "all":
            success_stop[k] = all(rejected[g][k] for g in range(2) if selected[g])
        else:
            success_stop[k] = any(rejected[g][k] for g in range(2))
        if k < k_max - 1:
            futility_stop[k] = all(futility[g][k] for g in range(2) if selected[g])
            if not any(not math.isnan(separate[g][k + 1]) for g in range(2)):
                futility_stop[k] = True
    stop = next((k + 1 for k in range(k_max) if success_stop[k] or futility_stop[k]), k_max)
    first = [next((k + 1 for k in range(stop) if rejected[g][k]), 0) for g in range(2)]
    return rejected, success_stop, futility_stop, stop, first


@pytest.mark.parametrize("method", ["bonferroni", "simes", "sidak", "spiessens_debois"])
@pytest.mark.parametrize("success_criterion", ["all", "at_least_one"])
def test_closed_test_equals_slow_rpact_transcription(method, success_criterion):
    # ref: double programming against rpact's closed combination test for enrichment simulation.
    rng = np.random.default_rng(11 + len(method))
    n, k = 300, 3
    effect = rng.choice([0.0, 1.5, 3.0], size=(n, 1, 2))
    z = rng.normal(size=(n, k, 2)) + effect
    p = stats.norm.sf(z)
    # selection after stage 1: both (half), S only, F only, stage 3 lost for some
    choice = rng.integers(0, 4, size=n)
    p[choice == 1, 1:, 1] = np.nan
    p[choice == 2, 1:, 0] = np.nan
    p[choice == 3, 2:, :] = np.nan
    rho = rng.uniform(0.3, 0.8, size=(n, k))
    weights = inverse_normal_weights([0.4, 0.7, 1.0])
    crit, fut = [3.0, 2.5, 2.0], [0.0, 0.3]
    res = closed_test(p[..., 0], p[..., 1], weights=weights, critical_z=crit, futility_z=fut, method=method,
                      correlation=rho, success_criterion=success_criterion)
    n_check = 25 if method == "spiessens_debois" else n  # scipy's integrator is slow
    for i in range(n_check):
        rej, succ, fstop, stop, first = _closed_test_slow(p[i, :, 0], p[i, :, 1], rho[i], weights, crit, fut,
                                                          method, success_criterion)
        assert res.rejected[i].T.tolist() == rej, i
        assert res.success_stop[i].tolist() == succ, i
        assert res.futility_stop[i].tolist() == fstop, i
        assert int(res.stop_stage[i]) == stop, i
        assert res.rejection_stage[i].tolist() == first, i
    assert res.summary["reject_S"].sum() == pytest.approx(np.mean(res.rejection_stage[:, 0] > 0))
