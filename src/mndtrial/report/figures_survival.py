"""Kaplan–Meier figures: curves by arm with censoring ticks, numbers at risk, HR and log-rank p.

The functions take Kaplan–Meier results (an object with `curves`, or its `to_dict()` form from
results.json) or a `Trial`, whose curves are then estimated by `mndtrial.analysis.km.km_curve` per arm
(lifelines' `KaplanMeierFitter`). Numbers at risk at day t count participants whose time is >= t
(as R's `summary(survfit, times = t)$n.risk`); the rows are drawn at the days of the analysis's
at-risk table when those are given, so figure and table agree. As survminer's `ggsurvplot`,
censored participants are ticks on the curve, and the panel states the hazard ratio with its CI
and the log-rank p. The forest plot and the PH check live in `figures_forest` and `figures_ph`.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.markers import TICKDOWN
from matplotlib.ticker import FixedLocator, MaxNLocator
from matplotlib.transforms import ScaledTranslation

from ..analysis import arm_contrast
from ..analysis.cox import fit_cox_arrays
from ..analysis.km import km_curve
from ..analysis.logrank import logrank
from ..analysis.numbers import arm_labels, fmt_p, fmt_ratio_ci
from ..data import Trial
from ..errors import AnalysisError, ParameterError
from .figures_forest import forest_figure, forest_rows
from .figures_ph import ph_check_figure
from .layout import PAD_PT, line_height_pt, text_size_pt
from .style import CONTROL_COLOUR, arm_colours, new_figure

__all__ = ["km_curves", "km_figure", "km_subgroups_figure", "forest_figure", "forest_rows", "ph_check_figure",
           "censored_marks", "km_effect", "effect_text", "at_risk_at"]

CURVE_COLUMNS = ("time_days", "survival", "ci_lower", "ci_upper", "at_risk")
RISK_FONT_PT = 8.0  # the at-risk table's numbers and row labels
RISK_LABEL_PAD_PT = 8.0


def km_curves(source: Any, alpha: float = 0.05) -> dict[str, pd.DataFrame]:
    """Kaplan–Meier step curves per arm as DataFrames with columns `CURVE_COLUMNS`.

    `source` is a `Trial`, an object with a `curves` mapping (arm -> DataFrame indexed by
    time_days), or a dict `{"arms": {arm: {"curve": {...}}}}` as in results.json.
    """
    if isinstance(source, Trial):
        # the curves only (kaplan_meier adds medians and follow-up a figure does not show)
        df = source.survival_by_subject()  # joined once per trial by the Trial itself
        arm = df["arm"].to_numpy(object)
        time, event = df["time_days"].to_numpy(float), df["event"].to_numpy(int)
        return {str(a): km_curve(time[arm == a], event[arm == a], alpha).reset_index()[list(CURVE_COLUMNS)]
                .astype(float) for a in source.info.arm_names if (arm == a).any()}
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




def censored_marks(curve: pd.DataFrame) -> pd.DataFrame:
    """Times with censored participants, their number and the curve's height there.

    Read from the curve alone (so results.json curves have them too): at each observed time the
    deaths are n_i (1 - S_i / S_(i-1)) and the censored are n_i - deaths_i - n_(i+1), with n the
    number at risk (lifelines' `event_table['censored']`, the test's reference).
    """
    t = curve["time_days"].to_numpy(float)
    s = curve["survival"].to_numpy(float)
    n = curve["at_risk"].to_numpy(float)
    before = np.concatenate([[1.0], s[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        deaths = np.where(before > 0, n * (1 - s / before), 0.0)
    after = np.concatenate([n[1:], [0.0]])
    censored = np.rint(n - np.rint(deaths) - after).astype(int)
    keep = censored > 0
    return pd.DataFrame({"time_days": t[keep], "censored": censored[keep], "survival": s[keep]})


def km_effect(trial: Trial, control: str | None = None, active: str | None = None) -> dict[str, Any] | None:
    """Unadjusted Cox HR (with its 95% CI) and log-rank p of active vs control, or None if not estimable.

    For a panel drawn from the data (a subgroup), as survminer's `pval = TRUE` with `coxph`: the
    project's Cox model (`mndtrial.analysis.cox.fit_cox_arrays`, Efron ties, at the maximum or not
    at all) and log-rank test (`mndtrial.analysis.logrank`); the tests hold both to lifelines.
    """
    try:
        contrast = arm_contrast(trial, active=active, control=control, analysis="KM panel")
    except (AnalysisError, ParameterError):
        return None
    df = trial.survival_by_subject()
    arm = df["arm"].to_numpy(object)
    keep = (arm == contrast.control) | (arm == contrast.active)
    time, event = df["time_days"].to_numpy(float)[keep], df["event"].to_numpy(float)[keep]
    treated = arm[keep] == contrast.active
    if not (np.isfinite(time).all() and np.isfinite(event).all()):
        return None  # as the Cox fit refuses missing values
    if event[treated].sum() == 0 or event[~treated].sum() == 0:
        return None
    try:
        # the arrays the model table would be read back into (fit_cox builds that table first)
        term = fit_cox_arrays(time, event.astype(int), treated.astype(float)[:, None], ["treatment"], ph_test=False,
                              analysis="KM panel").term("treatment")
        p = logrank(time, event.astype(int), treated, analysis="KM panel").p
    except AnalysisError:
        return None
    return {"hr": float(term["hr"]), "ci": [float(term["hr_lower"]), float(term["hr_upper"])],
            "p": float(p), "ci_level": 0.95, "model": "unadjusted Cox"}


def effect_text(effect: Mapping[str, Any] | None) -> str | None:
    """'HR 0.85 (95% CI 0.54, 1.35)\nlog-rank p = 0.493' from {hr, ci, p, ci_level}."""
    if not effect or effect.get("hr") is None:
        return None
    level = f"{100 * float(effect.get('ci_level', 0.95)):.10g}% CI"
    hr = fmt_ratio_ci(effect["hr"], effect.get("ci")).replace(" (", f" ({level} ", 1)
    lines = [f"HR {hr}"]
    if effect.get("p") is not None:
        p = fmt_p(effect["p"])
        lines.append(f"log-rank p {p if p.startswith('<') else '= ' + p}")
    return "\n".join(lines)


def _risk_label_width_in(labels: Sequence[str]) -> float:
    return max((text_size_pt(str(s), RISK_FONT_PT)[0] for s in labels), default=0.0) / 72


def _km_margins_in(arms: Sequence[str], labels: Mapping[str, str], title: bool) -> dict[str, float]:
    """Room round a KM panel's two axes, in inches: the survival axis's labels (ticks 0.0–1.0 and
    its label) or the at-risk row labels, whichever is wider, the title, the day axis under the
    table; `gap` between the survival axes and the at-risk table holds the table's title."""
    pad = PAD_PT / 72
    survival_left = (text_size_pt("0.0", 10)[0] + 7 + 4 + line_height_pt(10)) / 72
    risk_left = _risk_label_width_in([labels.get(a, a) for a in arms]) + (RISK_LABEL_PAD_PT + 1) / 72
    return {"left": pad + max(survival_left, risk_left), "right": 0.22,
            "top": pad + ((6 + line_height_pt(10)) / 72 if title else 0.0),
            "bottom": pad + (7 + line_height_pt(10) + 4 + line_height_pt(10)) / 72,
            "gap": (8 + 6 + line_height_pt(8.5)) / 72, "risk": 0.12 + 0.3 * len(arms)}


def _step_band(ax, time: np.ndarray, lower: np.ndarray, upper: np.ndarray, colour: str) -> None:
    """The CI band between two step functions (as `fill_between(..., step="post")` draws it) as one
    polygon built from the step arrays, without fill_between's masking and interpolation."""
    if not (np.isfinite(lower).all() and np.isfinite(upper).all()) or len(time) < 2:
        ax.fill_between(time, lower, upper, step="post", color=colour, alpha=0.15, lw=0)  # gaps where undefined
        return
    x = np.repeat(time, 2)[1:]  # x0, x1, x1, x2, x2, ..., xn, xn
    top, bottom = np.repeat(upper, 2)[:-1], np.repeat(lower, 2)[:-1]  # y0, y0, y1, y1, ..., yn
    polygon = np.column_stack([np.r_[x, x[::-1]], np.r_[top, bottom[::-1]]])
    ax.add_collection(PolyCollection([polygon], facecolors=colour, alpha=0.15, linewidths=0), autolim=False)


def _at_risk_table(ax, curves: Mapping[str, pd.DataFrame], colours: Mapping[str, str], labels: Mapping[str, str],
                   ticks: Sequence[float], gap_in: float, height_in: float) -> None:
    """The numbers at risk under the survival axes, drawn in the survival axes itself: one row per
    arm (first arm on top), its numbers at the x ticks, the row labels left of the axes, the title
    "Number at risk" over it and its baseline with ticks under it; the day labels and the axis
    label go under the table (the x tick labels' pad). No axes of its own: an Axes (with its
    ticks, spines and patch) cost more to make and draw than everything in the table."""
    fig = ax.figure
    below = lambda depth_in: ScaledTranslation(0, -depth_in, fig.dpi_scale_trans)  # noqa: E731
    days, left = ax.get_xaxis_transform(), ax.transAxes
    n_rows = len(curves)
    for k, (arm, c) in enumerate(curves.items()):
        depth = gap_in + height_in * (k + 0.5) / n_rows
        row, colour = days + below(depth), colours.get(arm, "k")
        for tick, n in zip(ticks, at_risk_at(c, ticks)):
            ax.text(tick, 0, str(n), transform=row, ha="center", va="center", fontsize=RISK_FONT_PT, color=colour,
                    gid=f"at_risk:{arm}")
        ax.text(0, 0, labels.get(arm, arm), transform=left + below(depth) + ScaledTranslation(
            -RISK_LABEL_PAD_PT / 72, 0, fig.dpi_scale_trans), ha="right", va="center_baseline", fontsize=RISK_FONT_PT,
            gid="at_risk_label")
    ax.text(0, 0, "Number at risk", transform=left + below(gap_in - mpl.rcParams["axes.titlepad"] / 72),
            ha="left", va="baseline", fontsize=8.5, gid="at_risk_title")
    base = below(gap_in + height_in)
    edge = {"color": mpl.rcParams["axes.edgecolor"], "clip_on": False}
    ax.add_line(Line2D([0, 1], [0, 0], transform=left + base, lw=mpl.rcParams["axes.linewidth"],
                       solid_capstyle="projecting", gid="at_risk_frame", **edge))
    ax.add_line(Line2D(ticks, np.zeros(len(ticks)), transform=days + base, ls="none", marker=TICKDOWN,
                       ms=mpl.rcParams["xtick.major.size"], mew=mpl.rcParams["xtick.major.width"],
                       gid="at_risk_ticks", **edge))
    # the day labels under the table: the tick labels' pad reaches past it
    ax.tick_params(axis="x", labelbottom=True, pad=mpl.rcParams["xtick.major.pad"] + 72 * (gap_in + height_in))
    ax.set_xlabel("Days since randomisation")


def _draw_km(fig: Figure, rect_in: tuple[float, float, float, float], curves: Mapping[str, pd.DataFrame],
             colours: Mapping[str, str], title: str | None, horizon_days: float | None, ci: bool,
             labels: Mapping[str, str], at_risk_days: Sequence[float] | None, annotation: str | None) -> None:
    """One KM panel (survival axes over its at-risk table) in the figure's `rect_in` (x, y, w, h inches)."""
    fig_w, fig_h = fig.get_size_inches()
    x0, y0, width, height = rect_in
    m = _km_margins_in(list(curves), labels, bool(title))
    left, plot_w = x0 + m["left"], width - m["left"] - m["right"]
    risk_bottom = y0 + m["bottom"]
    plot_bottom = risk_bottom + m["risk"] + m["gap"]
    plot_h = y0 + height - m["top"] - plot_bottom
    ax = fig.add_axes((left / fig_w, plot_bottom / fig_h, plot_w / fig_w, plot_h / fig_h))
    t_max = max(float(c["time_days"].max()) for c in curves.values())
    if horizon_days is not None:
        t_max = max(t_max, float(horizon_days))
    for arm, c in curves.items():
        colour = colours.get(arm, CONTROL_COLOUR)
        n = int(c["at_risk"].iloc[0]) if len(c) else 0
        time = c["time_days"].to_numpy(float)
        ax.plot(time, c["survival"].to_numpy(float), drawstyle="steps-post", color=colour, lw=1.8,
                label=f"{labels.get(arm, arm)} (n = {n})")
        marks = censored_marks(c)
        ax.plot(marks["time_days"].to_numpy(), marks["survival"].to_numpy(), ls="none", marker="|", ms=7, mew=1.2,
                color=colour, gid=f"censored:{arm}")
        if ci:
            _step_band(ax, time, c["ci_lower"].to_numpy(float), c["ci_upper"].to_numpy(float), colour)
    ax.plot([], [], ls="none", marker="|", ms=7, color="#444444", label="censored")
    if horizon_days is not None:
        ax.axvline(float(horizon_days), color="#444444", lw=0.9, ls=":", label=f"horizon (day {horizon_days:g})")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(-0.04 * t_max, t_max * 1.03)
    ax.yaxis.set_major_locator(FixedLocator([0.0, 0.2, 0.4, 0.6, 0.8, 1.0]))
    ax.set_ylabel("Survival probability")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    if annotation:
        ax.text(0.98, 0.97, annotation, transform=ax.transAxes, ha="right", va="top", fontsize=8.5,
                bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "#bbbbbb", "alpha": 0.9})
    if title:
        ax.set_title(title, fontsize=10, y=1.0)  # placed, not searched for (see report.layout)
    if at_risk_days:
        ticks = [float(d) for d in at_risk_days if 0 <= d <= t_max * 1.02]
    else:
        locator = MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10], integer=True)
        ticks = [float(t) for t in locator.tick_values(-0.04 * t_max, t_max * 1.03) if 0 <= t <= t_max * 1.02]
    # one fixed locator: ticks are made once, at the days the table shows
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    _at_risk_table(ax, curves, colours, labels, ticks, m["gap"], m["risk"])


def km_figure(source: Any, title: str | None = "Kaplan–Meier survival by arm", control: str | None = None,
              horizon_days: float | None = None, ci: bool = True, alpha: float = 0.05,
              labels: Mapping[str, str] | None = None, at_risk_days: Sequence[float] | None = None,
              effect: Mapping[str, Any] | None | bool = True) -> Figure:
    """Kaplan–Meier curves by arm: pointwise CIs, censoring ticks, numbers at risk, HR and log-rank p.

    `horizon_days` is marked by a dotted vertical line; `alpha` sets the band level (1 - alpha)
    when the curves are estimated here from a `Trial` (results carry their own). `labels` maps
    arms to display names (default: the trial's arm labels). `at_risk_days`: the days of the
    numbers-at-risk rows (default: the axis ticks). `effect`: {hr, ci, p, ci_level} to print on
    the panel; True computes it from a two-arm `Trial` (`km_effect`); None or False prints none.

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> fig = km_figure(example_trial(), at_risk_days=[0, 200, 400, 600])
        >>> [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "at_risk:il2_2miu"][:4]
        ['30', '25', '17', '10']
    """
    if isinstance(source, Trial):
        control = control or source.info.control_arm
        horizon_days = horizon_days or source.info.horizon_days
        labels = {**arm_labels(source.info), **(labels or {})}
        if effect is True:
            effect = km_effect(source, control=control)
    curves = km_curves(source, alpha)
    width, height = 7.0, 4.5 + 0.22 * len(curves)
    fig = new_figure(width, height, layout=None)
    _draw_km(fig, (0.0, 0.0, width, height), curves, arm_colours(list(curves), control), title, horizon_days, ci,
             dict(labels or {}), at_risk_days, effect_text(effect) if isinstance(effect, Mapping) else None)
    return fig


def km_subgroups_figure(groups: Mapping[str, Any], control: str | None = None, ncols: int = 2,
                        horizon_days: float | None = None, alpha: float = 0.05,
                        labels: Mapping[str, str] | None = None,
                        at_risk_days: Sequence[float] | None = None) -> Figure:
    """One Kaplan–Meier panel (with numbers at risk) per subgroup; `groups` maps title -> source.

    Every panel uses the same arm colours, so arms read the same across subgroups; the bands are
    at 1 - `alpha` (the analysis plan's alpha in the trial report). A panel drawn from a `Trial`
    states its unadjusted Cox HR (95% CI) and log-rank p (`km_effect`).
    """
    if not groups:
        raise ParameterError("groups", groups, "give at least one subgroup")
    curves = {label: km_curves(src, alpha) for label, src in groups.items()}
    arms: list[str] = []
    for c in curves.values():
        arms += [a for a in c if a not in arms]
    first = next(iter(groups.values()))
    if isinstance(first, Trial):
        control = control or first.info.control_arm
        labels = {**arm_labels(first.info), **(labels or {})}
    colours = arm_colours(arms, control)
    ncols = max(1, min(ncols, len(curves)))
    nrows = math.ceil(len(curves) / ncols)
    panel_w, panel_h = 6.0, 4.5 + 0.22 * len(arms)
    fig = new_figure(panel_w * ncols, panel_h * nrows, layout=None)
    for i, (label, c) in enumerate(curves.items()):
        src = groups[label]
        effect = km_effect(src, control=control) if isinstance(src, Trial) else None
        row, col = divmod(i, ncols)
        rect = (col * panel_w, (nrows - 1 - row) * panel_h, panel_w, panel_h)
        _draw_km(fig, rect, c, colours, label, horizon_days, True, dict(labels or {}), at_risk_days,
                 effect_text(effect))
    return fig
