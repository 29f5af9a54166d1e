"""Single-trial reference fits (lifelines, statsmodels) for the batch estimator tests."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from lifelines import CoxPHFitter
from lifelines.statistics import logrank_test
from statsmodels.duration.survfunc import survdiff

# lifelines' default stopping rule leaves up to ~3e-6 in a coefficient; run it to convergence.
LIFELINES_CONVERGED = {"precision": 1e-14, "r_precision": 0.0, "step_size": 1.0, "max_steps": 200}


def _active(trial) -> str:
    return trial.info.active_arms[0]


def survival_frame(trial) -> pd.DataFrame:
    df = trial.survival_by_subject()
    df["treatment"] = (df["arm"] == _active(trial)).astype(float)
    df["log(csf_pnfh)"] = np.log(df["csf_pnfh"])
    df["onset_site==bulbar"] = (df["onset_site"] == "bulbar").astype(float)
    return df


def lifelines_cox(trial, covariates=(), strata=()) -> CoxPHFitter:
    df = survival_frame(trial)
    cols = ["treatment", *covariates, *strata, "time_days", "event"]
    return CoxPHFitter().fit(df[cols], "time_days", "event", strata=list(strata) or None,
                             fit_options=LIFELINES_CONVERGED)


def logrank_references(trial, strata=None) -> dict:
    df = survival_frame(trial)
    a = df["treatment"] == 1
    out = {"lifelines": logrank_test(df.time_days[a], df.time_days[~a], df.event[a], df.event[~a]).test_statistic,
           "statsmodels": survdiff(df.time_days, df.event, a.astype(int))[0]}
    if strata:
        out["statsmodels_stratified"] = survdiff(df.time_days, df.event, a.astype(int), strata=df[strata])[0]
    return out


SM_METHODS = ({"method": ["lbfgs"], "gtol": 1e-12}, {"method": ["cg"], "gtol": 1e-12},
              {"method": ["bfgs"], "gtol": 1e-12}, {"method": ["powell", "lbfgs"], "gtol": 1e-12})


def statsmodels_slopes(trial, target_criterion: float | None = None):
    """statsmodels MixedLM REML fit at its best optimum over several optimisers.

    statsmodels' optimisers sometimes stop short of the REML optimum (reported converged or not);
    the fit with the highest REML log-likelihood is the reference. Returns (fit, -2 llf).
    """
    df = trial.alsfrs.merge(trial.participants[["subject_id", "arm"]], on="subject_id")
    df["months"] = df["day"] / 30.44
    df["arm"] = (df["arm"] == _active(trial)).astype(float)
    model = smf.mixedlm("total ~ months * arm", df, groups="subject_id", re_formula="~months")
    best, best_crit = None, np.inf
    for kw in SM_METHODS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fit = model.fit(reml=True, **kw)
            except (np.linalg.LinAlgError, ValueError):
                continue
        crit = -2 * fit.llf
        if np.isfinite(crit) and crit < best_crit:
            best, best_crit = fit, crit
        if target_criterion is not None and best_crit <= target_criterion + 1e-7:
            break
    return best, best_crit
