"""Figures of the joint model of ALSFRS-R and survival, drawn from results.json's `joint.overall.curves`.

Both are drawn from the saved numbers only (no refit, no subject data): the observed mean
ALSFRS-R per visit day beside the model's population mean, and the model's marginal survival
beside Kaplan–Meier.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from matplotlib.figure import Figure

from ..data.schema import DAYS_PER_MONTH
from ..errors import AnalysisError
from .style import arm_colours, new_figure

__all__ = ["joint_alsfrs_figure", "joint_survival_figure"]


def _arms_and_axes(curves: Mapping[str, Any], part: str, control: str | None, width_in: float,
                   height_in: float) -> tuple[list[str], dict[str, str], Figure, Any]:
    """The arms of `curves[part]` (control first), their colours, and a figure with one axes."""
    block = curves.get(part) or {}
    if not block:
        raise AnalysisError("joint model figure", f"results.json has no joint curves for {part}")
    arms = sorted(block, key=lambda a: a != control)
    fig = new_figure(width_in, height_in)
    return arms, arm_colours(arms, control), fig, fig.add_subplot(1, 1, 1)


def joint_alsfrs_figure(curves: Mapping[str, Any], control: str | None = None, min_n: int = 5) -> Figure:
    """Observed mean ALSFRS-R by arm and visit day (markers) and the model's population mean (lines).

    Visit days with fewer than `min_n` measurements are not drawn (their means are noise). The
    share of those measured at a visit who later died is the filled part of each marker's
    annotation: the observed means drift up over time because those who decline fastest die,
    which is what the joint model accounts for.

    Example:
        >>> curves = {"alsfrs": {"placebo": {"day": [0, 91], "observed_mean": [38.0, 35.5], "n": [50, 45],
        ...           "n_later_died": [10, 8], "fitted_mean": [38.1, 35.0]}}}
        >>> joint_alsfrs_figure(curves, control="placebo").axes[0].get_ylabel()
        'ALSFRS-R total (0–48)'
    """
    arms, colours, fig, ax = _arms_and_axes(curves, "alsfrs", control, 7.5, 4.5)
    for arm in arms:
        c = curves["alsfrs"][arm]
        months = np.asarray(c["day"], float) / DAYS_PER_MONTH
        n = np.asarray(c["n"], float)
        shown = n >= min_n
        died_share = np.asarray(c["n_later_died"], float)[shown] / n[shown]
        ax.scatter(months[shown], np.asarray(c["observed_mean"], float)[shown], s=12 + 60 * died_share,
                   color=colours[arm], alpha=0.7, label=f"{arm}: observed mean (marker size: share who later died)")
        order = np.argsort(months)
        ax.plot(months[order], np.asarray(c["fitted_mean"], float)[order], "-", lw=2.2, color=colours[arm],
                label=f"{arm}: joint model, population mean")
    ax.set_xlabel("Months since randomisation")
    ax.set_ylabel("ALSFRS-R total (0–48)")
    ax.set_title("ALSFRS-R: observed means (survivors so far) and the joint model")
    ax.legend(fontsize=8, loc="lower left", frameon=False)
    return fig


def joint_survival_figure(curves: Mapping[str, Any], control: str | None = None) -> Figure:
    """Model-based marginal survival by arm (lines) beside Kaplan–Meier (steps).

    Example:
        >>> curves = {"survival": {"placebo": {"day": [0, 300], "fitted": [1.0, 0.8], "km_day": [0, 100, 300],
        ...           "km": [1.0, 0.9, 0.8]}}}
        >>> bool(joint_survival_figure(curves, control="placebo").axes[0].get_ylim()[1] > 1)
        True
    """
    arms, colours, fig, ax = _arms_and_axes(curves, "survival", control, 7.0, 4.2)
    for arm in arms:
        c = curves["survival"][arm]
        ax.step(np.asarray(c["km_day"], float) / DAYS_PER_MONTH, c["km"], where="post", lw=1.2,
                color=colours[arm], alpha=0.6, label=f"{arm}: Kaplan–Meier")
        ax.plot(np.asarray(c["day"], float) / DAYS_PER_MONTH, c["fitted"], "--", lw=2.2, color=colours[arm],
                label=f"{arm}: joint model (marginal)")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Months since randomisation")
    ax.set_ylabel("Survival probability")
    ax.set_title("Survival: joint model against Kaplan–Meier")
    ax.legend(fontsize=8, loc="lower left", frameon=False)
    return fig
