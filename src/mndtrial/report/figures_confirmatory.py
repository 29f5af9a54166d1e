"""Figures of a confirmatory comparison (`mndtrial.power.confirmatory`): boundaries on the Z and
hazard-ratio scales, stopping probability per look, the adaptive design's interim decisions and the
expected size of each strategy. Each takes the tables of a `ConfirmatoryResult` (`looks`,
`selection`, `table`), so a result read back from CSV draws the same."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .style import PALETTE, new_figure

__all__ = ["confirmatory_boundary_figure", "stopping_figure", "selection_figure", "expected_size_figure"]

DAYS_PER_MONTH = 30.44


def _colours(names) -> dict[str, str]:
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(dict.fromkeys(names))}


def confirmatory_boundary_figure(looks: pd.DataFrame) -> Figure:
    """Efficacy (solid) and futility (dashed) bounds per strategy: Z by information rate, and the
    hazard ratio at the bound by events (group-sequential strategies; an adaptive design's bound is
    on the combined Z, which has no single HR).

    Example:
        >>> looks = pd.DataFrame({"strategy": ["a", "a"], "look": [1, 2], "information_rate": [0.5, 1],
        ...                       "event_target": [100, 200], "z_efficacy": [2.96, 1.97],
        ...                       "z_futility": [0.0, np.nan], "hr_efficacy": [0.55, 0.76],
        ...                       "hr_futility": [1.0, np.nan]})
        >>> len(confirmatory_boundary_figure(looks).axes)
        2
    """
    fig = new_figure(10.4, 4.0)
    axes = fig.subplots(1, 2)
    colours = _colours(looks["strategy"])
    for name, g in looks.groupby("strategy", sort=False):
        c = colours[name]
        axes[0].plot(g["information_rate"], g["z_efficacy"], "o-", color=c, label=f"{name}: efficacy")
        if g["z_futility"].notna().any():
            axes[0].plot(g["information_rate"], g["z_futility"], "s--", color=c, label=f"{name}: futility")
        if "hr_efficacy" in g and g["hr_efficacy"].notna().any():
            axes[1].plot(g["event_target"], g["hr_efficacy"], "o-", color=c, label=f"{name}: efficacy")
            if g["hr_futility"].notna().any():
                axes[1].plot(g["event_target"], g["hr_futility"], "s--", color=c, label=f"{name}: futility")
    axes[0].axhline(0, color="#999999", lw=0.8)
    axes[1].axhline(1, color="#999999", lw=0.8)
    axes[0].set(xlabel="information fraction", ylabel="Z (large = benefit)", title="Z scale")
    axes[1].set(xlabel="events in the analysed population", ylabel="hazard ratio at the bound",
                title="Hazard-ratio scale (reject below the solid line)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
    return fig


def stopping_figure(looks: pd.DataFrame) -> Figure:
    """Probability of stopping at each look for efficacy (up) and futility (down), ± 2 MC SE, with
    the design's analytic probabilities (crosses) where the pool's true hazard ratio is known.

    Example:
        >>> looks = pd.DataFrame({"strategy": ["a", "a"], "look": [1, 2], "p_efficacy": [0.1, 0.5],
        ...                       "p_efficacy_mcse": [0.01, 0.02], "p_futility": [0.2, 0.0],
        ...                       "p_futility_mcse": [0.01, 0.0]})
        >>> len(stopping_figure(looks).axes)
        1
    """
    fig = new_figure(7.5, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    names = list(dict.fromkeys(looks["strategy"]))
    colours = _colours(names)
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        g = looks[looks["strategy"] == name]
        x = g["look"].to_numpy() + (i - (len(names) - 1) / 2) * width
        ax.bar(x, g["p_efficacy"], width, yerr=2 * g["p_efficacy_mcse"], color=colours[name], capsize=2,
               label=f"{name}")
        ax.bar(x, -g["p_futility"], width, yerr=2 * g["p_futility_mcse"], color=colours[name], alpha=0.45,
               capsize=2)
        if "p_efficacy_analytic" in g and g["p_efficacy_analytic"].notna().any():
            ax.plot(x, g["p_efficacy_analytic"], "x", color="black", ms=7)
            ax.plot(x, -g["p_futility_analytic"], "x", color="black", ms=7)
    if "p_efficacy_analytic" in looks and looks["p_efficacy_analytic"].notna().any():
        ax.plot([], [], "x", color="black", label="analytic (design, true HR)")
    ax.axhline(0, color="#444444", lw=0.8)
    ax.set_xticks(sorted(looks["look"].unique()))
    ax.set(xlabel="look", ylabel="stop for efficacy (up) / futility (down)",
           title="Stopping probability per look (± 2 Monte Carlo SE)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, frameon=False)
    return fig


def selection_figure(selection: pd.DataFrame) -> Figure:
    """The adaptive design's interim decisions: both, S only, F only continue, or a stop.

    Example:
        >>> sel = pd.DataFrame({"decision": ["both", "S only"], "probability": [0.4, 0.6], "mcse": [0.02, 0.02]})
        >>> len(selection_figure(sel).axes)
        1
    """
    fig = new_figure(6.0, 3.8)
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(selection["decision"], selection["probability"], yerr=2 * selection["mcse"], capsize=3,
           color=[PALETTE[i % len(PALETTE)] for i in range(len(selection))])
    ax.set(ylabel="probability", ylim=(0, 1), title="Interim decision of the adaptive design (± 2 MC SE)")
    ax.grid(alpha=0.3, axis="y")
    return fig


def expected_size_figure(table: pd.DataFrame) -> Figure:
    """Expected events (analysed population), randomised, screened and duration per strategy.

    Example:
        >>> t = pd.DataFrame({"strategy": ["a", "b"], "events_mean": [200, 150], "events_mcse": [2, 2],
        ...                   "n_randomised_mean": [600, 500], "n_randomised_mcse": [1, 1],
        ...                   "n_screened_mean": [600, 700], "n_screened_mcse": [1, 2],
        ...                   "duration_days_mean": [900, 1000], "duration_days_mcse": [10, 10]})
        >>> len(expected_size_figure(t).axes)
        4
    """
    panels = (("events", "expected events"), ("n_randomised", "expected randomised"),
              ("n_screened", "expected screened"), ("duration_days", "expected duration (months)"))
    fig = new_figure(12.0, 3.6)
    axes = fig.subplots(1, len(panels))
    colours = [_colours(table["strategy"])[s] for s in table["strategy"]]
    for ax, (col, label) in zip(axes, panels):
        scale = DAYS_PER_MONTH if col == "duration_days" else 1.0
        mean = table[f"{col}_mean"].to_numpy(dtype=float) / scale
        se = table[f"{col}_mcse"].to_numpy(dtype=float) / scale if f"{col}_mcse" in table else None
        ax.bar(table["strategy"], mean, yerr=None if se is None else 2 * np.nan_to_num(se), color=colours, capsize=3)
        ax.set_title(label, fontsize=10)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
        ax.grid(alpha=0.3, axis="y")
    return fig
