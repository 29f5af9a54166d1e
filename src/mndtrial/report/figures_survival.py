"""Survival figures: Kaplan–Meier with numbers at risk, subgroup forest plot, PH check.

The Kaplan–Meier functions take Kaplan–Meier results (an object with `curves`, or its
`to_dict()` form from results.json) or a `Trial`, whose curves are then estimated by
`mndtrial.analysis.kaplan_meier` (lifelines' `KaplanMeierFitter`). Numbers at risk at day t
count participants whose time is >= t (as R's `summary(survfit, times = t)$n.risk`).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure, SubFigure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.transforms import blended_transform_factory

from ..analysis import arm_contrast, kaplan_meier
from ..analysis.cox import converged_coxph
from ..data import Trial
from ..errors import AnalysisError, ParameterError
from .style import CONTROL_COLOUR, arm_colours, new_figure

__all__ = ["km_curves", "km_figure", "km_subgroups_figure", "forest_figure", "forest_rows", "ph_check_figure"]

CURVE_COLUMNS = ("time_days", "survival", "ci_lower", "ci_upper", "at_risk")


def km_curves(source: Any, alpha: float = 0.05) -> dict[str, pd.DataFrame]:
    """Kaplan–Meier step curves per arm as DataFrames with columns `CURVE_COLUMNS`.

    `source` is a `Trial`, an object with a `curves` mapping (arm -> DataFrame indexed by
    time_days), or a dict `{"arms": {arm: {"curve": {...}}}}` as in results.json.
    """
    if isinstance(source, Trial):
        source = kaplan_meier(source, alpha=alpha)
    if hasattr(source, "curves"):
        return {str(a): c.reset_index().rename(columns={c.index.name or "index": "time_days"})[list(CURVE_COLUMNS)]
                .astype(float) for a, c in source.curves.items()}
    if isinstance(source, Mapping) and "arms" in source:
        out = {}
        for arm, d in source["arms"].items():
            if "curve" not in d:
                raise ParameterError("km", arm, "each arm needs a 'curve' with time_days/survival/ci/at_risk")
            c = pd.DataFrame({k: d["curve"][k] for k in CURVE_COLUMNS})
            out[str(arm)] = c.astype(float)
        return out
    raise ParameterError("km", type(source).__name__, "must be a Trial, a Kaplan-Meier result or its dict")


def at_risk_at(curve: pd.DataFrame, days: Sequence[float]) -> list[int]:
    """Numbers at risk at each day, read from a curve's at-risk column.

    The curve has one row per distinct observed time (events and censorings), so the number at
    risk at day t is the at-risk count of the first observed time >= t, or 0 past the last one.
    """
    t = curve["time_days"].to_numpy(float)
    r = curve["at_risk"].to_numpy(float)
    out = []
    for d in days:
        i = int(np.searchsorted(t, d, side="left"))
        out.append(int(r[i]) if i < len(t) else 0)
    return out


def _draw_km(container: Figure | SubFigure, curves: Mapping[str, pd.DataFrame], colours: Mapping[str, str],
             title: str | None, horizon_days: float | None, ci: bool) -> None:
    n_rows = len(curves)
    gs = container.add_gridspec(2, 1, height_ratios=[5, 0.55 + 0.32 * n_rows], hspace=0.05)
    ax = container.add_subplot(gs[0])
    risk = container.add_subplot(gs[1], sharex=ax)
    t_max = max(float(c["time_days"].max()) for c in curves.values())
    if horizon_days is not None:
        t_max = max(t_max, float(horizon_days))
    for arm, c in curves.items():
        colour = colours.get(arm, CONTROL_COLOUR)
        n = int(c["at_risk"].iloc[0]) if len(c) else 0
        ax.step(c["time_days"], c["survival"], where="post", color=colour, lw=1.8, label=f"{arm} (n={n})")
        if ci:
            ax.fill_between(c["time_days"], c["ci_lower"], c["ci_upper"], step="post", color=colour, alpha=0.15,
                            lw=0)
    if horizon_days is not None:
        ax.axvline(float(horizon_days), color="#444444", lw=0.9, ls=":", label=f"horizon (day {horizon_days:g})")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(-0.04 * t_max, t_max * 1.03)
    ax.set_ylabel("Survival probability")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10], integer=True))
    ax.tick_params(labelbottom=False)
    ticks = [t for t in ax.get_xticks() if 0 <= t <= t_max * 1.02]
    risk.set_ylim(-0.5, n_rows - 0.5)
    risk.set_yticks(range(n_rows))
    risk.set_yticklabels(list(curves)[::-1], fontsize=8)
    for row, (arm, c) in enumerate(reversed(list(curves.items()))):
        for tick, n in zip(ticks, at_risk_at(c, ticks)):
            risk.text(tick, row, str(n), ha="center", va="center", fontsize=8, color=colours.get(arm, "k"))
    risk.set_xlabel("Days since randomisation   (numbers at risk below the axis)")
    risk.tick_params(axis="y", length=0, pad=8)
    for side in ("top", "right", "left"):
        risk.spines[side].set_visible(False)


def km_figure(source: Any, title: str | None = "Kaplan–Meier survival by arm", control: str | None = None,
              horizon_days: float | None = None, ci: bool = True, alpha: float = 0.05) -> Figure:
    """Kaplan–Meier curves by arm with pointwise CIs and numbers at risk under the axis.

    `horizon_days` is marked by a dotted vertical line; `alpha` sets the band level (1 - alpha)
    when the curves are estimated here from a `Trial` (results carry their own).

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> fig = km_figure(example_trial())
        >>> len(fig.axes)
        2
    """
    if isinstance(source, Trial):
        control = control or source.info.control_arm
        horizon_days = horizon_days or source.info.horizon_days
    curves = km_curves(source, alpha)
    fig = new_figure(7.0, 4.2 + 0.22 * len(curves))
    _draw_km(fig, curves, arm_colours(list(curves), control), title, horizon_days, ci)
    return fig


def km_subgroups_figure(groups: Mapping[str, Any], control: str | None = None, ncols: int = 2,
                        horizon_days: float | None = None, alpha: float = 0.05) -> Figure:
    """One Kaplan–Meier panel (with numbers at risk) per subgroup; `groups` maps label -> source.

    Every panel uses the same arm colours, so arms read the same across subgroups; the bands are
    at 1 - `alpha` (the analysis plan's alpha in the trial report).
    """
    if not groups:
        raise ParameterError("groups", groups, "give at least one subgroup")
    curves = {label: km_curves(src, alpha) for label, src in groups.items()}
    arms: list[str] = []
    for c in curves.values():
        arms += [a for a in c if a not in arms]
    if control is None:
        first = next(iter(groups.values()))
        control = first.info.control_arm if isinstance(first, Trial) else None
    colours = arm_colours(arms, control)
    ncols = max(1, min(ncols, len(curves)))
    nrows = math.ceil(len(curves) / ncols)
    fig = new_figure(6.0 * ncols, (4.2 + 0.22 * len(arms)) * nrows)
    subs = np.atleast_1d(fig.subfigures(nrows, ncols)).ravel()
    for sub, (label, c) in zip(subs, curves.items()):
        _draw_km(sub, c, colours, label, horizon_days, ci=True)
    return fig


def forest_rows(subgroups: Any) -> pd.DataFrame:
    """Normalise subgroup results to columns variable, label, n, events, hr, ci_lower, ci_upper.

    Accepts a DataFrame with those columns or a list of dicts with `hr` and either `ci`
    ([lower, upper]) or `ci_lower`/`ci_upper`; `variable` (or `family`) groups rows, `label`
    (or `subgroup`) names them.
    """
    df = subgroups.copy() if isinstance(subgroups, pd.DataFrame) else pd.DataFrame(list(subgroups))
    if df.empty:
        raise ParameterError("subgroups", "[]", "no subgroup results to plot")
    df = df.rename(columns={"family": "variable", "subgroup": "label"})
    if "ci" in df.columns and "ci_lower" not in df.columns:
        df["ci_lower"] = [c[0] if c is not None else None for c in df["ci"]]
        df["ci_upper"] = [c[1] if c is not None else None for c in df["ci"]]
    for col, default in (("variable", ""), ("n", pd.NA), ("events", pd.NA)):
        if col not in df.columns:
            df[col] = default
    missing = [c for c in ("label", "hr", "ci_lower", "ci_upper") if c not in df.columns]
    if missing:
        raise ParameterError("subgroups", sorted(df.columns), f"missing columns {missing}")
    cols = ["variable", "label", "n", "events", "hr", "ci_lower", "ci_upper"]
    extra = [c for c in ("interaction_p", "note") if c in df.columns]
    out = df[cols + extra].copy()
    for c in ("hr", "ci_lower", "ci_upper"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    return out.reset_index(drop=True)


def forest_figure(subgroups: Any, interaction_p: Mapping[str, float | None] | None = None,
                  overall: Mapping[str, Any] | None = None, title: str | None = "Hazard ratio by subgroup",
                  ci_level: float = 0.95) -> Figure:
    """Forest plot of subgroup hazard ratios (log scale) with the interaction p per variable.

    Rows whose HR is not estimable (too few events) are listed with 'not estimable', not hidden.
    `overall` (keys hr, ci_lower/ci_upper or ci, n, events) adds a diamond for the whole trial.
    `ci_level` is the level of the intervals given (the plan's 1 - alpha), shown on the axis.
    """
    rows = forest_rows(subgroups)
    interaction_p = dict(interaction_p or {})
    if "interaction_p" in rows.columns:
        for var, g in rows.groupby("variable", sort=False):
            p = g["interaction_p"].dropna()
            if len(p) and var not in interaction_p:
                interaction_p[var] = float(p.iloc[0])
    lines: list[tuple[str, str, pd.Series | None]] = []  # (kind, text, row)
    if overall is not None:
        o = forest_rows([{"label": "All participants", **overall}]).iloc[0]
        lines.append(("overall", "All participants", o))
    for var, g in rows.groupby("variable", sort=False):
        if var:
            p = interaction_p.get(var)
            known = p is not None and not (isinstance(p, float) and math.isnan(p))
            p_text = f"   (interaction p = {_fmt_p(p)})" if known else ""
            lines.append(("header", f"{var}{p_text}", None))
        lines += [("row", f"  {r.label}", r) for r in g.itertuples()]
    n = len(lines)
    fig = new_figure(9.5, 1.2 + 0.32 * n, layout=None)
    ax = fig.add_subplot(1, 1, 1)
    ys = np.arange(n)[::-1]
    finite = rows[["ci_lower", "ci_upper"]].to_numpy(float)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    lo = min(0.1, float(finite.min()) * 0.8) if finite.size else 0.1
    hi = max(10.0, float(finite.max()) * 1.25) if finite.size else 10.0
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    # headers start at the figure's left edge (long rule labels must not be cut); rows end at the axis
    header_at = blended_transform_factory(fig.transFigure, ax.transData)
    for y, (kind, text, r) in zip(ys, lines):
        if kind == "header":
            ax.text(0.01, y, text, transform=header_at, ha="left", va="center", fontsize=8.5, fontweight="bold")
        else:
            ax.text(-0.02, y, text, transform=ax.get_yaxis_transform(), ha="right", va="center", fontsize=8.5,
                    fontweight="bold" if kind == "overall" else "normal")
        if r is None:
            continue
        n_text = "" if pd.isna(r.n) else f"n={int(r.n)}" + ("" if pd.isna(r.events) else f", {int(r.events)} ev")
        ok = all(np.isfinite([r.hr, r.ci_lower, r.ci_upper])) and r.hr > 0 and r.ci_lower > 0
        if ok:
            if kind == "overall":
                ax.fill([r.ci_lower, r.hr, r.ci_upper, r.hr], [y, y + 0.3, y, y - 0.3], color="black")
            else:
                ax.plot([r.ci_lower, r.ci_upper], [y, y], color="#0072B2", lw=1.6)
                ax.plot([r.hr], [y], "s", color="#0072B2", ms=5)
            est = f"{r.hr:.2f} ({r.ci_lower:.2f}–{r.ci_upper:.2f})"
        else:
            est = "not estimable"
        ax.text(1.02, y, f"{est}   {n_text}", transform=ax.get_yaxis_transform(), ha="left", va="center",
                fontsize=8.5)
    ax.axvline(1.0, color="#444444", lw=0.8, ls="--")
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_yticks([])
    ax.set_xlabel(f"Hazard ratio (active vs control), {100 * ci_level:.10g}% CI — log scale; < 1 favours active")
    ax.grid(axis="x", alpha=0.3, which="both")
    if title:
        ax.set_title(title, fontsize=10)
    # room on the left for the labels and on the right for the estimates
    fig.subplots_adjust(left=0.3, right=0.7, top=1 - 0.45 / fig.get_figheight(), bottom=0.7 / fig.get_figheight())
    return fig


def _fmt_p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def ph_check_figure(trial: Trial, active: str | None = None, ph_test: Mapping[str, Any] | None = None) -> Figure:
    """Proportional-hazards check for the treatment effect: beta(t) from scaled Schoenfeld residuals.

    A Cox model of treatment (active vs control arm) is fitted with lifelines
    (`mndtrial.analysis.cox.converged_coxph`: at the maximum or not at all); the scaled
    Schoenfeld residuals plus the coefficient estimate the time-varying log hazard ratio beta(t)
    (Grambsch & Therneau 1994, as R's `plot(cox.zph(fit))`), smoothed with LOWESS. A flat curve
    around the estimate supports proportional hazards. The test p-value shown is `ph_test['p']`
    when given (from the analysis results), else lifelines' `proportional_hazard_test` (KM
    time transform).
    """
    from lifelines.statistics import proportional_hazard_test
    from statsmodels.nonparametric.smoothers_lowess import lowess

    contrast = arm_contrast(trial, active=active, analysis="PH check")
    control, active = contrast.control, contrast.active
    df = trial.survival_by_subject()
    df = df.loc[df["arm"].isin([control, active]), ["time_days", "event", "arm"]]
    df = df.assign(treatment=(df["arm"] == active).astype(float)).drop(columns="arm")
    if df["event"].sum() < 3:
        raise AnalysisError("PH check", f"{int(df['event'].sum())} events: too few to check proportional hazards")
    for value, arm in ((0.0, control), (1.0, active)):
        if df.loc[df["treatment"] == value, "event"].sum() == 0:
            raise AnalysisError("PH check", f"no events in arm {arm!r}: the hazard ratio is not estimable")
    # taken only at the maximum: refitted if lifelines stops short, else "not estimable" (AnalysisError)
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
    fig = new_figure(7.0, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(times, beta_t, s=10, color="#999999", alpha=0.7, label="scaled Schoenfeld residual + β")
    smooth = lowess(beta_t, times, frac=0.6, return_sorted=True)
    ax.plot(smooth[:, 0], smooth[:, 1], color="#D55E00", lw=2, label="LOWESS of β(t)")
    ax.axhline(beta, color="#0072B2", lw=1.2, ls="--", label=f"β = log HR = {beta:.3f}")
    ax.axhline(0.0, color="#444444", lw=0.8)
    ax.set_xlabel("Days since randomisation (event times)")
    ax.set_ylabel(f"β(t) for {active} vs {control}")
    ax.set_title(f"Proportional-hazards check: test p = {_fmt_p(p)} ({source})", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return fig
