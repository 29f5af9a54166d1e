"""`report.axes.ReportAxes` draws ticks without a Tick object each: the pixels and the axis-label
places must be matplotlib's own (`matplotlib.axes.Axes` on the same canvas), plain axes (linear
or log, with or without minor ticks) must not make a tick per location, and the axes it does not
handle (turned labels, ticks on both sides, an offset text) must fall back to matplotlib's route."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.axes import Axes

from mndtrial.report.axes import ReportAxes, ReportFigure
from mndtrial.report.canvas import ReportCanvas


def _styled(ax, style: str) -> None:
    ax.plot([0, 640], [0.1, 0.95], color="#0072B2")
    ax.set_xlabel("Days since randomisation")
    ax.set_ylabel("Survival probability")
    if style == "grid":
        ax.grid(alpha=0.3)
    elif style == "params":
        ax.grid(True, color="#cc0000", lw=1.3, ls="--")
        ax.tick_params(axis="x", pad=30, labelsize=7, length=6, width=2, colors="#444444")
        ax.tick_params(axis="y", length=0, pad=8, labelsize=8, direction="in")
    elif style == "no_labels":
        ax.tick_params(labelbottom=False)
        ax.set_xlim(-25, 660)
    elif style == "log":
        ax.set_xscale("log")
        ax.set_xlim(0.1, 700)
        ax.grid(axis="x", alpha=0.3, which="both")
    elif style == "log_short":  # less than a decade: some minor ticks are labelled
        ax.set_xscale("log")
        ax.set_xlim(2, 9)
    elif style == "turned":
        ax.tick_params(axis="x", labelrotation=30)
    elif style == "both_sides":
        ax.tick_params(top=True, labeltop=True)
    elif style == "minor":
        ax.minorticks_on()
    elif style == "offset":
        ax.set_ylim(1e6, 1e6 + 1)


def _draw(axes_class, style: str) -> tuple[np.ndarray, tuple, tuple, int]:
    fig = ReportFigure(figsize=(4, 3), dpi=100)
    ReportCanvas(fig)
    ax = fig.add_axes((0.2, 0.25, 0.7, 0.65), axes_class=axes_class)
    _styled(ax, style)
    fig.canvas.draw()
    made = len(ax.xaxis.majorTicks) + len(ax.yaxis.majorTicks)
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    return pixels, ax.xaxis.label.get_position(), ax.yaxis.label.get_position(), made


@pytest.mark.parametrize("style", ["grid", "params", "no_labels", "plain", "log", "log_short", "minor"])
def test_plain_axes_draw_matplotlibs_pixels_with_one_tick_object_per_axis(style):
    ours, our_x, our_y, made = _draw(ReportAxes, style)
    theirs, their_x, their_y, theirs_made = _draw(Axes, style)
    assert np.array_equal(ours, theirs)
    assert our_x == pytest.approx(their_x) and our_y == pytest.approx(their_y)  # axis labels placed alike
    assert made == 2 and theirs_made > 6  # the first tick of each axis, as a style to copy


@pytest.mark.parametrize("style", ["turned", "both_sides", "offset"])
def test_other_axes_take_matplotlibs_route(style):
    ours, our_x, our_y, made = _draw(ReportAxes, style)
    theirs, their_x, their_y, _ = _draw(Axes, style)
    assert np.array_equal(ours, theirs)
    assert our_x == pytest.approx(their_x) and our_y == pytest.approx(their_y)
    assert made > 2


def test_report_figures_make_report_axes_unless_asked_otherwise():
    from mndtrial.report.style import new_figure

    fig = new_figure(4, 3, layout=None)
    left, right = fig.subplots(1, 2)
    assert type(left) is ReportAxes and type(fig.add_axes((0, 0, 1, 1))) is ReportAxes
    assert type(left.twinx()) is ReportAxes
    assert type(fig.add_subplot(projection="polar")) is not ReportAxes
    assert type(fig.add_axes((0, 0, 1, 1), axes_class=Axes)) is Axes
    # tick labels asked for are matplotlib's own (what the layout and the tests read)
    right.plot([0, 10], [0, 1])
    right.set_xticks([0, 5, 10])
    fig.canvas.draw()
    assert [t.get_text() for t in right.get_xticklabels()] == ["0", "5", "10"]
