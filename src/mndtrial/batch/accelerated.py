"""Log-rank and Cox for many trials at once on JAX: on a GPU when there is one, else on the CPU.

An optional route (`pip install mndtrial[gpu]`): nothing imports JAX until a function here is
called. Trials are rows of fixed-shape (trials × participants) arrays — the shape accelerators
need — and every trial is analysed by one per-trial function, `vmap`-ed over the rows and
`jit`-compiled once per shape:

- rows sorted by (stratum, time descending, events first) with one `lax.sort`; tie and stratum
  boundaries by cumulative max/min scans; risk-set counts by prefix sums;
- the (stratified) log-rank exactly as `mndtrial.batch.logrank_batch` (Mantel–Haenszel form);
- the treatment-only Cox model exactly as `mndtrial.batch.cox_batch` (its compiled kernel step
  for step: Efron or Breslow ties, information rank check at 0, Newton with step halving, stop
  when the step is below `tol` — that step taken, the information kept from one step back —
  and monotone likelihood beyond `MONOTONE_LIMIT` sds). With x ∈ {0, 1} every risk-set sum
  is n0 + n1·e^β (Efron: minus f·(d0 + d1·e^β)), so counts at the event rows carry the fit.

Float64 throughout (`jax_enable_x64` is switched on at first use): the results equal the numpy
route's to rounding (tests/test_batch_accelerated.py holds them to 1e-8).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..data import TrialBatch
from ..errors import ParameterError
from ._layout import stratum_codes, survival_arrays
from ._result import BatchResult

__all__ = ["AcceleratedSurvivalResult", "survival_tests_arrays", "survival_tests_batch", "survival_matrices",
           "jax_device", "require_jax"]

MONOTONE_LIMIT = 10.0  # as mndtrial.batch.cox
STATUS_NAMES = np.array(["not_converged", "converged", "monotone_likelihood", "singular", "no_events"])
_NOT_CONVERGED, _CONVERGED, _MONOTONE, _SINGULAR, _NO_EVENTS = range(5)


def require_jax() -> Any:
    """The `jax` module with float64 switched on, or an ImportError saying how to get it."""
    try:
        import jax
    except ImportError as exc:  # pragma: no cover - exercised where jax is absent
        raise ImportError("the accelerated (GPU) route needs JAX: install mndtrial[gpu] "
                          "(pip install 'mndtrial[gpu]'; for an NVIDIA GPU also 'jax[cuda12]')") from exc
    # float64 is what makes the results equal the CPU route's; JAX's default is float32
    jax.config.update("jax_enable_x64", True)
    return jax


def jax_device() -> str:
    """The device JAX computes on, e.g. 'cpu:0 (cpu)' or 'cuda:0 (NVIDIA H200)'."""
    jax = require_jax()
    d = jax.devices()[0]
    return f"{d.platform}:{d.id} ({getattr(d, 'device_kind', d.platform)})"


@dataclass(frozen=True, repr=False)
class AcceleratedSurvivalResult(BatchResult):
    """Per trial: log-rank O − E and variance (as `LogrankBatchResult`) and the treatment-only
    Cox fit (as `CoxBatchResult` with one term)."""

    observed_minus_expected: np.ndarray
    variance: np.ndarray
    events: np.ndarray
    events_active: np.ndarray
    n: np.ndarray
    coef: np.ndarray  # log hazard ratio, active vs control
    se: np.ndarray
    loglik: np.ndarray
    loglik_null: np.ndarray
    iterations: np.ndarray
    status: np.ndarray
    ties: str

    @property
    def logrank_z(self) -> np.ndarray:
        return self.observed_minus_expected / np.sqrt(self.variance)

    @property
    def cox_z(self) -> np.ndarray:
        return self.coef / self.se

    @property
    def converged(self) -> np.ndarray:
        return self.status == "converged"

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({"trial": self.trial, "n": self.n, "events": self.events,
                             "events_active": self.events_active, "o_minus_e": self.observed_minus_expected,
                             "variance": self.variance, "logrank_z": self.logrank_z, "coef": self.coef,
                             "se": self.se, "cox_z": self.cox_z, "iterations": self.iterations,
                             "status": self.status})


def survival_tests_arrays(time: np.ndarray, event: np.ndarray, active: np.ndarray,
                          stratum: np.ndarray | None = None, valid: np.ndarray | None = None,
                          ties: Literal["efron", "breslow"] = "efron", max_iter: int = 50,
                          tol: float = 1e-7) -> dict[str, np.ndarray]:
    """Log-rank and Cox of every row of (trials × participants) arrays; numpy arrays out.

    `active` is 1 on the active arm, 0 on control; `stratum` integer codes (default one
    stratum); `valid` False marks padding (rows of trials with fewer participants).

    Example (skipped where JAX is absent):
        >>> import pytest; _ = pytest.importorskip("jax")
        >>> out = survival_tests_arrays(np.array([[1., 2, 3, 4]]), np.array([[1, 1, 0, 1]]),
        ...                             np.array([[0, 1, 0, 1]]))
        >>> round(float(out["observed_minus_expected"][0]), 4), str(STATUS_NAMES[out["status"][0]])
        (-0.1667, 'converged')
    """
    time, event, active = (np.asarray(v, dtype=float) for v in (time, event, active))
    if time.ndim != 2 or event.shape != time.shape or active.shape != time.shape:
        raise ParameterError("time", time.shape, "time, event and active must be 2-d arrays of one shape")
    stratum = np.zeros(time.shape, np.int64) if stratum is None else np.asarray(stratum, dtype=np.int64)
    valid = np.ones(time.shape, bool) if valid is None else np.asarray(valid, dtype=bool)
    if stratum.shape != time.shape or valid.shape != time.shape:
        raise ParameterError("stratum", stratum.shape, "stratum and valid must have the shape of time")
    if ties not in ("efron", "breslow"):
        raise ParameterError("ties", ties, "must be 'efron' or 'breslow'")
    if max_iter < 1:
        raise ParameterError("max_iter", max_iter, "must be at least 1")
    bad = valid & ~((time >= 0) & np.isfinite(time) & ((event == 0) | (event == 1)) & ((active == 0) | (active == 1)))
    if bad.any():
        raise ParameterError("time", int(bad.sum()), "rows need a finite time >= 0, event 0/1 and active 0/1")
    # Padding goes to a stratum of its own, with no events: it joins no risk set that matters.
    pad_code = int(stratum[valid].max(initial=0)) + 1
    T, width = time.shape
    # Shapes rounded up (≤ 25 % more) so that calls of similar size share one compilation.
    shape = (_bucket(T), _bucket(width))
    padded = [np.zeros(shape), np.zeros(shape), np.zeros(shape), np.full(shape, pad_code, np.int64), np.zeros(shape)]
    for target, values in zip(padded, (np.where(valid, time, 0.0), np.where(valid, event, 0.0), active, np.where(valid, stratum, pad_code),
                                       valid.astype(float))):
        target[:T, :width] = values
    out = _compiled(ties == "efron", int(max_iter), float(tol))(*padded)
    return {k: np.asarray(v)[:T] for k, v in out.items()}


def _bucket(size: int) -> int:
    """`size` rounded up to 8 or more, with at most three significant bits (8, 10, 12, 14, 16, 20, …)."""
    size = max(int(size), 8)
    step = 1 << max(size.bit_length() - 3, 0)
    return -(-size // step) * step


def survival_matrices(batch: TrialBatch, strata: tuple[str, ...] = (), subset: np.ndarray | None = None,
                      active_arm: str | None = None) -> dict[str, np.ndarray]:
    """A `TrialBatch`'s survival rows as (trials × widest trial) arrays for `survival_tests_arrays`."""
    arrays, keep = survival_arrays(batch, active_arm, subset)
    block = stratum_codes(batch, tuple(strata))[keep]
    T = arrays.n_trials
    counts = np.bincount(arrays.trial, minlength=T)
    width = max(int(counts.max(initial=0)), 1)
    order = np.argsort(arrays.trial, kind="stable")
    trial = arrays.trial[order]
    col = np.arange(len(trial)) - np.repeat(np.cumsum(counts) - counts, counts)
    shape = (T, width)
    out = {"time": np.zeros(shape), "event": np.zeros(shape), "active": np.zeros(shape),
           "stratum": np.zeros(shape, np.int64), "valid": np.zeros(shape, bool)}
    for name, values in (("time", arrays.time), ("event", arrays.event), ("active", arrays.group),
                         ("stratum", block), ("valid", np.ones(len(block), bool))):
        out[name][trial, col] = values[order]
    return out


def survival_tests_batch(batch: TrialBatch, strata: tuple[str, ...] = (), subset: np.ndarray | None = None,
                         ties: Literal["efron", "breslow"] = "efron",
                         active_arm: str | None = None) -> AcceleratedSurvivalResult:
    """`logrank_batch` and a treatment-only `cox_batch` (both with `strata`) on JAX.

    Example:
        >>> from mndtrial.power import ExponentialDesign  # doctest: +SKIP
        >>> res = survival_tests_batch(ExponentialDesign().simulate_chunk(0, 10, seed=1))  # doctest: +SKIP
    """
    out = survival_tests_arrays(**survival_matrices(batch, strata, subset, active_arm), ties=ties)
    return result_from_arrays(out, batch.trial_index, ties)


def result_from_arrays(out: dict[str, np.ndarray], trial: np.ndarray, ties: str) -> AcceleratedSurvivalResult:
    return AcceleratedSurvivalResult(trial=np.asarray(trial), ties=ties, status=STATUS_NAMES[out["status"]],
                                     **{k: v for k, v in out.items() if k != "status"})


@lru_cache(maxsize=8)
def _compiled(efron: bool, max_iter: int, tol: float):
    """The jit-compiled, trial-vectorised analysis (one compilation per settings and shape)."""
    jax = require_jax()
    return jax.jit(jax.vmap(trial_function(efron, max_iter, tol)))


def trial_function(efron: bool = True, max_iter: int = 50, tol: float = 1e-7):
    """The analysis of ONE trial as a JAX function of its (participants,) arrays `time, event,
    active, stratum, valid` (not compiled, not vectorised: for callers that fuse it with a
    simulation, e.g. `mndtrial.power.accelerated`)."""
    jax = require_jax()
    jnp, lax = jax.numpy, jax.lax

    def cumsum0(v):
        return jnp.concatenate([jnp.zeros(1, v.dtype), jnp.cumsum(v)])

    def one_trial(time, event, active, stratum, valid):
        n_rows = time.shape[0]
        idx = jnp.arange(n_rows)
        s, neg_t, neg_e, a, ok = lax.sort((stratum, -time, -event, active, valid), num_keys=3)
        t, e = -neg_t, -neg_e
        first = idx == 0
        new_block = first | (s != jnp.roll(s, 1))
        new_tie = new_block | (t != jnp.roll(t, 1))
        end_tie = jnp.roll(new_tie, -1) | (idx == n_rows - 1)
        block_start = lax.cummax(jnp.where(new_block, idx, 0))
        tie_start = lax.cummax(jnp.where(new_tie, idx, 0))
        tie_end = lax.cummin(jnp.where(end_tie, idx, n_rows - 1), reverse=True) + 1
        ones, ca, ce, cae = cumsum0(ok), cumsum0(a), cumsum0(e), cumsum0(a * e)
        at_risk = ones[tie_end] - ones[block_start]
        at_risk_1 = ca[tie_end] - ca[block_start]
        d = ce[tie_end] - ce[tie_start]
        d1 = cae[tie_end] - cae[tie_start]
        # log-rank: one term per distinct event time of each stratum
        use = new_tie & (d > 0)
        n_ = jnp.where(use, at_risk, 2.0)
        n1 = jnp.where(use, at_risk_1, 0.0)
        o_e = jnp.sum(jnp.where(use, d1 - d * n1 / n_, 0.0))
        var = jnp.sum(jnp.where(use & (n_ > 1), d * (n1 / n_) * (1 - n1 / n_) * (n_ - d)
                                / jnp.maximum(n_ - 1, 1), 0.0))
        # Cox, treatment only: the q-th tied death of d sees the tied deaths' weight reduced by q/d
        is_ev = e > 0
        f = (idx - tie_start) / jnp.maximum(d, 1.0) if efron else jnp.zeros(n_rows)
        a0 = jnp.where(is_ev, (at_risk - at_risk_1) - f * (d - d1), 1.0)
        a1 = jnp.where(is_ev, at_risk_1 - f * d1, 0.0)
        x = jnp.where(is_ev, a, 0.0)
        n_valid = jnp.maximum(jnp.sum(ok), 1.0)
        share = jnp.sum(a * ok) / n_valid
        sd = jnp.sqrt(jnp.sum(ok * (a - share) ** 2) / n_valid)
        fit = _newton(jnp, lax, is_ev, x, a0, a1, sd, max_iter, tol)
        return {"observed_minus_expected": o_e, "variance": var, "events": jnp.sum(e),
                "events_active": jnp.sum(a * e), "n": jnp.sum(ok).astype(jnp.int64), **fit}

    return one_trial


def _newton(jnp, lax, is_ev, x, a0, a1, sd, max_iter, tol):
    """The compiled kernel's Newton iterations for one trial (p = 1)."""

    def evaluate(b):
        eb = jnp.exp(b)
        s0 = a0 + a1 * eb
        pr = a1 * eb / s0
        ll = jnp.sum(jnp.where(is_ev, b * x - jnp.log(s0), 0.0))
        return ll, jnp.sum(jnp.where(is_ev, x - pr, 0.0)), jnp.sum(jnp.where(is_ev, pr * (1 - pr), 0.0))

    ll0, score0, info0 = evaluate(0.0)
    n_events = jnp.sum(is_ev)
    scaled = info0 / jnp.maximum(sd * sd, 1e-300)
    state0 = jnp.where(n_events == 0, _NO_EVENTS,
                       jnp.where((sd < 1e-12) | ~jnp.isfinite(scaled) | (scaled <= 1e-10 * jnp.maximum(scaled, 1e-300)),
                                 _SINGULAR, _NOT_CONVERGED))

    def body(c):
        its, state, beta, ll, score, info = c
        its = its + 1
        step = jnp.where(info == 0, jnp.nan, score / jnp.where(info == 0, 1.0, info))
        bad = ~jnp.isfinite(step)
        small = ~bad & (jnp.abs(step) < tol)
        moved = ~bad & ~small
        go = moved & (state == _NOT_CONVERGED)  # finished trials ride along without halving

        def halve(carry):
            k, scale, _tb, _nll, _sc, _inf = carry
            scale = jnp.where(k > 0, scale / 2, scale)
            tb = beta + scale * step
            return (k + 1, scale, tb, *evaluate(tb))

        def keep_halving(carry):  # step halving keeps every iteration an ascent step
            k, _scale, _tb, nll, _sc, _inf = carry
            return (k == 0) | (go & (k < 30) & ~(nll >= ll - 1e-12 * jnp.abs(ll)))

        _, _, tb, nll, nsc, ninf = lax.while_loop(keep_halving, halve, (0, jnp.ones(()), beta, ll, score, info))
        runs_off = jnp.abs(tb) * sd > MONOTONE_LIMIT
        new_state = jnp.where(bad, jnp.where(jnp.abs(beta) * sd > 3.0, _MONOTONE, _SINGULAR),
                              jnp.where(small, _CONVERGED, jnp.where(runs_off, _MONOTONE, _NOT_CONVERGED)))
        return (its, new_state, jnp.where(small, beta + step, jnp.where(moved, tb, beta)),
                jnp.where(moved, nll, ll), jnp.where(moved, nsc, score), jnp.where(moved, ninf, info))

    def more(c):
        its, state, *_ = c
        return (state == _NOT_CONVERGED) & (its < max_iter)

    its, state, beta, ll, _score, info = lax.while_loop(
        more, body, (jnp.zeros((), jnp.int64), state0, jnp.zeros(()), ll0, score0, info0))
    # as the numpy route's pseudo-inverse: a zero information gives SE 0
    se = jnp.where(jnp.isfinite(info) & ((state == _CONVERGED) | (state == _MONOTONE)),
                   jnp.where(info == 0, 0.0, jnp.sqrt(1.0 / jnp.where(info == 0, 1.0, info))), jnp.nan)
    return {"coef": beta, "se": se, "loglik": ll, "loglik_null": ll0, "iterations": its,
            "status": state.astype(jnp.int64)}
