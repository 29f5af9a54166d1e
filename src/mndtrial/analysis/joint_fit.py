"""Maximum likelihood for the joint model: start values, adaptive re-centring, Newton polish,
observed information, convergence diagnostics (the model is in `joint_likelihood`).

Strategy: BFGS on the likelihood with the quadrature nodes held fixed (its analytic gradient is
exact for that objective), re-centre the nodes at the new estimate, repeat until the nodes stop
moving; then Newton steps with the observed information (a central-difference Jacobian of the
analytic gradient, nodes re-centred at each step) until the gradient is ~0. At that fixed
point the estimate maximises the adaptive-quadrature likelihood. The covariance of θ is the
inverse of that numerical Hessian (observed information). Nothing is reported as an estimate
unless the gradient is small and the Hessian positive definite: `JointMLE.converged` says so
and `problems` says why not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .joint_likelihood import JointData, adaptive_nodes, evaluate

__all__ = ["JointMLE", "fit_joint", "start_values", "observed_information"]

GRADIENT_TOLERANCE = 1e-4   # max |∂ loglik/∂θ| at the reported estimate
MAX_RECENTRES = 8
MAX_NEWTON = 8


@dataclass(frozen=True)
class JointMLE:
    """θ̂, its covariance (inverse observed information) and how the fit went."""

    theta: np.ndarray
    cov: np.ndarray
    loglik: float
    converged: bool
    problems: tuple[str, ...]
    diagnostics: dict


def start_values(data: JointData) -> np.ndarray:
    """OLS fixed effects; random-effect and residual scales from per-subject least squares;
    a constant baseline hazard of events/exposure (per piece when piecewise); γ = α = 0."""
    beta = np.linalg.lstsq(data.X, data.y, rcond=None)[0]
    e = data.y - data.X @ beta
    coefs, resid = [], []
    for i in range(data.n):
        rows = data.subject == i
        if rows.sum() >= 3 and np.ptp(data.t[rows]) > 0:
            Z = np.column_stack([np.ones(rows.sum()), data.t[rows]])
            c = np.linalg.lstsq(Z, e[rows], rcond=None)[0]
            coefs.append(c)
            resid.append(e[rows] - Z @ c)
    sigma = float(np.std(np.concatenate(resid))) if resid else float(np.std(e))
    spread = np.std(np.array(coefs), axis=0) if len(coefs) >= 3 else np.array([np.std(e), 0.5])
    spread = np.maximum(spread, [0.5, 0.05])
    log_lambda = data.baseline.start(data.time_months, data.event)
    return np.concatenate([beta, [np.log(max(sigma, 1e-3))], [np.log(spread[0]), 0.0, np.log(spread[1])],
                           log_lambda, np.zeros(data.W.shape[1]), np.zeros(len(data.associations))])


def observed_information(theta: np.ndarray, data: JointData, points: int) -> np.ndarray:
    """−∂²loglik/∂θ² by central differences of the analytic gradient (nodes fixed at θ)."""
    nodes = adaptive_nodes(theta, data, points)
    k = len(theta)
    J = np.empty((k, k))
    for j in range(k):
        h = 1e-5 * max(1.0, abs(theta[j]))
        step = np.zeros(k)
        step[j] = h
        J[:, j] = (evaluate(theta + step, data, nodes)[1] - evaluate(theta - step, data, nodes)[1]) / (2 * h)
    return -(J + J.T) / 2


def fit_joint(data: JointData, points: int = 5, start: np.ndarray | None = None) -> JointMLE:
    """Maximise the adaptive Gauss–Hermite likelihood; see the module docstring."""
    theta = start_values(data) if start is None else np.asarray(start, float).copy()
    log: list[str] = []
    n_evals = 0
    recentred = False
    for outer in range(MAX_RECENTRES):
        nodes = adaptive_nodes(theta, data, points)

        def objective(th: np.ndarray) -> tuple[float, np.ndarray]:
            f, g = evaluate(th, data, nodes)
            return (-f, -g) if np.isfinite(f) else (np.inf, np.zeros_like(th))

        from scipy.optimize import minimize  # here: scipy.optimize costs ~0.3 s to import

        res = minimize(objective, theta, jac=True, method="BFGS", options={"gtol": 1e-5, "maxiter": 3000})
        n_evals += int(res.nfev)
        moved = float(np.max(np.abs(res.x - theta)))
        theta = res.x
        if not res.success:
            log.append(f"re-centring {outer + 1}: BFGS stopped: {res.message}")
        if moved < 1e-4:
            recentred = True
            break
    if not recentred:
        log.append(f"the quadrature nodes were still moving after {MAX_RECENTRES} re-centrings")
    gradient_max = np.inf
    information = None
    for step in range(MAX_NEWTON):
        nodes = adaptive_nodes(theta, data, points)
        loglik, grad = evaluate(theta, data, nodes)
        gradient_max = float(np.max(np.abs(grad)))
        if gradient_max < 1e-8:
            break
        if information is None:  # one Hessian serves every polishing step (they are few and short)
            information = observed_information(theta, data, points)
        try:
            delta = np.linalg.solve(information, grad)
        except np.linalg.LinAlgError:
            log.append("Newton polish: the observed information is singular")
            break
        # a Newton step may overshoot far from the optimum; halve until the likelihood rises
        for _ in range(20):
            trial_theta = theta + delta
            trial_ll = evaluate(trial_theta, data, adaptive_nodes(trial_theta, data, points), gradient=False)[0]
            if np.isfinite(trial_ll) and trial_ll >= loglik - 1e-9:
                break
            delta = delta / 2
        theta = trial_theta
    nodes = adaptive_nodes(theta, data, points)
    loglik, grad = evaluate(theta, data, nodes)
    gradient_max = float(np.max(np.abs(grad)))
    information = observed_information(theta, data, points)
    eigen = np.linalg.eigvalsh(information)
    problems = []
    if not np.isfinite(loglik):
        problems.append("the log-likelihood is not finite at the estimate")
    if gradient_max > GRADIENT_TOLERANCE:
        problems.append(f"not converged: max |gradient| = {gradient_max:.2e} > {GRADIENT_TOLERANCE:g}")
    if eigen.min() <= 0:
        problems.append(f"the observed information is not positive definite (smallest eigenvalue {eigen.min():.2e}): "
                        "a parameter is not identified by these data")
    cov = np.linalg.inv(information) if eigen.min() > 0 else np.full_like(information, np.nan)
    finer = evaluate(theta, data, adaptive_nodes(theta, data, points + 4), gradient=False)[0]
    quadrature_change = float(finer - loglik)
    if abs(quadrature_change) > 0.01:
        problems.append(f"the log-likelihood moves by {quadrature_change:.3g} with {points + 4} instead of {points} "
                        "quadrature points per dimension: use more points")
    diagnostics = {"gradient_max_abs": gradient_max, "information_min_eigenvalue": float(eigen.min()),
                   "information_condition": float(eigen.max() / eigen.min()) if eigen.min() > 0 else None,
                   "quadrature_points": points, "loglik_change_with_more_points": quadrature_change,
                   "bfgs_evaluations": n_evals, "log": log}
    return JointMLE(theta=theta, cov=cov, loglik=loglik, converged=not problems, problems=tuple(problems),
                    diagnostics=diagnostics)
