"""The slope model's REML fit as numpy passes over (trials, width) arrays, one participant a column.

The slow, obvious route (`BatchSlopes(engine="numpy")`): every quantity is computed per
participant from its sufficient statistics and summed, as the formulas in
`mndtrial.batch.slopes` and `mndtrial.batch._slopes_kernel` read. The compiled kernel, which
works on groups of participants sharing a visit pattern, must equal it trial by trial.
"""

from __future__ import annotations

import numpy as np

N_FIXED = 4
# The directions of ψ = (Ψ00, Ψ01, Ψ11) as 2×2 matrices, row-major.
_D = ((1.0, 0.0, 0.0, 0.0), (0.0, 1.0, 1.0, 0.0), (0.0, 0.0, 0.0, 1.0))


def _mul(x, y):
    """2×2 product of row-major 4-tuples (of arrays or numbers)."""
    return (x[0] * y[0] + x[1] * y[2], x[0] * y[1] + x[1] * y[3], x[2] * y[0] + x[3] * y[2], x[2] * y[1] + x[3] * y[3])


def _tr_mul(x, y):
    return x[0] * y[0] + x[1] * y[2] + x[2] * y[1] + x[3] * y[3]


def psi(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    l00, l10, l11 = theta[:, 0], theta[:, 1], theta[:, 2]
    return l00 * l00, l00 * l10, l10 * l10 + l11 * l11


def subject_terms(st: dict, theta: np.ndarray) -> dict:
    """Per-participant C = E S, E z (as e0, e1), y'V⁻¹y σ² and |I + SΨ|, E = (I + SΨ)⁻¹."""
    p00, p01, p11 = (v[:, None] for v in psi(theta))
    s00, s01, s11, z0, z1 = st["s00"], st["s01"], st["s11"], st["z0"], st["z1"]
    k00 = 1 + s00 * p00 + s01 * p01
    k01 = s00 * p01 + s01 * p11
    k10 = s01 * p00 + s11 * p01
    k11 = 1 + s01 * p01 + s11 * p11
    det = k00 * k11 - k01 * k10
    e0 = (k11 * z0 - k01 * z1) / det
    e1 = (k00 * z1 - k10 * z0) / det
    return {"c00": (k11 * s00 - k01 * s01) / det, "c01": (k11 * s01 - k01 * s11) / det,
            "c11": (k00 * s11 - k10 * s01) / det, "e0": e0, "e1": e1, "det": det,
            "q": st["yy"] - (z0 * (p00 * e0 + p01 * e1) + z1 * (p01 * e0 + p11 * e1))}


def gls_residual_scores(st: dict, sub: dict, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """u_i = Z_i'V⁻¹(y_i − X_i β) σ² per participant."""
    a = st["a"]
    v0 = beta[:, 0:1] + a * beta[:, 2:3]
    v1 = beta[:, 1:2] + a * beta[:, 3:4]
    return sub["e0"] - (sub["c00"] * v0 + sub["c01"] * v1), sub["e1"] - (sub["c01"] * v0 + sub["c11"] * v1)


def _arm_blocks(A_inv: np.ndarray, a: np.ndarray) -> tuple:
    """B(a) = B11 + a (B12 + B21 + B22) per participant: (X'V⁻¹X σ²)⁻¹ seen from its arm's line."""
    B0, D = A_inv[:, :2, :2], A_inv[:, :2, 2:] + A_inv[:, 2:, :2] + A_inv[:, 2:, 2:]
    return tuple(B0[:, i, j][:, None] + a * D[:, i, j][:, None] for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))


def B_of(A_inv: np.ndarray, a: float) -> np.ndarray:
    """(T, 1, 2, 2): B(a) of every trial for one arm."""
    return np.stack([np.stack(_arm_blocks(A_inv, np.full((len(A_inv), 1), a))[2 * i:2 * i + 2], -1)
                     for i in range(2)], -2)


def evaluate(st: dict, theta: np.ndarray, gradient: bool = True) -> dict:
    """REML criterion (and its gradient in θ, the Cholesky factor of Ψ) for each trial."""
    sub = subject_terms(st, theta)
    c00, c01, c11, e0, e1, a = sub["c00"], sub["c01"], sub["c11"], sub["e0"], sub["e1"], st["a"]
    C0 = np.stack([c00.sum(1), c01.sum(1), c11.sum(1)], axis=1)
    C1 = np.stack([(a * c00).sum(1), (a * c01).sum(1), (a * c11).sum(1)], axis=1)
    T = theta.shape[0]
    A = np.empty((T, 4, 4))
    for blk, (i, j) in ((C0, (0, 0)), (C1, (0, 2)), (C1, (2, 0)), (C1, (2, 2))):
        A[:, i, j], A[:, i, j + 1], A[:, i + 1, j], A[:, i + 1, j + 1] = blk[:, 0], blk[:, 1], blk[:, 1], blk[:, 2]
    b = np.stack([e0.sum(1), e1.sum(1), (a * e0).sum(1), (a * e1).sum(1)], axis=1)
    sign, logdet_a = np.linalg.slogdet(A)
    A_inv = np.linalg.inv(np.where((sign > 0)[:, None, None], A, np.eye(4)))
    beta = np.einsum("tij,tj->ti", A_inv, b)
    r = sub["q"].sum(1) - (b * beta).sum(1)
    dof = st["N"] - N_FIXED
    with np.errstate(invalid="ignore", divide="ignore"):
        f = dof * np.log(r) + np.log(sub["det"]).sum(1) + logdet_a
    f = np.where((sign > 0) & (r > 0), f, np.inf)
    out = {"f": f, "beta": beta, "A_inv": A_inv, "r": r}
    if not gradient:
        return out
    u0, u1 = gls_residual_scores(st, sub, beta)
    b00, b01, b10, b11 = _arm_blocks(A_inv, a)
    q00 = c00 * b00 + c01 * b10
    q01 = c00 * b01 + c01 * b11
    q10 = c01 * b00 + c11 * b10
    q11 = c01 * b01 + c11 * b11
    k = (dof / r)[:, None]
    g00 = (c00 - k * u0 * u0 - (q00 * c00 + q01 * c01)).sum(1)
    g01 = (c01 - k * u0 * u1 - (q00 * c01 + q01 * c11)).sum(1)
    g11 = (c11 - k * u1 * u1 - (q10 * c01 + q11 * c11)).sum(1)
    l00, l10, l11 = theta[:, 0], theta[:, 1], theta[:, 2]
    out["grad"] = 2 * np.stack([g00 * l00 + g01 * l10, g01 * l00 + g11 * l10, g11 * l11], axis=1)
    return out


def cross_terms(st: dict, theta: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """m[t, arm, k] = Σ_{participants of the arm} C_i D_k u_i, (T, 2, 3, 2)."""
    sub = subject_terms(st, theta)
    u0, u1 = gls_residual_scores(st, sub, beta)
    c00, c01, c11, a = sub["c00"], sub["c01"], sub["c11"], st["a"]
    w = [(c00 * u0, c01 * u0), (c00 * u1 + c01 * u0, c01 * u1 + c11 * u0), (c01 * u1, c11 * u1)]
    return np.stack([np.stack([np.stack([(wt * x).sum(1) for x in wk], axis=1) for wk in w], axis=1)
                     for wt in (1 - a, a)], axis=1)


def hessian(st: dict, theta: np.ndarray, ev: dict) -> np.ndarray:
    """Analytic Hessian of the criterion in θ, participant by participant (formulas: the kernel's)."""
    sub = subject_terms(st, theta)
    u0, u1 = gls_residual_scores(st, sub, ev["beta"])
    a, r, dof = st["a"], ev["r"], st["N"] - N_FIXED
    C = (sub["c00"], sub["c01"], sub["c01"], sub["c11"])
    B = _arm_blocks(ev["A_inv"], a)
    CB = _mul(C, B)
    N = [_mul(C, d) for d in _D]
    Du = [(d[0] * u0 + d[1] * u1, d[2] * u0 + d[3] * u1) for d in _D]
    CDu = [(C[0] * x0 + C[1] * x1, C[2] * x0 + C[3] * x1) for x0, x1 in Du]
    arms = (1 - a, a)
    trc = [_tr_mul(C, d).sum(1) for d in _D]
    R = [(u0 * x0 + u1 * x1).sum(1) for x0, x1 in Du]
    P = [[[(wt * e).sum(1) for e in _mul(Nk, C)] for Nk in N] for wt in arms]  # [arm][k][entry]
    m = [[[(wt * e).sum(1) for e in v] for v in CDu] for wt in arms]  # [arm][k][entry]
    B_arm = [tuple(b[:, 0, i, j] for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))  # B(0), B(1) as in _arm_blocks
             for b in (B_of(ev["A_inv"], 0.0), B_of(ev["A_inv"], 1.0))]
    gpsi = np.stack([trc[k] - dof / r * R[k] - sum(_tr_mul(B_arm[g], P[g][k]) for g in range(2))
                     for k in range(3)], axis=1)
    hpsi = np.empty((len(r), 3, 3))
    for k in range(3):
        for l in range(3):
            NlNk = _mul(N[l], N[k])
            T = (NlNk[0] + NlNk[3]).sum(1)
            X = _tr_mul(NlNk, CB).sum(1)
            U = (Du[k][0] * CDu[l][0] + Du[k][1] * CDu[l][1]).sum(1)
            rkl = 2 * U
            v = -T + 2 * X
            for g in range(2):
                Bg = B_arm[g]
                rkl = rkl - 2 * (m[g][k][0] * (Bg[0] * m[g][l][0] + Bg[1] * m[g][l][1])
                                 + m[g][k][1] * (Bg[2] * m[g][l][0] + Bg[3] * m[g][l][1]))
                v = v - _tr_mul(_mul(Bg, P[g][l]), _mul(Bg, P[g][k]))
            hpsi[:, k, l] = v + dof * (rkl / r - R[k] * R[l] / r ** 2)
    hpsi = 0.5 * (hpsi + hpsi.transpose(0, 2, 1))
    l00, l10, l11 = theta[:, 0], theta[:, 1], theta[:, 2]
    zero = np.zeros_like(l00)
    J = np.stack([np.stack([2 * l00, zero, zero], 1), np.stack([l10, l00, zero], 1),
                  np.stack([zero, 2 * l10, 2 * l11], 1)], axis=1)
    H = J.transpose(0, 2, 1) @ hpsi @ J
    H[:, 0, 0] += 2 * gpsi[:, 0]
    H[:, 0, 1] += gpsi[:, 1]
    H[:, 1, 0] += gpsi[:, 1]
    H[:, 1, 1] += 2 * gpsi[:, 2]
    H[:, 2, 2] += 2 * gpsi[:, 2]
    return np.where(np.isfinite(ev["f"])[:, None, None], H, 0.0)


def start(st: dict) -> np.ndarray:
    """Moment estimates of Ψ from per-participant least-squares lines (Cholesky factor)."""
    n, s01, s11, z0, z1, yy = st["n"], st["s01"], st["s11"], st["z0"], st["z1"], st["yy"]
    det = n * s11 - s01 ** 2
    ok = (n >= 3) & (det > 1e-9 * np.maximum(n * s11, 1))
    safe = np.where(ok, det, 1.0)
    b0 = (s11 * z0 - s01 * z1) / safe
    b1 = (n * z1 - s01 * z0) / safe
    rss = np.where(ok, yy - b0 * z0 - b1 * z1, 0.0)
    sigma2 = np.maximum(rss.sum(1), 1e-8) / np.maximum((np.where(ok, n - 2, 0)).sum(1), 1)
    m = np.maximum(ok.sum(1), 2)
    a = st["a"]

    def centred(b):
        out = b.copy()
        for arm in (0.0, 1.0):
            sel = ok & (a == arm)
            mean = np.where(sel, b, 0).sum(1) / np.maximum(sel.sum(1), 1)
            out = np.where(sel, b - mean[:, None], out)
        return np.where(ok, out, 0.0)

    d0, d1 = centred(b0), centred(b1)
    var0 = (d0 ** 2).sum(1) / (m - 1) - sigma2 * np.where(ok, s11 / safe, 0).sum(1) / m
    var1 = (d1 ** 2).sum(1) / (m - 1) - sigma2 * np.where(ok, n / safe, 0).sum(1) / m
    raw0, raw1 = (d0 ** 2).sum(1) / (m - 1), (d1 ** 2).sum(1) / (m - 1)
    var0, var1 = np.maximum(var0, 0.1 * raw0 + 1e-6), np.maximum(var1, 0.1 * raw1 + 1e-6)
    corr = np.clip((d0 * d1).sum(1) / (m - 1) / np.sqrt(np.maximum(raw0 * raw1, 1e-300)), -0.9, 0.9)
    psi00, psi11 = var0 / sigma2, var1 / sigma2
    l00 = np.sqrt(psi00)
    l10 = corr * np.sqrt(psi11)
    l11 = np.sqrt(psi11) * np.sqrt(1 - corr ** 2)
    return np.stack([l00, l10, l11], axis=1)


def newton_step(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """−H⁻¹g with H's eigenvalues made positive (a descent direction even away from the optimum)."""
    w, V = np.linalg.eigh(H)
    w = np.maximum(np.abs(w), 1e-8 * np.maximum(np.abs(w).max(axis=1, keepdims=True), 1e-12))
    return -np.einsum("tij,tj,tkj,tk->ti", V, 1 / w, V, g)


def optimise(st: dict, theta: np.ndarray, fitting: np.ndarray, max_iter: int, tol: float):
    """Newton iterations for the trials marked `fitting`; (θ, evaluation, Hessian, converged, iterations)."""
    T = theta.shape[0]
    ev = evaluate(st, theta)
    iterations = np.zeros(T, dtype=np.int64)
    converged = np.zeros(T, dtype=bool)
    hess = np.zeros((T, 3, 3))
    active = fitting.copy()
    fresh = np.zeros(T, dtype=bool)  # whether hess[t] belongs to theta[t]
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        sub = {k: v[idx] for k, v in st.items()}
        th, g = theta[idx], ev["grad"][idx]
        H = hessian(sub, th, {k: v[idx] for k, v in ev.items()})
        hess[idx], fresh[idx] = H, True
        step = newton_step(H, g)
        decrement = -(step * g).sum(1)
        done = (decrement < tol) & np.isfinite(ev["f"][idx])
        converged[idx[done]] = True
        active[idx[done]] = False
        keep = ~done
        idx, th, step, sub = idx[keep], th[keep], step[keep], {k: v[keep] for k, v in sub.items()}
        if idx.size == 0:
            break
        iterations[idx] += 1
        f_old = ev["f"][idx]
        scale = np.ones(len(idx))
        for _half in range(40):
            new = th + scale[:, None] * step
            trial_ev = evaluate(sub, new)
            worse = ~(trial_ev["f"] <= f_old + 1e-12 * np.abs(f_old))
            if not worse.any():
                break
            scale[worse] /= 2
        theta[idx] = new
        fresh[idx] = False
        for key in ev:
            ev[key][idx] = trial_ev[key]
    stale = np.flatnonzero(fitting & ~fresh)
    if stale.size:
        hess[stale] = hessian({k: v[stale] for k, v in st.items()}, theta[stale],
                              {k: v[stale] for k, v in ev.items()})
    return theta, ev, hess, converged, iterations
