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
from typing import Callable, Mapping, Sequence

from matplotlib.figure import Figure

from ..errors import AnalysisError, ParameterError
from .processes import figure_processes
from .style import collection_paused, figure_bytes

__all__ = ["render_figures", "start_rendering", "Rendering", "figure_processes"]

# The figures a forked worker draws: set just before the pool forks, read by the workers.
_PENDING: dict[str, Figure] = {}
_FORMATS: tuple[str, ...] = ()


def _draw(fig: Figure, formats: Sequence[str]) -> dict[str, bytes]:
    out = {}
    for fmt in formats:
        out[fmt] = figure_bytes(fig, fmt)
        fig.set_layout_engine("none")  # later formats reuse the positions the first draw found
    return out


def _build_and_draw(item: Figure | Callable[[], Figure], formats: Sequence[str]) -> dict[str, bytes] | str:
    """The figure's bytes per format; for a figure still to be built (a call), the reason it cannot
    be drawn on these data when building it raises `AnalysisError` or `ParameterError`."""
    if not isinstance(item, Figure):
        try:
            with collection_paused():  # a figure's artists all stay alive: nothing for it to find
                item = item()
        except (AnalysisError, ParameterError) as exc:
            return str(exc)
    return _draw(item, formats)


def _draw_pending(name: str) -> tuple[str, dict[str, bytes] | str]:
    return name, _build_and_draw(_PENDING[name], _FORMATS)


def render_figures(figures: Mapping[str, Figure | Callable[[], Figure]], formats: Sequence[str] = ("png", "svg"),
                   not_drawn: dict[str, str] | None = None) -> dict[str, dict[str, bytes]]:
    """Each figure's bytes per format, `{name: {fmt: bytes}}`, drawn in parallel where that pays.

    A figure may also be given as the call that builds it (e.g. a `report.ahead.FigureCall`): it is
    then built where it is drawn, so building is side by side too. A call that cannot build its
    figure on these data (`AnalysisError`, `ParameterError`) has its reason put in `not_drawn`
    (given as a dict) and no bytes; without `not_drawn` the error is raised.

    Example:
        >>> from mndtrial.report.style import new_figure
        >>> fig = new_figure(2, 2); _ = fig.add_subplot().plot([0, 1])
        >>> sorted(render_figures({"line": fig}, ("png",))["line"])
        ['png']
    """
    return Rendering(figures, tuple(formats)).result(not_drawn)


class Rendering:
    """Figures being drawn side by side in forked processes while this process does other work
    (`start_rendering`); `result()` waits for them: `render_figures`' `{name: {fmt: bytes}}`, with
    a figure that cannot be built on these data in `not_drawn`."""

    def __init__(self, figures: Mapping[str, Figure | Callable[[], Figure]], formats: tuple[str, ...]):
        self._figures, self._formats = dict(figures), formats
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list = []
        # a figure built where it is drawn is about twice the work, so a worker pays with half as many
        processes = figure_processes(len(figures) + sum(not isinstance(f, Figure) for f in figures.values()))
        if processes > 1:
            global _PENDING, _FORMATS
            _PENDING, _FORMATS = self._figures, formats
            self._pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork"))
            try:
                # fork starts every worker at the first submit: each holds the figures from then on;
                # the costliest first, so that no worker is left with a big one at the end
                self._futures = [self._pool.submit(_draw_pending, name)
                                 for name in sorted(self._figures, key=lambda n: -_cost(self._figures[n]))]
            except BaseException:
                self.close()
                raise
            finally:
                _PENDING, _FORMATS = {}, ()

    def result(self, not_drawn: dict[str, str] | None = None) -> dict[str, dict[str, bytes]]:
        if self._pool is None:  # one process: drawn here, now
            done = {name: _build_and_draw(item, self._formats) for name, item in self._figures.items()}
        else:
            try:
                done = dict(future.result() for future in self._futures)
            finally:
                self._pool.shutdown()
        drawn = {}
        for name in self._figures:  # in the order given, as the page lists them
            if isinstance(done[name], str):
                if not_drawn is None:
                    raise AnalysisError(f"figure {name}", done[name])
                not_drawn[name] = done[name]
            else:
                drawn[name] = done[name]
        return drawn

    def close(self) -> None:
        """Stop drawing (figures not yet started are not drawn) and end the processes."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def start_rendering(figures: Mapping[str, Figure | Callable[[], Figure]],
                    formats: Sequence[str] = ("png", "svg")) -> Rendering:
    """Start drawing `figures` as `render_figures` does, in forked processes where that pays, and
    return at once: this process can build the page meanwhile. `Rendering.result()` waits.

    Example:
        >>> from mndtrial.report.style import new_figure
        >>> fig = new_figure(2, 2); _ = fig.add_subplot().plot([0, 1])
        >>> rendering = start_rendering({"line": fig}, ("png",))
        >>> sorted(rendering.result()["line"])
        ['png']
    """
    return Rendering(figures, tuple(formats))


def _cost(item: Figure | Callable[[], Figure]) -> int:
    if isinstance(item, Figure):
        return len(item.axes) + len(item.subfigs)
    return 2  # a figure still to be built: about the cost of a figure of two panels
