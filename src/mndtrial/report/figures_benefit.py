"""Who-benefits figures: the effect along a biomarker (with bands), STEPP, and the cut-off search.

Each takes the section's block of results.json (`effect_along_biomarker.survival`,
`.alsfrs_slope`, `.stepp`, `cutoff_search`), so a saved results file redraws them. The rug of
observed biomarker values needs the data (`marker_values`); without it the figure has no rug.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ..errors import ParameterError
from .style import CONTROL_COLOUR, PALETTE, new_figure

__all__ = ["effect_curve_figure", "stepp_figure", "cutoff_search_figure"]

CURVE_COLOUR = PALETTE[0]
CUTOFF_COLOUR = PALETTE[1]


def _need(block: Any, keys: Sequence[str], what: str) -> Mapping[str, Any]:
    if not isinstance(block, Mapping) or "not_computed" in block or any(k not in block for k in keys):
        reason = block.get("not_computed") if isinstance(block, Mapping) else None
        raise ParameterError(what, "results", reason or f"needs {', '.join(keys)}")
    return block


def _marks(ax, cutoffs: Sequence[float], label: str = "published cut-off") -> None:
    for c in cutoffs:
        ax.axvline(c, color=CUTOFF_COLOUR, linestyle="--", linewidth=1.2)
        ax.annotate(f"{label} {c:g}", xy=(c, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12),
                    textcoords="offset points", fontsize=8, color=CUTOFF_COLOUR)


def _finish(fig: Figure, ax, title: str, xlabel: str, ylabel: str, legend_at: str = "best") -> Figure:
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc=legend_at)
    return fig


def _rug(ax, values: Sequence[float] | None) -> None:
    if values is None or len(values) == 0:
        return
    ax.plot(np.asarray(values, float), np.zeros(len(values)), "|", color=CONTROL_COLOUR, markersize=10,
            alpha=0.6, transform=ax.get_xaxis_transform(), clip_on=False)


def effect_curve_figure(block: Mapping[str, Any], marker_values: Sequence[float] | None = None,
                        mark_cutoffs: Sequence[float] = (), biomarker: str = "biomarker") -> Figure:
    """HR (or slope difference) against the biomarker with pointwise and simultaneous bands.

    Example:
        >>> block = {"curve": {"scale": "log_hr", "level": 0.95, "marker": [100, 1000, 10000],
        ...          "estimate": [-1, -0.5, 0.2], "pointwise": {"low": [-2, -1, -0.3], "high": [0, 0, 0.7]},
        ...          "simultaneous": {"low": [-2.5, -1.3, -0.6], "high": [0.5, 0.3, 1.0], "critical_value": 2.4}},
        ...          "interaction_test": {"df": 3, "wald_p": 0.01}, "transform": "log"}
        >>> effect_curve_figure(block, [150, 900], [3700], "csf_pnfh").axes[0].get_xscale()
        'log'
    """
    block = _need(block, ("curve", "interaction_test"), "effect curve")
    c = block["curve"]
    x = np.asarray(c["marker"], float)
    est = np.asarray(c["estimate"], float)
    bands = [(np.asarray(c[b]["low"], float), np.asarray(c[b]["high"], float)) for b in ("simultaneous", "pointwise")]
    hr = c["scale"] == "log_hr"
    f = np.exp if hr else (lambda v: v)
    fig = new_figure(7.0, 4.3)
    ax = fig.add_subplot()
    level = 100 * float(c.get("level", 0.95))
    ax.fill_between(x, f(bands[0][0]), f(bands[0][1]), color=CURVE_COLOUR, alpha=0.15,
                    label=f"simultaneous {level:.10g}% band (sup-t)")
    ax.fill_between(x, f(bands[1][0]), f(bands[1][1]), color=CURVE_COLOUR, alpha=0.3,
                    label=f"pointwise {level:.10g}% CI")
    ax.plot(x, f(est), color=CURVE_COLOUR, linewidth=2, label="estimate")
    ax.axhline(1.0 if hr else 0.0, color="black", linewidth=0.8)
    if block.get("transform", "log") == "log":
        ax.set_xscale("log")
    if hr:
        ax.set_yscale("log")
        # a band that runs off at the sparse ends would squash the curve: clip the view, not the band
        ax.set_ylim(max(float(np.min(f(bands[0][0]))), 0.01) / 1.2, min(float(np.max(f(bands[0][1]))), 100.0) * 1.2)
    _marks(ax, [m for m in mark_cutoffs if x.min() <= m <= x.max()])
    _rug(ax, marker_values)
    t = block["interaction_test"]
    p = t.get("lr_p", t.get("wald_p"))
    return _finish(fig, ax, f"test of no interaction ({t['df']} df): p = {p:.3g}", biomarker,
                   "hazard ratio (active vs control)" if hr else "slope difference (points/month)")


def stepp_figure(block: Mapping[str, Any], mark_cutoffs: Sequence[float] = (), biomarker: str = "biomarker",
                 log_x: bool = True) -> Figure:
    """STEPP: HR with CI per window, plotted at the window's median biomarker value.

    Example:
        >>> block = {"windows": [{"marker_median": 500, "marker_low": 100, "marker_high": 900, "hr": 0.5,
        ...          "ci_low": 0.2, "ci_high": 1.1, "estimable": True}], "overall": {"hr": 0.7},
        ...          "level": 0.95, "test": {"p": 0.04, "permutations": 100}}
        >>> len(stepp_figure(block).axes)
        1
    """
    block = _need(block, ("windows", "overall", "test"), "STEPP")
    rows = [w for w in block["windows"] if w.get("estimable")]
    fig = new_figure(7.0, 4.3)
    ax = fig.add_subplot()
    if rows:
        x = np.array([w["marker_median"] for w in rows], float)
        hr = np.array([w["hr"] for w in rows], float)
        lo = np.array([w["ci_low"] for w in rows], float)
        hi = np.array([w["ci_high"] for w in rows], float)
        ax.fill_between(x, lo, hi, color=CURVE_COLOUR, alpha=0.2,
                        label=f"{100 * float(block.get('level', 0.95)):.10g}% CI per window (pointwise)")
        ax.plot(x, hr, "o-", color=CURVE_COLOUR, label="HR in the window")
        for w in rows:  # the range each window covers
            ax.plot([w["marker_low"], w["marker_high"]], [w["hr"], w["hr"]], color=CURVE_COLOUR, alpha=0.35,
                    linewidth=1)
    ax.axhline(block["overall"]["hr"], color=CONTROL_COLOUR, linestyle=":", label="HR, all participants")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    if log_x:
        ax.set_xscale("log")
    _marks(ax, mark_cutoffs)
    t = block["test"]
    return _finish(fig, ax, f"STEPP: permutation test of no interaction p = {t['p']:.3g} "
                            f"({t['permutations']} permutations)",
                   f"{biomarker} (median of the window)", "hazard ratio (active vs control)")


def cutoff_search_figure(block: Mapping[str, Any], mark_cutoffs: Sequence[float] = (),
                         biomarker: str = "biomarker") -> Figure:
    """Z per candidate cut-off, the selected one, and how often resamples re-selected each."""
    block = _need(block, ("candidates", "selected_cutoff"), "cut-off search")
    cand = block["candidates"]
    x = np.array([c["cutoff"] for c in cand], float)
    z = np.array([np.nan if c["z"] is None else c["z"] for c in cand], float)
    freq = np.array([c.get("selected_in_bootstrap") or 0.0 for c in cand], float)
    fig = new_figure(7.0, 4.0)
    ax = fig.add_subplot()
    ax.plot(x, z, "o-", color=CURVE_COLOUR, label=f"log-rank Z ({block['statistic']}), not adjusted")
    ax.axvline(block["selected_cutoff"], color=CURVE_COLOUR, linestyle=":", label="selected cut-off")
    ax2 = ax.twinx()
    width = np.diff(x).min() * 0.6 if len(x) > 1 else 1.0
    ax2.bar(x, freq, width=width, color=CONTROL_COLOUR, alpha=0.3)
    ax2.set_ylabel("share of bootstrap resamples selecting it")
    ax2.set_ylim(0, 1)
    _marks(ax, [m for m in mark_cutoffs if x.min() <= m <= x.max()])
    adj = block.get("selection_adjusted") or {}
    return _finish(fig, ax, f"selected {block['selected_cutoff']:.4g}; selection-adjusted p = "
                            f"{adj.get('p', float('nan')):.3g}",
                   f"candidate cut-off ({biomarker})", "Z (benefit > 0)", legend_at="lower left")
