"""The batch Cox model's Newton iterations compiled (numba), one trial at a time.

The algorithm is `mndtrial.batch.cox`'s numpy route, step for step: covariates centred per trial,
Efron (or Breslow) partial likelihood with its score and information, rank check of the
information at 0, Newton steps with step halving (an iteration never lowers the likelihood), stop
when the full step is below `tol` (that step taken, the Hessian kept from one step back), a
coefficient beyond `MONOTONE_LIMIT` sds is monotone likelihood. The numpy route builds padded
(trials × rows) arrays and cumulative sums for every evaluation; here each trial's rows, sorted
once, are walked in one pass per evaluation (risk-set sums accumulated from the latest time
back), which at MIROCALS size (n = 220, p ≤ 3) is a few microseconds. The numpy route
(`engine="numpy"`) stays as the reference it must equal, trial by trial
(tests/test_batch_cox_kernel.py).

Compiled on first use and cached on disk (`cache=True`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# status codes, in the order of `STATUS_NAMES`
NOT_CONVERGED, CONVERGED, MONOTONE, SINGULAR, NO_EVENTS = 0, 1, 2, 3, 4
STATUS_NAMES = np.array(["not_converged", "converged", "monotone_likelihood", "singular", "no_events"])


@njit(cache=True)
def _evaluate(time, event, block, X, beta, lo, hi, efron, score, info, work1, work2):
    """Log partial likelihood at `beta` of rows lo..hi-1 (sorted by block, time descending, events
    first); fills `score` (p) and `info` (p, p, the negative Hessian). `work1` (3, p) and `work2`
    (2, p, p) are scratch space, allocated once per batch."""
    p = X.shape[1]
    score[:] = 0.0
    info[:, :] = 0.0
    s1, d1, mean = work1[0], work1[1], work1[2]
    s2, d2 = work2[0], work2[1]
    ll = 0.0
    s0 = 0.0
    i = lo
    while i < hi:
        if i == lo or block[i] != block[i - 1]:  # a new stratum: its own risk sets
            s0 = 0.0
            s1[:] = 0.0
            s2[:, :] = 0.0
        j = i
        while j < hi and block[j] == block[i] and time[j] == time[i]:
            j += 1
        d0 = 0.0
        d1[:] = 0.0
        d2[:, :] = 0.0
        d = 0
        for r in range(i, j):  # the tie joins the risk set (everyone with time >= this time)
            eta = 0.0
            for k in range(p):
                eta += X[r, k] * beta[k]
            w = math.exp(eta)
            s0 += w
            for k in range(p):
                wx = w * X[r, k]
                s1[k] += wx
                for m in range(k + 1):
                    s2[k, m] += wx * X[r, m]
            if event[r] > 0:
                d += 1
                d0 += w
                ll += eta
                for k in range(p):
                    wx = w * X[r, k]
                    d1[k] += wx
                    score[k] += X[r, k]
                    for m in range(k + 1):
                        d2[k, m] += wx * X[r, m]
        for q in range(d):  # Efron: the q-th tied death sees the tied deaths' weight reduced by q/d
            f = q / d if efron else 0.0
            den = s0 - f * d0
            ll -= math.log(den)
            for k in range(p):
                mean[k] = (s1[k] - f * d1[k]) / den
                score[k] -= mean[k]
            for k in range(p):
                for m in range(k + 1):
                    info[k, m] += (s2[k, m] - f * d2[k, m]) / den - mean[k] * mean[m]
        i = j
    for k in range(p):
        for m in range(k):
            info[m, k] = info[k, m]
    return ll


@njit(cache=True)
def _solve(a, b):
    """a x = b by Gaussian elimination with partial pivoting (LAPACK gesv's algorithm); NaN when
    a pivot is exactly zero, where gesv reports a singular matrix."""
    p = len(b)
    m = a.copy()
    x = b.copy()
    for c in range(p):
        piv = c
        for r in range(c + 1, p):
            if abs(m[r, c]) > abs(m[piv, c]):
                piv = r
        if m[piv, c] == 0.0:
            return np.full(p, np.nan)
        if piv != c:
            for k in range(p):
                m[c, k], m[piv, k] = m[piv, k], m[c, k]
            x[c], x[piv] = x[piv], x[c]
        for r in range(c + 1, p):
            f = m[r, c] / m[c, c]
            for k in range(c, p):
                m[r, k] -= f * m[c, k]
            x[r] -= f * x[c]
    for c in range(p - 1, -1, -1):
        s = x[c]
        for k in range(c + 1, p):
            s -= m[c, k] * x[k]
        x[c] = s / m[c, c]
    return x


@njit(cache=True)
def fit_trials(starts, time, event, block, X, sd, efron, max_iter, tol, monotone_limit,
               coef, loglik, loglik_null, hess, iterations, status):
    """Fit every trial (rows starts[t]..starts[t+1]-1, X centred per trial); fills the outputs."""
    T = len(starts) - 1
    p = X.shape[1]
    score = np.zeros(p)
    info = np.zeros((p, p))
    new_score = np.zeros(p)
    new_info = np.zeros((p, p))
    scaled = np.zeros((p, p))
    work1 = np.zeros((3, p))
    work2 = np.zeros((2, p, p))
    for t in range(T):
        lo, hi = starts[t], starts[t + 1]
        beta = np.zeros(p)
        ll = _evaluate(time, event, block, X, beta, lo, hi, efron, score, info, work1, work2)
        loglik_null[t] = ll
        n_events = 0
        for r in range(lo, hi):
            if event[r] > 0:
                n_events += 1
        state = NOT_CONVERGED
        if n_events == 0:
            state = NO_EVENTS
        else:
            flat = False
            for k in range(p):
                if sd[t, k] < 1e-12:
                    flat = True
            if flat:
                state = SINGULAR
            else:  # rank-deficient information at 0: not identifiable
                finite = True
                for k in range(p):
                    for m in range(p):
                        scaled[k, m] = info[k, m] / max(sd[t, k] * sd[t, m], 1e-300)
                        if not math.isfinite(scaled[k, m]):
                            finite = False
                if not finite:
                    state = SINGULAR
                else:
                    eig = np.linalg.eigvalsh(scaled)
                    if eig[0] <= 1e-10 * max(eig[p - 1], 1e-300):
                        state = SINGULAR
        its = 0
        if state == NOT_CONVERGED:
            for _ in range(max_iter):
                its += 1
                step = _solve(info, score)
                bad = False
                for k in range(p):
                    if not math.isfinite(step[k]):
                        bad = True
                if bad:  # a Hessian that vanishes as a coefficient runs off: monotone, not collinear
                    state = SINGULAR
                    for k in range(p):
                        if abs(beta[k]) * sd[t, k] > 3.0:
                            state = MONOTONE
                    break
                largest = 0.0
                for k in range(p):
                    largest = max(largest, abs(step[k]))
                if largest < tol:  # quadratic convergence: the last step without another evaluation
                    beta += step
                    state = CONVERGED
                    break
                scale = 1.0
                trial_beta = beta + step
                new_ll = ll
                for _half in range(30):  # step halving keeps every iteration an ascent step
                    trial_beta = beta + scale * step
                    new_ll = _evaluate(time, event, block, X, trial_beta, lo, hi, efron, new_score, new_info,
                                           work1, work2)
                    if new_ll >= ll - 1e-12 * abs(ll):
                        break
                    scale /= 2
                beta = trial_beta
                ll = new_ll
                score[:] = new_score
                info[:, :] = new_info
                runs_off = False
                for k in range(p):
                    if abs(beta[k]) * sd[t, k] > monotone_limit:
                        runs_off = True
                if runs_off:
                    state = MONOTONE
                    break
        coef[t] = beta
        loglik[t] = ll
        for k in range(p):
            for m in range(p):
                hess[t, k, m] = -info[k, m]
        iterations[t] = its
        status[t] = state
