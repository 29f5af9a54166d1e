"""Group-sequential boundaries on the Z scale and, given the events, on the hazard-ratio scale."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .style import PALETTE, new_figure

__all__ = ["boundary_figure"]


def boundary_figure(design, max_events: float | None = None, allocation_ratio: float = 1.0,
                    title: str | None = None) -> Figure:
    """Efficacy (and futility) bounds by look: Z scale, plus the HR scale when `max_events` is given.

    `design` is a `mndtrial.design.GroupSequentialDesign`.

    Example:
        >>> from mndtrial.design import group_sequential_design
        >>> fig = boundary_figure(group_sequential_design(k_max=3, futility_bounds=[0, 0.5]), max_events=300)
        >>> len(fig.axes)
        2
    """
    table = design.table(max_events, allocation_ratio)
    panels = [("z", "Z statistic (large = benefit)")]
    if max_events is not None:
        panels.append(("hr", "hazard ratio at the bound"))
    fig = new_figure(5.2 * len(panels), 4.0)
    x = table["events"] if max_events is not None else table["information_rate"]
    xlabel = "events" if max_events is not None else "information fraction"
    for i, (scale, ylabel) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        eff = table["z_efficacy"] if scale == "z" else table["hr_efficacy"]
        fut = table["z_futility"] if scale == "z" else table["hr_futility"]
        ax.plot(x, eff, "o-", color=PALETTE[0], label="efficacy (stop, reject H0)")
        if np.any(np.isfinite(fut)):
            ax.plot(x, fut, "s--", color=PALETTE[1], label="futility" + (" (binding)" if design.binding_futility else " (non-binding)"))
        ax.axhline(0.0 if scale == "z" else 1.0, color="#999999", lw=0.8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=8, loc="best")
    fig.suptitle(title or f"{design.type_of_design} boundaries, {design.k_max} looks, one-sided alpha {design.alpha:g}")
    return fig
