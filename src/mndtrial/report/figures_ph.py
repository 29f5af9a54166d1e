"""Proportional-hazards check: beta(t) from scaled Schoenfeld residuals, smoothed with a ± 2 SE band.

As R's `plot(cox.zph(fit))`: the residuals plus the coefficient estimate the time-varying log
hazard ratio beta(t) (Grambsch & Therneau 1994); the smoother is a least-squares natural cubic
regression spline (4 degrees of freedom, patsy's `cr` basis, built here in numpy; R's `ns(df = 4)`
analogue) whose pointwise standard error gives the ± 2 SE band. A flat band that covers the estimate supports PH.

The Cox fit, its Schoenfeld residuals and the test are the project's own (`analysis.cox.fit_cox`,
`analysis.cox_ph`), the ones the analysis itself reports; the tests hold them to lifelines'
`compute_residuals(..., "scaled_schoenfeld")` and `proportional_hazard_test`. Neither lifelines nor
statsmodels is imported to draw it (together about a second of start-up).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from matplotlib.figure import Figure

from ..analysis import arm_contrast
from ..analysis.cox import fit_cox
from ..analysis.cox_ph import ph_test_statistics, schoenfeld_residuals
from ..analysis.distributions import chi2_sf
from ..analysis.numbers import fmt_fixed, fmt_p
from ..data import Trial
from ..errors import AnalysisError
from .layout import LEGEND_ROW_IN, fit_row
from .style import new_figure

__all__ = ["ph_check_figure", "spline_smooth"]

SPLINE_DF = 4


def _spline_knots(x: np.ndarray, df: int) -> np.ndarray:
    """The knots of patsy's `cr(x, df, constraints='center')`: min and max of x and df - 1 inner
    knots at equally spaced percentiles of its distinct values."""
    distinct = np.unique(x)
    inner = np.percentile(distinct, np.linspace(0, 100, df + 1)[1:-1].tolist())
    return np.concatenate([[distinct[0]], np.asarray(inner, float), [distinct[-1]]])


def _natural_cubic_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """The natural cubic regression spline basis of Wood (2006, pp. 145-146), parametrised by the
    values at the knots (patsy's unconstrained `cr` basis, mgcv's `cr`): one column per knot.

    Each x in [k_j, k_j+1] is a_j^- b_j + a_j^+ b_j+1 + c_j^- d_j + c_j^+ d_j+1, with d = F b the
    second derivatives at the knots (zero at the ends) and F = B^-1 D from the tridiagonal system;
    outside the knots the spline continues as a line.
    """
    h = np.diff(knots)
    n = knots.size
    inner = np.arange(n - 2)
    band = np.zeros((n - 2, n - 2))
    band[inner, inner] = (h[:-1] + h[1:]) / 3.0
    band[inner[:-1], inner[:-1] + 1] = band[inner[:-1] + 1, inner[:-1]] = h[1:-1] / 6.0
    d = np.zeros((n - 2, n))
    d[inner, inner], d[inner, inner + 2] = 1.0 / h[:-1], 1.0 / h[1:]
    d[inner, inner + 1] = -d[inner, inner] - d[inner, inner + 2]
    f = np.vstack([np.zeros(n), np.linalg.solve(band, d), np.zeros(n)])
    j = np.clip(np.searchsorted(knots, x) - 1, 0, n - 2)
    hj, right, left = h[j], knots[j + 1] - x, x - knots[j]
    cubic_minus = np.where(x > knots[-1], 0.0, right ** 3 / (6.0 * hj))
    cubic_plus = np.where(x < knots[0], 0.0, left ** 3 / (6.0 * hj))
    eye = np.eye(n)
    return ((right / hj)[:, None] * eye[j] + (left / hj)[:, None] * eye[j + 1]
            + (cubic_minus - hj * right / 6.0)[:, None] * f[j] + (cubic_plus - hj * left / 6.0)[:, None] * f[j + 1])


def spline_smooth(x: np.ndarray, y: np.ndarray, grid: np.ndarray, df: int = SPLINE_DF) -> tuple[np.ndarray, np.ndarray]:
    """(fit, SE) on `grid` of the least-squares regression of y on a natural cubic spline of x.

    The spline is patsy's `cr(x, df=df, constraints='center')` with its intercept: df + 1 knots
    (`_spline_knots`); intercept plus centred basis span the same functions as the unconstrained
    basis of those knots, so the fit and its SE are computed on that basis (`_natural_cubic_basis`,
    numpy only: patsy's formula machinery and scipy.linalg cost ~0.07 s to start). The SE is the
    usual OLS one, sqrt(diag(G (X'X)^-1 G') * s²) with s² the residual variance. Fewer distinct x
    than `df` + 1 lowers the degrees of freedom (a line through 2 points).
    """
    x, y, grid = (np.asarray(v, float) for v in (x, y, grid))
    df = int(min(df, max(1, len(np.unique(x)) - 2)))
    if df < 3:
        design = np.column_stack([np.ones(len(x)), x])
        new = np.column_stack([np.ones(len(grid)), grid])
    else:
        knots = _spline_knots(x, df)
        design, new = _natural_cubic_basis(x, knots), _natural_cubic_basis(grid, knots)
    # the pseudo-inverse, as statsmodels' OLS (its former route here): the same numbers on a full-rank design
    pinv = np.linalg.pinv(design)
    beta = pinv @ y
    resid = y - design @ beta
    s2 = float(resid @ resid) / max(len(y) - np.linalg.matrix_rank(design), 1)
    cov_unscaled = pinv @ pinv.T
    se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", new, cov_unscaled, new) * s2, 0.0))
    return new @ beta, se


def ph_check_figure(trial: Trial, active: str | None = None, ph_test: Mapping[str, Any] | None = None,
                    labels: Mapping[str, str] | None = None) -> Figure:
    """Proportional-hazards check for the treatment effect: beta(t) from scaled Schoenfeld residuals.

    A Cox model of treatment (active vs control arm) is fitted (`mndtrial.analysis.cox.fit_cox`:
    at the maximum or not at all) and its scaled Schoenfeld residuals d·r·V drawn at the event
    times (lifelines' "scaled_schoenfeld", Efron means over ties). The test p-value shown is
    `ph_test['p']` when given (from the analysis results), else the KM-time-transform test of the
    same fit (`cox_ph.ph_test_statistics`, lifelines' `proportional_hazard_test`). `labels` are
    the arms' display names.
    """
    contrast = arm_contrast(trial, active=active, analysis="PH check")
    control, active = contrast.control, contrast.active
    labels = dict(labels or {})
    df = trial.survival_by_subject()
    df = df.loc[df["arm"].isin([control, active]), ["time_days", "event", "arm"]]
    df = df.assign(treatment=(df["arm"] == active).astype(float)).drop(columns="arm")
    if df["event"].sum() < 3:
        raise AnalysisError("PH check", f"{int(df['event'].sum())} events: too few to check proportional hazards")
    for value, arm in ((0.0, control), (1.0, active)):
        if df.loc[df["treatment"] == value, "event"].sum() == 0:
            raise AnalysisError("PH check", f"no events in arm {arm!r}: the hazard ratio is not estimable")
    fit = fit_cox(df, ["treatment"], ph_test=False, analysis="PH check")
    beta = float(fit.term("treatment")["coef"])
    variance = np.array([[float(fit.term("treatment")["se"]) ** 2]])
    time = df["time_days"].to_numpy(float)
    event = df["event"].to_numpy(int)
    X = df[["treatment"]].to_numpy(float)
    rows, resid = schoenfeld_residuals(time, event, X, np.array([beta]))
    times = time[rows]
    beta_t = (float(event.sum()) * resid @ variance)[:, 0] + beta
    if ph_test is not None and ph_test.get("p") is not None:
        p, source = float(ph_test["p"]), "analysis results"
    else:
        chi2 = float(ph_test_statistics(time, event, X, np.array([beta]), variance)[0])
        p, source = float(chi2_sf(chi2, 1)), "KM time transform"
    grid = np.linspace(times.min(), times.max(), 200)
    smooth, se = spline_smooth(times, beta_t, grid)
    fig = new_figure(7.5, 4.6, layout=None)
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(times, beta_t, s=10, color="#999999", alpha=0.7, label="scaled Schoenfeld residual + β")
    ax.fill_between(grid, smooth - 2 * se, smooth + 2 * se, color="#D55E00", alpha=0.18, lw=0, label="± 2 SE")
    ax.plot(grid, smooth, color="#D55E00", lw=2, label=f"β(t): natural spline, {SPLINE_DF} df")
    ax.axhline(beta, color="#0072B2", lw=1.2, ls="--", label=f"β = log HR = {fmt_fixed(beta, 3)}")
    ax.axhline(0.0, color="#444444", lw=0.8)
    ax.set_xlabel("Days since randomisation (event times)")
    ax.set_ylabel(f"β(t) for {labels.get(active, active)} vs {labels.get(control, control)}")
    p_text = fmt_p(p)
    ax.set_title(f"Proportional-hazards check: test p {p_text if p_text.startswith('<') else '= ' + p_text} "
                 f"({source})", fontsize=10, y=1.0)
    # below the axes, never over the residuals or the smoother
    ax.legend(fontsize=8, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=4,
              bbox_transform=fig.transFigure)
    ax.grid(alpha=0.3)
    fit_row(fig, [ax], bottom_extra_in=LEGEND_ROW_IN)
    return fig
