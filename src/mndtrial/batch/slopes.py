"""ALSFRS-R slope analysis for every trial at once: random intercept and slope, REML.

Model per trial (as `statsmodels` `mixedlm("total ~ months * arm", groups=subject,
re_formula="~months")` and `lme4` `total ~ months * arm + (months | subject)`):
    y_ij = β0 + β1 t_ij + β2 a_i + β3 t_ij a_i + b_0i + b_1i t_ij + ε_ij,
    (b_0i, b_1i) ~ N(0, σ² Ψ),  ε_ij ~ N(0, σ²),
where a_i is 1 on the active arm; β3 is the slope difference (points/month, active − control).

Because a participant's design rows are Z_i = [1, t] and X_i = [Z_i, a_i Z_i], everything the
REML likelihood needs is the participant's sufficient statistics S_i = Z_i'Z_i, z_i = Z_i'y_i,
y_i'y_i and n_i. With E_i = (I + S_i Ψ)^{-1}:  Z'V⁻¹Z σ² = E_i S_i, Z'V⁻¹y σ² = E_i z_i,
y'V⁻¹y σ² = y'y − z_i'Ψ E_i z_i and |V_i| = σ^{2 n_i} |I + S_i Ψ| (Woodbury). With σ² profiled
out, −2 × the REML log-likelihood is, up to a constant,
    f(Ψ) = (N − p) log r(Ψ) + Σ_i log|I + S_i Ψ| + log|X'V⁻¹X σ²|,
r the generalised residual sum of squares (Harville 1977; Bates et al. 2015, lme4 §3). Its
gradient in Ψ is analytic:
    ∂f/∂Ψ = Σ_i C_i − (N − p)/r Σ_i u_i u_i' − Σ_i C_i B(a_i) C_i,
with C_i = E_i S_i, u_i = Z_i'V⁻¹ e_i σ² (e the GLS residuals) and B(a) the (a-weighted) blocks
of (X'V⁻¹X σ²)⁻¹. Newton's method on the Cholesky factor of Ψ, with the Hessian from
differences of that gradient, runs for all trials together; a trial whose Ψ is singular at the
optimum (a boundary fit) or that does not converge is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from scipy import stats

from ..data import TrialBatch
from ..data.schema import DAYS_PER_MONTH
from ..errors import AnalysisError, ParameterError
from ._layout import pad_index, treatment_indicator
from ._result import BatchResult

__all__ = ["BatchSlopes", "SlopeBatchResult", "slopes_batch"]

N_FIXED = 4
_CELLS_PER_CHUNK = 600_000  # participants (padded) fitted together: ~50 arrays of this size live at once
BOUNDARY_CORRELATION = 1 - 1e-6  # |corr(b0, b1)| beyond this: Ψ singular, a boundary fit
# "compiled": the Newton iterations per trial in numba (`_slopes_kernel`); "numpy": the same
# algorithm as passes over (trials, width) arrays, kept as the reference the kernel must equal.
ENGINES = ("compiled", "numpy")


@dataclass(frozen=True, repr=False)
class SlopeBatchResult(BatchResult):
    """Per-trial REML fits; `slope_difference_per_month` is active minus control."""

    fixed_effects: np.ndarray  # (T, 4): intercept, months, arm, months:arm
    fixed_effects_cov: np.ndarray  # (T, 4, 4), σ²(X'V⁻¹X)⁻¹ given Ψ: lme4's vcov, mndtrial.analysis's
    fixed_effects_cov_observed: np.ndarray  # (T, 4, 4), joint observed information of (β, Ψ): statsmodels
    residual_variance: np.ndarray
    random_effects_cov: np.ndarray  # (T, 2, 2) = σ² Ψ
    reml_criterion: np.ndarray  # −2 REML log-likelihood (lme4's "REML criterion")
    n_subjects: np.ndarray
    n_observations: np.ndarray
    iterations: np.ndarray
    status: np.ndarray  # 'converged', 'boundary', 'not_converged', 'too_few_observations'

    @property
    def converged(self) -> np.ndarray:
        return self.status == "converged"

    @property
    def slope_difference_per_month(self) -> np.ndarray:
        return self.fixed_effects[:, 3]

    @property
    def slope_difference_se(self) -> np.ndarray:
        return np.sqrt(self.fixed_effects_cov[:, 3, 3])

    @property
    def slope_difference_se_observed(self) -> np.ndarray:
        """The SE statsmodels' `MixedLMResults.bse` reports (see `_observed_cov`)."""
        return np.sqrt(self.fixed_effects_cov_observed[:, 3, 3])

    @property
    def slope_control_per_month(self) -> np.ndarray:
        return self.fixed_effects[:, 1]

    @property
    def z(self) -> np.ndarray:
        return self.slope_difference_per_month / self.slope_difference_se

    def p_value(self, side: str = "two") -> np.ndarray:
        """Wald p-value of the slope difference; 'greater' tests a slower decline on the active arm."""
        if side == "two":
            return 2 * stats.norm.sf(np.abs(self.z))
        return stats.norm.sf(self.z) if side == "greater" else stats.norm.cdf(self.z)

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({"trial": self.trial, "n_subjects": self.n_subjects,
                             "n_observations": self.n_observations,
                             "slope_control_per_month": self.slope_control_per_month,
                             "slope_difference_per_month": self.slope_difference_per_month,
                             "slope_difference_se": self.slope_difference_se,
                             "slope_difference_se_observed": self.slope_difference_se_observed, "z": self.z,
                             "p_value": self.p_value(), "residual_variance": self.residual_variance,
                             "reml_criterion": self.reml_criterion, "iterations": self.iterations,
                             "status": self.status})


class BatchSlopes:
    """Random-intercept-and-slope REML model of ALSFRS-R total on months × arm, every trial.

    Example:
        >>> res = BatchSlopes().fit(batch).result_  # doctest: +SKIP
        >>> res.summary[["slope_difference_per_month", "slope_difference_se", "status"]]  # doctest: +SKIP
    """

    def __init__(self, active_arm: str | None = None, max_iter: int = 50, tol: float = 1e-8,
                 engine: str = "compiled"):
        if max_iter < 1:
            raise ParameterError("max_iter", max_iter, "must be at least 1")
        if engine not in ENGINES:
            raise ParameterError("engine", engine, f"must be one of {ENGINES}")
        self.active_arm = active_arm
        self.max_iter = max_iter
        self.tol = tol
        self.engine = engine

    def fit(self, batch: TrialBatch, subset: np.ndarray | None = None) -> "BatchSlopes":
        st = _sufficient_statistics(batch, self.active_arm, subset)
        # Trials are independent: fit them in slices to bound the memory of the (trials, width) arrays.
        step = max(1, _CELLS_PER_CHUNK // st["n"].shape[1])
        parts = [_fit({k: v[lo:lo + step] for k, v in st.items()}, batch.trial_index[lo:lo + step],
                      self.max_iter, self.tol, self.engine) for lo in range(0, batch.n_trials, step)]
        self.result_ = parts[0] if len(parts) == 1 else SlopeBatchResult(
            **{f.name: np.concatenate([getattr(r, f.name) for r in parts]) for f in fields(SlopeBatchResult)})
        return self


def slopes_batch(batch: TrialBatch, subset: np.ndarray | None = None,
                 active_arm: str | None = None) -> SlopeBatchResult:
    """Functional form of `BatchSlopes(active_arm).fit(batch, subset).result_`."""
    return BatchSlopes(active_arm).fit(batch, subset).result_


def _participant_rows(batch: TrialBatch) -> np.ndarray:
    """Participant row of each ALSFRS-R row (trial, subject) → row in `participants`."""
    p, a = batch.participants, batch.alsfrs
    key_p = p["trial"].to_numpy().astype(np.int64) * (1 << 32) + p["subject"].to_numpy()
    key_a = a["trial"].to_numpy().astype(np.int64) * (1 << 32) + a["subject"].to_numpy()
    order = np.argsort(key_p, kind="stable")
    pos = np.searchsorted(key_p, key_a, sorter=order)
    found = pos < len(order)
    found[found] = key_p[order[pos[found]]] == key_a[found]
    if not found.all():
        raise AnalysisError("slope analysis", f"{int((~found).sum())} ALSFRS-R rows belong to no participant")
    return order[pos]


def _sufficient_statistics(batch: TrialBatch, active_arm, subset) -> dict:
    if batch.alsfrs is None or len(batch.alsfrs) == 0:
        raise AnalysisError("slope analysis", "the batch has no ALSFRS-R table")
    group, keep = treatment_indicator(batch, active_arm, subset)
    row = _participant_rows(batch)
    t = batch.alsfrs["day"].to_numpy(dtype=float, na_value=np.nan) / DAYS_PER_MONTH
    y = batch.alsfrs["total"].to_numpy(dtype=float, na_value=np.nan)
    missing = ~(np.isfinite(t) & np.isfinite(y))
    if missing.any():  # else every fit of the chunk fails inside numpy's linear algebra
        raise AnalysisError("slope analysis", f"{int(missing.sum())} ALSFRS-R rows have a missing day or total")
    m = len(batch.participants)

    def per_subject(w):
        return np.bincount(row, weights=w, minlength=m)

    n = np.bincount(row, minlength=m).astype(float)
    stats_ = {"n": n, "s01": per_subject(t), "s11": per_subject(t * t), "z0": per_subject(y),
              "z1": per_subject(t * y), "yy": per_subject(y * y)}
    use = keep & (n > 0)
    trial = batch.participants["trial"].to_numpy()[use] - batch.first_trial
    index, valid = pad_index(trial, batch.n_trials)
    rows = np.flatnonzero(use)[index]
    out = {k: np.where(valid, v[rows], 0.0) for k, v in stats_.items()}
    out["s00"] = out["n"]
    out["a"] = np.where(valid, group[rows], 0.0)
    return out


def _psi(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    l00, l10, l11 = theta[:, 0], theta[:, 1], theta[:, 2]
    return l00 * l00, l00 * l10, l10 * l10 + l11 * l11


def _subject_terms(st: dict, theta: np.ndarray) -> dict:
    """Per-participant C = E S, E z (as e0, e1), y'V⁻¹y σ² and |I + SΨ|, E = (I + SΨ)⁻¹."""
    p00, p01, p11 = (v[:, None] for v in _psi(theta))
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


def _gls_residual_scores(st: dict, sub: dict, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """u_i = Z_i'V⁻¹(y_i − X_i β) σ² per participant."""
    a = st["a"]
    v0 = beta[:, 0:1] + a * beta[:, 2:3]
    v1 = beta[:, 1:2] + a * beta[:, 3:4]
    return sub["e0"] - (sub["c00"] * v0 + sub["c01"] * v1), sub["e1"] - (sub["c01"] * v0 + sub["c11"] * v1)


def _evaluate(st: dict, theta: np.ndarray, gradient: bool = True) -> dict:
    """REML criterion (and its gradient in θ, the Cholesky factor of Ψ) for each trial."""
    sub = _subject_terms(st, theta)
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
    u0, u1 = _gls_residual_scores(st, sub, beta)
    # B(a) = B11 + a (B12 + B21 + B22), entry by entry as contiguous (T, W) arrays.
    B0, D = A_inv[:, :2, :2], A_inv[:, :2, 2:] + A_inv[:, 2:, :2] + A_inv[:, 2:, 2:]
    b00, b01, b10, b11 = (B0[:, i, j][:, None] + a * D[:, i, j][:, None] for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))
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


def _observed_cov(st: dict, theta: np.ndarray, ev: dict, hess: np.ndarray, sigma2: np.ndarray) -> np.ndarray:
    """Covariance of β from the observed information of (β, Ψ) jointly, as statsmodels reports it.

    statsmodels inverts the Hessian of its REML log-likelihood in (β, Ψ); by the block-inverse
    (Schur) identity that is σ²A⁻¹ + σ²A⁻¹ H_βθ (H_θθ/2)⁻¹ H_θβ A⁻¹σ², where H_θθ is the
    Hessian of the profiled criterion f and H_βθ = ∂²ℓ/∂β∂θ, which is not zero at the optimum in a
    finite sample. lme4 and mndtrial.analysis report the first term alone (the default SE).
    """
    sub = _subject_terms(st, theta)
    u0, u1 = _gls_residual_scores(st, sub, ev["beta"])
    c00, c01, c11, a = sub["c00"], sub["c01"], sub["c11"], st["a"]
    # C E_j u for Ψ entries j = (00, 01, 11); E_01 has both off-diagonal ones.
    w = [(c00 * u0, c01 * u0), (c00 * u1 + c01 * u0, c01 * u1 + c11 * u0), (c01 * u1, c11 * u1)]
    H_fpsi = np.stack([np.stack([w0.sum(1), w1.sum(1), (a * w0).sum(1), (a * w1).sum(1)], axis=1)
                       for w0, w1 in w], axis=2) / -sigma2[:, None, None]
    l00, l10, l11 = theta[:, 0], theta[:, 1], theta[:, 2]
    zero = np.zeros_like(l00)
    J = np.stack([np.stack([2 * l00, zero, zero], 1), np.stack([l10, l00, zero], 1),
                  np.stack([zero, 2 * l10, 2 * l11], 1)], axis=1)
    H_ftheta = H_fpsi @ J
    cond = sigma2[:, None, None] * ev["A_inv"]
    middle = np.linalg.pinv(hess / 2, hermitian=True)
    return cond + cond @ H_ftheta @ middle @ H_ftheta.transpose(0, 2, 1) @ cond


def _start(st: dict) -> np.ndarray:
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


def _hessian(st: dict, theta: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """Hessian of the criterion by forward differences of the analytic gradient (symmetrised)."""
    T = theta.shape[0]
    H = np.empty((T, 3, 3))
    for k in range(3):
        h = 1e-6 * np.maximum(np.abs(theta[:, k]), 1e-2)
        moved = theta.copy()
        moved[:, k] += h
        H[:, :, k] = (_evaluate(st, moved)["grad"] - grad) / h[:, None]
    return 0.5 * (H + H.transpose(0, 2, 1))


def _newton_step(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """−H⁻¹g with H's eigenvalues made positive (a descent direction even away from the optimum)."""
    w, V = np.linalg.eigh(H)
    w = np.maximum(np.abs(w), 1e-8 * np.maximum(np.abs(w).max(axis=1, keepdims=True), 1e-12))
    return -np.einsum("tij,tj,tkj,tk->ti", V, 1 / w, V, g)


def _fit(st: dict, trial_index: np.ndarray, max_iter: int, tol: float, engine: str = "numpy") -> SlopeBatchResult:
    T = len(trial_index)
    n_obs = st["n"].sum(1)
    n_subj = (st["n"] > 0).sum(1)
    n_arm = np.stack([((st["n"] > 0) & (st["a"] == v)).sum(1) for v in (0.0, 1.0)], axis=1)
    st = dict(st, N=n_obs)
    status = np.full(T, "not_converged", dtype=object)
    status[(n_obs - N_FIXED < 1) | (n_arm.min(axis=1) < 1) | (n_subj < 3)] = "too_few_observations"
    theta = _start(st)
    theta[status != "not_converged"] = 1.0
    if engine == "compiled":
        theta, iterations, hess = _optimise_compiled(st, theta, status, max_iter, tol)
        ev = _evaluate(st, theta, gradient=False)
        return _finish(st, trial_index, theta, ev, hess, status, iterations, n_obs, n_subj)
    ev = _evaluate(st, theta)
    iterations = np.zeros(T, dtype=np.int64)
    hess = np.zeros((T, 3, 3))
    for _ in range(max_iter):
        idx = np.flatnonzero(status == "not_converged")
        if idx.size == 0:
            break
        sub = {k: v[idx] for k, v in st.items()}
        th, g = theta[idx], ev["grad"][idx]
        H = _hessian(sub, th, g)
        hess[idx] = H
        step = _newton_step(H, g)
        decrement = -(step * g).sum(1)
        done = (decrement < tol) & np.isfinite(ev["f"][idx])
        status[idx[done]] = "converged"
        keep = ~done
        idx, th, step, sub = idx[keep], th[keep], step[keep], {k: v[keep] for k, v in sub.items()}
        if idx.size == 0:
            break
        iterations[idx] += 1
        f_old = ev["f"][idx]
        scale = np.ones(len(idx))
        for _half in range(40):
            new = th + scale[:, None] * step
            trial_ev = _evaluate(sub, new)
            worse = ~(trial_ev["f"] <= f_old + 1e-12 * np.abs(f_old))
            if not worse.any():
                break
            scale[worse] /= 2
        theta[idx] = new
        for key in ev:
            ev[key][idx] = trial_ev[key]
    stale = np.flatnonzero(status == "not_converged")
    if stale.size:
        hess[stale] = _hessian({k: v[stale] for k, v in st.items()}, theta[stale], ev["grad"][stale])
    return _finish(st, trial_index, theta, ev, hess, status, iterations, n_obs, n_subj)


def _optimise_compiled(st: dict, theta: np.ndarray, status: np.ndarray, max_iter: int, tol: float):
    from ._slopes_kernel import optimise

    code = np.where(status == "not_converged", 1, 0).astype(np.int64)
    arrays = [np.ascontiguousarray(st[k], dtype=float) for k in ("s00", "s01", "s11", "z0", "z1", "yy", "a")]
    theta = np.ascontiguousarray(theta, dtype=float)
    iterations, hess = optimise(*arrays, np.asarray(st["N"], dtype=float), theta, code, max_iter, tol)
    status[code == 2] = "converged"
    return theta, iterations, hess


def _finish(st, trial_index, theta, ev, hess, status, iterations, n_obs, n_subj) -> SlopeBatchResult:
    p00, p01, p11 = _psi(theta)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma2 = ev["r"] / (n_obs - N_FIXED)
        observed = _observed_cov(st, theta, ev, hess, sigma2)
        reml = ev["f"] + (n_obs - N_FIXED) * (1 + np.log(2 * np.pi * sigma2) - np.log(ev["r"]))
    psi = np.stack([np.stack([p00, p01], 1), np.stack([p01, p11], 1)], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = p01 / np.sqrt(p00 * p11)
    status[(status == "converged") & ~(np.abs(corr) < BOUNDARY_CORRELATION)] = "boundary"
    return SlopeBatchResult(trial=trial_index, fixed_effects=ev["beta"],
                            fixed_effects_cov=sigma2[:, None, None] * ev["A_inv"],
                            fixed_effects_cov_observed=observed, residual_variance=sigma2,
                            random_effects_cov=sigma2[:, None, None] * psi, reml_criterion=reml,
                            n_subjects=n_subj, n_observations=n_obs.astype(np.int64), iterations=iterations,
                            status=status.astype(str))
