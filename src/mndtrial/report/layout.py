"""Fixed-margin layout: axes placed once, in inches, from the measured size of their labels.

Constrained layout places axes by drawing the figure (every text laid out, twice over) and then
draws it again to save it; the report's figures are simple enough to place in one pass instead:
the margins are the widest tick label the locator will draw, the axis label, the title and fixed
pads (matplotlib's own tick length and pads), measured with FreeType without drawing anything.

Example:
    >>> from mndtrial.report.style import new_figure
    >>> fig = new_figure(6, 4, layout=None)
    >>> ax = fig.add_subplot()
    >>> _ = ax.plot([0, 1000], [0, 1]); _ = ax.set_ylabel("y"); _ = ax.set_xlabel("x")
    >>> fit_row(fig, [ax])
    >>> bool(0.05 < ax.get_position().x0 < 0.2)
    True
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

__all__ = ["text_size_pt", "line_height_pt", "tick_labels_width_pt", "axes_margins_pt", "fit_row", "PAD_PT",
           "LEGEND_ROW_IN"]

PAD_PT = 6.0  # white space kept round the figure's edge and between neighbouring axes
LEGEND_ROW_IN = 0.32  # one row of a legend at 8 pt placed under the axes

_MEASURE: list[RendererAgg] = []


def _renderer() -> RendererAgg:
    if not _MEASURE:
        _MEASURE.append(RendererAgg(1, 1, 72))  # 72 dpi: pixels are points
    return _MEASURE[0]


@lru_cache(maxsize=4096)
def text_size_pt(text: str, size_pt: float, weight: str = "normal") -> tuple[float, float]:
    """(width, height) of one line of text in points, as Agg draws it (height: ascent + descent)."""
    prop = FontProperties(size=size_pt, weight=weight)
    ismath = text.count("$") >= 2 and text.count("$") % 2 == 0
    w, h, _ = _renderer().get_text_width_height_descent(text, prop, ismath=ismath)
    return float(w), float(h)


def line_height_pt(size_pt: float) -> float:
    """The height matplotlib gives a line of text of this size (the font's ascent + descent)."""
    return text_size_pt("lp", size_pt)[1] * 1.05


def _font_pt(value) -> float:
    return float(FontProperties(size=value).get_size_in_points())


def tick_labels_width_pt(ax: Axes, axis: str = "y") -> float:
    """Width of the widest major tick label the locator will draw on `axis` within the view limits."""
    a = ax.yaxis if axis == "y" else ax.xaxis
    if not a.get_visible() or not a._major_tick_kw.get("label1On", True):
        return 0.0
    lo, hi = sorted(ax.get_ylim() if axis == "y" else ax.get_xlim())
    locs = [v for v in a.get_majorticklocs() if lo - 1e-9 * abs(hi - lo) <= v <= hi + 1e-9 * abs(hi - lo)]
    if not locs:
        return 0.0
    size = a._major_tick_kw.get("labelsize") or mpl.rcParams[f"{axis}tick.labelsize"]
    labels = a.get_major_formatter().format_ticks(locs)
    return max(text_size_pt(str(s), _font_pt(size))[0] for s in labels)


def _tick_space_pt(axis: str) -> float:
    return float(mpl.rcParams[f"{axis}tick.major.size"]) + float(mpl.rcParams[f"{axis}tick.major.pad"])


def _label_pt(text: str, fontsize) -> float:
    return 0.0 if not text else float(mpl.rcParams["axes.labelpad"]) + line_height_pt(_font_pt(fontsize))


def axes_margins_pt(ax: Axes) -> dict[str, float]:
    """Room outside `ax` its tick labels, axis labels and title take, in points: left, bottom, top."""
    left = tick_labels_width_pt(ax, "y") + _tick_space_pt("y") + _label_pt(ax.get_ylabel(), ax.yaxis.label.get_size())
    x_labels = ax.xaxis._major_tick_kw.get("label1On", True) and ax.xaxis.get_visible()
    x_size = _font_pt(ax.xaxis._major_tick_kw.get("labelsize") or mpl.rcParams["xtick.labelsize"])
    bottom = ((line_height_pt(x_size) if x_labels else 0.0) + _tick_space_pt("x")
              + _label_pt(ax.get_xlabel(), ax.xaxis.label.get_size()))
    title = max((t for t in (ax.title, ax._left_title, ax._right_title) if t.get_text()),
                key=lambda t: t.get_size(), default=None)
    top = 0.0 if title is None else float(mpl.rcParams["axes.titlepad"]) + line_height_pt(title.get_size())
    return {"left": left, "bottom": bottom, "top": top}


def fit_row(fig: Figure, axes: Sequence[Axes], width_ratios: Sequence[float] | None = None,
            bottom_extra_in: float = 0.0, right_in: float = 0.2) -> None:
    """Place `axes` side by side across the figure, each with room for its labels (call once the
    axes hold their data, labels and titles). `bottom_extra_in`: room kept under the x labels
    (a legend below the axes)."""
    width, height = fig.get_size_inches()
    margins = [axes_margins_pt(ax) for ax in axes]
    pad = PAD_PT / 72
    top = max(m["top"] for m in margins) / 72 + pad
    bottom = max(m["bottom"] for m in margins) / 72 + pad + bottom_extra_in
    lefts = [m["left"] / 72 + (pad if i == 0 else 2 * pad) for i, m in enumerate(margins)]
    ratios = list(width_ratios or [1.0] * len(axes))
    free = width - sum(lefts) - right_in - pad * (len(axes) - 1)
    x = 0.0
    for ax, left, ratio in zip(axes, lefts, ratios):
        w = free * ratio / sum(ratios)
        x += left
        ax.set_position([x / width, bottom / height, w / width, (height - top - bottom) / height])
        x += w + pad
