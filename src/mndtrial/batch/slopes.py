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
of (X'V⁻¹X σ²)⁻¹; so is its Hessian (formulas in `_slopes_kernel`). Newton's method runs on the
Cholesky factor of Ψ for every trial; a trial whose Ψ is singular at the optimum (a boundary fit)
or that does not converge is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from ..analysis.distributions import norm_cdf, norm_sf
from ..data import TrialBatch
from ..data.schema import DAYS_PER_MONTH
from ..errors import AnalysisError, ParameterError
from . import _slopes_numpy as _numpy
from ._layout import pad_index, treatment_indicator
from ._result import BatchResult

__all__ = ["BatchSlopes", "SlopeBatchResult", "slopes_batch"]

N_FIXED = 4
_CELLS_PER_CHUNK = 600_000  # participants (padded) fitted together: ~50 arrays of this size live at once
BOUNDARY_CORRELATION = 1 - 1e-6  # |corr(b0, b1)| beyond this: Ψ singular, a boundary fit
# "compiled": per trial in numba on groups of participants sharing a visit pattern (`_slopes_kernel`);
# "numpy": the same algorithm participant by participant over (trials, width) arrays
# (`_slopes_numpy`), kept as the reference the kernel must equal.
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
            return 2 * norm_sf(np.abs(self.z))
        return norm_sf(self.z) if side == "greater" else norm_cdf(self.z)

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
        if self.engine == "compiled":
            self.result_ = _fit_compiled(batch, self.active_arm, subset, self.max_iter, self.tol)
            return self
        st = _sufficient_statistics(batch, self.active_arm, subset)
        # Trials are independent: fit them in slices to bound the memory of the (trials, width) arrays.
        step = max(1, _CELLS_PER_CHUNK // st["n"].shape[1])
        parts = [_fit_numpy({k: v[lo:lo + step] for k, v in st.items()}, batch.trial_index[lo:lo + step],
                            self.max_iter, self.tol) for lo in range(0, batch.n_trials, step)]
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


def _float_column(values: pd.Series) -> np.ndarray:
    return values.to_numpy() if values.dtype == np.float64 else values.to_numpy(dtype=float, na_value=np.nan)


def _participant_sums(batch: TrialBatch) -> np.ndarray:
    """Each participant's n, Σt, Σt², Σy, Σty, Σy² (t in months), (6, P): one pass over the ALSFRS-R rows."""
    if batch.alsfrs is None or len(batch.alsfrs) == 0:
        raise AnalysisError("slope analysis", "the batch has no ALSFRS-R table")
    from ._slopes_kernel import participant_sums

    p, a = batch.participants, batch.alsfrs
    t, y = _float_column(a["day"]), _float_column(a["total"])
    ids = [np.ascontiguousarray(v.to_numpy(), dtype=np.int64) for v in (p["trial"], p["subject"], a["trial"],
                                                                         a["subject"])]
    out = np.zeros((6, len(p)))
    ordered, orphan, missing = participant_sums(*ids, t, y, DAYS_PER_MONTH, out)
    if not ordered:  # tables not sorted by (trial, subject): look each row up
        row = _participant_rows(batch)
        t = t / DAYS_PER_MONTH
        missing = int((~(np.isfinite(t) & np.isfinite(y))).sum())
        if not missing:
            out = np.stack([np.bincount(row, minlength=len(p)).astype(float)]
                           + [np.bincount(row, weights=w, minlength=len(p)) for w in (t, t * t, y, t * y, y * y)])
    elif orphan:
        raise AnalysisError("slope analysis", f"{orphan} ALSFRS-R rows belong to no participant")
    if missing:  # else every fit of the chunk would fail inside the linear algebra
        raise AnalysisError("slope analysis", f"{missing} ALSFRS-R rows have a missing day or total")
    return out


def _compared_participants(batch: TrialBatch, active_arm, subset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-participant sums (6, P), the arm indicator (1 active) and the participant rows compared
    (in the two arms and `subset`, with a visit), ordered by trial; and their 0-based trial."""
    group, keep = treatment_indicator(batch, active_arm, subset)
    sums = _participant_sums(batch)
    rows = np.flatnonzero(keep & (sums[0] > 0))
    trial = batch.participants["trial"].to_numpy()[rows] - batch.first_trial
    if len(trial) > 1 and (np.diff(trial) < 0).any():
        order = np.argsort(trial, kind="stable")
        rows, trial = rows[order], trial[order]
    return sums, group, rows, trial


def _sufficient_statistics(batch: TrialBatch, active_arm, subset) -> dict:
    """The compared participants' sums as padded (trials, width) arrays: the numpy route's layout."""
    sums, group, rows, trial = _compared_participants(batch, active_arm, subset)
    index, valid = pad_index(trial, batch.n_trials)
    out = {k: np.where(valid, v[rows][index], 0.0) for k, v in zip(("n", "s01", "s11", "z0", "z1", "yy", "a"),
                                                                     (*sums, group))}
    out["s00"] = out["n"]
    return out


def _fit_numpy(st: dict, trial_index: np.ndarray, max_iter: int, tol: float) -> SlopeBatchResult:
    n_obs = st["n"].sum(1)
    n_subj = (st["n"] > 0).sum(1)
    n_arm = np.stack([((st["n"] > 0) & (st["a"] == v)).sum(1) for v in (0.0, 1.0)], axis=1)
    st = dict(st, N=n_obs)
    fitting = ~_too_few(n_obs, n_subj, n_arm)
    theta = _numpy.start(st)
    theta[~fitting] = 1.0
    theta, ev, hess, converged, iterations = _numpy.optimise(st, theta, fitting, max_iter, tol)
    cross = _numpy.cross_terms(st, theta, ev["beta"])
    return _finish(trial_index, theta, ev["f"], ev["r"], ev["beta"], ev["A_inv"], hess, cross, fitting, converged,
                   iterations, n_obs, n_subj)


def _too_few(n_obs, n_subj, n_arm) -> np.ndarray:
    return (n_obs - N_FIXED < 1) | (n_arm.min(axis=1) < 1) | (n_subj < 3)


def _fit_compiled(batch: TrialBatch, active_arm, subset, max_iter: int, tol: float) -> SlopeBatchResult:
    from . import _slopes_kernel as kernel

    sums, group, rows, trial = _compared_participants(batch, active_arm, subset)
    T = batch.n_trials
    offsets = np.zeros(T + 1, dtype=np.int64)
    np.cumsum(np.bincount(trial, minlength=T), out=offsets[1:])
    status = np.empty(T, dtype=np.int64)
    theta = np.ones((T, 3))
    iterations = np.zeros(T, dtype=np.int64)
    hess = np.zeros((T, 3, 3))
    beta = np.full((T, 4), np.nan)
    a_inv = np.full((T, 4, 4), np.nan)
    r, f = np.full(T, np.nan), np.full(T, np.nan)
    cross = np.full((T, 2, 3, 2), np.nan)
    n_obs, n_subj = np.zeros(T), np.zeros(T, dtype=np.int64)
    kernel.fit_trials(offsets, rows, sums, group, max_iter, tol, status, theta, iterations, hess, beta, a_inv, r, f,
                      cross, n_obs, n_subj)
    return _finish(batch.trial_index, theta, f, r, beta, a_inv, hess, cross, status != kernel.TOO_FEW,
                   status == kernel.CONVERGED, iterations, n_obs, n_subj)


def _observed_cov(theta: np.ndarray, cond: np.ndarray, cross: np.ndarray, hess: np.ndarray,
                  sigma2: np.ndarray) -> np.ndarray:
    """Covariance of β from the observed information of (β, Ψ) jointly, as statsmodels reports it.

    statsmodels inverts the Hessian of its REML log-likelihood in (β, Ψ); by the block-inverse
    (Schur) identity that is σ²A⁻¹ + σ²A⁻¹ H_βθ (H_θθ/2)⁻¹ H_θβ A⁻¹σ², where H_θθ is the
    Hessian of the profiled criterion f and H_βθ = ∂²ℓ/∂β∂θ = −(Σ C_i D_k u_i rows of X)/σ²
    (`cross`, per arm), which is not zero at the optimum in a finite sample. lme4 and
    mndtrial.analysis report the first term alone (the default SE).
    """
    both = cross[:, 0] + cross[:, 1]  # (T, 3, 2): all participants; arm 1 alone gives the a-rows
    H_fpsi = np.concatenate([both, cross[:, 1]], axis=2).transpose(0, 2, 1) / -sigma2[:, None, None]
    l00, l10, l11 = theta[:, 0], theta[:, 1], theta[:, 2]
    zero = np.zeros_like(l00)
    J = np.stack([np.stack([2 * l00, zero, zero], 1), np.stack([l10, l00, zero], 1),
                  np.stack([zero, 2 * l10, 2 * l11], 1)], axis=1)
    H_ftheta = H_fpsi @ J
    middle = _inverse_3x3(np.nan_to_num(hess) / 2)
    return cond + cond @ H_ftheta @ middle @ H_ftheta.transpose(0, 2, 1) @ cond


def _inverse_3x3(H: np.ndarray) -> np.ndarray:
    """Inverses of symmetric 3×3 matrices by their adjugates (a batched LAPACK call costs more per
    matrix); the pseudo-inverse where one is singular."""
    a, b, c, d, e, f = H[:, 0, 0], H[:, 0, 1], H[:, 0, 2], H[:, 1, 1], H[:, 1, 2], H[:, 2, 2]
    adj = np.stack([np.stack([d * f - e * e, c * e - b * f, b * e - c * d], 1),
                    np.stack([c * e - b * f, a * f - c * c, b * c - a * e], 1),
                    np.stack([b * e - c * d, b * c - a * e, a * d - b * b], 1)], 1)
    det = a * adj[:, 0, 0] + b * adj[:, 1, 0] + c * adj[:, 2, 0]
    scale = np.abs(H).max(axis=(1, 2))
    regular = np.abs(det) > 1e-12 * scale ** 3
    out = adj / np.where(regular, det, 1.0)[:, None, None]
    if not regular.all():
        out[~regular] = np.linalg.pinv(H[~regular], hermitian=True)
    return out


def _finish(trial_index, theta, f, r, beta, A_inv, hess, cross, fitting, converged, iterations, n_obs,
            n_subj) -> SlopeBatchResult:
    # Estimates only where a fit was attempted and its criterion is finite; the status says why not.
    defined = fitting & np.isfinite(f)
    nan = np.where(defined, 1.0, np.nan)
    beta, A_inv, cross = beta * nan[:, None], A_inv * nan[:, None, None], cross * nan[:, None, None, None]
    p00, p01, p11 = _numpy.psi(theta)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma2 = r * nan / (n_obs - N_FIXED)
        cond = sigma2[:, None, None] * A_inv
        observed = _observed_cov(theta, cond, cross, hess, sigma2)
        reml = f + (n_obs - N_FIXED) * (1 + np.log(2 * np.pi * sigma2) - np.log(r))
        corr = p01 / np.sqrt(p00 * p11)
    psi = np.stack([np.stack([p00, p01], 1), np.stack([p01, p11], 1)], 1)
    status = np.where(fitting, "not_converged", "too_few_observations").astype(object)
    status[converged] = "converged"
    status[converged & ~(np.abs(corr) < BOUNDARY_CORRELATION)] = "boundary"
    return SlopeBatchResult(trial=trial_index, fixed_effects=beta, fixed_effects_cov=cond,
                            fixed_effects_cov_observed=observed, residual_variance=sigma2,
                            random_effects_cov=sigma2[:, None, None] * psi, reml_criterion=reml,
                            n_subjects=n_subj.astype(np.int64), n_observations=n_obs.astype(np.int64),
                            iterations=iterations, status=status.astype(str))
