"""Linear mixed models fitted by mndtrial's own profiled REML (`mndtrial.analysis.reml`), matched to lme4.

One function, `fit_random_slope_lmm`, fits every mixed model in mndtrial's single-trial analyses
(the ALSFRS-R slope analysis, the Treg model over visits, and the sleepstudy check against R's
`lme4::lmer`), so the reference test exercises exactly the code path the trial analyses use.

The REML criterion is profiled over σ² and optimised by BFGS with its analytic gradient on the
Cholesky factor of the relative random-effect covariance (lme4's θ), from moment estimates
(per-participant least-squares lines); if BFGS stalls away from a stationary point, Powell's
derivative-free search finds the basin and BFGS polishes from there, and the first attempt's
failure is logged in `MixedModelFit.warnings`. On sleepstudy it reaches lme4's REML criterion,
fixed effects and standard errors to < 1e-4. Until release 0.1 this ran through statsmodels'
`MixedLM` (about 1 s per fit on a 300-participant trial against ~10 ms here); that route is kept in
the tests (`tests/lmm_statsmodels_reference.py`) as the reference this one must equal.

References: Bates, Mächler, Bolker & Walker (2015), "Fitting linear mixed-effects models using
lme4", J Stat Softw 67(1); Harville (1977), JASA 72:320.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import AnalysisError, ParameterError
from .design_matrix import full_column_rank
from .reml import fit_reml
from .distributions import norm_ppf, norm_sf

__all__ = ["MixedModelFit", "fit_lmm_arrays", "fit_random_slope_lmm"]

# A variance this small relative to the residual variance is on the boundary (lme4's
# `isSingular` uses 1e-4 on the relative Cholesky factor, i.e. 1e-8 on this ratio scale is too
# strict for a numerical optimiser that never lands exactly on zero).
BOUNDARY_TOLERANCE = 1e-6
GRADIENT_TOLERANCE = 1e-8


@dataclass(frozen=True)
class MixedModelFit:
    """A fitted linear mixed model: fixed effects, their covariance, variance components.

    `cov_re` is the random-effects covariance (intercept first, then the slope when fitted),
    `residual_variance` the within-participant variance; `problems` lists boundary fits, singular
    random-effect covariance and non-convergence in words; `warnings` has every warning raised.
    """

    params: pd.Series
    cov_params: pd.DataFrame
    cov_re: pd.DataFrame
    residual_variance: float
    reml: bool
    reml_criterion: float
    n_obs: int
    n_groups: int
    converged: bool
    problems: tuple[str, ...]
    warnings: tuple[str, ...]
    method: str = "REML"
    extra: dict = field(default_factory=dict)

    @property
    def bse(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.cov_params.to_numpy())), index=self.params.index)

    @property
    def random_sd(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.cov_re.to_numpy())), index=self.cov_re.index)

    @property
    def random_correlation(self) -> float | None:
        if self.cov_re.shape[0] < 2:
            return None
        c = self.cov_re.to_numpy()
        denominator = np.sqrt(c[0, 0] * c[1, 1])
        return float(c[0, 1] / denominator) if denominator > 0 else None

    def linear_combination(self, weights: dict[str, float], level: float = 0.95) -> dict[str, float]:
        """Estimate, SE, Wald CI and two-sided p of Σ w·β (normal reference, as statsmodels)."""
        names = list(self.params.index)
        w = np.zeros(len(names))
        for name, value in weights.items():
            if name not in names:
                raise ParameterError("weights", name, f"must name fixed effects {names}")
            w[names.index(name)] = value
        estimate = float(w @ self.params.to_numpy())
        se = float(np.sqrt(w @ self.cov_params.to_numpy() @ w))
        return wald(estimate, se, level)

    @property
    def ok(self) -> bool:
        return self.converged and not self.problems

    def summary(self) -> pd.DataFrame:
        se = self.bse
        z = self.params / se
        return pd.DataFrame({"estimate": self.params, "se": se, "z": z,
                             "p": 2 * norm_sf(np.abs(z))})


def wald(estimate: float, se: float, level: float = 0.95) -> dict[str, float]:
    """Normal-theory (Wald) CI and two-sided p for an estimate and its SE."""
    q = norm_ppf(0.5 + level / 2)
    z = estimate / se if se > 0 else float("nan")
    return {"estimate": estimate, "se": se, "ci_low": estimate - q * se, "ci_high": estimate + q * se,
            "z": z, "p": float(2 * norm_sf(abs(z)))}


def fit_random_slope_lmm(frame: pd.DataFrame, response: str, time: str | None, group: str,
                         fixed: Sequence[str] = (), reml: bool = True,
                         intercept: bool = True) -> MixedModelFit:
    """Fit `response ~ fixed` with a random intercept (and random `time` slope) per `group`.

    `fixed` names numeric columns of `frame` (the caller builds dummies and interactions, so the
    fixed-effect names are the column names); `time`, when given, must be among them and gets a
    random slope with an unstructured 2×2 covariance, as lme4's `(time | group)`. Rows with a
    missing value in any used column are refused, not dropped.

    Example (the lme4 sleepstudy model `Reaction ~ Days + (Days | Subject)`):
        >>> import pandas as pd
        >>> d = pd.read_csv("sleepstudy.csv")  # doctest: +SKIP
        >>> fit = fit_random_slope_lmm(d, "Reaction", "Days", "Subject", fixed=["Days"])  # doctest: +SKIP
        >>> round(fit.params["Days"], 4)  # doctest: +SKIP
        10.4673
    """
    fixed = list(fixed)
    if time is not None and time not in fixed:
        raise ParameterError("time", time, "the random-slope variable must also be a fixed effect")
    used = [response, group, *fixed]
    missing_cols = [c for c in used if c not in frame.columns]
    if missing_cols:
        raise ParameterError("frame", missing_cols, "columns named in the model must be in the frame")
    X = frame[fixed].to_numpy(dtype=float).reshape(len(frame), len(fixed))
    return fit_lmm_arrays(frame[response].to_numpy(dtype=float), X, fixed, frame[group].to_numpy(),
                          None if time is None else fixed.index(time), reml=reml, intercept=intercept,
                          names_used=used, group_name=group)


def fit_lmm_arrays(y: np.ndarray, X: np.ndarray, fixed: Sequence[str], groups: np.ndarray,
                   time_column: int | None, reml: bool = True, intercept: bool = True,
                   names_used: Sequence[str] | None = None, group_name: str = "group") -> MixedModelFit:
    """`fit_random_slope_lmm` on arrays: y (n,), X (n, p) the fixed effects named `fixed` (no
    intercept column), groups (n,) and the column of X that gets a random slope (None: a random
    intercept only). The route the trial analyses take where a table would be built only to be read
    back as arrays; the same checks, messages and fit. `names_used` and `group_name` name the
    columns in the messages (default: `fixed` and "group")."""
    fixed = list(fixed)
    time = None if time_column is None else fixed[time_column]
    used = list(names_used) if names_used is not None else ["response", group_name, *fixed]
    X = np.asarray(X, dtype=float).reshape(len(y), len(fixed))
    bad = np.isnan(y) | np.isnan(X).any(axis=1) | pd.isna(groups)
    if bad.any():
        raise AnalysisError("mixed model", f"{int(bad.sum())} rows have a missing value in {used}; "
                                           "remove or impute them explicitly before fitting")
    codes, labels = pd.factorize(groups)
    n_groups = len(labels)
    if n_groups < 2:
        raise AnalysisError("mixed model", f"needs at least 2 groups ('{group_name}'); got {n_groups}")
    if time is not None and not _some_group_varies(codes, X[:, time_column]):
        raise AnalysisError("mixed model", f"no group has two distinct values of '{time}': "
                                           "a random slope cannot be estimated")
    names = (["Intercept"] if intercept else []) + fixed
    if intercept:
        X = np.column_stack([np.ones(len(y)), X])
    if not full_column_rank(X):
        raise AnalysisError("mixed model", f"the fixed-effect design {names} is not of full "
                                           "rank (a covariate is constant or collinear in these data)")
    names_re = ["Intercept"] + ([time] if time is not None else [])
    Z = np.ones((len(y), len(names_re)))
    if time is not None:
        Z[:, 1] = X[:, names.index(time)]
    fit = fit_reml(y, X, Z, groups, reml=reml)
    messages = tuple(fit.messages)
    for message in messages:  # surfaced to the caller as well as recorded in the result
        warnings.warn(f"mixed model: {message}", RuntimeWarning, stacklevel=3)
    cov_re = pd.DataFrame(fit.cov_random, index=names_re, columns=names_re)
    scale = float(fit.residual_variance)
    problems = _boundary_problems(cov_re, scale) if np.isfinite(scale) else ()
    if not fit.converged:
        problems = ("the optimiser did not converge",) + problems
    return MixedModelFit(params=pd.Series(fit.beta, index=names), cov_params=pd.DataFrame(fit.cov_beta, index=names,
                                                                                         columns=names),
                         cov_re=cov_re, residual_variance=scale, reml=reml, reml_criterion=float(fit.criterion),
                         n_obs=len(y), n_groups=int(n_groups), converged=bool(fit.converged),
                         problems=problems, warnings=messages, method="REML" if reml else "ML")


def _some_group_varies(codes: np.ndarray, values: np.ndarray) -> bool:
    """Whether some group has two distinct values (NaN already refused)."""
    low = np.full(codes.max() + 1, np.inf)
    high = np.full(codes.max() + 1, -np.inf)
    np.minimum.at(low, codes, values)
    np.maximum.at(high, codes, values)
    return bool(np.any(high > low))


def _boundary_problems(cov_re: pd.DataFrame, residual_variance: float) -> tuple[str, ...]:
    problems = []
    c = cov_re.to_numpy()
    names = list(cov_re.index)
    relative = np.diag(c) / residual_variance
    for name, value in zip(names, relative):
        if value < BOUNDARY_TOLERANCE:
            problems.append(f"boundary fit: the random-effect variance of '{name}' is zero "
                            f"(relative to the residual variance: {value:.2e})")
    if c.shape[0] > 1 and np.all(relative >= BOUNDARY_TOLERANCE):
        eigen = np.linalg.eigvalsh(c / residual_variance)
        if eigen.min() < BOUNDARY_TOLERANCE * max(eigen.max(), 1.0):
            corr = c[0, 1] / np.sqrt(c[0, 0] * c[1, 1])
            problems.append(f"singular random-effect covariance (correlation {corr:+.4f}): "
                            "the random intercept and slope are not separately identified")
    return tuple(problems)
