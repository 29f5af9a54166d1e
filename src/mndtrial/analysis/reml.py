"""Profiled (RE)ML for one linear mixed model with per-group random intercept (and slope).

Model: y = Xβ + Zb + ε with b_i ~ N(0, σ²Ψ) per group i, ε ~ N(0, σ²I), Z_i = [1] or [1, t].
Everything the likelihood needs is per-group moments — S_i = Z_i'Z_i, G_i = Z_i'X_i,
z_i = Z_i'y_i — and the totals X'X, X'y, y'y. With K_i = I + S_iΨ and E_i = K_i⁻¹ (Woodbury):
    A = X'V⁻¹X σ² = X'X − Σ G_i'ΨE_iG_i,   b = X'V⁻¹y σ² = X'y − Σ G_i'ΨE_iz_i,
    y'V⁻¹y σ² = y'y − Σ z_i'ΨE_iz_i,       |V_i| = σ^{2n_i} |K_i|,
and with σ² profiled out, −2 × the REML log-likelihood is, up to a constant,
    f(Ψ) = (N − p) log r + Σ log|K_i| + log|A|,   r = y'V⁻¹yσ² − b'A⁻¹b
(ML: N log r + Σ log|K_i|). Its gradient in Ψ is analytic,
    ∂f/∂Ψ = Σ E_iS_i − (dof/r) Σ u_iu_i' − Σ (E_iG_i) A⁻¹ (E_iG_i)'   (last term REML only),
u_i = E_i(z_i − G_iβ̂); the optimiser works on the Cholesky factor L of Ψ (lme4's θ), where
∂f/∂L = 2 (∂f/∂Ψ) L. The same algebra, specialised to X = [Z, aZ] and vectorised over many trials,
is `mndtrial.batch.slopes`; this module serves single-trial analyses with any fixed effects.

References: Harville (1977), JASA 72:320; Bates, Mächler, Bolker & Walker (2015), J Stat Softw 67(1).

Example (a random-intercept model; statsmodels' MixedLM gives the same estimates):
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> groups = np.repeat(np.arange(30), 4)
    >>> x = rng.normal(size=120)
    >>> y = 1 + 2 * x + rng.normal(size=30)[groups] + rng.normal(size=120)
    >>> X = np.column_stack([np.ones(120), x])
    >>> fit = fit_reml(y, X, np.ones((120, 1)), groups)
    >>> fit.converged, round(float(fit.beta[1]), 2)
    (True, 2.22)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ..errors import ParameterError
from .design_matrix import least_squares

__all__ = ["RemlFit", "fit_reml", "group_moments", "reml_objective"]

GRADIENT_TOLERANCE = 1e-6  # on ∂f/∂θ at the optimum (f is −2 log-likelihood: far below 1e-3 in f)


@dataclass(frozen=True)
class RemlFit:
    """β̂, σ²(X'V⁻¹X)⁻¹ (lme4's vcov), σ²Ψ, σ², −2 log-likelihood and how the optimiser ended."""

    beta: np.ndarray
    cov_beta: np.ndarray
    cov_random: np.ndarray
    residual_variance: float
    criterion: float  # −2 (RE)ML log-likelihood: lme4's "REML criterion at convergence" / deviance
    converged: bool
    iterations: int
    messages: tuple[str, ...]


def group_moments(y: np.ndarray, X: np.ndarray, Z: np.ndarray, groups: np.ndarray) -> dict:
    """Per-group S = Z'Z (G, q, q), G = Z'X (G, q, p), z = Z'y (G, q) and the totals; groups are
    numbered in the sorted order of their labels (`codes`, each row's group)."""
    codes = np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
    n_groups = int(codes.max()) + 1
    q, p = Z.shape[1], X.shape[1]

    def per_group(w):
        return np.bincount(codes, weights=w, minlength=n_groups)

    S = np.empty((n_groups, q, q))
    for a in range(q):
        for c in range(a, q):
            S[:, a, c] = S[:, c, a] = per_group(Z[:, a] * Z[:, c])
    G = np.stack([np.stack([per_group(Z[:, a] * X[:, j]) for j in range(p)], axis=1) for a in range(q)], axis=1)
    z = np.stack([per_group(Z[:, a] * y) for a in range(q)], axis=1)
    if q not in _TRIL:
        raise ParameterError("Z", f"{q} columns", "a random intercept, or a random intercept and slope (q = 1 or 2)")
    return {"S": S, "G": G, "z": z, "XtX": X.T @ X, "Xty": X.T @ y, "yty": float(y @ y),
            "N": len(y), "p": p, "q": q, "codes": codes,
            # the same blocks as component arrays over groups (what `reml_objective` computes with)
            "S_parts": [[np.ascontiguousarray(S[:, a, c]) for c in range(q)] for a in range(q)],
            "G_parts": [np.ascontiguousarray(G[:, a, :]) for a in range(q)],
            "z_parts": [np.ascontiguousarray(z[:, a]) for a in range(q)]}


_TRIL = {q: np.tril_indices(q) for q in (1, 2)}


def _psi(theta: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray]:
    L = np.zeros((q, q))
    L[_TRIL[q]] = theta
    return L, L @ L.T


def _inverse(K: list[list[np.ndarray]]) -> tuple[list[list[np.ndarray]], np.ndarray]:
    """Per-group inverse and determinant of q×q blocks held as component arrays (q = 1 or 2)."""
    if len(K) == 1:
        det = K[0][0]
        with np.errstate(divide="ignore", invalid="ignore"):
            return [[1.0 / det]], det
    (a, b), (c, d) = K
    det = a * d - b * c
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / det
    return [[d * inv, -b * inv], [-c * inv, a * inv]], det


def reml_objective(theta: np.ndarray, m: dict, reml: bool = True) -> tuple[float, np.ndarray, dict]:
    """f(θ) (−2 log-likelihood without its constant), ∂f/∂θ and the GLS quantities at θ."""
    if m["q"] == 2:
        return _objective_slope(theta, m, reml)
    return _objective(theta, m, reml)


def _objective(theta: np.ndarray, m: dict, reml: bool = True) -> tuple[float, np.ndarray, dict]:
    """`reml_objective` for any q, its sums over the q components written as sums."""
    q, p, N = m["q"], m["p"], m["N"]
    L, psi = _psi(np.asarray(theta, dtype=float), q)
    # Per-group q×q and q×p blocks as lists of component arrays over groups: numpy's stacked
    # matmul/inv on hundreds of 2×2 blocks costs ~100 µs a call, the same sums written out ~5 µs.
    S, Gc, zc = m["S_parts"], m["G_parts"], m["z_parts"]
    r_q = range(q)
    K = [[(1.0 if a == c else 0.0) + sum(S[a][k] * psi[k, c] for k in r_q) for c in r_q] for a in r_q]
    E, det = _inverse(K)
    if not np.all(det > 0):
        return np.inf, np.zeros_like(theta), {}
    EG = [sum(E[a][k][:, None] * Gc[k] for k in r_q) for a in r_q]  # (groups, p) each
    Ez = [sum(E[a][k] * zc[k] for k in r_q) for a in r_q]      # (groups,) each
    PG = [sum(psi[a, k] * Gc[k] for k in r_q) for a in r_q]
    Pz = [sum(psi[a, k] * zc[k] for k in r_q) for a in r_q]
    A = m["XtX"] - sum(PG[a].T @ EG[a] for a in r_q)
    b = m["Xty"] - sum(PG[a].T @ Ez[a] for a in r_q)
    yvy = m["yty"] - float(sum(Pz[a] @ Ez[a] for a in r_q))
    profiled = _profiled(A, b, yvy, det, N, p, reml)
    if profiled is None:
        return np.inf, np.zeros_like(theta), {}
    f, beta, A_inv, r, dof = profiled
    u = [Ez[a] - EG[a] @ beta for a in r_q]
    EGA = [EG[a] @ A_inv for a in r_q] if reml else None
    grad_psi = np.empty((q, q))
    for a in r_q:
        for c in r_q:
            g = float(sum(E[a][k] @ S[k][c] for k in r_q)) - (dof / r) * float(u[a] @ u[c])
            if reml:
                g -= float(np.sum(EGA[a] * EG[c]))
            grad_psi[a, c] = g
    grad_psi = 0.5 * (grad_psi + grad_psi.T)
    grad = (2 * grad_psi @ L)[_TRIL[q]]
    return float(f), grad, {"beta": beta, "A_inv": A_inv, "r": float(r), "dof": dof, "psi": psi}


def _profiled(A: np.ndarray, b: np.ndarray, yvy: float, det: np.ndarray, N: int, p: int, reml: bool):
    """f, β̂, A⁻¹, r and the degrees of freedom from the GLS sums at one θ; None where they are
    not those of a positive definite V (the criterion is infinite there)."""
    sign_a, logdet_a = np.linalg.slogdet(A)
    if sign_a <= 0:
        return None
    A_inv = np.linalg.inv(A)
    beta = A_inv @ b
    r = yvy - b @ beta
    if not r > 0:
        return None
    dof = N - p if reml else N
    f = dof * np.log(r) + float(np.log(det).sum()) + (logdet_a if reml else 0.0)
    return f, beta, A_inv, r, dof


def _objective_slope(theta: np.ndarray, m: dict, reml: bool = True) -> tuple[float, np.ndarray, dict]:
    """`_objective` for a random intercept and slope (q = 2), its sums over the two components
    written out: the same operations in the same order (Python's `sum` starts from 0, so each
    sum here does too), hence the same bits, without a generator per sum (the fits of a plan run
    evaluate it ~150 times; the tests hold it to `_objective` exactly)."""
    p, N = m["p"], m["N"]
    L, psi = _psi(np.asarray(theta, dtype=float), 2)
    (S00, S01), (S10, S11) = m["S_parts"]
    G0, G1 = m["G_parts"]
    z0, z1 = m["z_parts"]
    p00, p01, p10, p11 = psi[0, 0], psi[0, 1], psi[1, 0], psi[1, 1]
    K = [[1.0 + (0 + S00 * p00 + S01 * p10), 0.0 + (0 + S00 * p01 + S01 * p11)],
         [0.0 + (0 + S10 * p00 + S11 * p10), 1.0 + (0 + S10 * p01 + S11 * p11)]]
    E, det = _inverse(K)
    if not np.all(det > 0):
        return np.inf, np.zeros_like(theta), {}
    (E00, E01), (E10, E11) = E
    EG0 = 0 + E00[:, None] * G0 + E01[:, None] * G1
    EG1 = 0 + E10[:, None] * G0 + E11[:, None] * G1
    Ez0 = 0 + E00 * z0 + E01 * z1
    Ez1 = 0 + E10 * z0 + E11 * z1
    PG0 = 0 + p00 * G0 + p01 * G1
    PG1 = 0 + p10 * G0 + p11 * G1
    Pz0 = 0 + p00 * z0 + p01 * z1
    Pz1 = 0 + p10 * z0 + p11 * z1
    A = m["XtX"] - (0 + PG0.T @ EG0 + PG1.T @ EG1)
    b = m["Xty"] - (0 + PG0.T @ Ez0 + PG1.T @ Ez1)
    yvy = m["yty"] - float(0 + Pz0 @ Ez0 + Pz1 @ Ez1)
    profiled = _profiled(A, b, yvy, det, N, p, reml)
    if profiled is None:
        return np.inf, np.zeros_like(theta), {}
    f, beta, A_inv, r, dof = profiled
    u = (Ez0 - EG0 @ beta, Ez1 - EG1 @ beta)
    E, S, EG = ((E00, E01), (E10, E11)), ((S00, S01), (S10, S11)), (EG0, EG1)
    EGA = (EG0 @ A_inv, EG1 @ A_inv) if reml else None
    grad_psi = np.empty((2, 2))
    for a in (0, 1):
        for c in (0, 1):
            g = float(0 + E[a][0] @ S[0][c] + E[a][1] @ S[1][c]) - (dof / r) * float(u[a] @ u[c])
            if reml:
                g -= float(np.sum(EGA[a] * EG[c]))
            grad_psi[a, c] = g
    grad_psi = 0.5 * (grad_psi + grad_psi.T)
    grad = (2 * grad_psi @ L)[_TRIL[2]]
    return float(f), grad, {"beta": beta, "A_inv": A_inv, "r": float(r), "dof": dof, "psi": psi}


def _moment_start(y, X, Z, groups, m: dict) -> np.ndarray:
    """θ from per-group least-squares random coefficients relative to their residual variance."""
    q = m["q"]
    beta = least_squares(X, y)
    e = y - X @ beta
    codes = m["codes"]  # each row's group, numbered in the sorted order of the labels
    n = np.bincount(codes)
    S = m["S"]
    full = (n > q) & (np.linalg.det(S) > 1e-9 * np.maximum(np.abs(S).max(axis=(1, 2)) ** q, 1e-300))
    default = np.eye(q)[np.tril_indices(q)]
    if full.sum() < 2:
        return default
    ze = np.stack([np.bincount(codes, weights=Z[:, a] * e, minlength=len(n)) for a in range(q)], axis=1)
    coef = np.zeros((len(n), q))
    coef[full] = np.linalg.solve(S[full], ze[full][..., None])[..., 0]
    residual = e - np.einsum("ia,ia->i", Z, coef[codes])
    used = full[codes]
    residual_variance = np.var(residual[used])
    spread = np.var(coef[full], axis=0)
    if residual_variance <= 0 or not np.all(spread > 0):
        return default
    return np.diag(np.sqrt(spread / residual_variance))[np.tril_indices(q)]


def fit_reml(y: np.ndarray, X: np.ndarray, Z: np.ndarray, groups: np.ndarray, reml: bool = True) -> RemlFit:
    """Fit the model by (RE)ML: Newton on θ from moment estimates, else BFGS; Powell then BFGS if that stalls.

    y (n,), X (n, p) of full rank, Z (n, q) with q = 1 or 2, groups (n,) any labels.
    """
    y, X, Z = (np.asarray(a, dtype=float) for a in (y, X, Z))
    m = group_moments(y, X, Z, groups)
    start = _moment_start(y, X, Z, groups, m)

    last: dict = {}

    def fun(theta):
        f, g, gls = reml_objective(theta, m, reml)
        last.update(theta=np.array(theta, dtype=float), evaluated=(f, g, gls))
        return f, g

    messages: list[str] = []
    res = _newton(fun, start)
    if not _ok(res):
        from scipy import optimize  # only where Newton's method does not end at a stationary point

        res = optimize.minimize(fun, start, jac=True, method="BFGS", options={"gtol": 1e-9, "maxiter": 500})
    if not _ok(res):
        messages.append(f"attempt 1 (BFGS from moment estimates) stopped: {res.message}")
        rough = optimize.minimize(lambda t: fun(t)[0], start, method="Powell",
                                  options={"xtol": 1e-10, "ftol": 1e-12, "maxiter": 20_000})
        polished = optimize.minimize(fun, rough.x, jac=True, method="BFGS", options={"gtol": 1e-9, "maxiter": 500})
        res = min((r for r in (res, rough, polished) if np.isfinite(r.fun)), key=lambda r: (not _ok(r), r.fun),
                  default=res)
    theta = res.x
    # the optimisers end on a point they evaluated last, most often: its GLS quantities are kept
    same = "theta" in last and np.array_equal(last["theta"], theta)
    f, grad, gls = last["evaluated"] if same else reml_objective(theta, m, reml)
    if not gls:
        return RemlFit(beta=np.full(m["p"], np.nan), cov_beta=np.full((m["p"],) * 2, np.nan),
                       cov_random=np.full((m["q"],) * 2, np.nan), residual_variance=float("nan"),
                       criterion=float("nan"), converged=False, iterations=int(res.nit), messages=tuple(messages))
    sigma2 = gls["r"] / gls["dof"]
    logdet_parts = f - gls["dof"] * np.log(gls["r"])
    criterion = gls["dof"] * (1 + np.log(2 * np.pi * sigma2)) + logdet_parts
    converged = bool(np.max(np.abs(grad), initial=0.0) < GRADIENT_TOLERANCE * max(1.0, abs(f)))
    return RemlFit(beta=gls["beta"], cov_beta=sigma2 * gls["A_inv"], cov_random=sigma2 * gls["psi"],
                   residual_variance=float(sigma2), criterion=float(criterion), converged=converged,
                   iterations=int(res.nit), messages=tuple(messages))


@dataclass
class _Ended:
    """Where an optimiser stopped, in the fields of scipy's `OptimizeResult` that `fit_reml` reads."""

    x: np.ndarray
    fun: float
    jac: np.ndarray | None
    nit: int
    message: str


NEWTON_MAX_STEPS = 50
HESSIAN_STEP = 1e-6  # relative step of the forward differences of the analytic gradient
FINAL_STEP = 1e-7  # a Newton step this small (θ units) is taken whole and ends the search,
FLAT = 1e-12  # as is one whose predicted decrease of f, relative to f, is below f's rounding


def _newton(fun, start: np.ndarray) -> _Ended:
    """Newton's method on θ: a forward-difference Hessian of the analytic gradient at the start,
    then BFGS updates of it from each step and the change in gradient.

    θ has 1 or 3 elements, so a Hessian costs 1 or 3 gradients. From the moment estimates, a
    fresh Hessian at every step needed ~5 steps and ~24 evaluations; updating it needs ~8 steps
    and ~16 evaluations (the fit of the same optimum: estimates agree to ~1e-8 relative), where
    scipy's BFGS from an identity Hessian needed ~12 steps and ~70 evaluations in its line
    searches. A step is halved until it lowers f enough (Armijo); a step below `FINAL_STEP`, or
    predicting a decrease below f's rounding (`FLAT`), is taken whole and ends the search (near
    the optimum the decrease cannot be seen; the error after it is of order the step's square).
    An update that would lose positive curvature is replaced by a fresh difference Hessian; one
    that is not positive definite (away from the basin, or on the boundary) ends the search, and
    `fit_reml` goes on with scipy's BFGS.
    """
    theta = np.asarray(start, dtype=float).copy()
    f, g = fun(theta)
    H = None
    for step_count in range(NEWTON_MAX_STEPS):
        if not np.isfinite(f):
            return _Ended(theta, f, None, step_count, "not finite")
        if H is None:
            H = np.empty((len(theta), len(theta)))
            for j in range(len(theta)):
                e = np.zeros(len(theta))
                e[j] = HESSIAN_STEP * max(1.0, abs(theta[j]))
                H[:, j] = (fun(theta + e)[1] - g) / e[j]
            H = 0.5 * (H + H.T)
        try:
            np.linalg.cholesky(H)
            direction = -np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            return _Ended(theta, f, g, step_count, "Hessian not positive definite")
        slope = float(g @ direction)
        if np.max(np.abs(direction), initial=0.0) < FINAL_STEP or -slope < FLAT * max(1.0, abs(f)):
            theta = theta + direction
            f, g = fun(theta)
            return _Ended(theta, f, g, step_count + 1, "Newton step below tolerance")
        scale = 1.0
        while scale > 1e-10:
            f_new, g_new = fun(theta + scale * direction)
            if np.isfinite(f_new) and f_new <= f + 1e-4 * scale * slope:
                break
            scale /= 2
        else:
            return _Ended(theta, f, g, step_count, "no step lowers the criterion")
        step, change = scale * direction, g_new - g
        theta, f, g = theta + step, f_new, g_new
        H = _bfgs_update(H, step, change)
    return _Ended(theta, f, g, NEWTON_MAX_STEPS, f"no convergence in {NEWTON_MAX_STEPS} Newton steps")


def _bfgs_update(H: np.ndarray, step: np.ndarray, change: np.ndarray) -> np.ndarray | None:
    """The BFGS update of the Hessian H from a step and the change in gradient over it (Nocedal &
    Wright 2006, eq. 6.19); None (compute a fresh one) where the curvature s'y is not positive."""
    curvature = float(step @ change)
    if not curvature > 1e-12 * np.linalg.norm(step) * np.linalg.norm(change):
        return None
    Hs = H @ step
    return H - np.outer(Hs, Hs) / float(step @ Hs) + np.outer(change, change) / curvature


def _ok(res) -> bool:
    """Optimiser ended at a stationary point (BFGS's 'precision loss' at the optimum counts)."""
    jac = getattr(res, "jac", None)
    return bool(np.isfinite(res.fun) and jac is not None
                and np.max(np.abs(jac), initial=0.0) < GRADIENT_TOLERANCE * max(1.0, abs(res.fun)))
