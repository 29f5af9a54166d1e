"""The treatment effect as a smooth function of a baseline biomarker: treatment × natural spline.

Survival (Cox, Efron ties, `converged_coxph`):

    log h(t | A, x) = log h0(t) + β·A + Σ_j g_j·B_j(x) + Σ_j γ_j·A·B_j(x)

with x the (log) biomarker and B = `NaturalSpline` (R's `ns`, no intercept, so B(x) = 0 at the
lower boundary knot). The log hazard ratio at x is β + Σ γ_j B_j(x) = c(x)ᵀθ.

ALSFRS-R slope (REML, `fit_random_slope_lmm`, random intercept and slope per participant):

    total = β0 + β1·m + α·A + δ·m·A + Σ_j (a_j·B_j + b_j·m·B_j + c_j·A·B_j + d_j·m·A·B_j) + b0 + b1·m + ε

with m = months; the slope difference (active − control, points/month) at x is δ + Σ d_j B_j(x).

Bands on a grid of x (between the boundary knots): pointwise c(x)ᵀθ ± z·se(x); simultaneous by
the sup-t method: the (1 − α) quantile of max_x |c(x)ᵀZ| / se(x), Z ~ N(0, V̂) drawn `draws`
times from a seed, so the band covers the whole curve with probability 1 − α (asymptotically).
Test of no interaction: γ = 0 (Cox: likelihood ratio and Wald, df = number of spline columns;
LMM: Wald on the d_j).

References: Royston & Sauerbrei (2008), *Multivariable Model-Building*, ch. 7 (treatment-covariate
interactions); Montiel Olea & Plagborg-Møller (2019), J Appl Econometrics 34:1 (sup-t bands);
Ruppert, Wand & Carroll (2003), *Semiparametric Regression*, §6.5.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..data import Trial
from ..errors import AnalysisError, ParameterError
from .cox import converged_coxph, monotone_terms
from .frame import ArmContrast, baseline_values, jsonable, survival_frame
from .function import slope_frame
from .lmm import fit_random_slope_lmm
from .splines import NaturalSpline
from .distributions import chi2_sf, norm_ppf

__all__ = ["EffectCurve", "marker_values", "sup_t_critical", "effect_curve", "cox_spline_interaction",
           "slope_spline_interaction", "spline_columns"]


def marker_values(trial: Trial, biomarker: str, transform: str, parameter: str) -> tuple[pd.Series, int]:
    """The baseline biomarker per subject (transformed: "log" or "none"), and how many have none."""
    raw = baseline_values(trial, biomarker, parameter=parameter)
    if not (pd.api.types.is_numeric_dtype(raw.dtype)):
        raise ParameterError(parameter, biomarker, "is not a numeric column; an effect curve needs numbers")
    raw = raw.astype(float)
    present = raw.dropna()
    if present.empty:
        raise AnalysisError(f"effect along {biomarker}", f"{biomarker} is missing for every participant")
    if transform == "log":
        if (present <= 0).any():
            raise AnalysisError(f"effect along {biomarker}", f"{biomarker} has values <= 0; its log is undefined")
        present = np.log(present)
    elif transform != "none":
        raise ParameterError("transform", transform, "must be 'log' or 'none'")
    return present, int(raw.isna().sum())


def spline_columns(prefix: str, df: int) -> list[str]:
    return [f"{prefix}{j + 1}" for j in range(df)]


def sup_t_critical(L: np.ndarray, cov: np.ndarray, alpha: float, draws: int, seed: int) -> float:
    """(1 − alpha) quantile of max_g |L_g Z| / se_g with Z ~ N(0, cov), `draws` seeded draws.

    Example (one grid point: the two-sided normal quantile):
        >>> round(sup_t_critical(np.ones((1, 1)), np.eye(1), 0.05, 200_000, 1), 2)
        1.96
    """
    if draws < 100:
        raise ParameterError("simultaneous_draws", draws, "must be at least 100")
    se = np.sqrt(np.einsum("gi,ij,gj->g", L, cov, L))
    # an eigen-root tolerates a covariance that is only positive semi-definite at rounding level
    w, v = np.linalg.eigh(cov)
    root = v * np.sqrt(np.clip(w, 0.0, None))
    z = np.random.default_rng(np.random.SeedSequence(seed)).standard_normal((draws, cov.shape[0]))
    paths = (z @ root.T) @ L.T
    keep = se > 0
    stat = np.max(np.abs(paths[:, keep]) / se[keep], axis=1)
    return float(np.quantile(stat, 1 - alpha))


@dataclass(frozen=True)
class EffectCurve:
    """An effect (log HR, or slope difference) on a grid of the biomarker, with both bands."""

    scale: str                  # "log_hr" or "slope_difference_per_month"
    marker_grid: np.ndarray     # biomarker units (back-transformed)
    estimate: np.ndarray
    se: np.ndarray
    pointwise: tuple[np.ndarray, np.ndarray]
    simultaneous: tuple[np.ndarray, np.ndarray]
    critical_value: float
    level: float
    draws: int
    seed: int

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({"marker": self.marker_grid, "estimate": self.estimate, "se": self.se,
                             "pointwise_low": self.pointwise[0], "pointwise_high": self.pointwise[1],
                             "simultaneous_low": self.simultaneous[0], "simultaneous_high": self.simultaneous[1]})

    def to_dict(self) -> dict[str, Any]:
        out = {"scale": self.scale, "level": self.level, "marker": self.marker_grid, "estimate": self.estimate,
               "se": self.se, "pointwise": {"low": self.pointwise[0], "high": self.pointwise[1]},
               "simultaneous": {"low": self.simultaneous[0], "high": self.simultaneous[1],
                                "method": "sup-t, simulated from the coefficient covariance",
                                "critical_value": self.critical_value, "draws": self.draws, "seed": self.seed}}
        if self.scale == "log_hr":
            out["hr"] = {"estimate": np.exp(self.estimate), "pointwise": [np.exp(b) for b in self.pointwise],
                         "simultaneous": [np.exp(b) for b in self.simultaneous]}
        return jsonable(out)


def effect_curve(theta: np.ndarray, cov: np.ndarray, spline: NaturalSpline, grid_x: np.ndarray,
                 back: np.ndarray, scale: str, alpha: float, draws: int, seed: int) -> EffectCurve:
    """c(x)ᵀθ with c(x) = [1, B(x)] on `grid_x` (transformed scale; `back` in marker units)."""
    L = np.column_stack([np.ones(len(grid_x)), spline.basis(grid_x)])
    estimate = L @ theta
    se = np.sqrt(np.einsum("gi,ij,gj->g", L, cov, L))
    z = norm_ppf(1 - alpha / 2)
    crit = sup_t_critical(L, cov, alpha, draws, seed)
    return EffectCurve(scale=scale, marker_grid=back, estimate=estimate, se=se,
                       pointwise=(estimate - z * se, estimate + z * se),
                       simultaneous=(estimate - crit * se, estimate + crit * se), critical_value=crit,
                       level=1 - alpha, draws=draws, seed=seed)


@dataclass(frozen=True)
class SplineInteraction:
    """One treatment × spline fit: coefficients and SEs by term, the curve, the test of no interaction."""

    endpoint: str
    spline: NaturalSpline
    coefficients: pd.DataFrame   # term → coef, se
    curve: EffectCurve
    test: dict[str, Any]
    n: int
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"endpoint": self.endpoint, "spline": self.spline.to_dict(), "n": self.n,
                         "coefficients": {t: {"coef": r.coef, "se": r.se} for t, r in self.coefficients.iterrows()},
                         "interaction_test": self.test, "curve": self.curve.to_dict(), **self.info})


def _grid(spline: NaturalSpline, n_points: int, transform: str) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = spline.boundary_knots
    grid = np.linspace(lo, hi, n_points)
    return grid, (np.exp(grid) if transform == "log" else grid)


def cox_spline_interaction(trial: Trial, biomarker: str, spline_df: int = 3, knots: Sequence[float] | None = None,
                           transform: str = "log", contrast: ArmContrast | None = None,
                           event_types: Sequence[str] | None = None, alpha: float = 0.05, grid_points: int = 50,
                           draws: int = 10_000, seed: int = 1) -> SplineInteraction:
    """Cox model with treatment × ns(log biomarker); the HR curve and the test of no interaction.

    `knots` (biomarker units) fixes the interior knots; otherwise `spline_df − 1` knots at
    quantiles of the transformed biomarker, as R's `ns(x, df)`.

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> fit = cox_spline_interaction(example_trial(), "csf_pnfh", spline_df=2, draws=500)
        >>> list(fit.coefficients.index)
        ['treatment', 'ns1', 'ns2', 'treatment:ns1', 'treatment:ns2']
    """
    analysis = f"effect along {biomarker} (survival)"
    x, n_missing = marker_values(trial, biomarker, transform, "effect_along_biomarker.biomarker")
    frame = survival_frame(trial, contrast=contrast, event_types=event_types, analysis=analysis)
    d = frame.data.loc[frame.data["subject_id"].isin(x.index)].reset_index(drop=True)
    xv = x.reindex(d["subject_id"]).to_numpy(float)
    spline = _spline(xv, spline_df, knots, transform)
    basis, inter = spline_columns("ns", spline.df), spline_columns("treatment:ns", spline.df)
    B = spline.basis(xv)
    table = pd.DataFrame({"time_days": d["time_days"], "event": d["event"], "treatment": d["treatment"]})
    for j, (b, i) in enumerate(zip(basis, inter)):
        table[b] = B[:, j]
        table[i] = B[:, j] * d["treatment"].to_numpy()
    monotone = monotone_terms(table, ["treatment"])
    if int(table["event"].sum()) < 2 * (2 * spline.df + 1) or monotone:
        raise AnalysisError(analysis, f"{int(table['event'].sum())} events for {2 * spline.df + 1} terms"
                                      + (" and a monotone likelihood (no events in an arm)" if monotone else "")
                                      + ": too few to fit a spline interaction")
    terms = ["treatment", *basis, *inter]
    full = converged_coxph(table[["time_days", "event", *terms]], "time_days", "event", alpha=alpha, analysis=analysis)
    reduced = converged_coxph(table[["time_days", "event", "treatment", *basis]], "time_days", "event",
                              alpha=alpha, analysis=analysis)
    coef = full.fitter.params_.loc[terms].to_numpy(float)
    cov = full.fitter.variance_matrix_.loc[terms, terms].to_numpy(float)
    coefficients = pd.DataFrame({"coef": coef, "se": np.sqrt(np.diag(cov))}, index=pd.Index(terms, name="term"))
    idx = [0, *range(1 + spline.df, 1 + 2 * spline.df)]
    grid, back = _grid(spline, grid_points, transform)
    curve = effect_curve(coef[idx], cov[np.ix_(idx, idx)], spline, grid, back, "log_hr", alpha, draws, seed)
    gamma = coef[1 + spline.df:]
    wald = float(gamma @ np.linalg.solve(cov[1 + spline.df:, 1 + spline.df:], gamma))
    lr = max(0.0, 2 * (float(full.fitter.log_likelihood_) - float(reduced.fitter.log_likelihood_)))
    test = {"hypothesis": "no treatment x biomarker interaction (all treatment:ns coefficients 0)",
            "df": spline.df, "lr_chi2": lr, "lr_p": float(chi2_sf(lr, spline.df)),
            "wald_chi2": wald, "wald_p": float(chi2_sf(wald, spline.df))}
    info = {"biomarker": biomarker, "transform": transform, "events": int(table["event"].sum()),
            "excluded_missing": n_missing, "log_likelihood": float(full.fitter.log_likelihood_),
            "fit_route": [full.route, reduced.route], "arms": frame.contrast.to_dict()}
    return SplineInteraction("survival", spline, coefficients, curve, test, len(table), info)


def _spline(x: np.ndarray, df: int, knots: Sequence[float] | None, transform: str) -> NaturalSpline:
    if knots is None:
        return NaturalSpline.from_df(x, df)
    k = np.asarray(knots, float)
    if transform == "log":
        if np.any(k <= 0):
            raise ParameterError("effect_along_biomarker.knots", list(knots), "must be > 0 on a log scale")
        k = np.log(k)
    return NaturalSpline(knots=tuple(float(v) for v in k), boundary_knots=(float(x.min()), float(x.max())))


def slope_spline_interaction(trial: Trial, biomarker: str, spline_df: int = 3, knots: Sequence[float] | None = None,
                             transform: str = "log", horizon_days: float | None = None, alpha: float = 0.05,
                             grid_points: int = 50, draws: int = 10_000, seed: int = 1) -> SplineInteraction:
    """LMM of ALSFRS-R with months × treatment × ns(log biomarker); the slope-difference curve.

    `trial` must have two arms (the control and one active arm). The spline is built on the
    participants with the biomarker and ALSFRS-R visits (knots at their quantiles by default).

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> fit = slope_spline_interaction(example_trial(), "csf_pnfh", spline_df=2, draws=500)
        >>> fit.test["df"]
        2
    """
    analysis = f"effect along {biomarker} (ALSFRS-R slope)"
    x, n_missing = marker_values(trial, biomarker, transform, "effect_along_biomarker.biomarker")
    arms = trial.info.arm_names
    if len(arms) != 2:
        raise AnalysisError(analysis, f"needs exactly two arms (control and one active); got {list(arms)}")
    control = trial.info.control_arm
    frame, excluded = slope_frame(trial, horizon_days)
    frame = frame.loc[frame["subject_id"].isin(x.index)].reset_index(drop=True)
    xv = x.reindex(frame["subject_id"]).to_numpy(float)
    per_subject = x.reindex(frame["subject_id"].unique()).to_numpy(float)
    spline = _spline(per_subject, spline_df, knots, transform)
    B = spline.basis(xv)
    a = (frame["arm"] != control).to_numpy(float)
    m = frame["months"].to_numpy(float)
    cols = {"months": m, "active": a, "months:active": m * a}
    for j in range(spline.df):
        n = f"ns{j + 1}"
        cols.update({n: B[:, j], f"months:{n}": m * B[:, j], f"active:{n}": a * B[:, j],
                     f"months:active:{n}": m * a * B[:, j]})
    design = pd.DataFrame(cols)
    design["total"] = frame["total"].to_numpy(float)
    design["subject_id"] = frame["subject_id"].to_numpy()
    fixed = list(cols)
    lmm = fit_random_slope_lmm(design, "total", "months", "subject_id", fixed=fixed)
    if not lmm.converged:
        raise AnalysisError(analysis, "the mixed model did not converge: " + "; ".join(lmm.problems))
    names = list(lmm.params.index)
    coefficients = pd.DataFrame({"coef": lmm.params, "se": lmm.bse})
    coefficients.index.name = "term"
    curve_terms = ["months:active", *spline_columns("months:active:ns", spline.df)]
    idx = [names.index(t) for t in curve_terms]
    theta = lmm.params.to_numpy()[idx]
    cov = lmm.cov_params.to_numpy()[np.ix_(idx, idx)]
    grid, back = _grid(spline, grid_points, transform)
    curve = effect_curve(theta, cov, spline, grid, back, "slope_difference_per_month", alpha, draws, seed)
    g, V = theta[1:], cov[1:, 1:]
    wald = float(g @ np.linalg.solve(V, g))
    test = {"hypothesis": "no treatment x biomarker interaction on the slope (all months:active:ns coefficients 0)",
            "df": spline.df, "wald_chi2": wald, "wald_p": float(chi2_sf(wald, spline.df))}
    info = {"biomarker": biomarker, "transform": transform, "n_visits": lmm.n_obs, "excluded_missing": n_missing,
            "excluded_visits": excluded, "reml_criterion": lmm.reml_criterion, "problems": list(lmm.problems),
            "arms": {"control": control, "active": next(a for a in arms if a != control)}}
    return SplineInteraction("alsfrs_slope", spline, coefficients, curve, test, lmm.n_groups, info)
