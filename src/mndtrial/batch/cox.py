"""Cox proportional hazards fitted to every trial of a `TrialBatch` at once.

Newton–Raphson on the partial likelihood with Efron's (default, as R `coxph` and lifelines) or
Breslow's handling of ties, optional strata, run for all trials together: each trial is one row
of padded arrays, risk-set sums are prefix sums along the row (`_layout.RiskSets`), and the
per-trial p×p Newton systems are solved as a stack. Trials whose likelihood is monotone (a
covariate that separates the events, e.g. no deaths in one arm) are stopped and flagged, not
reported as estimates.

Efron's approximation for d tied events at a time with risk-set sum S0 and tied-event sum S0D:
log-likelihood term  Σ_k [ -log(S0 - k/d · S0D) ] for k = 0..d-1 (Efron 1977; Therneau &
Grambsch 2000, §3.3). Breslow sets k/d to 0.

The treatment-only model (x ∈ {0, 1}) needs no sums at all: S0 = n0 + n1·e^β, so risk-set
counts at the event rows, computed once, carry every Newton iteration.

Two engines compute the same fits: "compiled" (default; `_cox_kernel`, numba, each trial's rows
walked once per evaluation: ~10–30 µs a fit at n = 220) and "numpy" (whole-batch array passes
described above), kept as the reference the compiled one must equal trial by trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..analysis.distributions import chi2_sf, norm_cdf, norm_sf
from ..data import TrialBatch
from ..errors import AnalysisError, ParameterError
from ._layout import covariate_matrix, cumsum0, risk_sets, seg_sum, stratum_codes, survival_arrays
from ._survival_layout import SortedRows, SurvivalLayout, sorted_rows
from ._result import BatchResult

__all__ = ["BatchCox", "CoxBatchResult", "cox_batch"]

MONOTONE_LIMIT = 10.0  # |coefficient × covariate sd| beyond which the likelihood is taken as monotone
ENGINES = ("compiled", "numpy")
_CELLS_PER_CHUNK = 4_000_000


@dataclass(frozen=True, repr=False)
class CoxBatchResult(BatchResult):
    """Per-trial Cox fits. Arrays have one row per trial; `terms[0]` is the treatment indicator."""

    terms: tuple[str, ...]
    coef: np.ndarray  # (T, p)
    se: np.ndarray  # (T, p)
    loglik: np.ndarray
    loglik_null: np.ndarray
    n: np.ndarray
    events: np.ndarray
    iterations: np.ndarray
    status: np.ndarray  # 'converged', 'monotone_likelihood', 'not_converged', 'singular', 'no_events'
    ties: str

    @property
    def converged(self) -> np.ndarray:
        return self.status == "converged"

    @property
    def z(self) -> np.ndarray:
        return self.coef / self.se

    @property
    def lr_statistic(self) -> np.ndarray:
        return 2.0 * (self.loglik - self.loglik_null)

    @property
    def hazard_ratio(self) -> np.ndarray:
        return np.exp(self.coef[:, 0])

    def p_value(self, side: Literal["two", "less", "greater"] = "two", term: int = 0) -> np.ndarray:
        """Wald p-value of one term; 'less' tests coefficient < 0 (treatment lowers the hazard)."""
        z = self.z[:, term]
        if side == "two":
            return 2 * norm_sf(np.abs(z))
        return norm_cdf(z) if side == "less" else norm_sf(z)

    @property
    def summary(self) -> pd.DataFrame:
        df = pd.DataFrame({"trial": self.trial, "n": self.n, "events": self.events})
        for j, term in enumerate(self.terms):
            df[f"coef_{term}"] = self.coef[:, j]
            df[f"se_{term}"] = self.se[:, j]
        df["hazard_ratio"] = self.hazard_ratio
        df["z"] = self.z[:, 0]
        df["p_value"] = self.p_value()
        df["lr_statistic"] = self.lr_statistic
        df["lr_p_value"] = chi2_sf(self.lr_statistic, len(self.terms))
        df["iterations"] = self.iterations
        df["status"] = self.status
        return df


class BatchCox:
    """Cox model `treatment + covariates` (optionally stratified) for every trial of a batch.

    Example:
        >>> fit = BatchCox(covariates=("age",), strata=("onset_site",)).fit(batch)  # doctest: +SKIP
        >>> fit.result_.summary[["hazard_ratio", "p_value", "status"]]  # doctest: +SKIP
    """

    def __init__(self, covariates: tuple[str, ...] = (), strata: tuple[str, ...] = (),
                 ties: Literal["efron", "breslow"] = "efron", active_arm: str | None = None,
                 max_iter: int = 50, tol: float = 1e-7, engine: str = "compiled"):
        if ties not in ("efron", "breslow"):
            raise ParameterError("ties", ties, "must be 'efron' or 'breslow'")
        if engine not in ENGINES:
            raise ParameterError("engine", engine, f"must be one of {ENGINES}")
        if max_iter < 1:
            raise ParameterError("max_iter", max_iter, "must be at least 1")
        self.covariates = tuple(covariates)
        self.strata = tuple(strata)
        self.ties = ties
        self.active_arm = active_arm
        self.max_iter = max_iter
        self.tol = tol
        self.engine = engine

    def fit(self, batch: TrialBatch, subset: np.ndarray | None = None,
            layout: SurvivalLayout | None = None) -> "BatchCox":
        """Fit every trial; `subset` (a mask over participant rows) restricts, e.g., to a biomarker
        group. `layout` (`survival_layout(batch)`) shares one sort of the rows between tests."""
        if self.engine == "compiled":
            layout, rows = sorted_rows(layout, batch, self.strata, self.active_arm, subset)
            x = np.column_stack([rows.group, layout.covariates(self.covariates)[rows.rows]])
            self._check_complete(x)
            out = _fit_compiled(rows, x, self.ties == "efron", self.max_iter, self.tol)
            self.result_ = CoxBatchResult(trial=batch.trial_index, terms=("treatment",) + self.covariates,
                                          n=np.diff(rows.starts), ties=self.ties, **out)
            return self
        arrays, keep = survival_arrays(batch, self.active_arm, subset)
        x = np.column_stack([arrays.group, covariate_matrix(batch, self.covariates)[keep]])
        self._check_complete(x)
        block = stratum_codes(batch, self.strata)[keep]
        T = arrays.n_trials
        counts = np.bincount(arrays.trial, minlength=T)
        per_chunk = max(1, _CELLS_PER_CHUNK // max(1, int(counts.max(initial=1)) * (x.shape[1] + 1) ** 2))
        bounds = np.searchsorted(arrays.trial, np.arange(0, T + per_chunk, per_chunk))
        parts = []
        for c, lo in enumerate(range(0, T, per_chunk)):
            hi = min(T, lo + per_chunk)
            rows = slice(bounds[c], bounds[c + 1])
            parts.append(_fit_chunk(arrays.trial[rows] - lo, block[rows], arrays.time[rows],
                                    arrays.event[rows], x[rows], hi - lo, self.ties == "efron",
                                    self.max_iter, self.tol))
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        self.result_ = CoxBatchResult(trial=batch.trial_index, terms=("treatment",) + self.covariates,
                                      n=counts, ties=self.ties, **out)
        return self


    def _check_complete(self, x: np.ndarray) -> None:
        if np.isnan(x).any():
            bad = self.covariates[int(np.flatnonzero(np.isnan(x).any(axis=0))[0]) - 1]
            raise AnalysisError("Cox model", f"covariate '{bad}' has missing values; restrict the rows "
                                             "with `subset` (e.g. complete cases) explicitly")


def cox_batch(batch: TrialBatch, covariates: tuple[str, ...] = (), strata: tuple[str, ...] = (),
              ties: Literal["efron", "breslow"] = "efron", subset: np.ndarray | None = None,
              active_arm: str | None = None, engine: str = "compiled",
              layout: SurvivalLayout | None = None) -> CoxBatchResult:
    """Functional form of `BatchCox(...).fit(batch, subset, layout).result_`."""
    return BatchCox(covariates, strata, ties, active_arm, engine=engine).fit(batch, subset, layout).result_


def _fit_compiled(rows: SortedRows, x: np.ndarray, efron: bool, max_iter: int, tol: float) -> dict:
    """The compiled engine on rows sorted by (trial, stratum, time descending, events first)."""
    from ._cox_kernel import BINARY, FOUR, GENERAL, MONOTONE, STATUS_NAMES, centre_trials, converged_se, fit_trials

    starts = rows.starts
    T, p = len(starts) - 1, x.shape[1]
    X = np.array(x, dtype=float, order="C")
    sd = np.zeros((T, p))
    centre_trials(starts, X, sd)  # centring leaves the partial likelihood unchanged (as the numpy route)
    mode = BINARY if p == 1 else FOUR if p <= 4 else GENERAL
    if mode == FOUR:  # zero columns add exact zeros to every sum
        X = np.pad(X, ((0, 0), (0, 4 - p)))
    coef, hess = np.zeros((T, p)), np.zeros((T, p, p))
    loglik, loglik_null, events = np.zeros(T), np.zeros(T), np.zeros(T)
    iterations, status = np.zeros(T, dtype=np.int64), np.zeros(T, dtype=np.int64)
    fit_trials(starts, rows.time, rows.event, rows.block, X, np.ascontiguousarray(rows.group), mode, sd,
               efron, max_iter, tol, MONOTONE_LIMIT, coef, loglik, loglik_null, hess, iterations, status, events)
    names = STATUS_NAMES[status]
    se = np.full((T, p), np.nan)
    converged_se(hess, status, se)  # converged fits: the inverse information's diagonal
    rest = np.flatnonzero(status == MONOTONE)  # monotone fits keep pinv's SEs, as the numpy route
    if rest.size:
        se[rest] = _standard_errors(hess[rest], names[rest].astype(object))
    return {"coef": coef, "se": se, "loglik": loglik, "loglik_null": loglik_null, "events": events,
            "iterations": iterations, "status": names.astype(str)}


def _standard_errors(hess: np.ndarray, status: np.ndarray) -> np.ndarray:
    """SEs from the Hessian; NaN unless converged (monotone fits keep theirs, flagged by status)."""
    p = hess.shape[1]
    usable = np.isfinite(hess).all(axis=(1, 2))
    with np.errstate(invalid="ignore"):
        cov = np.linalg.pinv(np.where(usable[:, None, None], -hess, np.eye(p)))
        se = np.where(usable[:, None], np.sqrt(np.diagonal(cov, axis1=1, axis2=2)), np.nan)
    unusable = status != "converged"
    return np.where(unusable[:, None] & (status != "monotone_likelihood")[:, None], np.nan, se)


def _state(X, valid, event, block_start, tie_start, tie_end, tie_rank, tie_events) -> dict:
    """Arrays the likelihood needs, with the event rows' positions in the cumulative sums."""
    T, W, p = X.shape
    t, pos = np.nonzero(event > 0)  # event rows, ordered by trial: per-trial sums are sequential
    base = t * (W + 1)
    d = tie_events[t, pos]
    f = tie_rank[t, pos] / np.maximum(d, 1.0)
    # Efron's correction needs the sum over the tied events only where f > 0 (rank >= 1); events
    # come first in their tie, so those are the d positions from the tie's start.
    tied = np.flatnonzero(f > 0)
    d_max = int(d[tied].max()) if tied.size else 0
    offsets = np.arange(d_max)
    gather = (t[tied] * W + tie_start[t, pos][tied])[:, None] + offsets
    in_tie = offsets < d[tied][:, None]
    Xc = np.moveaxis(X, 2, 0).copy()
    iu = np.triu_indices(p)
    return {"X": X, "valid": valid, "event": event, "block_start": block_start, "tie_start": tie_start,
            "tie_end": tie_end, "tie_rank": tie_rank, "tie_events": tie_events,
            "ev_trial": t, "ev_flat": t * W + pos, "ev_end": base + tie_end[t, pos] + 1,
            "ev_start": base + block_start[t, pos], "ev_frac": f, "tied": tied,
            "tie_gather": np.where(in_tie, gather, 0), "tie_mask": in_tie,
            "X_ev": X.reshape(T * W, p)[t * W + pos], "Xc": Xc, "iu": iu, "XXc": Xc[iu[0]] * Xc[iu[1]]}


def _subset(st: dict, idx: np.ndarray) -> dict:
    keys = ("X", "valid", "event", "block_start", "tie_start", "tie_end", "tie_rank", "tie_events")
    return _state(*(st[k][idx] for k in keys))


def _evaluate(st: dict, beta: np.ndarray, efron: bool):
    """Log partial likelihood, score and Hessian of each trial at `beta` (T, p).

    One cumulative sum along each trial's rows gives every risk-set sum of w, w·x and w·x·x'
    (unique pairs); only the event rows' values are taken from it.
    """
    X, valid = st["X"], st["valid"]
    T, W, p = X.shape
    i0, i1 = st["iu"]
    eta = np.einsum("twp,tp->tw", X, beta)
    with np.errstate(over="ignore"):  # a wild trial step overflows; step halving then pulls it back
        w = np.where(valid, np.exp(np.where(valid, eta, 0.0)), 0.0)
    K = 1 + p + len(i0)
    # Components first, rows last: the cumulative sums run along contiguous memory.
    V = np.empty((K, T, W))
    V[0] = w
    np.multiply(w, st["Xc"], out=V[1:1 + p])
    np.multiply(w, st["XXc"], out=V[1 + p:])
    C = np.zeros((K, T, W + 1))
    np.cumsum(V, axis=2, out=C[:, :, 1:])
    C = C.reshape(K, T * (W + 1))
    R = (C[:, st["ev_end"]] - C[:, st["ev_start"]]).T
    tied = st["tied"]
    if efron and tied.size:
        D = (V.reshape(K, T * W)[:, st["tie_gather"]] * st["tie_mask"]).sum(axis=2).T
        R[tied] -= st["ev_frac"][tied, None] * D
    den = R[:, 0]
    a = R[:, 1:1 + p] / den[:, None]
    info = R[:, 1 + p:] / den[:, None] - a[:, i0] * a[:, i1]
    rows = np.column_stack([eta.reshape(-1)[st["ev_flat"]] - np.log(den), st["X_ev"] - a, info])
    t = st["ev_trial"]
    sums = np.stack([np.bincount(t, weights=rows[:, k], minlength=T) for k in range(K)], axis=1)
    hess = np.empty((T, p, p))
    hess[:, i0, i1] = -sums[:, 1 + p:]
    hess[:, i1, i0] = -sums[:, 1 + p:]
    return sums[:, 0], sums[:, 1:1 + p], hess


def _binary_state(rs, group: np.ndarray) -> dict:
    """Treatment-only model: with x ∈ {0, 1} every risk-set sum is n0 + n1·e^β (and the tied
    sums d0 + d1·e^β), so the counts at each event row are all Newton needs."""
    g = rs.gather(group)
    t, pos = np.nonzero(rs.event > 0)

    def at_events(v, start):
        return seg_sum(cumsum0(v), start, rs.tie_end)[t, pos]

    n, n1 = at_events(rs.valid.astype(float), rs.block_start), at_events(g, rs.block_start)
    d, d1 = rs.tie_events[t, pos], at_events(g * rs.event, rs.tie_start)
    f = rs.tie_rank[t, pos] / np.maximum(d, 1.0)
    return {"ev_trial": t, "x_ev": g[t, pos], "T": rs.valid.shape[0],
            "efron": ((n - n1) - f * (d - d1), n1 - f * d1), "breslow": (n - n1, n1)}


def _evaluate_binary(st: dict, beta: np.ndarray, efron: bool):
    a0, a1 = st["efron" if efron else "breslow"]
    t, T = st["ev_trial"], st["T"]
    b = beta[t, 0]
    with np.errstate(over="ignore"):
        eb = np.exp(b)
    s0 = a0 + a1 * eb
    pr = a1 * eb / s0
    ll = np.bincount(t, weights=b * st["x_ev"] - np.log(s0), minlength=T)
    grad = np.bincount(t, weights=st["x_ev"] - pr, minlength=T)
    info = np.bincount(t, weights=pr * (1 - pr), minlength=T)
    return ll, grad[:, None], -info[:, None, None]


def _fit_chunk(trial, block, time, event, x, T, efron, max_iter, tol):
    rs = risk_sets(trial, block, time, event, T)
    valid = rs.valid
    X = x[rs.index]
    X[~valid] = 0.0
    n_valid = np.maximum(valid.sum(axis=1), 1)
    X -= (X.sum(axis=1) / n_valid[:, None])[:, None, :]  # centring leaves the partial likelihood unchanged
    X[~valid] = 0.0
    sd = np.sqrt((X ** 2).sum(axis=1) / n_valid[:, None])
    p = X.shape[2]
    if p == 1:
        st, evaluate = _binary_state(rs, x[:, 0]), _evaluate_binary
    else:
        st, evaluate = _state(X, valid, rs.event, rs.block_start, rs.tie_start, rs.tie_end, rs.tie_rank,
                              rs.tie_events), _evaluate
    beta = np.zeros((T, p))
    loglik, grad, hess = evaluate(st, beta, efron)
    loglik_null = loglik.copy()
    events = rs.event.sum(axis=1)
    status = np.full(T, "not_converged", dtype=object)
    status[events == 0] = "no_events"
    status[(sd < 1e-12).any(axis=1) & (events > 0)] = "singular"
    # Rank-deficient information at 0 (e.g. a covariate constant within every stratum): not identifiable.
    scaled = -hess / np.maximum(sd[:, :, None] * sd[:, None, :], 1e-300)
    finite = np.isfinite(scaled).all(axis=(1, 2))
    eig = np.linalg.eigvalsh(np.where(finite[:, None, None], scaled, np.eye(p)))
    deficient = ~finite | (eig[:, 0] <= 1e-10 * np.maximum(eig[:, -1], 1e-300))
    status[deficient & (status == "not_converged")] = "singular"
    iterations = np.zeros(T, dtype=np.int64)
    active = status == "not_converged"
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        iterations[idx] += 1
        try:
            step = np.linalg.solve(-hess[idx], grad[idx][..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.stack([_safe_solve(-h, g) for h, g in zip(hess[idx], grad[idx])])
        bad = ~np.isfinite(step).all(axis=1)
        # A Hessian that vanishes as a coefficient runs off is monotone likelihood, not collinearity.
        drifting = (np.abs(beta[idx]) * sd[idx] > 3).any(axis=1)
        status[idx[bad]] = np.where(drifting[bad], "monotone_likelihood", "singular")
        idx, step = idx[~bad], step[~bad]
        small = np.abs(step).max(axis=1, initial=0.0) < tol
        # Newton converges quadratically: after a step below tol the error is of order tol², so
        # the last step is taken without another evaluation (SEs from the Hessian one step back).
        beta[idx[small]] += step[small]
        status[idx[small]] = "converged"
        idx, step = idx[~small], step[~small]
        # Rebuilding the state for the trials still iterating costs more than evaluating a few
        # finished ones along; each trial's arithmetic is its own either way.
        whole = idx.size > T // 2 or p == 1
        sub = st if whole else _subset(st, idx)
        scale = np.ones(len(idx))
        for _half in range(30):  # step halving keeps every iteration an ascent step
            trial_beta = beta[idx] + scale[:, None] * step
            if whole:
                full = beta.copy()
                full[idx] = trial_beta
                ll, g, h = (v[idx] for v in evaluate(st, full, efron))
            else:
                ll, g, h = _evaluate(sub, trial_beta, efron)
            worse = ~(ll >= loglik[idx] - 1e-12 * np.abs(loglik[idx]))
            if not worse.any():
                break
            scale[worse] /= 2
        beta[idx], loglik[idx], grad[idx], hess[idx] = trial_beta, ll, g, h
        monotone = (np.abs(beta[idx]) * sd[idx] > MONOTONE_LIMIT).any(axis=1)
        status[idx[monotone]] = "monotone_likelihood"
        active = status == "not_converged"
    se = _standard_errors(hess, status)
    return {"coef": beta, "se": se, "loglik": loglik, "loglik_null": loglik_null, "events": events,
            "iterations": iterations, "status": status.astype(str)}


def _safe_solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, b[:, None])[:, 0]
    except np.linalg.LinAlgError:
        return np.full(b.shape, np.nan)
