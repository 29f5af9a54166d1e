"""The statsmodels route of `fit_random_slope_lmm` (mndtrial 0.1), kept as the tests' reference.

mndtrial now fits its mixed models with its own REML (`mndtrial.analysis.reml`); this is the
former implementation through statsmodels' `MixedLM` (BFGS to gtol 1e-8 from moment estimates,
Powell then BFGS when that fails; fixed-effect covariance conditional on the variance components,
as lme4), which the new engine must equal fit by fit (tests/test_analysis_reml.py).
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.regression.mixed_linear_model import MixedLMParams

# The result container, Wald summary and boundary checks are shared with the module: what this
# file re-implements independently is the fitting route (statsmodels' MixedLM).
from mndtrial.analysis.lmm import GRADIENT_TOLERANCE, MixedModelFit, _boundary_problems
from mndtrial.errors import AnalysisError, ParameterError

__all__ = ["fit_random_slope_lmm"]


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
    bad = frame[[response, *fixed]].isna().any(axis=1) | frame[group].isna()
    if bad.any():
        raise AnalysisError("mixed model", f"{int(bad.sum())} rows have a missing value in {used}; "
                                           "remove or impute them explicitly before fitting")
    n_groups = frame[group].nunique()
    if n_groups < 2:
        raise AnalysisError("mixed model", f"needs at least 2 groups ('{group}'); got {n_groups}")
    if time is not None and frame.groupby(group)[time].nunique().max() < 2:
        raise AnalysisError("mixed model", f"no group has two distinct values of '{time}': "
                                           "a random slope cannot be estimated")
    exog = frame[fixed].astype(float)
    if intercept:
        exog.insert(0, "Intercept", 1.0)
    if np.linalg.matrix_rank(exog.to_numpy()) < exog.shape[1]:
        raise AnalysisError("mixed model", f"the fixed-effect design {list(exog.columns)} is not of full "
                                           "rank (a covariate is constant or collinear in these data)")
    exog_re = pd.DataFrame({"Intercept": np.ones(len(frame))}, index=frame.index)
    if time is not None:
        exog_re[time] = frame[time].astype(float)
    model = sm.MixedLM(frame[response].astype(float), exog, groups=frame[group], exog_re=exog_re)
    result, messages, log = _optimise(model, reml)
    for w in messages:  # surfaced to the caller as well as recorded in the result
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    messages = log + tuple(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in messages))
    cov_re = pd.DataFrame(np.asarray(result.cov_re), index=exog_re.columns, columns=exog_re.columns)
    scale = float(result.scale)
    problems = _boundary_problems(cov_re, scale)
    if not result.converged:
        problems = ("the optimiser did not converge",) + problems
    cov_fe = _gls_covariance(model, cov_re.to_numpy(), scale, list(exog.columns))
    return MixedModelFit(params=result.fe_params.copy(), cov_params=cov_fe.copy(), cov_re=cov_re,
                         residual_variance=scale, reml=reml, reml_criterion=float(-2 * result.llf),
                         n_obs=int(model.nobs), n_groups=int(n_groups), converged=bool(result.converged),
                         problems=problems, warnings=messages, method="REML" if reml else "ML")


def _fit_once(model: sm.MixedLM, reml: bool, method: str, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = model.fit(reml=reml, method=[method], **kwargs)
    return result, list(caught)


def _optimise(model: sm.MixedLM, reml: bool):
    """BFGS from moment estimates; if that fails, Powell then a BFGS polish (see module doc)."""
    first, caught = _fit_once(model, reml, "bfgs", start_params=_moment_start(model),
                              gtol=GRADIENT_TOLERANCE, maxiter=2000)
    if first.converged and not caught:
        return first, caught, ()
    log = tuple(f"attempt 1 (BFGS from moment estimates) failed: {w.category.__name__}: {w.message}"
                for w in caught) or ("attempt 1 (BFGS from moment estimates) did not converge",)
    rough, caught_rough = _fit_once(model, reml, "powell", maxiter=5000)
    polished, caught_polish = _fit_once(model, reml, "bfgs", start_params=rough.params_object,
                                        gtol=GRADIENT_TOLERANCE, maxiter=2000)
    candidates = [(first, caught), (rough, caught_rough), (polished, caught_polish)]
    finite = [c for c in candidates if np.isfinite(c[0].llf)]
    best = max(finite or candidates, key=lambda c: (c[0].converged, c[0].llf))
    return best[0], best[1], log


def _gls_covariance(model: sm.MixedLM, cov_re: np.ndarray, scale: float, names: list[str]) -> pd.DataFrame:
    """(X' V⁻¹ X)⁻¹ at the estimated variance components — lme4's `vcov`.

    statsmodels' `cov_params` inverts the joint observed information of fixed effects and
    variance parameters, whose cross terms are not zero away from the expected information; on
    ALSFRS-R data that moves slope SEs by ~1% from lme4. lme4 conditions on the variance
    components, and so do we.
    """
    information = np.zeros((len(names), len(names)))
    for X, Z in zip(model.exog_li, model.exog_re_li):
        V = Z @ cov_re @ Z.T + scale * np.eye(len(X))
        information += X.T @ np.linalg.solve(V, X)
    return pd.DataFrame(np.linalg.inv(information), index=names, columns=names)


def _moment_start(model: sm.MixedLM) -> MixedLMParams | None:
    """OLS fixed effects and a diagonal random-effect covariance from per-group least squares."""
    beta = np.linalg.lstsq(model.exog, model.endog, rcond=None)[0]
    coefficients, residuals = [], []
    for X, Z, y in zip(model.exog_li, model.exog_re_li, model.endog_li):
        if len(y) > Z.shape[1] and np.linalg.matrix_rank(Z) == Z.shape[1]:
            c = np.linalg.lstsq(Z, y - X @ beta, rcond=None)[0]
            coefficients.append(c)
            residuals.append(y - X @ beta - Z @ c)
    if len(coefficients) < 2:
        return None
    residual_variance = np.var(np.concatenate(residuals))
    spread = np.var(np.array(coefficients), axis=0)
    if residual_variance <= 0 or not np.all(spread > 0):
        return None
    return MixedLMParams.from_components(beta, cov_re=np.diag(spread / residual_variance))
