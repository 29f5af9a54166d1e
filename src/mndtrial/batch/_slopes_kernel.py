"""The slope model compiled (numba): participants' sums, then Newton's method per trial on groups.

The model's REML criterion needs each participant's sufficient statistics only (n, Σt, Σt², Σy,
Σty, Σy², arm; see `mndtrial.batch.slopes`). Participants with the same visit times and arm share
S_i = Z_i'Z_i, hence E_i = (I + S_iΨ)⁻¹ and C_i = E_i S_i; what differs between them, y, enters
every term through z_i = Z_i'y_i bilinearly. So a group of such participants is summarised by its
count, S, Σz, Σzz' and Σy'y, and every evaluation costs O(groups), not O(participants): trials
on a visit schedule have a few dozen groups (dropout makes the patterns), while a trial with
visit days all distinct has one group per participant and is still exact.

With B_a = G_a⁻¹ (G_a = Σ_{i in arm a} C_i), the GLS fit per arm β_a = B_a Σ E_i z_i, residual
scores u_i = E_i z_i − C_i β_a and basis directions D_k of Ψ (Ψ00, Ψ01 both off-diagonals, Ψ11),
the criterion f = (N−p) log r + Σ log|I + S_iΨ| + Σ_a log|G_a| has, in Ψ,
    ∂f/∂ψ_k   = Σ tr(C_i D_k) − (N−p)/r R_k − Σ_a tr(B_a P_ak),
    ∂²f/∂ψ_kψ_l = (N−p)(r_kl/r − R_k R_l/r²) − Σ tr(C_i D_l C_i D_k)
                 − Σ_a tr(B_a P_al B_a P_ak) + 2 Σ tr(B_a C_i D_l C_i D_k C_i),
with R_k = Σ u_i'D_k u_i, P_ak = Σ_{arm a} C_i D_k C_i, m_ak = Σ_{arm a} C_i D_k u_i and
r_kl = 2 Σ u_i'D_k C_i D_l u_i − 2 Σ_a m_ak'B_a m_al (the last from ∂β_a/∂ψ_l = −B_a m_al).
Newton's method runs on the Cholesky factor θ of Ψ (chain rule through ψ(θ)), the Hessian's
eigenvalues made positive, with step halving; it stops when the Newton decrement is below `tol`.
The numpy route (`engine="numpy"`, `mndtrial.batch._slopes_numpy`) does the same per
participant over padded (trials, width) arrays and is the reference this must equal, trial by
trial (tests/test_batch_slopes.py).

Compiled on first use and cached on disk (`cache=True`): a few seconds once per environment.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

N_FIXED = 4
TOO_FEW, NOT_CONVERGED, CONVERGED = 0, 1, 2
# Columns of a trial's group table.
_ARM, _COUNT, _S00, _S01, _S11, _Z0, _Z1, _ZZ00, _ZZ01, _ZZ11, _YY = range(11)
# Per-group terms of the latest evaluation: E = (I + SΨ)⁻¹ row-major, C = ES (symmetric), w = EΣz.
_E00, _E01, _E10, _E11, _C00, _C01, _C11, _W0, _W1 = range(9)
# Per-arm terms: G = ΣC (3), h = Σw (2), B = G⁻¹ (3), β (2).
_G00, _G01, _G11, _H0, _H1, _B00, _B01, _B11, _BETA0, _BETA1 = range(10)
# The directions of ψ = (Ψ00, Ψ01, Ψ11) as 2×2 matrices, row-major.
_D = ((1.0, 0.0, 0.0, 0.0), (0.0, 1.0, 1.0, 0.0), (0.0, 0.0, 0.0, 1.0))
_PAIRS = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))


@njit(cache=True)
def participant_sums(p_trial, p_subject, a_trial, a_subject, day, total, days_per_month, out):
    """Per participant row: n, Σt, Σt², Σy, Σty, Σy² (into `out`, 6 × P, zero on entry).

    For tables sorted by (trial, subject) (participants strictly): one merge pass. Returns
    (sorted, rows with no participant, rows with a missing day or total); when not sorted the
    caller falls back to the general route and `out` is to be discarded.
    """
    P = p_trial.shape[0]
    for i in range(1, P):
        if p_trial[i] < p_trial[i - 1] or (p_trial[i] == p_trial[i - 1] and p_subject[i] <= p_subject[i - 1]):
            return False, 0, 0
    j = 0
    orphan = 0
    missing = 0
    matched = False
    prev_trial, prev_subject = np.int64(-1), np.int64(-1)
    for i in range(a_trial.shape[0]):
        tr, sb = a_trial[i], a_subject[i]
        if i == 0 or tr != prev_trial or sb != prev_subject:  # a new participant's rows start
            if i > 0 and (tr < prev_trial or (tr == prev_trial and sb < prev_subject)):
                return False, 0, 0
            while j < P and (p_trial[j] < tr or (p_trial[j] == tr and p_subject[j] < sb)):
                j += 1
            matched = j < P and p_trial[j] == tr and p_subject[j] == sb
            prev_trial, prev_subject = tr, sb
        if not matched:
            orphan += 1
            continue
        t = day[i] / days_per_month
        y = total[i]
        if not (math.isfinite(t) and math.isfinite(y)):
            missing += 1
            continue
        out[0, j] += 1.0
        out[1, j] += t
        out[2, j] += t * t
        out[3, j] += y
        out[4, j] += t * y
        out[5, j] += y * y
    return True, orphan, missing


@njit(cache=True)
def _start(n, s01, s11, z0, z1, yy, a, lo, hi, th):
    """Moment estimates of Ψ from per-participant least-squares lines (as the numpy route's)."""
    rss = 0.0
    dof = 0.0
    m = 0
    cnt = [0.0, 0.0]
    mean0 = [0.0, 0.0]
    mean1 = [0.0, 0.0]
    v0 = 0.0
    v1 = 0.0
    for j in range(lo, hi):
        det = n[j] * s11[j] - s01[j] ** 2
        if n[j] >= 3 and det > 1e-9 * max(n[j] * s11[j], 1.0):
            b0 = (s11[j] * z0[j] - s01[j] * z1[j]) / det
            b1 = (n[j] * z1[j] - s01[j] * z0[j]) / det
            rss += yy[j] - b0 * z0[j] - b1 * z1[j]
            dof += n[j] - 2
            m += 1
            g = int(a[j])
            cnt[g] += 1
            mean0[g] += b0
            mean1[g] += b1
            v0 += s11[j] / det
            v1 += n[j] / det
    sigma2 = max(rss, 1e-8) / max(dof, 1.0)
    mm = max(m, 2)
    for g in range(2):
        mean0[g] /= max(cnt[g], 1.0)
        mean1[g] /= max(cnt[g], 1.0)
    d00 = 0.0
    d11 = 0.0
    d01 = 0.0
    for j in range(lo, hi):
        det = n[j] * s11[j] - s01[j] ** 2
        if n[j] >= 3 and det > 1e-9 * max(n[j] * s11[j], 1.0):
            g = int(a[j])
            d0 = (s11[j] * z0[j] - s01[j] * z1[j]) / det - mean0[g]
            d1 = (n[j] * z1[j] - s01[j] * z0[j]) / det - mean1[g]
            d00 += d0 * d0
            d11 += d1 * d1
            d01 += d0 * d1
    raw0, raw1 = d00 / (mm - 1), d11 / (mm - 1)
    var0 = max(raw0 - sigma2 * v0 / mm, 0.1 * raw0 + 1e-6)
    var1 = max(raw1 - sigma2 * v1 / mm, 0.1 * raw1 + 1e-6)
    corr = min(max(d01 / (mm - 1) / math.sqrt(max(raw0 * raw1, 1e-300)), -0.9), 0.9)
    psi11 = var1 / sigma2
    th[0] = math.sqrt(var0 / sigma2)
    th[1] = corr * math.sqrt(psi11)
    th[2] = math.sqrt(psi11) * math.sqrt(1 - corr * corr)


@njit(cache=True)
def _groups(n, s01, s11, z0, z1, yy, a, s01_bits, s11_bits, lo, hi, g, table):
    """Fill `g` (11 × capacity) with the trial's groups of participants sharing (arm, S); count.

    Groups are found through an open-addressing hash table on the bits of (arm, n, Σt, Σt²)."""
    size = 16
    while size < 2 * (hi - lo):
        size *= 2
    table[:size] = -1
    ng = 0
    for j in range(lo, hi):
        h = (np.int64(n[j]) * 1000003 + np.int64(a[j]) * 7919) ^ (s01_bits[j] * 2654435761) ^ (s11_bits[j] * 40503)
        pos = (h ^ (h >> 29)) & (size - 1)
        while True:
            q = table[pos]
            if q < 0:
                q = ng
                ng += 1
                table[pos] = q
                g[:, q] = 0.0
                g[_ARM, q], g[_S00, q], g[_S01, q], g[_S11, q] = a[j], n[j], s01[j], s11[j]
                break
            if g[_ARM, q] == a[j] and g[_S00, q] == n[j] and g[_S01, q] == s01[j] and g[_S11, q] == s11[j]:
                break
            pos = (pos + 1) & (size - 1)
        g[_COUNT, q] += 1.0
        g[_Z0, q] += z0[j]
        g[_Z1, q] += z1[j]
        g[_ZZ00, q] += z0[j] * z0[j]
        g[_ZZ01, q] += z0[j] * z1[j]
        g[_ZZ11, q] += z1[j] * z1[j]
        g[_YY, q] += yy[j]
    return ng


@njit(cache=True)
def _criterion(g, ng, th, dof, terms, arm):
    """REML criterion at θ (inf where undefined); per-group terms and per-arm fits as side results.

    Returns (f, r, log-determinant part); r ≤ 0 or a singular arm gives f = inf."""
    p00, p01, p11 = th[0] * th[0], th[0] * th[1], th[1] * th[1] + th[2] * th[2]
    arm[:, :] = 0.0
    q_sum = 0.0
    logdet = 0.0
    for c in range(ng):
        cnt, s00, s01, s11 = g[_COUNT, c], g[_S00, c], g[_S01, c], g[_S11, c]
        k00 = 1 + s00 * p00 + s01 * p01
        k01 = s00 * p01 + s01 * p11
        k10 = s01 * p00 + s11 * p01
        k11 = 1 + s01 * p01 + s11 * p11
        det = k00 * k11 - k01 * k10
        if not det > 0:
            return math.inf, math.nan
        inv = 1.0 / det
        e00, e01, e10, e11 = k11 * inv, -k01 * inv, -k10 * inv, k00 * inv
        c00 = (k11 * s00 - k01 * s01) * inv
        c01 = (k11 * s01 - k01 * s11) * inv
        c11 = (k00 * s11 - k10 * s01) * inv
        w0 = e00 * g[_Z0, c] + e01 * g[_Z1, c]
        w1 = e10 * g[_Z0, c] + e11 * g[_Z1, c]
        # Σ z'ΨEz = tr(ΨE Σzz')
        m00 = p00 * e00 + p01 * e10
        m01 = p00 * e01 + p01 * e11
        m10 = p01 * e00 + p11 * e10
        m11 = p01 * e01 + p11 * e11
        q_sum += g[_YY, c] - (m00 * g[_ZZ00, c] + (m01 + m10) * g[_ZZ01, c] + m11 * g[_ZZ11, c])
        logdet += cnt * math.log(det)
        terms[_E00, c], terms[_E01, c], terms[_E10, c], terms[_E11, c] = e00, e01, e10, e11
        terms[_C00, c], terms[_C01, c], terms[_C11, c], terms[_W0, c], terms[_W1, c] = c00, c01, c11, w0, w1
        ga = int(g[_ARM, c])
        arm[ga, _G00] += cnt * c00
        arm[ga, _G01] += cnt * c01
        arm[ga, _G11] += cnt * c11
        arm[ga, _H0] += w0
        arm[ga, _H1] += w1
    fitted = 0.0
    for ga in range(2):
        G00, G01, G11 = arm[ga, _G00], arm[ga, _G01], arm[ga, _G11]
        det_g = G00 * G11 - G01 * G01
        if not (G00 > 0 and det_g > 0):
            return math.inf, math.nan
        B00, B01, B11 = G11 / det_g, -G01 / det_g, G00 / det_g
        b0 = B00 * arm[ga, _H0] + B01 * arm[ga, _H1]
        b1 = B01 * arm[ga, _H0] + B11 * arm[ga, _H1]
        arm[ga, _B00], arm[ga, _B01], arm[ga, _B11], arm[ga, _BETA0], arm[ga, _BETA1] = B00, B01, B11, b0, b1
        fitted += arm[ga, _H0] * b0 + arm[ga, _H1] * b1
        logdet += math.log(det_g)
    r = q_sum - fitted
    if not r > 0:
        return math.inf, r
    return dof * math.log(r) + logdet, r


@njit
def _mul(x, y):
    return (x[0] * y[0] + x[1] * y[2], x[0] * y[1] + x[1] * y[3], x[2] * y[0] + x[3] * y[2], x[2] * y[1] + x[3] * y[3])


@njit
def _tr_mul(x, y):
    return x[0] * y[0] + x[1] * y[2] + x[2] * y[1] + x[3] * y[3]


@njit
def _pair(Nk, Nl, Dk, CB, UU):
    """tr(C D_l C D_k), tr(B C D_l C D_k C) and tr(D_k C D_l Σuu') of one group (k ≤ l)."""
    NlNk = _mul(Nl, Nk)
    return NlNk[0] + NlNk[3], _tr_mul(NlNk, CB), _tr_mul(_mul(Dk, Nl), UU)


@njit
def _grad_psi(acc, Bs, dof, r, k):
    v = acc[_TRC + k] - dof / r * acc[_R + k]
    for ga in range(2):
        P = _P + 12 * ga + 4 * k
        v -= _tr_mul(Bs[ga], (acc[P], acc[P + 1], acc[P + 2], acc[P + 3]))
    return v


# Offsets into the accumulator of `_derivatives`: Σtr(CD_k), R_k, T_kl, X_kl, U_kl (6 pairs), P[a, k].
_TRC, _R, _T, _X, _U, _P = 0, 3, 6, 12, 18, 24
_ACC = 48


@njit(cache=True)
def _derivatives(g, ng, th, dof, r, terms, arm, grad, H, m, acc, hpsi):
    """Gradient and Hessian of the criterion in θ at the point of the latest `_criterion` call.

    Also leaves m[a, k] = Σ_{arm a} C_i D_k u_i (2 × 3 × 2): the criterion's β–ψ cross terms."""
    acc[:] = 0.0
    m[:, :, :] = 0.0
    D0, D1, D2 = _D
    for c in range(ng):
        ga = int(g[_ARM, c])
        cnt = g[_COUNT, c]
        E = (terms[_E00, c], terms[_E01, c], terms[_E10, c], terms[_E11, c])
        c00, c01, c11 = terms[_C00, c], terms[_C01, c], terms[_C11, c]
        C = (c00, c01, c01, c11)
        B = (arm[ga, _B00], arm[ga, _B01], arm[ga, _B01], arm[ga, _B11])
        w0, w1 = terms[_W0, c], terms[_W1, c]
        v0, v1 = arm[ga, _BETA0], arm[ga, _BETA1]
        cv0, cv1 = c00 * v0 + c01 * v1, c01 * v0 + c11 * v1
        us0, us1 = w0 - cnt * cv0, w1 - cnt * cv1  # Σu
        # Σuu' = E Σzz' E' − w(Cv)' − (Cv)w' + count (Cv)(Cv)'
        EZ = _mul(E, (g[_ZZ00, c], g[_ZZ01, c], g[_ZZ01, c], g[_ZZ11, c]))
        EZE = _mul(EZ, (E[0], E[2], E[1], E[3]))
        uu00 = EZE[0] - 2 * w0 * cv0 + cnt * cv0 * cv0
        uu01 = EZE[1] - w0 * cv1 - cv0 * w1 + cnt * cv0 * cv1
        uu11 = EZE[3] - 2 * w1 * cv1 + cnt * cv1 * cv1
        UU = (uu00, uu01, uu01, uu11)
        acc[_TRC] += cnt * c00
        acc[_TRC + 1] += cnt * 2 * c01
        acc[_TRC + 2] += cnt * c11
        acc[_R] += uu00
        acc[_R + 1] += 2 * uu01
        acc[_R + 2] += uu11
        CB = _mul(C, B)
        N0 = (c00, 0.0, c01, 0.0)  # C D_k
        N1 = (c01, c00, c11, c01)
        N2 = (0.0, c01, 0.0, c11)
        m[ga, 0, 0] += c00 * us0
        m[ga, 0, 1] += c01 * us0
        m[ga, 1, 0] += c01 * us0 + c00 * us1
        m[ga, 1, 1] += c11 * us0 + c01 * us1
        m[ga, 2, 0] += c01 * us1
        m[ga, 2, 1] += c11 * us1
        P = _P + 12 * ga
        for k, Nk in enumerate((N0, N1, N2)):
            NC = _mul(Nk, C)
            acc[P + 4 * k] += cnt * NC[0]
            acc[P + 4 * k + 1] += cnt * NC[1]
            acc[P + 4 * k + 2] += cnt * NC[2]
            acc[P + 4 * k + 3] += cnt * NC[3]
        for p, (Nk, Nl, Dk) in enumerate(((N0, N0, D0), (N0, N1, D0), (N0, N2, D0), (N1, N1, D1), (N1, N2, D1),
                                          (N2, N2, D2))):
            t_, x_, u_ = _pair(Nk, Nl, Dk, CB, UU)
            acc[_T + p] += cnt * t_
            acc[_X + p] += cnt * x_
            acc[_U + p] += u_
    Bs = ((arm[0, _B00], arm[0, _B01], arm[0, _B01], arm[0, _B11]),
          (arm[1, _B00], arm[1, _B01], arm[1, _B01], arm[1, _B11]))
    gpsi = (_grad_psi(acc, Bs, dof, r, 0), _grad_psi(acc, Bs, dof, r, 1), _grad_psi(acc, Bs, dof, r, 2))
    for p in range(6):
        k, l = _PAIRS[p]
        rkl = 2 * acc[_U + p]
        v = -acc[_T + p] + 2 * acc[_X + p]
        for ga in range(2):
            B = Bs[ga]
            Bm0 = B[0] * m[ga, l, 0] + B[1] * m[ga, l, 1]
            Bm1 = B[2] * m[ga, l, 0] + B[3] * m[ga, l, 1]
            rkl -= 2 * (m[ga, k, 0] * Bm0 + m[ga, k, 1] * Bm1)
            Pl, Pk = _P + 12 * ga + 4 * l, _P + 12 * ga + 4 * k
            BPl = _mul(B, (acc[Pl], acc[Pl + 1], acc[Pl + 2], acc[Pl + 3]))
            BPk = _mul(B, (acc[Pk], acc[Pk + 1], acc[Pk + 2], acc[Pk + 3]))
            v -= _tr_mul(BPl, BPk)
        v += dof * (rkl / r - acc[_R + k] * acc[_R + l] / (r * r))
        hpsi[k, l] = v
        hpsi[l, k] = v
    _to_theta(th, gpsi, hpsi, grad, H)


@njit(cache=True)
def _to_theta(th, gpsi, hpsi, grad, H):
    """Chain rule from ψ = (l00², l00 l10, l10² + l11²) to θ = (l00, l10, l11)."""
    # J[ψ, θ]: rows (2 l00, 0, 0), (l10, l00, 0), (0, 2 l10, 2 l11)
    J = ((2 * th[0], 0.0, 0.0), (th[1], th[0], 0.0), (0.0, 2 * th[1], 2 * th[2]))
    for i in range(3):
        grad[i] = J[0][i] * gpsi[0] + J[1][i] * gpsi[1] + J[2][i] * gpsi[2]
        for j in range(3):
            v = 0.0
            for k in range(3):
                for l in range(3):
                    v += J[k][i] * hpsi[k, l] * J[l][j]
            H[i, j] = v
    H[0, 0] += 2 * gpsi[0]
    H[0, 1] += gpsi[1]
    H[1, 0] += gpsi[1]
    H[1, 1] += 2 * gpsi[2]
    H[2, 2] += 2 * gpsi[2]


@njit(cache=True)
def eigh3(A, w, V, a):
    """Eigen-decomposition of a symmetric 3×3 by cyclic Jacobi rotations (LAPACK's call costs more);
    `a` is scratch (3 × 3)."""
    a[:, :] = A
    V[:, :] = 0.0
    for i in range(3):
        V[i, i] = 1.0
    for _sweep in range(50):
        off = a[0, 1] ** 2 + a[0, 2] ** 2 + a[1, 2] ** 2
        if off <= 1e-36 * (a[0, 0] ** 2 + a[1, 1] ** 2 + a[2, 2] ** 2) or off == 0.0:
            break
        for p, q in ((0, 1), (0, 2), (1, 2)):
            if a[p, q] == 0.0:
                continue
            zeta = (a[q, q] - a[p, p]) / (2 * a[p, q])
            t = (1.0 if zeta >= 0 else -1.0) / (abs(zeta) + math.sqrt(zeta * zeta + 1))
            cs = 1 / math.sqrt(t * t + 1)
            sn = t * cs
            for k in range(3):
                akp, akq = a[k, p], a[k, q]
                a[k, p], a[k, q] = cs * akp - sn * akq, sn * akp + cs * akq
            for k in range(3):
                apk, aqk = a[p, k], a[q, k]
                a[p, k], a[q, k] = cs * apk - sn * aqk, sn * apk + cs * aqk
            for k in range(3):
                vkp, vkq = V[k, p], V[k, q]
                V[k, p], V[k, q] = cs * vkp - sn * vkq, sn * vkp + cs * vkq
    for i in range(3):
        w[i] = a[i, i]


@njit(cache=True)
def _newton_step(H, grad, step, w, V, scratch):
    """−H⁻¹g with H's eigenvalues made positive; returns the Newton decrement −step'g."""
    eigh3(H, w, V, scratch)
    wmax = max(max(abs(w[0]), abs(w[1]), abs(w[2])), 1e-12)
    decrement = 0.0
    for i in range(3):
        s = 0.0
        for j in range(3):
            proj = V[0, j] * grad[0] + V[1, j] * grad[1] + V[2, j] * grad[2]
            s += V[i, j] * proj / max(abs(w[j]), 1e-8 * wmax)
        step[i] = -s
        decrement += s * grad[i]
    return decrement


@njit(cache=True)
def fit_trials(offsets, rows, sums, arm_of, max_iter, tol, status, theta, iterations, hess, beta, a_inv, r_out,
               f_out, cross, n_obs, n_subjects):
    """Fit every trial; results into the output arrays (T, ...).

    The participants of trial t are rows[offsets[t]:offsets[t+1]] of `sums` (6 × P: n, Σt, Σt², Σy,
    Σty, Σy²) and `arm_of` (1 on the active arm). `status` on exit: TOO_FEW (fewer than 3
    participants, an arm without any, or fewer than 5 observations: not fitted), CONVERGED where
    the Newton decrement fell below `tol`, else NOT_CONVERGED. `cross[t, a, k]` is m_ak (see the
    module docstring) at the final θ, for the observed-information SE.
    """
    T = offsets.shape[0] - 1
    width = 1
    for t in range(T):
        width = max(width, offsets[t + 1] - offsets[t])
    local = np.empty((7, width))  # the trial's participants, contiguous
    g = np.empty((11, width))
    terms = np.empty((9, width))
    arm = np.empty((2, 10))
    grad = np.empty(3)
    step = np.empty(3)
    w = np.empty(3)
    V = np.empty((3, 3))
    new = np.empty(3)
    m = np.empty((2, 3, 2))
    acc = np.empty(_ACC)
    hpsi = np.empty((3, 3))
    scratch = np.empty((3, 3))
    table = np.empty(2 * max(8, 2 * width), dtype=np.int64)
    for t in range(T):
        lo, hi = 0, offsets[t + 1] - offsets[t]
        n_arm = [0, 0]
        total = 0.0
        for j in range(hi):
            row = rows[offsets[t] + j]
            for k in range(6):
                local[k, j] = sums[k, row]
            local[6, j] = arm_of[row]
            total += local[0, j]
            n_arm[int(arm_of[row])] += 1
        n_obs[t], n_subjects[t] = total, hi
        if total - N_FIXED < 1 or min(n_arm[0], n_arm[1]) < 1 or hi < 3:
            status[t] = TOO_FEW
            continue
        status[t] = NOT_CONVERGED
        n, s01, s11, z0, z1, yy, a = local[0], local[1], local[2], local[3], local[4], local[5], local[6]
        s01_bits, s11_bits = s01.view(np.int64), s11.view(np.int64)
        dof = total - N_FIXED
        th = theta[t]
        _start(n, s01, s11, z0, z1, yy, a, lo, hi, th)
        ng = _groups(n, s01, s11, z0, z1, yy, a, s01_bits, s11_bits, lo, hi, g, table)
        H = hess[t]
        f, r = _criterion(g, ng, th, dof, terms, arm)
        fresh = False  # whether grad and H belong to th
        for _ in range(max_iter):
            if math.isfinite(f):
                _derivatives(g, ng, th, dof, r, terms, arm, grad, H, m, acc, hpsi)
            else:
                grad[:] = 0.0
                H[:, :] = 0.0
            fresh = True
            decrement = _newton_step(H, grad, step, w, V, scratch)
            if decrement < tol and math.isfinite(f):
                status[t] = CONVERGED
                break
            iterations[t] += 1
            scale = 1.0
            f_new, r_new = math.inf, math.nan
            for _half in range(40):
                for i in range(3):
                    new[i] = th[i] + scale * step[i]
                f_new, r_new = _criterion(g, ng, new, dof, terms, arm)
                if f_new <= f + 1e-12 * abs(f):
                    break
                scale /= 2
            th[:] = new
            f, r = f_new, r_new
            fresh = False
        if not fresh:  # the criterion's side results belong to th; the derivatives not yet
            if math.isfinite(f):
                _derivatives(g, ng, th, dof, r, terms, arm, grad, H, m, acc, hpsi)
            else:
                H[:, :] = 0.0
        f_out[t] = f
        r_out[t] = r
        if not math.isfinite(f):
            continue
        for ga in range(2):
            cross[t, ga] = m[ga]
        b0 = (arm[0, _B00], arm[0, _B01], arm[0, _B11])
        b1 = (arm[1, _B00], arm[1, _B01], arm[1, _B11])
        beta[t, 0], beta[t, 1] = arm[0, _BETA0], arm[0, _BETA1]
        beta[t, 2], beta[t, 3] = arm[1, _BETA0] - arm[0, _BETA0], arm[1, _BETA1] - arm[0, _BETA1]
        # A⁻¹ = [[B0, −B0], [−B0, B0 + B1]] for A = [[G0 + G1, G1], [G1, G1]]
        for i in range(2):
            for j in range(2):
                v0 = b0[i + j]
                v1 = b1[i + j]
                a_inv[t, i, j] = v0
                a_inv[t, i, j + 2] = -v0
                a_inv[t, i + 2, j] = -v0
                a_inv[t, i + 2, j + 2] = v0 + v1
