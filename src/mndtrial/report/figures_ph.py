"""Proportional-hazards check: beta(t) from scaled Schoenfeld residuals, smoothed with a ± 2 SE band.

As R's `plot(cox.zph(fit))`: the residuals plus the coefficient estimate the time-varying log
hazard ratio beta(t) (Grambsch & Therneau 1994); the smoother is a least-squares natural cubic
regression spline (4 degrees of freedom, patsy's `cr`, R's `ns(df = 4)` analogue) whose pointwise
standard error gives the ± 2 SE band. A flat band that covers the estimate supports PH.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from matplotlib.figure import Figure

from ..analysis import arm_contrast
from ..analysis.cox import converged_coxph
from ..analysis.numbers import fmt_fixed, fmt_p
from ..data import Trial
from ..errors import AnalysisError
from .style import new_figure

__all__ = ["ph_check_figure", "spline_smooth"]

SPLINE_DF = 4


def spline_smooth(x: np.ndarray, y: np.ndarray, grid: np.ndarray, df: int = SPLINE_DF) -> tuple[np.ndarray, np.ndarray]:
    """(fit, SE) on `grid` of the least-squares regression of y on a natural cubic spline of x.

    The SE is the usual OLS one, sqrt(diag(G (X'X)^-1 G') * s²) with s² the residual variance.
    Fewer distinct x than `df` + 1 lowers the degrees of freedom (a line through 2 points).
    """
    import statsmodels.api as sm
    from patsy import build_design_matrices, dmatrix

    x = np.asarray(x, float)
    df = int(min(df, max(1, len(np.unique(x)) - 2)))
    if df < 3:
        design = sm.add_constant(x)
        new = sm.add_constant(np.asarray(grid, float), has_constant="add")
    else:
        basis = dmatrix(f"cr(x, df={df}, constraints='center')", {"x": x}, return_type="dataframe")
        design = basis.to_numpy()
        new = np.asarray(build_design_matrices([basis.design_info], {"x": np.asarray(grid, float)})[0])
    fit = sm.OLS(np.asarray(y, float), design).fit()
    pred = fit.get_prediction(new)
    return np.asarray(pred.predicted_mean), np.asarray(pred.se_mean)


def ph_check_figure(trial: Trial, active: str | None = None, ph_test: Mapping[str, Any] | None = None,
                    labels: Mapping[str, str] | None = None) -> Figure:
    """Proportional-hazards check for the treatment effect: beta(t) from scaled Schoenfeld residuals.

    A Cox model of treatment (active vs control arm) is fitted with lifelines
    (`mndtrial.analysis.cox.converged_coxph`: at the maximum or not at all). The test p-value
    shown is `ph_test['p']` when given (from the analysis results), else lifelines'
    `proportional_hazard_test` (KM time transform). `labels` are the arms' display names.
    """
    from lifelines.statistics import proportional_hazard_test

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
    cph = converged_coxph(df, "time_days", "event", analysis="PH check").fitter
    resid = cph.compute_residuals(df, "scaled_schoenfeld")
    beta = float(cph.params_["treatment"])
    times = df.loc[resid.index, "time_days"].to_numpy(float)
    beta_t = resid["treatment"].to_numpy(float) + beta
    if ph_test is not None and ph_test.get("p") is not None:
        p, source = float(ph_test["p"]), "analysis results"
    else:
        p = float(proportional_hazard_test(cph, df, time_transform="km").summary.loc["treatment", "p"])
        source = "lifelines, KM time transform"
    grid = np.linspace(times.min(), times.max(), 200)
    smooth, se = spline_smooth(times, beta_t, grid)
    fig = new_figure(7.5, 4.6)
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
                 f"({source})", fontsize=10)
    # below the axes, never over the residuals or the smoother
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=4)
    ax.grid(alpha=0.3)
    return fig
