"""Monte Carlo power of the exponential two-arm design on JAX: simulate, log-rank and Cox fused in
one compiled function, on a GPU when JAX sees one and on the CPU otherwise (`mndtrial[gpu]`).

The design is `ExponentialDesign`'s survival part (exponential survival with a constant hazard
ratio, optionally a different one above the biomarker cut-off and a prognostic biomarker;
uniform accrual; follow-up from the last randomisation; exponential dropout; times rounded up
to the time grid; exactly `n_per_arm` per arm; enrichment screens out the high group). Onset
site (bulbar with probability 0.28) is the stratum. ALSFRS-R is not simulated.

Trial i has its own key, `fold_in(PRNGKey(seed), i)`, so any chunk size gives the same trials.
JAX's random stream is not numpy's: the trials differ from `ExponentialDesign.simulate_chunk`'s
with the same seed, and agree with them in distribution (tests/test_power_accelerated.py). The
analyses equal the CPU route's on the same data (tests/test_batch_accelerated.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd

from ..analysis.distributions import norm_cdf, norm_isf
from ..batch.accelerated import STATUS_NAMES, jax_device, require_jax, trial_function
from ..errors import ParameterError
from .exponential import LOG_PNFH_MEAN, LOG_PNFH_SD, ExponentialDesign

__all__ = ["AcceleratedPowerResult", "power_exponential_accelerated", "simulate_exponential_arrays"]

BULBAR_SHARE = 0.28  # as ExponentialDesign
POPULATIONS = ("all", "low")


@dataclass(frozen=True, repr=False)
class AcceleratedPowerResult:
    """Rejection rates of the one-sided log-rank and Cox Wald tests over `n_trials` trials."""

    n_trials: int
    seed: int
    alpha: float
    device: str
    power_logrank: float
    power_cox: float
    mean_events: float
    cox_not_converged: int
    trials: pd.DataFrame | None  # per trial: events, logrank_z, coef, se, status (keep_trials=True)

    @property
    def summary(self) -> pd.DataFrame:
        """Power and its Monte Carlo standard error for each test."""
        rows = []
        for test, p in (("logrank", self.power_logrank), ("cox", self.power_cox)):
            rows.append({"test": test, "power": p, "mc_se": math.sqrt(p * (1 - p) / self.n_trials),
                         "n_trials": self.n_trials, "alpha": self.alpha, "device": self.device})
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return (f"AcceleratedPowerResult(n_trials={self.n_trials}, power_logrank={self.power_logrank:.4f}, "
                f"power_cox={self.power_cox:.4f}, device={self.device!r})")


def power_exponential_accelerated(design: ExponentialDesign, n_trials: int, seed: int = 0, alpha: float = 0.025,
                                  strata: tuple[str, ...] = ("onset_site",),
                                  population: Literal["all", "low"] = "all",
                                  ties: Literal["efron", "breslow"] = "efron", chunk_trials: int | None = None,
                                  keep_trials: bool = True) -> AcceleratedPowerResult:
    """Power of the one-sided (benefit) log-rank and Cox Wald tests at `alpha`, on JAX.

    `population="low"` analyses only participants at or below the biomarker cut-off. A Cox fit
    counts as rejecting only when it converged (as `mndtrial.power`'s criteria). Chunks of
    `chunk_trials` (default 4,096 on a CPU, 32,768 on an accelerator) bound the memory.

    Example:
        >>> res = power_exponential_accelerated(ExponentialDesign(n_per_arm=20), 64, seed=1)  # doctest: +SKIP
        >>> res.summary[["test", "power", "mc_se"]]  # doctest: +SKIP
    """
    _check(design, n_trials, alpha, strata, population, ties, chunk_trials)
    device = jax_device()
    if chunk_trials is None:
        chunk_trials = 4096 if device.startswith("cpu") else 32768
    chunk_trials = min(chunk_trials, n_trials)
    run = _compiled_chunk(_shape(design), tuple(strata), population, ties == "efron")
    jax = require_jax()
    base, par = jax.random.PRNGKey(seed), _parameters(design)
    crit = norm_isf(alpha)
    keys = ("events", "observed_minus_expected", "variance", "coef", "se", "status")
    kept: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    rej_lr = rej_cox = not_conv = 0
    events_total = 0.0
    for first in range(0, n_trials, chunk_trials):
        # every chunk has the same shape (one compilation); the last one's extra trials are dropped
        idx = np.arange(first, first + chunk_trials, dtype=np.uint32)
        out = run(base, par, idx)
        take = min(chunk_trials, n_trials - first)
        out = {k: np.asarray(out[k])[:take] for k in keys}
        z_lr = out["observed_minus_expected"] / np.sqrt(out["variance"])
        conv = out["status"] == 1
        with np.errstate(invalid="ignore", divide="ignore"):
            z_cox = out["coef"] / out["se"]
        rej_lr += int((z_lr < -crit).sum())
        rej_cox += int((conv & (z_cox < -crit)).sum())
        not_conv += int((~conv).sum())
        events_total += float(out["events"].sum())
        if keep_trials:
            for k in keys:
                kept[k].append(out[k])
    trials = None
    if keep_trials:
        cat = {k: np.concatenate(v) for k, v in kept.items()}
        trials = pd.DataFrame({"trial": np.arange(n_trials), "events": cat["events"],
                               "o_minus_e": cat["observed_minus_expected"], "variance": cat["variance"],
                               "logrank_z": cat["observed_minus_expected"] / np.sqrt(cat["variance"]),
                               "coef": cat["coef"], "se": cat["se"], "status": STATUS_NAMES[cat["status"]]})
    return AcceleratedPowerResult(n_trials=n_trials, seed=seed, alpha=alpha, device=device,
                                  power_logrank=rej_lr / n_trials, power_cox=rej_cox / n_trials,
                                  mean_events=events_total / n_trials, cox_not_converged=not_conv, trials=trials)


def simulate_exponential_arrays(design: ExponentialDesign, first_trial: int, n_trials: int,
                                seed: int = 0) -> dict[str, np.ndarray]:
    """The JAX route's trials as numpy (trials × participants) arrays: time, event, active,
    stratum (0 bulbar, 1 limb), log_pnfh — for checks and for the CPU estimators.

    Example:
        >>> sim = simulate_exponential_arrays(ExponentialDesign(n_per_arm=5), 0, 2, seed=1)  # doctest: +SKIP
        >>> sim["time"].shape  # doctest: +SKIP
        (2, 10)
    """
    if n_trials < 1 or first_trial < 0:
        raise ParameterError("n_trials", n_trials, "must be >= 1 with first_trial >= 0")
    jax = require_jax()
    sim = _simulator(_shape(design))
    keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(
        jax.random.PRNGKey(seed), np.arange(first_trial, first_trial + n_trials, dtype=np.uint32))
    out = jax.jit(jax.vmap(sim, in_axes=(0, None)))(keys, _parameters(design))
    return {k: np.asarray(v) for k, v in out.items()}


def _check(design, n_trials, alpha, strata, population, ties, chunk_trials) -> None:
    if not isinstance(design, ExponentialDesign):
        raise ParameterError("design", type(design).__name__, "must be an ExponentialDesign")
    if n_trials < 1:
        raise ParameterError("n_trials", n_trials, "must be at least 1")
    if not 0 < alpha < 1:
        raise ParameterError("alpha", alpha, "must be in (0, 1)")
    if tuple(strata) not in ((), ("onset_site",)):
        raise ParameterError("strata", strata, "must be () or ('onset_site',) (the design's only stratum)")
    if population not in POPULATIONS:
        raise ParameterError("population", population, f"must be one of {POPULATIONS}")
    if ties not in ("efron", "breslow"):
        raise ParameterError("ties", ties, "must be 'efron' or 'breslow'")
    if chunk_trials is not None and chunk_trials < 1:
        raise ParameterError("chunk_trials", chunk_trials, "must be at least 1")


def _shape(design: ExponentialDesign) -> tuple:
    """What fixes the compiled program: array sizes and which random draws exist."""
    return (design.n_per_arm, design.enrich, design.accrual_days > 0, design.dropout_per_year > 0,
            design.time_resolution_days > 0)


def _parameters(design: ExponentialDesign) -> np.ndarray:
    """The numbers passed to the compiled program as data (a new value needs no recompilation)."""
    d = design
    log_cut = math.log(d.biomarker_cutoff)
    return np.array([math.log(2) / d.median_survival_control_days, d.hazard_ratio,
                     d.hazard_ratio if d.hazard_ratio_high is None else d.hazard_ratio_high,
                     d.biomarker_log_hr, log_cut, float(norm_cdf((log_cut - LOG_PNFH_MEAN) / LOG_PNFH_SD)),
                     d.accrual_days, d.follow_up_days, d.dropout_per_year / 365.25, d.time_resolution_days])


def _simulator(shape: tuple):
    """One trial from its key and `_parameters`: a JAX function returning (participants,) arrays."""
    jax = require_jax()
    jnp, random = jax.numpy, jax.random
    n_per_arm, enrich, accrual, dropout, rounded = shape
    n = 2 * n_per_arm

    def one(key, par):
        base_rate, hr_low, hr_high, bio_log_hr, log_cut, p_low, accrual_days, follow_up_days, drop_rate, res = par
        k_bio, k_site, k_death, k_entry, k_drop = random.split(key, 5)
        active = (jnp.arange(n) >= n_per_arm).astype(jnp.float64)
        if enrich:  # below the cut-off only: the normal truncated by its quantile
            u = random.uniform(k_bio, (n,), jnp.float64, minval=1e-300, maxval=1.0) * p_low
            log_pnfh = LOG_PNFH_MEAN + LOG_PNFH_SD * jax.scipy.special.ndtri(u)
        else:
            log_pnfh = LOG_PNFH_MEAN + LOG_PNFH_SD * random.normal(k_bio, (n,), jnp.float64)
        stratum = jnp.where(random.uniform(k_site, (n,), jnp.float64) < BULBAR_SHARE, 0, 1)
        hr = jnp.where(log_pnfh > log_cut, hr_high, hr_low)
        rate = base_rate * jnp.exp(bio_log_hr * (log_pnfh - LOG_PNFH_MEAN)) * jnp.where(active > 0, hr, 1.0)
        death = random.exponential(k_death, (n,), jnp.float64) / rate
        entry = random.uniform(k_entry, (n,), jnp.float64) * accrual_days if accrual else jnp.zeros(n)
        admin = accrual_days + follow_up_days - entry
        censor = (jnp.minimum(random.exponential(k_drop, (n,), jnp.float64) / drop_rate, admin) if dropout
                  else admin)
        time = jnp.minimum(death, censor)
        event = (death <= censor).astype(jnp.float64)
        if rounded:  # as ExponentialDesign: up to the grid, at least one step
            time = jnp.maximum(jnp.ceil(time / res), 1) * res
        return {"time": time, "event": event, "active": active, "stratum": stratum, "log_pnfh": log_pnfh}

    return one


@lru_cache(maxsize=16)
def _compiled_chunk(shape: tuple, strata: tuple[str, ...], population: str, efron: bool):
    """jit(vmap(simulate → analyse)) over a chunk's trial indices."""
    jax = require_jax()
    jnp = jax.numpy
    sim = _simulator(shape)
    analyse = trial_function(efron)

    def one(base, par, trial):
        s = sim(jax.random.fold_in(base, trial), par)
        valid = (jnp.ones_like(s["time"]) if population == "all"
                 else (s["log_pnfh"] <= par[4]).astype(jnp.float64))
        stratum = s["stratum"] if strata else jnp.zeros_like(s["stratum"])
        # rows outside the population: a stratum of their own with no events (as survival_tests_arrays)
        stratum = jnp.where(valid > 0, stratum, 2)
        return analyse(s["time"], s["event"] * valid, s["active"], stratum, valid)

    return jax.jit(jax.vmap(one, in_axes=(None, None, 0)))
