"""Cox proportional-hazards models (Efron ties as in R `coxph`).

`fit_cox` works on any table; `CoxModel` fits a `Trial` (arm + covariates, optional strata).
Both refuse data whose partial likelihood has no finite maximum (monotone likelihood: e.g. no
events in one arm) with an `AnalysisError`, instead of returning a huge hazard ratio; and both
report the scaled Schoenfeld residual test of proportional hazards beside the estimates.

The fit is the project's own Newton–Raphson with step halving (`cox_newton.newton_cox`, as R
`coxph`; about 1 ms a fit where lifelines' `CoxPHFitter` takes 40–60 ms) and its PH test is
`cox_ph.ph_test_statistics` (lifelines' statistic). lifelines stays the reference the tests
hold both to, and the fallback when Newton–Raphson does not converge (`converged_coxph`).

References: Therneau & Grambsch (2000), *Modeling Survival Data*, ch. 3 and 6; lifelines docs,
`CoxPHFitter` and `lifelines.statistics.proportional_hazard_test`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from ..data import Trial
from ..errors import AnalysisError, ParameterError
from .frame import ArmContrast, SurvivalFrame, jsonable, survival_frame
from .cox_newton import cox_loglik, newton_cox
from .cox_ph import ph_test_statistics
from .estimator import FittedEstimator
from .distributions import chi2_sf, norm_ppf, norm_sf

if TYPE_CHECKING:  # lifelines is imported only where a fit falls back to it
    from lifelines import CoxPHFitter

__all__ = ["CoxResult", "CoxModel", "converged_coxph", "fit_cox", "fit_cox_arrays", "monotone_terms"]

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
# A fit is at the maximum only if the full Newton step from its estimate is below this (log HR
# units): a converged lifelines fit is ~1e-13 from it; one that stopped short, far more.
SCORE_STEP_TOL = 1e-7
_NEWTON_WARNING = "Newton-Raphson"  # in each of lifelines' warnings that its iterations did not end well
NEWTON_ROUTE = "Newton-Raphson with step halving (mndtrial)"
SUMMARY_COLUMNS = ["coef", "se", "hr", "hr_lower", "hr_upper", "z", "p"]  # `CoxResult.summary`, in this order
PH_METHOD = "scaled Schoenfeld residuals, time transform km (lifelines' statistic)"


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
    fit_route: str = NEWTON_ROUTE
    info: dict[str, Any] = field(default_factory=dict)

    def term(self, name: str) -> pd.Series:
        return self.summary.loc[name]

    def to_dict(self) -> dict[str, Any]:
        terms = {t: {"coef": r.coef, "se": r.se, "hr": r.hr, "ci": [r.hr_lower, r.hr_upper],
                     "z": r.z, "p": r.p} for t, r in self.summary.iterrows()}
        ph = None
        if self.ph_test is not None:
            ph = {"method": PH_METHOD,
                  "terms": {t: {"chi2": r.chi2, "p": r.p} for t, r in self.ph_test.iterrows()}}
        elif self.ph_test_note:
            ph = {"method": None, "not_computed": self.ph_test_note}
        return jsonable({"model": self.label, "terms": terms, "n": self.n, "events": self.events,
                         "strata": [s.removeprefix("stratum:") for s in self.strata],
                         "log_likelihood": self.log_likelihood, "log_likelihood_null": self.log_likelihood_null,
                         "lr_test": {"chi2": self.lr_chi2, "df": self.lr_df, "p": self.lr_p},
                         "ph_test": ph, "warnings": list(self.fit_warnings), "fit_route": self.fit_route,
                         **self.info})

    def _repr_html_(self) -> str:
        return f"<p><b>Cox model: {self.label}</b> (n={self.n}, events={self.events})</p>" + self.summary.to_html()


def monotone_terms(data: pd.DataFrame, terms: Sequence[str], duration_col: str = "time_days",
                   event_col: str = "event", strata: Sequence[str] = ()) -> dict[str, str]:
    """Terms whose partial likelihood alone is monotone (no finite maximum), with the direction.

    A term is monotone when, at every event time whose risk set it varies in, the failing
    participants all have the smallest value in the risk set ("-inf") or all the largest ("+inf")
    -- for a treatment indicator, when one arm has no events.
    """
    terms, strata = list(terms), list(strata)
    codes = data.groupby(strata, sort=False, dropna=False).ngroup().to_numpy() if strata else None
    found = _monotone(data[duration_col].to_numpy(float), data[event_col].to_numpy() == 1,
                      data[terms].to_numpy(float).reshape(len(data), -1), codes)
    return {t: found[j] for j, t in enumerate(terms) if j in found}


def _monotone(time: np.ndarray, event: np.ndarray, X: np.ndarray, codes: np.ndarray | None) -> dict[int, str]:
    """`monotone_terms` on arrays: {column index: "-inf" or "+inf"}."""
    codes = np.zeros(len(time), dtype=np.int64) if codes is None else np.asarray(codes)
    order = np.lexsort((time, codes))  # by stratum, then time (ties in any order: a risk set starts at its first tie)
    time, event, X, codes = time[order], event[order], X[order], codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    stops = np.r_[starts[1:], len(time)]
    p = X.shape[1]
    low_ok, high_ok, informative = np.ones(p, bool), np.ones(p, bool), np.zeros(p, bool)
    for a, b in zip(starts, stops):
        t, x, e = time[a:b], X[a:b], event[a:b]
        if not e.any():
            continue
        risk_min = np.minimum.accumulate(x[::-1], axis=0)[::-1]
        risk_max = np.maximum.accumulate(x[::-1], axis=0)[::-1]
        first = np.searchsorted(t, t[e], side="left")  # the risk set at t starts at its first tie
        rmin, rmax, xe = risk_min[first], risk_max[first], x[e]
        varies = rmax > rmin
        informative |= varies.any(axis=0)
        low_ok &= np.all((xe == rmin) | ~varies, axis=0)
        high_ok &= np.all((xe == rmax) | ~varies, axis=0)
    return {j: "-inf" if low_ok[j] else "+inf" for j in range(p) if informative[j] and (low_ok[j] or high_ok[j])}


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
    n_na = int(df.isna().to_numpy().any(axis=1).sum())
    if n_na:
        raise AnalysisError(analysis, f"{n_na} row(s) have missing values in the model columns; "
                                      "choose complete cases explicitly before fitting")
    codes = df.groupby(strata, sort=False, dropna=False).ngroup().to_numpy() if strata else None
    return fit_cox_arrays(df[duration_col].to_numpy(float), df[event_col].to_numpy(), df[terms].to_numpy(float),
                          terms, codes, alpha=alpha, ph_test=ph_test, label=label, analysis=analysis,
                          strata_names=strata, frame=lambda: (df, duration_col, event_col))


def fit_cox_arrays(time: np.ndarray, event: np.ndarray, X: np.ndarray, terms: Sequence[str],
                   strata_codes: np.ndarray | None = None, alpha: float = 0.05, ph_test: bool = True,
                   label: str = "cox", analysis: str = "cox", strata_names: Sequence[str] = (),
                   frame: Callable[[], tuple[pd.DataFrame, str, str]] | None = None) -> CoxResult:
    """`fit_cox` on complete arrays: time (n,), event (n,) 0/1, X (n, p) named by `terms`, strata codes.

    The route the analyses take where the model table would be built only to be read back as
    arrays (subgroups, interactions): the same checks, fit and result as `fit_cox`. `frame`, only
    called where Newton–Raphson does not converge, gives the table (data, time and event column)
    that lifelines' fallback reads; without it one is built from the arrays.

    Example:
        >>> from lifelines.datasets import load_rossi
        >>> r = load_rossi()
        >>> res = fit_cox_arrays(r["week"].to_numpy(), r["arrest"].to_numpy(), r[["fin", "prio"]].to_numpy(),
        ...                      ["fin", "prio"])
        >>> round(float(res.term("fin").coef), 4)
        -0.3988
    """
    if not 0 < alpha < 1:
        raise ParameterError("alpha", alpha, "must be in (0, 1)")
    terms, strata_names = list(terms), list(strata_names)
    time = np.asarray(time, float)
    event = np.asarray(event).astype(int)
    X = np.asarray(X, float).reshape(len(time), -1)
    events = int(event.sum())
    if events == 0:
        raise AnalysisError(analysis, "no events: a Cox model needs at least one event")
    if events < 2:
        raise AnalysisError(analysis, f"only {events} event: too few to estimate a hazard ratio")
    constant = [t for j, t in enumerate(terms) if len(X) == 0 or X[:, j].min() == X[:, j].max()]
    if constant:
        raise AnalysisError(analysis, f"term(s) {constant} take a single value in these data")
    monotone = _monotone(time, event == 1, X, strata_codes)
    if monotone:
        why = "; ".join(f"{terms[j]} -> {d}" for j, d in monotone.items())
        raise AnalysisError(analysis, f"monotone likelihood, the hazard ratio has no finite estimate ({why}); "
                                      "e.g. no events in one arm or level")
    codes = strata_codes
    newton = newton_cox(time, event, X, codes)  # looked up here at each call: the tests and benchmarks wrap it
    problem = _newton_problem(newton)
    if problem is not None:  # lifelines, at its maximum or not at all
        if frame is None:
            columns = {"__time": time, "__event": event, **{t: X[:, j] for j, t in enumerate(terms)}}
            if codes is not None:
                columns["__stratum"] = np.asarray(codes)
            df, duration_col, event_col = pd.DataFrame(columns), "__time", "__event"
            strata_cols = ["__stratum"] if codes is not None else []
        else:
            df, duration_col, event_col = frame()
            strata_cols = strata_names
        return _lifelines_result(df, terms, duration_col, event_col, strata_cols, alpha, ph_test, label, analysis,
                                 events, problem)
    variance = np.linalg.inv(newton.information)
    se = np.sqrt(np.diag(variance))
    z_scores = newton.coef / se
    zq = norm_ppf(1 - alpha / 2)
    summary = pd.DataFrame(np.column_stack([newton.coef, se, np.exp(newton.coef), np.exp(newton.coef - zq * se),
                                            np.exp(newton.coef + zq * se), z_scores, 2 * norm_sf(np.abs(z_scores))]),
                           columns=SUMMARY_COLUMNS, index=pd.Index(terms, name="term"))
    lr_chi2 = 2.0 * (newton.loglik - newton.loglik_null)
    ph = None
    if ph_test:
        chi2 = ph_test_statistics(time, event, X, newton.coef, variance, codes)
        ph = pd.DataFrame({"chi2": chi2, "p": chi2_sf(chi2, 1)}, index=pd.Index(terms, name="term"))
    return CoxResult(label=label, summary=summary, n=len(time), events=events, log_likelihood=newton.loglik,
                     log_likelihood_null=newton.loglik_null, lr_chi2=lr_chi2, lr_df=len(terms),
                     lr_p=float(chi2_sf(lr_chi2, len(terms))), strata=tuple(strata_names), ph_test=ph,
                     fit_route=NEWTON_ROUTE)


def _newton_problem(newton) -> str | None:
    """Why a Newton–Raphson fit is not taken as the maximum (None when it is)."""
    if not newton.converged:
        return newton.reason
    if np.any(np.abs(newton.coef) > MAX_ABS_COEF):
        return f"|log HR| > {MAX_ABS_COEF:g}, as when the likelihood is monotone"
    if newton.loglik < newton.loglik_null - 1e-9 * abs(newton.loglik_null):
        return f"its log-likelihood {newton.loglik:.6g} is below the null model's {newton.loglik_null:.6g}"
    try:
        variance = np.linalg.inv(newton.information)
    except np.linalg.LinAlgError:
        return "singular information matrix"
    if not np.all(np.isfinite(variance)) or np.any(np.diag(variance) <= 0):
        return "a standard error is not finite"
    return None


def _lifelines_result(df, terms, duration_col, event_col, strata, alpha, ph_test, label, analysis, events,
                      newton_problem) -> CoxResult:
    """The fallback: lifelines' fit (`converged_coxph`) where Newton–Raphson alone did not converge."""
    fit = converged_coxph(df, duration_col, event_col, strata, alpha, analysis)
    cph = fit.fitter
    s = cph.summary
    z = norm_ppf(1 - alpha / 2)
    summary = pd.DataFrame({"coef": s["coef"], "se": s["se(coef)"], "hr": np.exp(s["coef"]),
                            "hr_lower": np.exp(s["coef"] - z * s["se(coef)"]),
                            "hr_upper": np.exp(s["coef"] + z * s["se(coef)"]), "z": s["z"], "p": s["p"]})
    summary = summary.loc[terms]
    summary.index.name = "term"
    lr_df = len(terms)
    lr_chi2 = 2.0 * (float(cph.log_likelihood_) - fit.log_likelihood_null)
    ph, note = None, None
    if ph_test:
        ph, note = _ph_test(cph, df)
    return CoxResult(label=label, summary=summary, n=len(df), events=events,
                     log_likelihood=float(cph.log_likelihood_), log_likelihood_null=fit.log_likelihood_null,
                     lr_chi2=lr_chi2, lr_df=lr_df, lr_p=float(chi2_sf(lr_chi2, lr_df)),
                     strata=tuple(strata), ph_test=ph, ph_test_note=note, fit_warnings=fit.warnings,
                     fit_route=f"{fit.route}; {NEWTON_ROUTE} alone stopped ({newton_problem})")


@dataclass(frozen=True)
class ConvergedCox:
    """A lifelines fitter at the maximum, the null log-likelihood, the fit's warnings and its route."""

    fitter: "CoxPHFitter"
    log_likelihood_null: float
    warnings: tuple[str, ...]
    route: str


def converged_coxph(df: pd.DataFrame, duration_col: str, event_col: str, strata: Sequence[str] = (),
                    alpha: float = 0.05, analysis: str = "cox") -> ConvergedCox:
    """A lifelines `CoxPHFitter` of every column of `df` but time, event and strata, at the maximum.

    A fit is taken only if it converged: no `ConvergenceWarning`, a log-likelihood not below the
    null model's, and a score that is zero at the estimate (the full Newton step from it below
    `SCORE_STEP_TOL`). A fit that fails any of these is refitted by Newton–Raphson with step
    halving (`cox_newton.newton_cox`, as R `coxph`) and lifelines is restarted at that maximum,
    so the summary, residuals and PH test come from the same fitter; if that fails too, the model
    is not estimable (`AnalysisError` with both reasons). The route says which it was: "lifelines",
    or the refit and why lifelines alone was not taken.

    Example:
        >>> from lifelines.datasets import load_rossi
        >>> fit = converged_coxph(load_rossi()[["week", "arrest", "fin", "prio"]], "week", "arrest")
        >>> fit.route, round(float(fit.fitter.params_["fin"]), 4)
        ('lifelines', -0.3988)
    """
    strata = list(strata)
    terms = [c for c in df.columns if c not in (duration_col, event_col, *strata)]
    time = df[duration_col].to_numpy(float)
    event = df[event_col].to_numpy(int)
    X = df[terms].to_numpy(float)
    codes = df.groupby(strata, sort=False, dropna=False).ngroup().to_numpy() if strata else None
    ll_null = cox_loglik(time, event, X, np.zeros(len(terms)), codes)[0]
    cph, caught, problem = _lifelines_attempt(df, duration_col, event_col, strata, alpha, time, event, X, codes,
                                              ll_null)
    if problem is None:
        return ConvergedCox(cph, ll_null, caught, "lifelines")
    newton = newton_cox(time, event, X, codes)
    if not newton.converged:
        raise AnalysisError(analysis, f"not estimable: the Cox fit did not converge (lifelines: {problem}; "
                                      f"Newton-Raphson with step halving: {newton.reason})")
    start = newton.coef * df[terms].std(axis=0).to_numpy()  # lifelines iterates on covariates scaled to sd 1
    cph, caught, again = _lifelines_attempt(df, duration_col, event_col, strata, alpha, time, event, X, codes,
                                            ll_null, start=start)
    if again is None and np.max(np.abs(cph.params_.loc[terms].to_numpy() - newton.coef)) > SCORE_STEP_TOL:
        again = "it moved away from the Newton-Raphson maximum"
    if again is not None:
        raise AnalysisError(analysis, f"not estimable: the Cox fit did not converge (lifelines: {problem}; "
                                      f"restarted at the Newton-Raphson maximum: {again})")
    return ConvergedCox(cph, ll_null, caught, f"Newton-Raphson with step halving ({newton.iterations} steps), "
                                              f"then lifelines from that maximum; lifelines alone stopped short "
                                              f"({problem})")


def _lifelines_attempt(df, duration_col, event_col, strata, alpha, time, event, X, codes, ll_null, start=None
                       ) -> tuple["CoxPHFitter | None", tuple[str, ...], str | None]:
    """One lifelines fit and what, if anything, says it did not reach the maximum."""
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning

    cph = CoxPHFitter(alpha=alpha)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cph.fit(df, duration_col=duration_col, event_col=event_col, strata=strata or None,
                    fit_options=FIT_OPTIONS, initial_point=start)
        except (ConvergenceError, np.linalg.LinAlgError) as exc:  # e.g. a singular Hessian where it stopped
            return None, (), f"the fit failed ({str(exc).strip().splitlines()[0]})"
    kept = tuple(sorted({str(w.message).strip().splitlines()[0] for w in caught
                         if not issubclass(w.category, (DeprecationWarning, FutureWarning))}))
    # lifelines' warnings about its Newton iterations (not its data checks, such as a column of
    # low variance, which it raises before fitting, whatever the outcome)
    stalled = sorted({str(w.message).strip().splitlines()[0] for w in caught
                      if issubclass(w.category, ConvergenceWarning) and _NEWTON_WARNING in str(w.message)})
    if stalled:  # the first sentence: the rest is lifelines' advice and a link
        return cph, kept, f"it warned: {stalled[-1].split('. ')[0].rstrip('.')}"
    coef = cph.params_.loc[[c for c in df.columns if c not in (duration_col, event_col, *strata)]].to_numpy(float)
    if not np.all(np.isfinite(coef)) or not np.all(np.isfinite(cph.summary["se(coef)"])):
        return cph, kept, "a coefficient or its standard error is not finite"
    if np.any(np.abs(coef) > MAX_ABS_COEF):
        return cph, kept, f"|log HR| > {MAX_ABS_COEF:g}, as when the likelihood is monotone"
    ll, score, info = cox_loglik(time, event, X, coef, codes)
    if ll < ll_null - 1e-9 * abs(ll_null):
        return cph, kept, f"its log-likelihood {ll:.6g} is below the null model's {ll_null:.6g}"
    try:
        step = np.linalg.solve(info, score)
    except np.linalg.LinAlgError:
        step = np.full(len(coef), np.inf)
    if not np.max(np.abs(step), initial=0.0) < SCORE_STEP_TOL:
        return cph, kept, f"the score is not zero at its estimate (Newton step {np.max(np.abs(step)):.3g})"
    return cph, kept, None


def _ph_test(cph: "CoxPHFitter", df: pd.DataFrame) -> tuple[pd.DataFrame | None, str | None]:
    """Per-term scaled Schoenfeld residual test (Grambsch & Therneau 1994), KM time transform."""
    from lifelines.statistics import proportional_hazard_test

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
