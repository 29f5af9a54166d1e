"""The batch Cox model's Newton iterations compiled (numba), one trial at a time.

The algorithm is `mndtrial.batch.cox`'s numpy route, step for step: covariates centred per trial,
Efron (or Breslow) partial likelihood with its score and information, rank check of the
information at 0, Newton steps with step halving (an iteration never lowers the likelihood), stop
when the full step is below `tol` (that step taken, the Hessian kept from one step back), a
coefficient beyond `MONOTONE_LIMIT` sds is monotone likelihood. The numpy route builds padded
(trials × rows) arrays and cumulative sums for every evaluation; here each trial's rows, sorted
once (`_sorted.SortedRows`), are walked in one pass per evaluation (risk-set sums accumulated from
the latest time back, the information's lower triangle as one flat vector).

The treatment-only model (x ∈ {0, 1}, as the numpy route's `_binary_state`) walks the rows once:
every risk-set sum is n0 + n1·e^β, so the counts at each death carry every Newton iteration and an
evaluation costs one exp and one log per death.

The numpy route (`engine="numpy"`) stays as the reference this must equal, trial by trial
(tests/test_batch_cox_kernel.py). Compiled on first use and cached on disk (`cache=True`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._logrank_kernel import tie_counts

# status codes, in the order of `STATUS_NAMES`
NOT_CONVERGED, CONVERGED, MONOTONE, SINGULAR, NO_EVENTS = 0, 1, 2, 3, 4
STATUS_NAMES = np.array(["not_converged", "converged", "monotone_likelihood", "singular", "no_events"])
# evaluation modes: treatment only (x in {0, 1}); p <= 4 (X padded to 4 columns); any p
BINARY, FOUR, GENERAL = 0, 1, 2


@njit(cache=True)
def _lower_products(X, lo, hi, XX):
    """XX[r - lo] = x_k·x_m (m <= k) of rows lo..hi-1, in the order `_evaluate` accumulates them."""
    p = X.shape[1]
    for r in range(lo, hi):
        c = 0
        for k in range(p):
            for m in range(k + 1):
                XX[r - lo, c] = X[r, k] * X[r, m]
                c += 1


@njit(cache=True)
def centre_trials(starts, X, sd):
    """Centre X's columns within each trial (in place) and fill their sds (divisor n)."""
    p = X.shape[1]
    for t in range(len(starts) - 1):
        lo, hi = starts[t], starts[t + 1]
        n = max(hi - lo, 1)
        for k in range(p):
            total = 0.0
            for r in range(lo, hi):
                total += X[r, k]
            mean = total / n
            ss = 0.0
            for r in range(lo, hi):
                X[r, k] -= mean
                ss += X[r, k] * X[r, k]
            sd[t, k] = math.sqrt(ss / n)


@njit(cache=True)
def converged_se(hess, status, se):
    """se[t] = sqrt(diag((-hess[t])^-1)) for the converged trials (the others are left alone)."""
    p = hess.shape[1]
    a = np.zeros((p, p))
    m = np.zeros((p, p))
    e = np.zeros(p)
    x = np.zeros(p)
    for t in range(hess.shape[0]):
        if status[t] != CONVERGED:
            continue
        for k in range(p):
            for j in range(p):
                a[k, j] = -hess[t, k, j]
        for k in range(p):
            e[:] = 0.0
            e[k] = 1.0
            se[t, k] = math.sqrt(x[k]) if _solve(a, e, m, x) and x[k] >= 0 else np.nan


@njit(cache=True)
def _evaluate(time, event, block, X, XX, beta, lo, hi, efron, score, info, s1, d1, mean, s2, d2):
    """Log partial likelihood at `beta` of rows lo..hi-1 (sorted by block, time descending, events
    first); fills `score` (p) and `info` (the negative Hessian's lower triangle, flat, in `XX`'s
    column order; `XX[r - lo]` holds row r's products). `s1`, `d1`, `mean` (p) and `s2`, `d2`
    (as `info`) are scratch space."""
    p = X.shape[1]
    q2 = XX.shape[1]
    score[:] = 0.0
    info[:] = 0.0
    ll = 0.0
    s0 = 0.0
    i = lo
    while i < hi:
        if i == lo or block[i] != block[i - 1]:  # a new stratum: its own risk sets
            s0 = 0.0
            s1[:] = 0.0
            s2[:] = 0.0
        j = i
        d = 0
        while j < hi and block[j] == block[i] and time[j] == time[i]:
            if event[j] > 0:
                d += 1
            j += 1
        # Efron's sums over the tied deaths matter only from the second tied death on
        tied = efron and d > 1
        d0 = 0.0
        d1[:] = 0.0
        d2[:] = 0.0
        for r in range(i, j):  # the tie joins the risk set (everyone with time >= this time)
            eta = 0.0
            for k in range(p):
                eta += X[r, k] * beta[k]
            w = math.exp(eta)
            s0 += w
            for k in range(p):
                s1[k] += w * X[r, k]
            for c in range(q2):
                s2[c] += w * XX[r - lo, c]
            if event[r] > 0:
                ll += eta
                for k in range(p):
                    score[k] += X[r, k]
                if tied:
                    d0 += w
                    for k in range(p):
                        d1[k] += w * X[r, k]
                    for c in range(q2):
                        d2[c] += w * XX[r - lo, c]
        for q in range(d):  # Efron: the q-th tied death sees the tied deaths' weight reduced by q/d
            f = q / d if tied else 0.0
            den = s0 - f * d0
            inv = 1.0 / den
            ll -= math.log(den)
            for k in range(p):
                mean[k] = (s1[k] - f * d1[k]) * inv
                score[k] -= mean[k]
            c = 0
            for k in range(p):
                for m in range(k + 1):
                    info[c] += (s2[c] - f * d2[c]) * inv - mean[k] * mean[m]
                    c += 1
        i = j
    return ll


@njit(cache=True)
def _evaluate4(time, event, block, X, beta, lo, hi, efron, score, info):
    """`_evaluate` for p <= 4 (X and beta zero-padded to 4 columns; zero columns add exact zeros):
    the risk-set sums live in registers instead of arrays. Fills score (4) and info (10, flat
    lower triangle, so its first p(p+1)/2 entries are the p-column model's)."""
    b0, b1, b2, b3 = beta[0], beta[1], beta[2], beta[3]
    ll = 0.0
    g0 = g1 = g2 = g3 = 0.0
    h00 = h10 = h11 = h20 = h21 = h22 = h30 = h31 = h32 = h33 = 0.0
    sw = 0.0
    s0 = s1 = s2 = s3 = 0.0
    s00 = s10 = s11 = s20 = s21 = s22 = s30 = s31 = s32 = s33 = 0.0
    i = lo
    while i < hi:
        if i == lo or block[i] != block[i - 1]:  # a new stratum: its own risk sets
            sw = 0.0
            s0 = s1 = s2 = s3 = 0.0
            s00 = s10 = s11 = s20 = s21 = s22 = s30 = s31 = s32 = s33 = 0.0
        j = i
        d = 0
        while j < hi and block[j] == block[i] and time[j] == time[i]:
            if event[j] > 0:
                d += 1
            j += 1
        tied = efron and d > 1
        ew = 0.0
        e0_ = e1_ = e2_ = e3_ = 0.0
        e00 = e10 = e11 = e20 = e21 = e22 = e30 = e31 = e32 = e33 = 0.0
        for r in range(i, j):  # the tie joins the risk set (everyone with time >= this time)
            x0, x1, x2, x3 = X[r, 0], X[r, 1], X[r, 2], X[r, 3]
            eta = x0 * b0 + x1 * b1 + x2 * b2 + x3 * b3
            w = math.exp(eta)
            w0, w1, w2, w3 = w * x0, w * x1, w * x2, w * x3
            sw += w
            s0 += w0
            s1 += w1
            s2 += w2
            s3 += w3
            s00 += w0 * x0
            s10 += w1 * x0
            s11 += w1 * x1
            s20 += w2 * x0
            s21 += w2 * x1
            s22 += w2 * x2
            s30 += w3 * x0
            s31 += w3 * x1
            s32 += w3 * x2
            s33 += w3 * x3
            if event[r] > 0:
                ll += eta
                g0 += x0
                g1 += x1
                g2 += x2
                g3 += x3
                if tied:
                    ew += w
                    e0_ += w0
                    e1_ += w1
                    e2_ += w2
                    e3_ += w3
                    e00 += w0 * x0
                    e10 += w1 * x0
                    e11 += w1 * x1
                    e20 += w2 * x0
                    e21 += w2 * x1
                    e22 += w2 * x2
                    e30 += w3 * x0
                    e31 += w3 * x1
                    e32 += w3 * x2
                    e33 += w3 * x3
        for q in range(d):  # Efron: the q-th tied death sees the tied deaths' weight reduced by q/d
            f = q / d if tied else 0.0
            den = sw - f * ew
            inv = 1.0 / den
            ll -= math.log(den)
            m0 = (s0 - f * e0_) * inv
            m1 = (s1 - f * e1_) * inv
            m2 = (s2 - f * e2_) * inv
            m3 = (s3 - f * e3_) * inv
            g0 -= m0
            g1 -= m1
            g2 -= m2
            g3 -= m3
            h00 += (s00 - f * e00) * inv - m0 * m0
            h10 += (s10 - f * e10) * inv - m1 * m0
            h11 += (s11 - f * e11) * inv - m1 * m1
            h20 += (s20 - f * e20) * inv - m2 * m0
            h21 += (s21 - f * e21) * inv - m2 * m1
            h22 += (s22 - f * e22) * inv - m2 * m2
            h30 += (s30 - f * e30) * inv - m3 * m0
            h31 += (s31 - f * e31) * inv - m3 * m1
            h32 += (s32 - f * e32) * inv - m3 * m2
            h33 += (s33 - f * e33) * inv - m3 * m3
        i = j
    score[0], score[1], score[2], score[3] = g0, g1, g2, g3
    info[0] = h00
    info[1] = h10
    info[2] = h11
    info[3] = h20
    info[4] = h21
    info[5] = h22
    info[6] = h30
    info[7] = h31
    info[8] = h32
    info[9] = h33
    return ll


@njit(cache=True)
def _binary_terms(time, event, block, group, lo, hi, efron, a0, a1, x_ev):
    """Treatment-only model: per death (in row order) the risk-set sum is a0 + a1·e^β, with
    a0 = control at risk (less Efron's share of the tied control deaths) and a1 the same on the
    active arm; `x_ev` the death's arm. Returns the number of deaths."""
    n_ev = 0
    n = 0.0
    n1 = 0.0
    i = lo
    while i < hi:
        if i == lo or block[i] != block[i - 1]:
            n = 0.0
            n1 = 0.0
        j, n_tie, n1_tie, d, dd1 = tie_counts(time, event, block, group, i, hi)
        n += n_tie
        n1 += n1_tie
        q = 0
        for r in range(i, j):
            if event[r] > 0:
                f = q / d if efron else 0.0
                a0[n_ev] = (n - n1) - f * (d - dd1)
                a1[n_ev] = n1 - f * dd1
                x_ev[n_ev] = group[r]
                n_ev += 1
                q += 1
        i = j
    return n_ev


@njit(cache=True)
def _evaluate_binary(a0, a1, x_ev, n_ev, b, out):
    """Log partial likelihood of the treatment-only model at β = b; out = (score, information)."""
    eb = math.exp(b)
    ll = 0.0
    g = 0.0
    h = 0.0
    for e in range(n_ev):
        s0 = a0[e] + a1[e] * eb
        pr = a1[e] * eb / s0
        ll += b * x_ev[e] - math.log(s0)
        g += x_ev[e] - pr
        h += pr * (1 - pr)
    out[0] = g
    out[1] = h
    return ll


@njit(cache=True)
def _evaluate_model(mode, time, event, block, X, XX, lo, hi, efron, beta, score, flat, work, a0, a1, x_ev, n_ev):
    """The model's log-likelihood at `beta`, filling `score` and `flat` (the information's lower
    triangle): mode BINARY from the death counts, FOUR with `_evaluate4` (X padded to 4 columns),
    GENERAL with `_evaluate` (`work`: scratch rows s1, d1, mean (p) then s2, d2 (p(p+1)/2))."""
    p = len(beta)
    if mode == BINARY:
        ll = _evaluate_binary(a0, a1, x_ev, n_ev, beta[0], work[0])
        score[0], flat[0] = work[0, 0], work[0, 1]
        return ll
    if mode == FOUR:
        b4, g4, h4 = work[0, :4], work[1, :4], work[2, :10]
        b4[:] = 0.0
        b4[:p] = beta
        ll = _evaluate4(time, event, block, X, b4, lo, hi, efron, g4, h4)
        score[:] = g4[:p]
        flat[:] = h4[:len(flat)]
        return ll
    return _evaluate(time, event, block, X, XX, beta, lo, hi, efron, score, flat, work[0, :p], work[1, :p],
                     work[2, :p], work[3, :len(flat)], work[4, :len(flat)])


@njit(cache=True)
def _solve(a, b, m, x):
    """a x = b by Gaussian elimination with partial pivoting (LAPACK gesv's algorithm), into x
    (m is scratch); False when a pivot is exactly zero, where gesv reports a singular matrix."""
    p = len(b)
    m[:, :] = a
    x[:] = b
    for c in range(p):
        piv = c
        for r in range(c + 1, p):
            if abs(m[r, c]) > abs(m[piv, c]):
                piv = r
        if m[piv, c] == 0.0:
            return False
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
    return True


@njit(cache=True)
def _unpack(flat, full):
    """The flat lower triangle into a symmetric p×p matrix."""
    p = full.shape[0]
    c = 0
    for k in range(p):
        for m in range(k + 1):
            full[k, m] = flat[c]
            full[m, k] = flat[c]
            c += 1


@njit(cache=True)
def _singular_at_zero(info, sd_t, scaled):
    """Rank-deficient (or non-finite) information at β = 0, scaled by the covariates' sds."""
    p = info.shape[0]
    for k in range(p):
        for m in range(p):
            scaled[k, m] = info[k, m] / max(sd_t[k] * sd_t[m], 1e-300)
            if not math.isfinite(scaled[k, m]):
                return True
    if p == 1:  # the eigenvalue is the entry itself
        return scaled[0, 0] <= 1e-10 * max(scaled[0, 0], 1e-300)
    eig = np.linalg.eigvalsh(scaled)
    return eig[0] <= 1e-10 * max(eig[p - 1], 1e-300)


@njit(cache=True)
def fit_trials(starts, time, event, block, X, group, mode, sd, efron, max_iter, tol, monotone_limit,
               coef, loglik, loglik_null, hess, iterations, status, events):
    """Fit every trial (rows starts[t]..starts[t+1]-1, X centred per trial); fills the outputs.
    `mode`: BINARY (treatment only, from `group` alone), FOUR (X zero-padded to 4 columns) or
    GENERAL; `sd` has the model's p columns."""
    T = len(starts) - 1
    p = sd.shape[1]
    q2 = p * (p + 1) // 2
    score, new_score = np.zeros(p), np.zeros(p)
    flat, new_flat = np.zeros(q2), np.zeros(q2)
    info, scaled, m_work = np.zeros((p, p)), np.zeros((p, p)), np.zeros((p, p))
    step, beta, trial_beta = np.zeros(p), np.zeros(p), np.zeros(p)
    work = np.zeros((5, max(q2, 10)))
    width = 0
    for t in range(T):
        width = max(width, starts[t + 1] - starts[t])
    nb = width if mode == BINARY else 0
    a0, a1, x_ev = np.zeros(nb), np.zeros(nb), np.zeros(nb)
    XX = np.zeros((width if mode == GENERAL else 0, q2))
    for t in range(T):
        lo, hi = starts[t], starts[t + 1]
        beta[:] = 0.0
        n_ev = 0
        if mode == BINARY:
            n_ev = _binary_terms(time, event, block, group, lo, hi, efron, a0, a1, x_ev)
        else:
            for r in range(lo, hi):
                if event[r] > 0:
                    n_ev += 1
        if mode == GENERAL:
            _lower_products(X, lo, hi, XX)
        ll = _evaluate_model(mode, time, event, block, X, XX, lo, hi, efron, beta, score, flat, work, a0, a1,
                             x_ev, n_ev)
        events[t] = n_ev
        _unpack(flat, info)
        loglik_null[t] = ll
        state = NOT_CONVERGED
        if n_ev == 0:
            state = NO_EVENTS
        else:
            for k in range(p):
                if sd[t, k] < 1e-12:
                    state = SINGULAR
            if state == NOT_CONVERGED and _singular_at_zero(info, sd[t], scaled):
                state = SINGULAR
        its = 0
        if state == NOT_CONVERGED:
            for _ in range(max_iter):
                its += 1
                if not _solve(info, score, m_work, step):
                    step[:] = np.nan
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
                    for k in range(p):
                        beta[k] += step[k]
                    state = CONVERGED
                    break
                scale = 1.0
                new_ll = ll
                for _half in range(30):  # step halving keeps every iteration an ascent step
                    for k in range(p):
                        trial_beta[k] = beta[k] + scale * step[k]
                    new_ll = _evaluate_model(mode, time, event, block, X, XX, lo, hi, efron, trial_beta, new_score,
                                             new_flat, work, a0, a1, x_ev, n_ev)
                    if new_ll >= ll - 1e-12 * abs(ll):
                        break
                    scale /= 2
                beta[:] = trial_beta
                ll = new_ll
                score[:] = new_score
                _unpack(new_flat, info)
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
