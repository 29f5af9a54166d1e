"""One calibrated parameter: its value, standard error, estimator and how many participants it used."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "mean_sd", "proportion", "log_mean_sd", "lognormal_mean_sd"]


@dataclass(frozen=True)
class Estimate:
    """`parameter` is the dotted name in parameters.toml (`"survival.weibull_shape"`)."""

    parameter: str
    value: float
    se: float
    estimator: str
    n: int

    def source(self, dataset: str) -> str:
        return f"calibrated from {dataset}: {self.estimator}, SE {self.se:.3g} (n = {self.n})"


def mean_sd(x: np.ndarray, section: str, mean_name: str, sd_name: str, what: str) -> list[Estimate]:
    """Sample mean and sd; SE of the sd by the delta method with the sample fourth moment
    (the simulator's log-normals are parametrised by their mean and sd, so moments match them
    without assuming the shape)."""
    x = x[np.isfinite(x)]
    n = len(x)
    m, sd = float(x.mean()), float(x.std(ddof=1))
    m4 = float(np.mean((x - m) ** 4))
    se_sd = float(np.sqrt(max(m4 - sd ** 4, 0.0) / n) / (2 * sd))
    return [Estimate(f"{section}.{mean_name}", m, sd / np.sqrt(n), f"sample mean of {what}", n),
            Estimate(f"{section}.{sd_name}", sd, se_sd, f"sample sd of {what} (SE by the delta method)", n)]


def log_mean_sd(x: np.ndarray, section: str, stem: str, what: str) -> list[Estimate]:
    """Mean and sd of log(x): the log-normal's maximum-likelihood fit (sd with n - 1)."""
    x = np.log(x[np.isfinite(x) & (x > 0)])
    n = len(x)
    m, sd = float(x.mean()), float(x.std(ddof=1))
    return [Estimate(f"{section}.{stem}_log_mean", m, sd / np.sqrt(n), f"mean of log {what} (log-normal fit)", n),
            Estimate(f"{section}.{stem}_log_sd", sd, sd / np.sqrt(2 * (n - 1)), f"sd of log {what} (log-normal fit)", n)]


def proportion(x: np.ndarray, parameter: str, what: str) -> Estimate:
    x = x[np.isfinite(x)]
    p = float(x.mean())
    return Estimate(parameter, p, float(np.sqrt(p * (1 - p) / len(x))), f"proportion {what}", len(x))


def lognormal_mean_sd(log_x: np.ndarray, section: str, mean_name: str, sd_name: str, what: str) -> list[Estimate]:
    """Mean and sd of a log-normal fitted by maximum likelihood on the log scale (the simulator's
    parametrisation of ΔFS and symptom duration); SEs by the delta method."""
    y = log_x[np.isfinite(log_x)]
    n = len(y)
    mu, s = float(y.mean()), float(y.std(ddof=1))
    mean = float(np.exp(mu + s ** 2 / 2))
    k = float(np.sqrt(np.expm1(s ** 2)))
    sd = mean * k
    var_mu, var_s = s ** 2 / n, s ** 2 / (2 * (n - 1))
    se_mean = mean * float(np.sqrt(var_mu + s ** 2 * var_s))                 # d mean/d mu = mean, d/d s = mean s
    d_sd_ds = sd * s + mean * s * np.exp(s ** 2) / k                       # d (mean k)/d s
    se_sd = float(np.sqrt(sd ** 2 * var_mu + d_sd_ds ** 2 * var_s))
    how = f"log-normal fit of {what} by maximum likelihood on the log scale (SE by the delta method)"
    return [Estimate(f"{section}.{mean_name}", mean, se_mean, how, n), Estimate(f"{section}.{sd_name}", sd, se_sd, how, n)]
