"""Cox proportional-hazards models (lifelines `CoxPHFitter`, Efron ties as in R `coxph`).

`fit_cox` works on any table; `CoxModel` fits a `Trial` (arm + covariates, optional strata).
Both refuse data whose partial likelihood has no finite maximum (monotone likelihood: e.g. no
events in one arm) with an `AnalysisError`, instead of returning a huge hazard ratio; and both
report the scaled Schoenfeld residual test of proportional hazards beside the estimates.

References: Therneau & Grambsch (2000), *Modeling Survival Data*, ch. 3 and 6; lifelines docs,
`CoxPHFitter` and `lifelines.statistics.proportional_hazard_test`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError
from lifelines.statistics import proportional_hazard_test
from scipy import stats

from ..data import Trial
from ..errors import AnalysisError, ParameterError
from .frame import ArmContrast, SurvivalFrame, jsonable, survival_frame
from .estimator import FittedEstimator

__all__ = ["CoxResult", "CoxModel", "fit_cox", "monotone_terms"]

# A log hazard ratio this large (HR ~ 3e6) on data that converged means the maximum is at
# infinity in practice; lifelines stops at its step limit rather than saying so.
MAX_ABS_COEF = 15.0
# lifelines' default Newton tolerance (1e-7) stops ~3e-6 (relative) short of R's coxph on `lung`.
# lifelines stops when the Newton step or the Newton decrement is below `precision`, without
# taking that last step, so the decrement rule leaves an error of about sqrt(2·precision/information):
# 1e-16 costs one more step (the error then ~1e-13). lifelines also stops when the log-likelihood
# changes by less than `r_precision` (relative, 1e-9) between steps, as R does; but lifelines damps
# its first steps (0.95 of a Newton step), so near HR = 1, where the likelihood is flat, that rule
# stopped it 7e-6 short in log HR on a simulated 39-participant subgroup (statsmodels PHReg and a
# direct maximisation agree). It is switched off.
NEWTON_PRECISION = 1e-16
FIT_OPTIONS = {"precision": NEWTON_PRECISION, "r_precision": 0.0}


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox model: one row per term in `summary`, the LR test and the PH diagnostics."""

    label: str
    summary: pd.DataFrame
    n: int
    events: int
    log_likelihood: float
    log_likelihood_null: float
    lr_chi2: float
    lr_df: int
    lr_p: float
    strata: tuple[str, ...] = ()
    ph_test: pd.DataFrame | None = None
    ph_test_note: str | None = None
    fit_warnings: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    def term(self, name: str) -> pd.Series:
        return self.summary.loc[name]

    def to_dict(self) -> dict[str, Any]:
        terms = {t: {"coef": r.coef, "se": r.se, "hr": r.hr, "ci": [r.hr_lower, r.hr_upper],
                     "z": r.z, "p": r.p} for t, r in self.summary.iterrows()}
        ph = None
        if self.ph_test is not None:
            ph = {"method": "scaled Schoenfeld residuals, time transform km (lifelines)",
                  "terms": {t: {"chi2": r.chi2, "p": r.p} for t, r in self.ph_test.iterrows()}}
        elif self.ph_test_note:
            ph = {"method": None, "not_computed": self.ph_test_note}
        return jsonable({"model": self.label, "terms": terms, "n": self.n, "events": self.events,
                         "strata": [s.removeprefix("stratum:") for s in self.strata],
                         "log_likelihood": self.log_likelihood, "log_likelihood_null": self.log_likelihood_null,
                         "lr_test": {"chi2": self.lr_chi2, "df": self.lr_df, "p": self.lr_p},
                         "ph_test": ph, "warnings": list(self.fit_warnings), **self.info})

    def _repr_html_(self) -> str:
        return f"<p><b>Cox model: {self.label}</b> (n={self.n}, events={self.events})</p>" + self.summary.to_html()


def monotone_terms(data: pd.DataFrame, terms: Sequence[str], duration_col: str = "time_days",
                   event_col: str = "event", strata: Sequence[str] = ()) -> dict[str, str]:
    """Terms whose partial likelihood alone is monotone (no finite maximum), with the direction.

    A term is monotone when, at every event time whose risk set it varies in, the failing
    participants all have the smallest value in the risk set ("-inf") or all the largest ("+inf")
    -- for a treatment indicator, when one arm has no events.
    """
    groups = [data] if not strata else [g for _, g in data.groupby(list(strata), sort=False, dropna=False)]
    found: dict[str, str] = {}
    for term in terms:
        low_ok = high_ok = True
        informative = False
        for g in groups:
            g = g.sort_values(duration_col, kind="mergesort")
            t = g[duration_col].to_numpy(float)
            x = g[term].to_numpy(float)
            e = g[event_col].to_numpy() == 1
            risk_min = np.minimum.accumulate(x[::-1])[::-1]
            risk_max = np.maximum.accumulate(x[::-1])[::-1]
            first = np.searchsorted(t, t, side="left")  # the risk set at t starts at its first tie
            rmin, rmax = risk_min[first][e], risk_max[first][e]
            xe = x[e]
            varies = rmax > rmin
            informative |= bool(varies.any())
            low_ok &= bool(np.all((xe == rmin) | ~varies))
            high_ok &= bool(np.all((xe == rmax) | ~varies))
        if informative and (low_ok or high_ok):
            found[term] = "-inf" if low_ok else "+inf"
    return found


def fit_cox(data: pd.DataFrame, terms: Sequence[str], duration_col: str = "time_days", event_col: str = "event",
            strata: Sequence[str] = (), alpha: float = 0.05, ph_test: bool = True, label: str = "cox",
            analysis: str = "cox") -> CoxResult:
    """Fit a Cox model (Efron ties) of `terms` on `data`; estimates, LR test and PH test.

    Example:
        >>> from lifelines.datasets import load_rossi
        >>> res = fit_cox(load_rossi(), ["fin", "age", "race", "wexp", "mar", "paro", "prio"],
        ...               duration_col="week", event_col="arrest")
        >>> round(float(res.term("fin").coef), 4)
        -0.3794
    """
    if not 0 < alpha < 1:
        raise ParameterError("alpha", alpha, "must be in (0, 1)")
    terms, strata = list(terms), list(strata)
    missing = [c for c in [duration_col, event_col, *terms, *strata] if c not in data.columns]
    if missing:
        raise ParameterError("terms", missing, "columns not in the data")
    df = data[[duration_col, event_col, *terms, *strata]]
    n_na = int(df.isna().any(axis=1).sum())
    if n_na:
        raise AnalysisError(analysis, f"{n_na} row(s) have missing values in the model columns; "
                                      "choose complete cases explicitly before fitting")
    events = int(df[event_col].sum())
    if events == 0:
        raise AnalysisError(analysis, "no events: a Cox model needs at least one event")
    if events < 2:
        raise AnalysisError(analysis, f"only {events} event: too few to estimate a hazard ratio")
    constant = [t for t in terms if df[t].nunique() < 2]
    if constant:
        raise AnalysisError(analysis, f"term(s) {constant} take a single value in these data")
    monotone = monotone_terms(df, terms, duration_col, event_col, strata)
    if monotone:
        why = "; ".join(f"{t} -> {d}" for t, d in monotone.items())
        raise AnalysisError(analysis, f"monotone likelihood, the hazard ratio has no finite estimate ({why}); "
                                      "e.g. no events in one arm or level")
    cph = CoxPHFitter(alpha=alpha)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cph.fit(df, duration_col=duration_col, event_col=event_col, strata=strata or None,
                    fit_options=FIT_OPTIONS)
        except ConvergenceError as exc:
            raise AnalysisError(analysis, f"the Cox fit did not converge ({str(exc).splitlines()[0]})") from None
    s = cph.summary
    if not np.all(np.isfinite(s["coef"])) or np.any(np.abs(s["coef"]) > MAX_ABS_COEF) \
            or not np.all(np.isfinite(s["se(coef)"])):
        raise AnalysisError(analysis, "the Cox fit diverged (a coefficient is infinite or |log HR| > "
                                      f"{MAX_ABS_COEF:g}): monotone likelihood in a combination of terms")
    z = stats.norm.ppf(1 - alpha / 2)
    summary = pd.DataFrame({"coef": s["coef"], "se": s["se(coef)"], "hr": np.exp(s["coef"]),
                            "hr_lower": np.exp(s["coef"] - z * s["se(coef)"]),
                            "hr_upper": np.exp(s["coef"] + z * s["se(coef)"]), "z": s["z"], "p": s["p"]})
    summary = summary.loc[terms]
    summary.index.name = "term"
    lr = cph.log_likelihood_ratio_test()
    ph, note = None, None
    if ph_test:
        ph, note = _ph_test(cph, df)
    fit_warnings = tuple(sorted({str(w.message).splitlines()[0] for w in caught
                                 if not issubclass(w.category, (DeprecationWarning, FutureWarning))}))
    return CoxResult(label=label, summary=summary, n=len(df), events=events,
                     log_likelihood=float(cph.log_likelihood_), log_likelihood_null=float(cph._ll_null_),
                     lr_chi2=float(lr.test_statistic), lr_df=int(lr.degrees_freedom), lr_p=float(lr.p_value),
                     strata=tuple(strata), ph_test=ph, ph_test_note=note, fit_warnings=fit_warnings)


def _ph_test(cph: CoxPHFitter, df: pd.DataFrame) -> tuple[pd.DataFrame | None, str | None]:
    """Per-term scaled Schoenfeld residual test (Grambsch & Therneau 1994), KM time transform."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = proportional_hazard_test(cph, df, time_transform="km")
    except Exception as exc:  # the diagnostic must not hide the estimates; say why it is absent
        return None, f"proportional-hazards test failed: {type(exc).__name__}: {exc}"
    table = res.summary.rename(columns={"test_statistic": "chi2"})[["chi2", "p"]]
    table = table.reindex([t for t in cph.summary.index if t in table.index])
    table.index.name = "term"
    return table, None


class CoxModel(FittedEstimator):
    """Cox model of a trial: treatment (active vs control) plus covariates, optional strata.

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> fit = CoxModel(covariates=["log(csf_pnfh)"]).fit(example_trial())
        >>> list(fit.result_.summary.index)
        ['treatment', 'log_csf_pnfh']
    """

    def __init__(self, covariates: Iterable[str] = (), strata: Iterable[str] = (), alpha: float = 0.05,
                 ph_test: bool = True, contrast: ArmContrast | None = None,
                 event_types: Sequence[str] | None = None, label: str = "cox"):
        self.covariates = tuple(covariates)
        self.strata = tuple(strata)
        self.alpha = alpha
        self.ph_test = ph_test
        self.contrast = contrast
        self.event_types = event_types
        self.label = label

    def fit(self, trial: Trial) -> "CoxModel":
        frame = survival_frame(trial, self.covariates, self.strata, contrast=self.contrast,
                               event_types=self.event_types, analysis=f"cox ({self.label})")
        self.frame_: SurvivalFrame = frame
        self.result_ = fit_cox_frame(frame, alpha=self.alpha, ph_test=self.ph_test, label=self.label)
        return self


def fit_cox_frame(frame: SurvivalFrame, alpha: float = 0.05, ph_test: bool = True, label: str = "cox",
                  terms: Sequence[str] | None = None) -> CoxResult:
    """`fit_cox` on a `SurvivalFrame`, carrying its arms, coding and exclusions into the result."""
    res = fit_cox(frame.data, list(terms or frame.terms), strata=frame.strata, alpha=alpha, ph_test=ph_test,
                  label=label, analysis=f"cox ({label})")
    info = {"arms": frame.contrast.to_dict(), "n_total": frame.n_total,
            "excluded_missing": dict(frame.excluded), "coding": list(frame.coding)}
    return CoxResult(**{**res.__dict__, "info": info})
