"""Axes whose axis lines draw their ticks without a `Tick` object per tick.

matplotlib draws an axis tick by tick: each is an object of three lines and two texts, made by
copying the first (markers deep-copied), placed, then drawn one artist at a time, at ~1–2 ms a
tick -- half the cost of drawing a report figure, which has a few hundred. `ReportAxes` draws a
plain axis (any scale; labels and marks on one side, no offset text, labels not turned, no
aligned siblings) with one line of tick marks and one line of grid segments per group (major,
minor), its labels drawn one after the other from the group's first tick's own text, all styled
by that first tick (so `tick_params`, `grid` and rcParams apply as ever), and places the axis
label under (beside) the labels as matplotlib does. Every other axis takes matplotlib's own route. Locators, formatters and
`get_xticklabels()` & co. are matplotlib's: only the drawing changes, not what is drawn
(`tests/test_report_axes.py` holds the pixels to matplotlib's).

Every report figure is a `ReportFigure` (`style.new_figure`), whose axes are `ReportAxes` unless
another class or projection is asked for.

Example:
    >>> from mndtrial.report.style import new_figure
    >>> fig = new_figure(3, 2, layout=None)
    >>> ax = fig.add_subplot(); _ = ax.plot([0, 10], [0, 1]); ax.grid(True)
    >>> type(ax).__name__, type(ax.xaxis).__name__
    ('ReportAxes', '_ReportXAxis')
    >>> fig.canvas.draw(); len(ax.xaxis.majorTicks)  # drawn with the first tick only
    1
"""

from __future__ import annotations

import numpy as np
from matplotlib import artist as martist
from matplotlib import axis as maxis
from matplotlib import transforms as mtransforms
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullLocator

__all__ = ["ReportAxes", "ReportFigure"]


class _PlainTicks:
    """`draw` for an `Axis` (mixed in before `XAxis` / `YAxis`)."""

    _along = 0  # 0: the ticks' locations are x (an x axis); 1: y

    def _plain_ticks(self):
        """[(first tick, [(loc, label)] in view)] for the major then the minor ticks where the plain
        route draws this axis, else None."""
        if (self.label_position not in ("bottom", "left")
                or len(self.axes.figure._align_label_groups[self.axis_name].get_siblings(self.axes)) > 1):
            return None
        groups = []
        for ticks, locator, formatter, locs_of in (
                (self.majorTicks, self.get_major_locator(), self.major.formatter, self.get_majorticklocs),
                (self.minorTicks, self.get_minor_locator(), self.minor.formatter, self.get_minorticklocs)):
            if isinstance(locator, NullLocator):
                continue
            first = ticks[0]
            if (first.tick2line.get_visible() or first.label2.get_visible() or first.label1.get_rotation() != 0
                    or not first.get_visible()):
                return None
            locs = locs_of()
            groups.append((first, locs, formatter.format_ticks(locs)))
        if self.major.formatter.get_offset():
            return None
        # the ticks within the view, as Axis._update_ticks finds them (on the scale's axis)
        transform = self.get_transform()
        view = transform.transform(sorted(self.get_view_interval()))
        return [(first, [(float(loc), label) for loc, label in zip(locs, labels)
                         if mtransforms._interval_contains_close(view, transform.transform(loc))])
                for first, locs, labels in groups]

    def set_clip_path(self, path, transform=None):
        # As Axis.set_clip_path, but only on the ticks already made: Axes.clear calls it, and
        # reading the lazy tick lists there would make a major and a minor tick for each axis (a
        # minor one is never needed without a minor locator); a tick made later gets it in _get_tick.
        martist.Artist.set_clip_path(self, path, transform)
        self._tick_clip = (path, transform)
        for name in ("majorTicks", "minorTicks"):
            for tick in self.__dict__.get(name, ()):
                tick.set_clip_path(path, transform)
        self.stale = True

    def set_tick_params(self, which="major", reset=False, **kwargs):
        # Axis.set_tick_params stores the parameters (a tick made later is made with them) and
        # applies them to the ticks made; reading a lazy tick list would make its first tick
        # (Axes.__init__ and grid() call this for both lists of both axes), so one not yet made is
        # left unmade.
        lazy = [name for name in ("majorTicks", "minorTicks") if name not in self.__dict__]
        for name in lazy:
            self.__dict__[name] = []
        try:
            super().set_tick_params(which, reset, **kwargs)
        finally:
            for name in lazy:
                if self.__dict__.get(name) == []:
                    del self.__dict__[name]

    def _get_tick(self, major):
        tick = super()._get_tick(major)
        clip = getattr(self, "_tick_clip", None)
        if clip is not None:
            tick.set_clip_path(*clip)
        return tick

    def _line(self, like: Line2D, along: list[float], across: list[float]) -> Line2D:
        line = Line2D([], [])
        line.update_from(like)  # style, marker and transform of the first tick's line
        line.set_figure(self.axes.figure)
        line.set_data(*((along, across) if self._along == 0 else (across, along)))
        return line

    def _spine_extent(self, drawn, renderer):
        """The spine's box padded by the tick marks out of it, as `Spine.get_window_extent` (which
        would make every tick to find one drawn) or the axes' box where there is no such spine."""
        side = "bottom" if self._along == 0 else "left"
        spine = self.axes.spines.get(side)
        if spine is None:
            return self.axes.get_window_extent(renderer)
        spine._adjust_location()
        box = Patch.get_window_extent(spine, renderer).frozen()
        boxes = [box]
        for first, shown in drawn:
            if not shown or not first.tick1line.get_visible():
                continue
            out = {"out": 1.0, "in": 0.0}.get(first._tickdir, 0.5) * first._size / 72 * self.axes.figure.dpi
            inside = {"out": 0.0, "in": 1.0}.get(first._tickdir, 0.5) * first._size / 72 * self.axes.figure.dpi
            if side == "bottom":
                boxes.append(mtransforms.Bbox.from_extents(box.x0, box.y0 - out, box.x1, box.y1 + inside))
            else:
                boxes.append(mtransforms.Bbox.from_extents(box.x0 - out, box.y0, box.x1 + inside, box.y1))
        return mtransforms.Bbox.union(boxes)

    def _draw_group(self, first, shown, renderer) -> list:
        """Grid lines, tick marks and labels of one group of ticks; the labels' boxes."""
        locs = [loc for loc, _ in shown]
        if locs and first.gridline.get_visible():
            # one line of segments, each as the tick's own grid line ((loc, 0) to (loc, 1))
            self._line(first.gridline, list(np.repeat(locs, 3)), [0.0, 1.0, np.nan] * len(locs)).draw(renderer)
        if locs and first.tick1line.get_visible():
            self._line(first.tick1line, locs, [0.0] * len(locs)).draw(renderer)
        boxes = []
        label = first.label1
        if label.get_visible():
            saved = label.get_text(), label.get_position()
            for loc, text in shown:
                label.set_text(text)
                label.set_x(loc) if self._along == 0 else label.set_y(loc)
                label.draw(renderer)
                if label.get_in_layout():
                    boxes.append(label.get_window_extent(renderer))
            label.set_text(saved[0])
            label.set_position(saved[1])
        return boxes

    @martist.allow_rasterization
    def draw(self, renderer):
        if not self.get_visible():
            return
        drawn = self._plain_ticks()
        if drawn is None:
            return super().draw(renderer)
        renderer.open_group(maxis.__name__, gid=self.get_gid())
        boxes = [box for first, shown in drawn for box in self._draw_group(first, shown, renderer)]
        if self._autolabelpos:
            self._place_label([*boxes, self._spine_extent(drawn, renderer)])
        self.label.draw(renderer)
        self._update_offset_text_position(boxes, [])
        self.offsetText.set_text("")
        self.offsetText.draw(renderer)
        renderer.close_group(maxis.__name__)
        self.stale = False


class _ReportXAxis(_PlainTicks, maxis.XAxis):
    _along = 0

    def _place_label(self, boxes) -> None:
        # as XAxis._update_label_position: under the tick labels and the bottom spine
        bbox = mtransforms.Bbox.union(boxes)
        x, _ = self.label.get_position()
        self.label.set_position((x, bbox.y0 - self.labelpad * self.axes.figure.dpi / 72))


class _ReportYAxis(_PlainTicks, maxis.YAxis):
    _along = 1

    def _place_label(self, boxes) -> None:
        # as YAxis._update_label_position: left of the tick labels and the left spine
        bbox = mtransforms.Bbox.union(boxes)
        _, y = self.label.get_position()
        self.label.set_position((bbox.x0 - self.labelpad * self.axes.figure.dpi / 72, y))


class ReportAxes(Axes):
    """`Axes` whose x and y axes draw plain ticks without a `Tick` object each (module docstring)."""

    def _init_axis(self):
        self.xaxis = _ReportXAxis(self, clear=False)
        self.spines.bottom.register_axis(self.xaxis)
        self.spines.top.register_axis(self.xaxis)
        self.yaxis = _ReportYAxis(self, clear=False)
        self.spines.left.register_axis(self.yaxis)
        self.spines.right.register_axis(self.yaxis)


class ReportFigure(Figure):
    """A `Figure` whose new axes are `ReportAxes` unless a class or projection is named."""

    def add_axes(self, *args, **kwargs):
        if args and not isinstance(args[0], Axes):
            _default_class(kwargs)
        return super().add_axes(*args, **kwargs)

    def add_subplot(self, *args, **kwargs):
        if not (args and isinstance(args[0], Axes)):
            _default_class(kwargs)
        return super().add_subplot(*args, **kwargs)


def _default_class(kwargs: dict) -> None:
    if kwargs.get("axes_class") is None and kwargs.get("projection") is None and not kwargs.get("polar"):
        kwargs["axes_class"] = ReportAxes
