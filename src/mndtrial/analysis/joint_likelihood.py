"""The log-likelihood of the shared-parameter joint model and its gradient (vectorised numpy).

Model (time t in months since randomisation, subject i):

    y_ij = m_i(t_ij) + ε_ij,   ε ~ N(0, σ²)
    m_i(t) = (X0_i + t·X1_i)'β + b0_i + b1_i·t,   (b0_i, b1_i) ~ N(0, D),  D = L L'
    h_i(t) = λ(t) · exp(W_i'γ + α_value·m_i(t) + α_slope·m_i'(t)),   log λ(t) = B(t)'φ

X0 holds the terms constant in time (intercept, arm, covariates), X1 those multiplied by time
(months, months × arm, months × covariates), so the true trajectory is linear: intercept
u_i = X0_i'β + b0_i, slope v_i = X1_i'β + b1_i. The baseline hazard is piecewise constant,
Weibull or a B-spline on the log scale (`joint_baseline.BaselineHazard`: linear in φ). The
cumulative hazard is integrated by Gauss–Legendre within each interval of the baseline's grid
(exact up to rounding for the piecewise baseline, whose log hazard is linear in t within a piece).

The integral over (b0, b1) is adaptive Gauss–Hermite: nodes b = μ_i + C_i z_q on the product
rule for exp(−z'z/2), centred and scaled per subject (μ_i, C_i C_i' = the posterior mean and
covariance of b given subject i's ALSFRS-R at the reference parameters, refined by Newton steps
to the mode and curvature of the full posterior, survival included). With the nodes held fixed
the approximation is a smooth function of θ whose exact gradient is Σ_q π_iq ∂ℓ_iq/∂θ
(π = posterior weights of the nodes), which is what `evaluate` returns; the fit re-centres the
nodes until they stop moving (Rizopoulos, JM; Pinheiro & Bates 1995 for adaptive GH).

Parameter vector θ: β (p), log σ, log L11, L21, log L22, φ (K baseline coefficients), γ (q), α (0, 1 or 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss
from scipy.special import logsumexp

from .joint_baseline import BaselineHazard

__all__ = ["JointData", "Nodes", "make_joint_data", "unpack", "adaptive_nodes", "evaluate",
           "ASSOCIATIONS"]

ASSOCIATIONS = {"none": (), "value": ("value",), "slope": ("slope",), "both": ("value", "slope")}
LEGENDRE_POINTS = 5


@dataclass(frozen=True)
class JointData:
    """Arrays the likelihood reads. Observations are sorted by subject."""

    y: np.ndarray          # (N,) ALSFRS-R totals
    t: np.ndarray          # (N,) months of each visit
    subject: np.ndarray    # (N,) subject index 0..n-1
    X0: np.ndarray         # (n, p) fixed-effect terms constant in time
    X1: np.ndarray         # (n, p) fixed-effect terms multiplied by time
    W: np.ndarray          # (n, q) survival covariates (arm indicators first)
    time_months: np.ndarray  # (n,) follow-up time
    event: np.ndarray      # (n,) 1 = event
    baseline: BaselineHazard
    associations: tuple[str, ...]
    # derived
    n_visits: np.ndarray = None   # type: ignore[assignment]
    sum_t: np.ndarray = None      # type: ignore[assignment]
    sum_tt: np.ndarray = None     # type: ignore[assignment]
    X: np.ndarray = None          # type: ignore[assignment]
    basis_event: np.ndarray = None  # type: ignore[assignment]  # (n, K) B(T_i)
    gl_time: np.ndarray = None    # (n, M) Gauss–Legendre times, M = grid intervals · G
    gl_weight: np.ndarray = None  # (n, M) their weights (0 outside follow-up)
    basis_gl: np.ndarray = None   # type: ignore[assignment]  # (n, M, K) B at those times

    @property
    def n(self) -> int:
        return len(self.time_months)

    @property
    def cuts_months(self) -> np.ndarray:
        """The Gauss–Legendre grid (for the piecewise baseline, its pieces)."""
        return self.baseline.grid_months

    @property
    def n_baseline(self) -> int:
        return self.baseline.size

    @property
    def n_params(self) -> int:
        return self.X0.shape[1] + 4 + self.n_baseline + self.W.shape[1] + len(self.associations)


def make_joint_data(y, t, subject, X0, X1, W, time_months, event, baseline: BaselineHazard | np.ndarray,
                    associations: tuple[str, ...]) -> JointData:
    """Validate shapes and precompute per-subject sums and the Gauss–Legendre grid.

    `baseline` is a `BaselineHazard`, or an array of cuts (0, ..., inf) for a piecewise-constant one.
    """
    y, t = np.asarray(y, float), np.asarray(t, float)
    subject = np.asarray(subject, int)
    X0, X1, W = (np.atleast_2d(np.asarray(a, float)) for a in (X0, X1, W))
    time_months, event = np.asarray(time_months, float), np.asarray(event, float)
    if not isinstance(baseline, BaselineHazard):
        baseline = BaselineHazard.piecewise(baseline)
    cuts = baseline.grid_months
    n = len(time_months)
    if np.any(np.diff(subject) < 0):
        raise ValueError("observations must be sorted by subject")
    if cuts[0] != 0 or not np.isinf(cuts[-1]) or np.any(np.diff(cuts) <= 0):
        raise ValueError("cuts must start at 0, increase and end at inf")
    n_visits = np.bincount(subject, minlength=n).astype(float)
    sum_t = np.bincount(subject, t, minlength=n)
    sum_tt = np.bincount(subject, t * t, minlength=n)
    X = X0[subject] + t[:, None] * X1[subject]
    x, w = leggauss(LEGENDRE_POINTS)
    lo, hi = baseline.intervals(time_months)
    half = (hi - lo) / 2
    gl_time = (lo[..., None] + half[..., None] * (x + 1)).reshape(n, -1)
    gl_weight = (half[..., None] * w).reshape(n, -1)
    return JointData(y=y, t=t, subject=subject, X0=X0, X1=X1, W=W, time_months=time_months, event=event,
                     baseline=baseline, associations=tuple(associations), n_visits=n_visits, sum_t=sum_t,
                     sum_tt=sum_tt, X=X, basis_event=baseline.basis(time_months), gl_time=gl_time,
                     gl_weight=gl_weight, basis_gl=baseline.basis(gl_time))


def unpack(theta: np.ndarray, data: JointData) -> dict[str, np.ndarray]:
    """θ → named blocks; `L` is the Cholesky factor of D, `alpha` = (α_value, α_slope) with 0 where unused,
    `log_lambda` the baseline coefficients φ."""
    p, K, q = data.X0.shape[1], data.n_baseline, data.W.shape[1]
    i = 0
    beta = theta[i:i + p]; i += p
    sigma = np.exp(theta[i]); i += 1
    L = np.array([[np.exp(theta[i]), 0.0], [theta[i + 1], np.exp(theta[i + 2])]]); i += 3
    log_lambda = theta[i:i + K]; i += K
    gamma = theta[i:i + q]; i += q
    alpha = np.zeros(2)
    for name in data.associations:
        alpha[0 if name == "value" else 1] = theta[i]; i += 1
    return {"beta": beta, "sigma": sigma, "L": L, "log_lambda": log_lambda, "gamma": gamma, "alpha": alpha}


@dataclass(frozen=True)
class Nodes:
    """Per-subject quadrature nodes b (n, Q, 2) and log weights (n, Q), log|C_i| included;
    `centre` (n, 2) and `scale` (n, 2, 2) are μ_i and C_i of b = μ_i + C_i z."""

    b: np.ndarray
    log_weight: np.ndarray
    centre: np.ndarray
    scale: np.ndarray


def _rule(points: int) -> tuple[np.ndarray, np.ndarray]:
    z, w = hermegauss(points)
    Z = np.stack(np.meshgrid(z, z, indexing="ij"), -1).reshape(-1, 2)
    lw = (np.log(w)[:, None] + np.log(w)[None, :]).reshape(-1)
    return Z, lw + 0.5 * (Z ** 2).sum(1)


def _node_terms(theta: np.ndarray, data: JointData, b: np.ndarray) -> dict[str, np.ndarray]:
    """ℓ_iq (log joint density of data and b at each node) and the pieces its derivatives need."""
    P = unpack(theta, data)
    beta, sigma, L = P["beta"], P["sigma"], P["L"]
    a1, a2 = P["alpha"]
    e = data.y - data.X @ beta
    n = data.n
    s_e = np.bincount(data.subject, e, minlength=n)
    s_et = np.bincount(data.subject, e * data.t, minlength=n)
    s_ee = np.bincount(data.subject, e * e, minlength=n)
    b0, b1 = b[..., 0], b[..., 1]
    rss = (s_ee[:, None] - 2 * b0 * s_e[:, None] - 2 * b1 * s_et[:, None] + b0 ** 2 * data.n_visits[:, None]
           + 2 * b0 * b1 * data.sum_t[:, None] + b1 ** 2 * data.sum_tt[:, None])
    ll_long = -0.5 * data.n_visits[:, None] * np.log(2 * np.pi * sigma ** 2) - 0.5 * rss / sigma ** 2
    u = (data.X0 @ beta)[:, None] + b0
    v = (data.X1 @ beta)[:, None] + b1
    eta = data.W @ P["gamma"]
    log_base = data.basis_gl @ P["log_lambda"]                                    # (n, M)
    log_A = eta[:, None] + a1 * u + a2 * v                                        # (n, Q)
    E = np.exp(log_A[..., None] + a1 * v[..., None] * data.gl_time[:, None, :])    # (n, Q, M)
    E *= (np.exp(log_base) * data.gl_weight)[:, None, :]
    H = E.sum(-1)
    Es = np.einsum("iqm,im->iq", E, data.gl_time)
    T, d = data.time_months[:, None], data.event[:, None]
    log_h = (data.basis_event @ P["log_lambda"])[:, None] + eta[:, None] + a1 * (u + v * T) + a2 * v
    ll_surv = d * log_h - H
    Linv = np.linalg.inv(L)
    w = b @ Linv.T                                                                # L⁻¹ b
    ll_prior = -np.log(2 * np.pi) - np.log(L[0, 0]) - np.log(L[1, 1]) - 0.5 * (w ** 2).sum(-1)
    return {"ll": ll_long + ll_surv + ll_prior, "P": P, "e": e, "rss": rss, "u": u, "v": v, "E": E, "H": H,
            "Es": Es, "Linv": Linv, "s_e": s_e, "s_et": s_et}


def adaptive_nodes(theta: np.ndarray, data: JointData, points: int, newton_steps: int = 3) -> Nodes:
    """Nodes centred at the mode of each subject's posterior of b, scaled by its curvature.

    Start: the exact Gaussian posterior given the ALSFRS-R alone; then Newton steps on the full
    log posterior (survival included), vectorised over subjects with 2×2 Hessians.
    """
    P = unpack(theta, data)
    sigma2, D = P["sigma"] ** 2, P["L"] @ P["L"].T
    Dinv = np.linalg.inv(D)
    e = data.y - data.X @ P["beta"]
    ztz = np.stack([np.stack([data.n_visits, data.sum_t], -1), np.stack([data.sum_t, data.sum_tt], -1)], -2)
    prec = Dinv + ztz / sigma2                                                    # (n, 2, 2)
    zte = np.stack([np.bincount(data.subject, e, minlength=data.n),
                    np.bincount(data.subject, e * data.t, minlength=data.n)], -1) / sigma2
    mode = np.linalg.solve(prec, zte[..., None])[..., 0]
    a1, a2 = P["alpha"]
    if a1 != 0 or a2 != 0:
        for _ in range(newton_steps):
            k = _node_terms(theta, data, mode[:, None, :])
            E, H, Es = k["E"][:, 0], k["H"][:, 0], k["Es"][:, 0]
            d, T = data.event, data.time_months
            grad = zte - np.einsum("ijk,ik->ij", prec, mode)
            grad[:, 0] += a1 * d - a1 * H
            grad[:, 1] += d * (a1 * T + a2) - a1 * Es - a2 * H
            s = data.gl_time
            h00 = a1 ** 2 * H
            h01 = a1 * (a1 * Es + a2 * H)
            h11 = (E * (a1 * s + a2) ** 2).sum(-1)
            hess = prec + np.stack([np.stack([h00, h01], -1), np.stack([h01, h11], -1)], -2)
            mode = mode + np.linalg.solve(hess, grad[..., None])[..., 0]
        k = _node_terms(theta, data, mode[:, None, :])
        E, H, Es = k["E"][:, 0], k["H"][:, 0], k["Es"][:, 0]
        s = data.gl_time
        h00, h01, h11 = a1 ** 2 * H, a1 * (a1 * Es + a2 * H), (E * (a1 * s + a2) ** 2).sum(-1)
        prec = prec + np.stack([np.stack([h00, h01], -1), np.stack([h01, h11], -1)], -2)
    cov = np.linalg.inv(prec)
    C = np.linalg.cholesky(cov)
    Z, lw = _rule(points)
    b = mode[:, None, :] + np.einsum("ijk,qk->iqj", C, Z)
    log_det = np.log(C[:, 0, 0]) + np.log(C[:, 1, 1])
    return Nodes(b=b, log_weight=lw[None, :] + log_det[:, None], centre=mode, scale=C)


def evaluate(theta: np.ndarray, data: JointData, nodes: Nodes, gradient: bool = True
             ) -> tuple[float, np.ndarray | None]:
    """Total log-likelihood (nodes fixed) and its exact gradient with respect to θ."""
    k = _node_terms(theta, data, nodes.b)
    terms = nodes.log_weight + k["ll"]
    per_subject = logsumexp(terms, axis=1)
    loglik = float(per_subject.sum())
    if not gradient:
        return loglik, None
    pi = np.exp(terms - per_subject[:, None])                                     # posterior node weights
    P, b = k["P"], nodes.b
    sigma2 = P["sigma"] ** 2
    a1, a2 = P["alpha"]
    m0, m1 = (pi * b[..., 0]).sum(1), (pi * b[..., 1]).sum(1)
    # β, longitudinal: X'(y − Xβ − Z b̄)/σ²
    r_bar = k["e"] - m0[data.subject] - m1[data.subject] * data.t
    g_beta = data.X.T @ r_bar / sigma2
    g_log_sigma = float(((pi * k["rss"]).sum(1) / sigma2 - data.n_visits).sum())
    d, T = data.event[:, None], data.time_months[:, None]
    H, Es, E, u, v = k["H"], k["Es"], k["E"], k["u"], k["v"]
    dl_du = a1 * d - a1 * H
    dl_dv = d * (a1 * T + a2) - a1 * Es - a2 * H
    g_beta = g_beta + data.X0.T @ (pi * dl_du).sum(1) + data.X1.T @ (pi * dl_dv).sum(1)
    # D = L L': gradient of Σ log N(b; 0, D) is D⁻¹ M L⁻ᵀ − diag(1/L) per subject, M = E[b b']
    M = np.einsum("iq,iqj,iqk->jk", pi, b, b)
    Linv = k["Linv"]
    Gm = Linv.T @ Linv @ M @ Linv.T
    L = P["L"]
    n = data.n
    g_chol = [L[0, 0] * Gm[0, 0] - n, Gm[1, 0], L[1, 1] * Gm[1, 1] - n]
    g_log_lambda = data.basis_event.T @ data.event - np.einsum("im,imk->k", np.einsum("iq,iqm->im", pi, E),
                                                                 data.basis_gl)
    H_bar = (pi * H).sum(1)
    g_gamma = data.W.T @ (data.event - H_bar)
    g_alpha = []
    for name in data.associations:
        if name == "value":
            g_alpha.append(float((pi * (d * (u + v * T) - H * u - Es * v)).sum()))
        else:
            g_alpha.append(float((pi * (d * v - H * v)).sum()))
    grad = np.concatenate([g_beta, [g_log_sigma], g_chol, g_log_lambda, g_gamma, g_alpha])
    return loglik, grad
