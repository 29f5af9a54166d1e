"""Double programming for `cox_newton`'s padded-strata layout.

`cox_loglik` and `newton_cox` sort and lay out the data once per fit and evaluate every stratum at
once (reverse cumulative sums along the rows of a zero-padded strata × time matrix). The route it
replaced -- a Python loop over strata, each sorted and summed on its own at every evaluation -- is
kept here, verbatim, as the reference the fast one must equal.
"""

from __future__ import annotations

import numpy as np
import pytest

from mndtrial.analysis.cox_newton import cox_loglik, newton_cox


def _reference_stratum(time, event, X, beta, efron):
    if not event.any():
        return 0.0, np.zeros(X.shape[1]), np.zeros((X.shape[1], X.shape[1]))
    order = np.lexsort((~event, time))
    time, event, X = time[order], event[order], X[order]
    Xc = X - X.mean(axis=0)
    eta = Xc @ beta
    w = np.exp(eta - eta.max())
    shift = eta.max()
    wx = w[:, None] * Xc
    wxx = wx[:, :, None] * Xc[:, None, :]
    S0 = np.cumsum(w[::-1])[::-1]
    S1 = np.cumsum(wx[::-1], axis=0)[::-1]
    S2 = np.cumsum(wxx[::-1], axis=0)[::-1]
    ev = np.flatnonzero(event)
    first = np.searchsorted(time, time[ev], side="left")
    d = np.bincount(first, minlength=len(time))[first].astype(float)
    rank = ev - first
    frac = rank / d if efron else np.zeros(len(ev))
    Dw = np.cumsum(np.concatenate([[0.0], w * event]))
    Dwx = np.cumsum(np.concatenate([np.zeros((1, X.shape[1])), wx * event[:, None]]), axis=0)
    Dwxx = np.cumsum(np.concatenate([np.zeros((1, X.shape[1], X.shape[1])), wxx * event[:, None, None]]), axis=0)
    end = (first + d).astype(int)
    d0, d1, d2 = Dw[end] - Dw[first], Dwx[end] - Dwx[first], Dwxx[end] - Dwxx[first]
    s0 = S0[first] - frac * d0
    s1 = S1[first] - frac[:, None] * d1
    s2 = S2[first] - frac[:, None, None] * d2
    mean = s1 / s0[:, None]
    ll = float(np.sum(eta[ev] - shift - np.log(s0)))
    score = (Xc[ev] - mean).sum(axis=0)
    info = (s2 / s0[:, None, None] - mean[:, :, None] * mean[:, None, :]).sum(axis=0)
    return ll, score, info


def reference_loglik(time, event, X, beta, strata=None, ties="efron"):
    """The per-stratum loop `cox_loglik` used to be."""
    time = np.asarray(time, float)
    event = np.asarray(event).astype(bool)
    X = np.asarray(X, float).reshape(len(time), -1)
    codes = np.zeros(len(time), dtype=np.int64) if strata is None else np.asarray(strata)
    ll, score, info = 0.0, np.zeros(X.shape[1]), np.zeros((X.shape[1],) * 2)
    for code in np.unique(codes):
        rows = codes == code
        a, b, c = _reference_stratum(time[rows], event[rows], X[rows], beta, ties == "efron")
        ll, score, info = ll + a, score + b, info + c
    return ll, score, info


def _data(seed, n, strata_sizes=None):
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 40, n).astype(float)  # many ties
    event = (rng.random(n) < 0.6).astype(int)
    X = np.column_stack([rng.integers(0, 2, n), rng.normal(size=n), rng.normal(3, 2, n)])
    if strata_sizes is None:
        return time, event, X, None
    strata = np.repeat(np.arange(len(strata_sizes)), strata_sizes)
    rng.shuffle(strata)
    return time, event, X, strata


CASES = {"unstratified": (1, 120, None), "balanced strata": (2, 150, [30, 40, 50, 30]),
         # one large stratum among many small ones: each stratum is then its own block
         "unequal strata": (3, 400, [300] + [2] * 50), "singletons": (4, 60, [1] * 20 + [40])}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_loglik_equals_the_per_stratum_loop(case, ties):
    seed, n, sizes = CASES[case]
    time, event, X, strata = _data(seed, n, sizes)
    if strata is not None:
        event[strata == strata.max()] = 0  # a stratum without events adds nothing
    for beta in (np.zeros(3), np.array([0.4, -0.7, 0.25]), np.array([3.0, 2.0, -1.5])):
        got = cox_loglik(time, event, X, beta, strata, ties)
        want = reference_loglik(time, event, X, beta, strata, ties)
        assert got[0] == pytest.approx(want[0], rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(got[2], want[2], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", list(CASES))
def test_newton_reaches_the_reference_maximum(case):
    seed, n, sizes = CASES[case]
    time, event, X, strata = _data(seed, n, sizes)
    fit = newton_cox(time, event, X, strata)
    assert fit.converged
    ll, score, info = reference_loglik(time, event, X, fit.coef, strata)
    assert fit.loglik == pytest.approx(ll, rel=1e-12)
    assert np.max(np.abs(np.linalg.solve(info, score))) < 1e-9  # the reference's own Newton step is nil
    assert fit.loglik_null == pytest.approx(reference_loglik(time, event, X, np.zeros(3), strata)[0], rel=1e-12)
