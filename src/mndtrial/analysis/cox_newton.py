"""Newton–Raphson with step halving for one Cox model: the route a fit takes when lifelines' stops short.

lifelines' `CoxPHFitter` damps its Newton steps by a schedule and never backtracks, so on a
likelihood with a strongly prognostic binary covariate its iterate can overshoot, fall below the
null model's log-likelihood and stop there with a warning. R's `coxph` (and `mndtrial.batch.cox`)
halve a step that lowers the log-likelihood instead; this module does the same for one data set:
Efron (default) or Breslow ties, optional strata, the partial log-likelihood, its score and
information evaluated exactly, and a stop only when the full Newton step is below `tol`.

It lives in `analysis` (not imported from `batch`, which sits above it): it is the single-trial
counterpart of the batch engine's kernel, and the tests check the two agree.

References: Therneau & Grambsch (2000), §3.3 (Efron's approximation) and §3.6 (step halving in
`coxph`); Efron (1977).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["CoxNewtonFit", "cox_loglik", "newton_cox"]

# |coefficient × covariate sd| beyond which the maximum is taken to be at infinity (as the batch engine).
MONOTONE_LIMIT = 10.0


@dataclass(frozen=True)
class CoxNewtonFit:
    """Where Newton–Raphson stopped: `converged` is True only at a maximum (step below `tol`)."""

    coef: np.ndarray
    loglik: float
    loglik_null: float
    score: np.ndarray
    information: np.ndarray
    iterations: int
    converged: bool
    reason: str | None  # why not converged (None when converged)


def _strata_codes(n: int, strata: np.ndarray | None) -> np.ndarray:
    return np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata)


# A padded (strata × longest stratum) layout wastes this many cells per row at most; beyond it
# (very unequal strata) each stratum is evaluated on its own block instead.
_PADDING_LIMIT = 4


@dataclass(frozen=True)
class _Block:
    """Strata laid out as rows of a zero-padded matrix, rows sorted by time (events first in a tie).

    Reverse cumulative sums along a row are then each stratum's risk-set sums, with the same
    additions in the same order as a stratum summed on its own (the padding adds exact zeros).
    """

    Xc: np.ndarray        # (n, p) covariates, centred within each stratum
    row: np.ndarray       # (n,) the stratum's row in the padded matrix
    col: np.ndarray       # (n,) the position within it
    shape: tuple[int, int]  # (strata, longest stratum + 1): the last column is always 0
    ev: np.ndarray        # rows (in this block) of the events
    ev_row: np.ndarray
    ev_first: np.ndarray  # padded column where each event's risk set (its tie) starts
    ev_end: np.ndarray    # ... and where its tie ends
    frac: np.ndarray      # Efron's rank / ties of each event (0 for Breslow)


def _layout(time: np.ndarray, event: np.ndarray, X: np.ndarray, codes: np.ndarray, efron: bool) -> list[_Block]:
    """Sort and lay out the data once per fit; every likelihood evaluation reuses it."""
    order = np.lexsort((~event, time, codes))  # by stratum, then time; at a tie the events come first
    time, event, X, codes = time[order], event[order], X[order], codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    stops = np.r_[starts[1:], len(time)]
    keep = [(a, b) for a, b in zip(starts, stops) if event[a:b].any()]  # a stratum without events adds 0
    if not keep:
        return []
    sizes = np.array([b - a for a, b in keep])
    if len(keep) * (sizes.max() + 1) <= _PADDING_LIMIT * sizes.sum() + 64:
        groups = [keep]
    else:
        groups = [[k] for k in keep]
    return [_block(time, event, X, group, efron) for group in groups]


def _block(time, event, X, spans, efron) -> _Block:
    idx = np.concatenate([np.arange(a, b) for a, b in spans])
    Xc = np.concatenate([X[a:b] - X[a:b].mean(axis=0) for a, b in spans])
    row = np.concatenate([np.full(b - a, k) for k, (a, b) in enumerate(spans)])
    col = np.concatenate([np.arange(b - a) for a, b in spans])
    t, e = time[idx], event[idx]
    # the first row of each row's tie (same stratum, same time), in padded columns
    new_tie = np.r_[True, (row[1:] != row[:-1]) | (t[1:] != t[:-1])]
    tie_start = np.maximum.accumulate(np.where(new_tie, np.arange(len(t)), 0))
    ev = np.flatnonzero(e)
    first = tie_start[ev]
    d = np.bincount(first, minlength=len(t))[first].astype(float)  # tied events (they sort first)
    rank = ev - first
    frac = rank / d if efron else np.zeros(len(ev))
    ev_first = col[first]
    return _Block(Xc=Xc, row=row, col=col, shape=(len(spans), int(col.max()) + 2), ev=ev, ev_row=row[ev],
                  ev_first=ev_first, ev_end=(ev_first + d).astype(int), frac=frac)


def _risk_sums(block: _Block, values: np.ndarray) -> np.ndarray:
    """Per-stratum reverse cumulative sums of `values` (n, ...) in the padded layout."""
    padded = np.zeros(block.shape + values.shape[1:])
    padded[block.row, block.col] = values
    return np.cumsum(padded[:, ::-1], axis=1)[:, ::-1]


def _evaluate(blocks: list[_Block], beta: np.ndarray, p: int) -> tuple[float, np.ndarray, np.ndarray]:
    ll, score, info = 0.0, np.zeros(p), np.zeros((p, p))
    for b in blocks:
        eta = b.Xc @ beta
        # keeps exp() in range; the partial likelihood is unchanged by a shift within a stratum
        padded = np.full(b.shape, -np.inf)
        padded[b.row, b.col] = eta
        shift = padded.max(axis=1)
        w = np.exp(eta - shift[b.row])
        n = len(w)
        # w, w·x and w·xx' side by side, then the same for the events alone: one padded cumulative sum
        parts = np.empty((n, 2, 1 + p + p * p))
        parts[:, 0, 0] = w
        parts[:, 0, 1:1 + p] = w[:, None] * b.Xc
        parts[:, 0, 1 + p:] = (parts[:, 0, 1:1 + p, None] * b.Xc[:, None, :]).reshape(n, p * p)
        parts[:, 1] = 0.0
        parts[b.ev, 1] = parts[b.ev, 0]
        sums = _risk_sums(b, parts.reshape(n, -1)).reshape(b.shape + (2, 1 + p + p * p))
        r, f, e, frac = b.ev_row, b.ev_first, b.ev_end, b.frac
        at_risk = sums[r, f, 0]
        tied = sums[r, f, 1] - sums[r, e, 1]  # the events of each event's tie
        s = at_risk - frac[:, None] * tied
        s0, s1, s2 = s[:, 0], s[:, 1:1 + p], s[:, 1 + p:].reshape(-1, p, p)
        mean = s1 / s0[:, None]
        ll += float(np.sum(eta[b.ev] - shift[r] - np.log(s0)))
        score = score + (b.Xc[b.ev] - mean).sum(axis=0)
        info = info + (s2 / s0[:, None, None] - mean[:, :, None] * mean[:, None, :]).sum(axis=0)
    return ll, score, info


def _prepare(time, event, X, strata, ties) -> tuple[list[_Block], int]:
    time = np.asarray(time, float)
    event = np.asarray(event).astype(bool)
    X = np.asarray(X, float).reshape(len(time), -1)
    return _layout(time, event, X, _strata_codes(len(time), strata), ties == "efron"), X.shape[1]


def cox_loglik(time: np.ndarray, event: np.ndarray, X: np.ndarray, beta: np.ndarray,
               strata: np.ndarray | None = None, ties: Literal["efron", "breslow"] = "efron"
               ) -> tuple[float, np.ndarray, np.ndarray]:
    """Partial log-likelihood, score (p,) and information (p, p) of a Cox model at `beta`.

    Example:
        >>> ll, score, info = cox_loglik(np.array([1., 2., 3.]), np.array([1, 1, 0]),
        ...                              np.array([[0.], [1.], [0.]]), np.zeros(1))
        >>> round(ll, 6)  # -log 3 - log 2
        -1.791759
    """
    blocks, p = _prepare(time, event, X, strata, ties)
    return _evaluate(blocks, np.asarray(beta, float), p)


def newton_cox(time: np.ndarray, event: np.ndarray, X: np.ndarray, strata: np.ndarray | None = None,
               ties: Literal["efron", "breslow"] = "efron", max_iter: int = 100, tol: float = 1e-9,
               start: np.ndarray | None = None) -> CoxNewtonFit:
    """Maximise the partial likelihood by Newton–Raphson, halving any step that lowers it.

    Stops when the full Newton step is below `tol` (that last step is taken: the error is then
    of order tol²), when a coefficient runs off (monotone likelihood), or after `max_iter` steps.

    Example:
        >>> from lifelines.datasets import load_rossi
        >>> r = load_rossi()
        >>> fit = newton_cox(r["week"], r["arrest"], r[["fin", "age", "prio"]].to_numpy(float))
        >>> fit.converged, round(float(fit.coef[0]), 4)
        (True, -0.347)
    """
    time = np.asarray(time, float)
    event = np.asarray(event).astype(int)
    X = np.asarray(X, float).reshape(len(time), -1)
    p = X.shape[1]
    sd = X.std(axis=0)
    blocks = _layout(time, event.astype(bool), X, _strata_codes(len(time), strata), ties == "efron")
    beta = np.zeros(p) if start is None else np.asarray(start, float).copy()
    at_null = _evaluate(blocks, np.zeros(p), p)
    ll_null = at_null[0]
    # from the default start (β = 0) the first evaluation is the null model's, already made
    ll, score, info = at_null if start is None else _evaluate(blocks, beta, p)
    for iteration in range(1, max_iter + 1):
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            return CoxNewtonFit(beta, ll, ll_null, score, info, iteration, False, "singular information matrix")
        if not np.all(np.isfinite(step)):
            return CoxNewtonFit(beta, ll, ll_null, score, info, iteration, False, "singular information matrix")
        if np.max(np.abs(step), initial=0.0) < tol:
            beta = beta + step
            ll, score, info = _evaluate(blocks, beta, p)
            return CoxNewtonFit(beta, ll, ll_null, score, info, iteration, True, None)
        scale = 1.0
        for _ in range(40):
            trial_beta = beta + scale * step
            with np.errstate(over="ignore", invalid="ignore"):
                new = _evaluate(blocks, trial_beta, p)
            if np.isfinite(new[0]) and new[0] >= ll - 1e-12 * abs(ll):
                break
            scale /= 2
        else:
            return CoxNewtonFit(beta, ll, ll_null, score, info, iteration, False,
                                "no step along the Newton direction raises the log-likelihood")
        beta, (ll, score, info) = trial_beta, new
        if np.any(np.abs(beta) * sd > MONOTONE_LIMIT):
            return CoxNewtonFit(beta, ll, ll_null, score, info, iteration, False,
                                "a coefficient runs off to infinity (monotone likelihood)")
    return CoxNewtonFit(beta, ll, ll_null, score, info, max_iter, False, f"no convergence in {max_iter} steps")
