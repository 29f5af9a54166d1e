"""Figures over visits: ALSFRS-R trajectories and the Treg response by dose."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from ..analysis.numbers import arm_labels
from ..analysis.treg import TregAnalysis
from ..data import Trial, TrialInfo
from ..errors import AnalysisError, ParameterError
from ..data.schema import DAYS_PER_MONTH
from .descriptives import arm_order, arm_order_of, visit_means
from .layout import fit_row
from .style import arm_colours, new_figure

__all__ = ["alsfrs_figure", "treg_figure", "treg_by_visit"]


def alsfrs_figure(trial: Trial, n_individual: int = 40, seed: int = 0, level: float = 0.95) -> Figure:
    """ALSFRS-R total by visit: mean per arm with its CI, over a random sample of individual lines.

    The individual lines are thin and unlabelled (a report shows no subject ids); the sample is
    drawn with `seed`, so the same call draws the same lines.

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> fig = alsfrs_figure(example_trial(), n_individual=10)
        >>> fig.axes[0].get_ylabel()
        'ALSFRS-R total (0–48)'
    """
    if n_individual < 0:
        raise ParameterError("n_individual", n_individual, "must be >= 0")
    alsfrs = trial.alsfrs
    if alsfrs is None:
        raise AnalysisError("ALSFRS-R figure", "the trial has no ALSFRS-R table")
    means = visit_means(trial, "alsfrs", "total", level=level)
    unit = means.attrs["visit_unit"]
    order = arm_order(trial)
    colours = arm_colours(order, trial.info.control_arm)
    fig = new_figure(7.5, 4.5, layout=None)
    ax = fig.add_subplot(1, 1, 1)
    arms = trial.participants.set_index("subject_id")["arm"]
    ids = np.sort(alsfrs["subject_id"].unique())
    rng = np.random.default_rng(seed)
    sample = rng.choice(ids, size=min(n_individual, len(ids)), replace=False) if n_individual else []
    shown = alsfrs.loc[alsfrs["subject_id"].isin(sample)]
    # one collection of the participants' lines (each still its own path, drawn over the others)
    x = shown["day"].to_numpy(float) / (DAYS_PER_MONTH if unit == "month" else 1.0)
    y = shown["total"].to_numpy(float)
    lines, line_colours = [], []
    rows_of = shown.groupby("subject_id", sort=False).indices
    for subject in pd.unique(shown["subject_id"]):  # in the order of the table, as drawn before
        rows = rows_of[subject]
        lines.append(np.column_stack([x[rows], y[rows]]))
        line_colours.append(colours[arms[subject]])
    if lines:
        ax.add_collection(LineCollection(lines, colors=line_colours, linewidths=0.6, alpha=0.35, zorder=2,
                                         capstyle="projecting", joinstyle="round", gid="participants"),
                          autolim=True)
    for arm in order:
        m = means.loc[means["arm"] == arm]
        if m.empty:
            continue
        ax.fill_between(m["visit"], m["ci_lower"], m["ci_upper"], color=colours[arm], alpha=0.2, lw=0)
        ax.plot(m["visit"], m["mean"], "o-", color=colours[arm], lw=2.2, ms=4,
                label=f"{arm_labels(trial.info).get(arm, arm)}: mean ({int(level * 100)}% CI)")
    ax.set_xlabel("Months since randomisation" if unit == "month" else "Day since randomisation")
    ax.set_ylabel("ALSFRS-R total (0–48)")
    ax.set_title(f"ALSFRS-R over time (thin lines: {len(sample)} randomly chosen participants)", fontsize=10,
                 y=1.0)
    ax.set_ylim(max(0, float(alsfrs["total"].min()) - 2), min(48, float(alsfrs["total"].max()) + 2))
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    ax.grid(alpha=0.3)
    fit_row(fig, [ax])
    return fig


def treg_by_visit(source: Any, analyte: str = "treg_pct_cd4") -> pd.DataFrame:
    """Treg change from baseline by arm and visit: columns arm, visit, n, mean, ci_lower, ci_upper.

    `source` is a `Trial` (analysed with `mndtrial.analysis.TregAnalysis`), a `TregResult`, or
    the results.json block of one analyte (`results["treg"][analyte]`).
    """
    if isinstance(source, Trial):
        source = TregAnalysis(analyte=analyte).fit(source).result_
    if hasattr(source, "by_visit"):
        bv = source.by_visit.reset_index()
        return pd.DataFrame({"arm": bv["arm"].astype(str), "visit": bv["visit_day"].astype(float),
                             "n": bv["n"].astype(int), "mean": bv["mean_change"].astype(float),
                             "ci_lower": bv["ci_low"].astype(float), "ci_upper": bv["ci_high"].astype(float)})
    if isinstance(source, Mapping) and "by_visit" in source:
        rows = [{"arm": arm, "visit": float(key.removeprefix("day_")), "n": r["n"], "mean": r["mean_change"],
                 "ci_lower": r["ci"][0], "ci_upper": r["ci"][1]}
                for arm, visits in source["by_visit"].items() for key, r in visits.items()]
        return pd.DataFrame(rows, columns=["arm", "visit", "n", "mean", "ci_lower", "ci_upper"])
    raise ParameterError("treg", type(source).__name__, "must be a Trial, a TregResult or its results.json block")


def treg_figure(source: Any, analyte: str = "treg_pct_cd4", info: TrialInfo | None = None) -> Figure:
    """Treg response by dose: change from baseline by visit per arm (left) and by dose (right).

    The means and CIs are those of the Treg analysis (`TregAnalysis`: t-based CI of the mean
    change, baseline = last value on or before day 0). Arms are ordered and placed by
    `Arm.dose_miu` from `info` (taken from the trial when `source` is one); the control arm
    without a recorded dose is at dose 0.

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> fig = treg_figure(example_trial())
        >>> fig.axes[1].get_xlabel()
        'Dose (million IU per day)'
    """
    if isinstance(source, Trial):
        info = source.info
    if info is None:
        raise ParameterError("info", None, "give the TrialInfo (arms and doses) with analysis results")
    change = treg_by_visit(source, analyte)
    order = [a for a in arm_order_of(info) if a in set(change["arm"])]
    colours = arm_colours(order, info.control_arm)
    label = {"treg_pct_cd4": "Treg (% of CD4+)", "treg_count": "Treg count (cells/µL)"}.get(analyte, analyte)
    fig = new_figure(10.0, 4.2, layout=None)
    left, right = fig.subplots(1, 2)
    for arm in order:
        m = change.loc[change["arm"] == arm].sort_values("visit")
        yerr = np.vstack([m["mean"] - m["ci_lower"], m["ci_upper"] - m["mean"]])
        left.errorbar(m["visit"], m["mean"], yerr=yerr, fmt="o-", color=colours[arm], capsize=3,
                      label=arm_labels(info).get(arm, arm))
    left.axhline(0, color="#444444", lw=0.8)
    left.set_xlabel("Day")
    left.set_ylabel(f"Change from baseline in {label}")
    left.set_title("Change from baseline by visit", fontsize=10, y=1.0)
    left.legend(fontsize=8, frameon=False)
    left.grid(alpha=0.3)
    doses = _doses(info, order)
    for visit, g in change.groupby("visit", sort=True):
        means = dict(zip(g["arm"], g["mean"]))
        shown = [a for a in order if a in means]  # in dose order
        right.plot([doses[a] for a in shown], [means[a] for a in shown], "o-", lw=1.2, label=f"day {visit:g}")
    right.axhline(0, color="#444444", lw=0.8)
    right.set_xlabel("Dose (million IU per day)")
    right.set_ylabel("Mean change from baseline")
    right.set_title("Dose–response", fontsize=10, y=1.0)
    right.legend(fontsize=8, frameon=False)
    right.grid(alpha=0.3)
    fit_row(fig, [left, right], width_ratios=[1.4, 1])
    return fig


def _doses(info: TrialInfo, order: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for a in order:
        arm = info.arm(a)
        out[a] = 0.0 if arm.dose_miu is None and arm.control else (np.nan if arm.dose_miu is None else arm.dose_miu)
    return out
