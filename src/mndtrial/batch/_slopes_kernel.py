"""The slope model's Newton iterations compiled (numba), one trial at a time.

The algorithm is `mndtrial.batch.slopes`'s, step for step: REML criterion and analytic gradient
from the participants' sufficient statistics, Hessian by forward differences of the gradient,
Newton step with the Hessian's eigenvalues made positive, step halving, stop when the Newton
decrement is below `tol`. The numpy route does each of these as passes over (trials, width)
arrays, which at MIROCALS size cost more in array traffic than in arithmetic; here each trial's
participants are looped over in registers. The numpy route (`engine="numpy"`) stays as the
reference it must equal, trial by trial (tests/test_batch_slopes.py).

Compiled on first use and cached on disk (`cache=True`): a few seconds once per environment.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

N_FIXED = 4
_TOO_FEW, _NOT_CONVERGED, _CONVERGED = 0, 1, 2


@njit(cache=True)
def _spd_inverse(A, out):
    """log|A| and A⁻¹ (into `out`) of a symmetric positive definite 4×4 by Cholesky; −inf if not SPD."""
    n = 4
    L = np.zeros((n, n))
    logdet = 0.0
    for j in range(n):
        d = A[j, j]
        for k in range(j):
            d -= L[j, k] * L[j, k]
        if not d > 0:
            return -math.inf
        L[j, j] = math.sqrt(d)
        logdet += 2 * math.log(L[j, j])
        for i in range(j + 1, n):
            v = A[i, j]
            for k in range(j):
                v -= L[i, k] * L[j, k]
            L[i, j] = v / L[j, j]
    # columns of the inverse: solve L L' x = e_c
    for c in range(n):
        y = np.zeros(n)
        for i in range(n):
            v = 1.0 if i == c else 0.0
            for k in range(i):
                v -= L[i, k] * y[k]
            y[i] = v / L[i, i]
        for i in range(n - 1, -1, -1):
            v = y[i]
            for k in range(i + 1, n):
                v -= L[k, i] * out[k, c]
            out[i, c] = v / L[i, i]
    return logdet


@njit(cache=True)
def _evaluate(s00, s01, s11, z0, z1, yy, a, dof, th, grad, work):
    """REML criterion f at θ (inf where undefined) and its gradient (written into `grad`)."""
    l00, l10, l11 = th[0], th[1], th[2]
    p00, p01, p11 = l00 * l00, l00 * l10, l10 * l10 + l11 * l11
    W = s00.shape[0]
    C0 = np.zeros(3)
    C1 = np.zeros(3)
    b = np.zeros(4)
    qsum = 0.0
    logdet = 0.0
    for j in range(W):
        k00 = 1 + s00[j] * p00 + s01[j] * p01
        k01 = s00[j] * p01 + s01[j] * p11
        k10 = s01[j] * p00 + s11[j] * p01
        k11 = 1 + s01[j] * p01 + s11[j] * p11
        det = k00 * k11 - k01 * k10
        inv = 1.0 / det
        c00 = (k11 * s00[j] - k01 * s01[j]) * inv
        c01 = (k11 * s01[j] - k01 * s11[j]) * inv
        c11 = (k00 * s11[j] - k10 * s01[j]) * inv
        e0 = (k11 * z0[j] - k01 * z1[j]) * inv
        e1 = (k00 * z1[j] - k10 * z0[j]) * inv
        work[0, j], work[1, j], work[2, j], work[3, j], work[4, j] = c00, c01, c11, e0, e1
        aj = a[j]
        C0[0] += c00
        C0[1] += c01
        C0[2] += c11
        C1[0] += aj * c00
        C1[1] += aj * c01
        C1[2] += aj * c11
        b[0] += e0
        b[1] += e1
        b[2] += aj * e0
        b[3] += aj * e1
        qsum += yy[j] - (z0[j] * (p00 * e0 + p01 * e1) + z1[j] * (p01 * e0 + p11 * e1))
        logdet += math.log(det) if det > 0 else math.nan
    A = np.empty((4, 4))
    A[0, 0], A[0, 1], A[1, 0], A[1, 1] = C0[0], C0[1], C0[1], C0[2]
    for (i, jj) in ((0, 2), (2, 0), (2, 2)):
        A[i, jj], A[i, jj + 1], A[i + 1, jj], A[i + 1, jj + 1] = C1[0], C1[1], C1[1], C1[2]
    A_inv = np.empty((4, 4))
    logdet_a = _spd_inverse(A, A_inv)
    grad[:] = 0.0
    if not math.isfinite(logdet_a):
        return math.inf
    beta = A_inv @ b
    r = qsum - (b[0] * beta[0] + b[1] * beta[1] + b[2] * beta[2] + b[3] * beta[3])
    if not r > 0:
        return math.inf
    f = dof * math.log(r) + logdet + logdet_a
    # B(a) = B11 + a (B12 + B21 + B22)
    B00, B01, B10, B11 = A_inv[0, 0], A_inv[0, 1], A_inv[1, 0], A_inv[1, 1]
    D00 = A_inv[0, 2] + A_inv[2, 0] + A_inv[2, 2]
    D01 = A_inv[0, 3] + A_inv[2, 1] + A_inv[2, 3]
    D10 = A_inv[1, 2] + A_inv[3, 0] + A_inv[3, 2]
    D11 = A_inv[1, 3] + A_inv[3, 1] + A_inv[3, 3]
    k = dof / r
    g00 = 0.0
    g01 = 0.0
    g11 = 0.0
    for j in range(W):
        c00, c01, c11, e0, e1 = work[0, j], work[1, j], work[2, j], work[3, j], work[4, j]
        aj = a[j]
        v0 = beta[0] + aj * beta[2]
        v1 = beta[1] + aj * beta[3]
        u0 = e0 - (c00 * v0 + c01 * v1)
        u1 = e1 - (c01 * v0 + c11 * v1)
        b00, b01, b10, b11 = B00 + aj * D00, B01 + aj * D01, B10 + aj * D10, B11 + aj * D11
        q00 = c00 * b00 + c01 * b10
        q01 = c00 * b01 + c01 * b11
        q10 = c01 * b00 + c11 * b10
        q11 = c01 * b01 + c11 * b11
        g00 += c00 - k * u0 * u0 - (q00 * c00 + q01 * c01)
        g01 += c01 - k * u0 * u1 - (q00 * c01 + q01 * c11)
        g11 += c11 - k * u1 * u1 - (q10 * c01 + q11 * c11)
    grad[0] = 2 * (g00 * l00 + g01 * l10)
    grad[1] = 2 * (g01 * l00 + g11 * l10)
    grad[2] = 2 * (g11 * l11)
    return f


@njit(cache=True)
def _hessian(s00, s01, s11, z0, z1, yy, a, dof, th, grad, H, work):
    moved = th.copy()
    g = np.empty(3)
    for k in range(3):
        h = 1e-6 * max(abs(th[k]), 1e-2)
        moved[:] = th
        moved[k] += h
        _evaluate(s00, s01, s11, z0, z1, yy, a, dof, moved, g, work)
        for i in range(3):
            H[i, k] = (g[i] - grad[i]) / h
    for i in range(3):
        for k in range(i + 1, 3):
            m = 0.5 * (H[i, k] + H[k, i])
            H[i, k] = m
            H[k, i] = m


@njit(cache=True)
def optimise(s00, s01, s11, z0, z1, yy, a, n_obs, theta, status, max_iter, tol):
    """Newton iterations per trial; θ, status and the final Hessian are updated in place.

    `status` on entry: 0 too few observations (left alone), 1 to fit; on exit 2 where converged.
    Returns the iterations per trial and the Hessians (T, 3, 3) at the final θ.
    """
    T = theta.shape[0]
    iterations = np.zeros(T, dtype=np.int64)
    hess = np.zeros((T, 3, 3))
    grad = np.empty(3)
    new_grad = np.empty(3)
    step = np.empty(3)
    new = np.empty(3)
    work = np.empty((5, s00.shape[1]))  # per-participant C and E z of the current evaluation
    for t in range(T):
        if status[t] != _NOT_CONVERGED:
            continue
        s00_, s01_, s11_, z0_, z1_, yy_, a_ = s00[t], s01[t], s11[t], z0[t], z1[t], yy[t], a[t]
        dof = n_obs[t] - N_FIXED
        th = theta[t].copy()
        f = _evaluate(s00_, s01_, s11_, z0_, z1_, yy_, a_, dof, th, grad, work)
        H = hess[t]
        for _ in range(max_iter):
            _hessian(s00_, s01_, s11_, z0_, z1_, yy_, a_, dof, th, grad, H, work)
            w, V = np.linalg.eigh(H)
            wmax = max(np.abs(w).max(), 1e-12)
            for i in range(3):
                w[i] = max(abs(w[i]), 1e-8 * wmax)
            decrement = 0.0
            for i in range(3):
                s = 0.0
                for j in range(3):
                    proj = 0.0
                    for k in range(3):
                        proj += V[k, j] * grad[k]
                    s += V[i, j] * proj / w[j]
                step[i] = -s
                decrement -= step[i] * grad[i]
            if decrement < tol and math.isfinite(f):
                status[t] = _CONVERGED
                break
            iterations[t] += 1
            scale = 1.0
            f_new = math.inf
            for _half in range(40):
                for i in range(3):
                    new[i] = th[i] + scale * step[i]
                f_new = _evaluate(s00_, s01_, s11_, z0_, z1_, yy_, a_, dof, new, new_grad, work)
                if f_new <= f + 1e-12 * abs(f):
                    break
                scale /= 2
            th[:] = new
            grad[:] = new_grad
            f = f_new
        if status[t] != _CONVERGED:
            _hessian(s00_, s01_, s11_, z0_, z1_, yy_, a_, dof, th, grad, H, work)
        theta[t] = th
    return iterations, hess
