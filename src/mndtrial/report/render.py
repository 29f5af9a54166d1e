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
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Mapping, Sequence

from matplotlib.figure import Figure

from .style import figure_bytes

__all__ = ["render_figures", "figure_processes"]

MAX_PROCESSES = 4
# A worker pays for its start (fork, then its own font and text caches) only with several figures
# to draw: power.html's two figures drew in 1.6–1.9 s wall with two processes and 0.8 s in one.
MIN_FIGURES_PER_PROCESS = 4
# The figures a forked worker draws: set just before the pool forks, read by the workers.
_PENDING: dict[str, Figure] = {}
_FORMATS: tuple[str, ...] = ()


def figure_processes(n_figures: int) -> int:
    """How many processes to draw `n_figures` figures with (1: in this process): one per
    `MIN_FIGURES_PER_PROCESS` figures, at most the usable CPUs and `MNDTRIAL_FIGURE_PROCESSES`."""
    setting = os.environ.get("MNDTRIAL_FIGURE_PROCESSES")
    try:
        cap = int(setting) if setting else MAX_PROCESSES
    except ValueError:
        cap = 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if sys.platform != "linux" or "fork" not in multiprocessing.get_all_start_methods():
        return 1  # fork is Linux's to rely on (macOS: unsafe with system frameworks; Windows: absent)
    return max(1, min(cap, usable, n_figures // MIN_FIGURES_PER_PROCESS))


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
