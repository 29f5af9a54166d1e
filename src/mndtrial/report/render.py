"""Drawing a page's figures to PNG/SVG bytes, side by side in forked processes where that pays.

Drawing (Agg rasterising, PNG encoding, SVG writing) is most of what a report costs -- 0.05–0.3 s
of CPU per figure here (the trial and power figures are placed by `report.layout`, with no
layout engine, and their text drawn by `report.canvas`), against milliseconds for the numbers in
it -- and each figure is drawn on its own canvas, so the figures of a page can be drawn at the
same time. On Linux the figures are handed to worker processes by `fork` (they inherit the
figures already built: nothing is pickled but the bytes coming back); elsewhere, with one CPU,
or for a single figure they are drawn here one after the other. Either way each figure gives the
same bytes: the PNG first (a figure that still has a layout engine is placed within that draw),
then the SVG on those positions with the layout engine off.

`MNDTRIAL_FIGURE_PROCESSES` (an integer) caps the worker processes; 1 draws in this process.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Mapping, Sequence

from matplotlib.figure import Figure

from .processes import MAX_PROCESSES, MIN_FIGURES_PER_PROCESS, figure_processes
from .style import figure_bytes

__all__ = ["render_figures", "figure_processes"]

# The figures a forked worker draws: set just before the pool forks, read by the workers.
_PENDING: dict[str, Figure] = {}
_FORMATS: tuple[str, ...] = ()


def _draw(fig: Figure, formats: Sequence[str]) -> dict[str, bytes]:
    out = {}
    for fmt in formats:
        out[fmt] = figure_bytes(fig, fmt)
        fig.set_layout_engine("none")  # later formats reuse the positions the first draw found
    return out


def _draw_pending(name: str) -> tuple[str, dict[str, bytes]]:
    return name, _draw(_PENDING[name], _FORMATS)


def render_figures(figures: Mapping[str, Figure], formats: Sequence[str] = ("png", "svg")
                   ) -> dict[str, dict[str, bytes]]:
    """Each figure's bytes per format, `{name: {fmt: bytes}}`, drawn in parallel where that pays.

    Example:
        >>> from mndtrial.report.style import new_figure
        >>> fig = new_figure(2, 2); _ = fig.add_subplot().plot([0, 1])
        >>> sorted(render_figures({"line": fig}, ("png",))["line"])
        ['png']
    """
    formats = tuple(formats)
    processes = figure_processes(len(figures))
    if processes <= 1:
        return {name: _draw(fig, formats) for name, fig in figures.items()}
    global _PENDING, _FORMATS
    _PENDING, _FORMATS = dict(figures), formats
    try:
        # the costliest first, so that no worker is left with a big one at the end
        order = sorted(figures, key=lambda n: -len(figures[n].axes) - len(figures[n].subfigs))
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
            done = dict(pool.map(_draw_pending, order))
    finally:
        _PENDING, _FORMATS = {}, ()
    return {name: done[name] for name in figures}
