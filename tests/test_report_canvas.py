"""The report's drawing shortcuts against matplotlib's own route.

- `report.canvas.ReportCanvas` draws text a string at a time and caches laid-out strings: the
  text boxes must equal those of matplotlib's `FigureCanvasAgg`, and the pixels must agree
  within anti-aliasing.
- `report.layout` places axes by measured margins (no layout engine): every label, tick label,
  title and legend of a report figure must lie inside the figure and off its neighbours.
- `style.figure_bytes` writes the PNG itself: a valid image of the figure's size at 110 dpi, with
  the pixels matplotlib's `savefig` gives.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from mndtrial.analysis import AnalysisPlan, BiomarkerRule
from mndtrial.report.analysis_report import analysis_report
from mndtrial.report.canvas import ReportCanvas
from mndtrial.report.layout import text_size_pt
from mndtrial.report.power_html import power_report
from mndtrial.report.style import figure_bytes

PLAN = AnalysisPlan(name="primary", covariates=("log(csf_pnfh)",),
                    biomarker_rules=(BiomarkerRule(biomarker="csf_pnfh", cutoffs=(3700.0,)),))


def _text_figure(canvas_class) -> Figure:
    fig = Figure(figsize=(4, 3), dpi=100)
    canvas_class(fig)
    ax = fig.add_axes((0.2, 0.2, 0.7, 0.6))
    ax.plot([0, 1], [0, 1])
    ax.set_title("HR 0.85 (95% CI 0.58, 1.25) ≤ β µ ±", fontsize=10)
    ax.set_ylabel("Survival probability")  # rotated
    ax.set_xlabel("Days since randomisation")
    ax.text(0.5, 0.5, "two\nlines", fontsize=8.5, rotation=30)
    ax.text(0.1, 0.8, r"$\beta(t)$ math", fontsize=9)
    return fig


def _pixels(fig: Figure) -> np.ndarray:
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float)


def _grown(mask: np.ndarray) -> np.ndarray:
    """The mask widened by one pixel each way."""
    out = mask.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            out |= np.roll(np.roll(mask, dy, 0), dx, 1)
    return out


def test_string_text_matches_matplotlibs_own_rendering():
    ours, theirs = _text_figure(ReportCanvas), _text_figure(FigureCanvasAgg)
    a, b = _pixels(ours), _pixels(theirs)
    assert a.shape == b.shape
    # every text box the same size and place (layout reads the same metrics)
    renderer_a, renderer_b = ours.canvas.get_renderer(), theirs.canvas.get_renderer()
    for t_a, t_b in zip(ours.findobj(lambda o: hasattr(o, "get_text")), theirs.findobj(lambda o: hasattr(o, "get_text"))):
        if t_a.get_text():
            assert np.allclose(t_a.get_window_extent(renderer_a).bounds, t_b.get_window_extent(renderer_b).bounds,
                               atol=1.0), t_a.get_text()
    # the same ink in the same places: glyphs are placed on whole pixels (matplotlib >= 3.11 places
    # each glyph at sub-pixel positions), so an edge may move by one pixel, nothing more
    ink_a, ink_b = a.mean(axis=2) < 200, b.mean(axis=2) < 200
    assert abs(int(ink_a.sum()) - int(ink_b.sum())) <= 0.03 * ink_b.sum()
    assert (ink_a & _grown(ink_b)).sum() >= 0.98 * ink_a.sum()
    assert (ink_b & _grown(ink_a)).sum() >= 0.98 * ink_b.sum()
    # drawing twice (the cached strings) gives the same picture
    assert np.array_equal(_pixels(ours), a)


def test_measured_text_width_grows_with_the_string_and_the_size():
    w1, h1 = text_size_pt("Placebo", 8)
    w2, h2 = text_size_pt("Placebo and more", 8)
    w3, h3 = text_size_pt("Placebo", 16)
    assert 0 < w1 < w2 and w3 == pytest.approx(2 * w1, rel=0.1) and h3 == pytest.approx(2 * h1, rel=0.15)


@pytest.fixture(scope="module")
def report_figures() -> dict[str, Figure]:
    """Every figure of the trial report (example trial) and of a power report."""
    from mndtrial.data.example import example_trial

    trial = example_trial()
    table = [{"design": d, "n": n, "power": p, "mcse": 0.01, "events": n * 0.3, "screened": n * s}
             for d, s, ps in (("all-comers", 1.0, (0.3, 0.55)), ("enriched", 1.4, (0.5, 0.8)))
             for n, p in zip((200, 400), ps)]
    figures = dict(analysis_report(trial, PLAN.run(trial)).figures)
    figures.update(power_report(table).page.figures)
    return figures


def _drawn_ticklabels(ax, axis: str) -> list:
    """The tick labels drawn: those of ticks inside the view limits (matplotlib keeps others unused)."""
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    labels = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    i = 0 if axis == "x" else 1
    return [t for t in labels if t.get_visible() and t.get_text() and lo <= t.get_position()[i] <= hi]


def _boxes(fig: Figure, ax, renderer) -> dict[str, list]:
    """Extents of the axes' labels, tick labels, title and legend (display pixels)."""
    texts = [ax.xaxis.label, ax.yaxis.label, ax.title, ax._left_title]
    texts += _drawn_ticklabels(ax, "x") + _drawn_ticklabels(ax, "y")
    legend = ax.get_legend()
    out = {"texts": [t.get_window_extent(renderer) for t in texts if t.get_visible() and t.get_text()]}
    out["legend"] = [legend.get_window_extent(renderer)] if legend is not None else []
    return out


def test_every_report_figure_keeps_its_labels_inside_and_apart(report_figures):
    figures = report_figures
    assert {"km_overall", "km_subgroups_1", "forest", "ph_check", "alsfrs_trajectories", "treg_treg_pct_cd4",
            "power_curves", "events_screening"} <= set(figures)
    for name, fig in figures.items():
        assert fig.get_layout_engine() is None, name  # placed once, not by a layout engine
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        width, height = fig.bbox.width, fig.bbox.height
        for ax in fig.axes:
            boxes = _boxes(fig, ax, renderer)
            for box in boxes["texts"] + boxes["legend"]:
                assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 and box.y1 <= height + 1, name
            # the y label is left of the y tick labels, the x label under the x tick labels
            yticks = [t.get_window_extent(renderer) for t in _drawn_ticklabels(ax, "y")]
            xticks = [t.get_window_extent(renderer) for t in _drawn_ticklabels(ax, "x")]
            if ax.get_ylabel() and yticks:
                assert ax.yaxis.label.get_window_extent(renderer).x1 <= min(b.x0 for b in yticks) + 1, name
            if ax.get_xlabel() and xticks:
                assert ax.xaxis.label.get_window_extent(renderer).y1 <= min(b.y0 for b in xticks) + 1, name
        # neighbouring axes: one's labels never run into another's frame
        for ax in fig.axes:
            for other in fig.axes:
                if other is ax:
                    continue
                frame = other.get_window_extent(renderer)
                for box in _boxes(fig, ax, renderer)["texts"]:
                    overlap_x = min(box.x1, frame.x1) - max(box.x0, frame.x0)
                    overlap_y = min(box.y1, frame.y1) - max(box.y0, frame.y0)
                    assert overlap_x <= 1 or overlap_y <= 1, (name, box, frame)


def test_every_report_figure_has_labelled_axes_and_a_key(report_figures):
    for name, fig in report_figures.items():
        if name.startswith("km_"):  # panels of survival axes with the at-risk table drawn under them
            for main in fig.axes:
                assert main.get_ylabel() == "Survival probability" and main.get_legend() is not None
                assert main.get_xlabel() == "Days since randomisation"
                texts = {t.get_gid(): t.get_text() for t in main.texts}
                assert texts["at_risk_title"] == "Number at risk"
                assert any(str(gid).startswith("at_risk:") for gid in texts), name
        elif name == "forest":
            assert fig.axes[0].get_xlabel().startswith("Hazard ratio") and len(fig.axes[0].texts) > 3
        else:
            for ax in fig.axes:
                assert ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None, name


def test_png_is_a_valid_image_of_the_figure_size_with_savefigs_pixels(report_figures):
    fig = report_figures["km_overall"]
    png = figure_bytes(fig, "png", dpi=110)
    image = Image.open(io.BytesIO(png))
    image.load()
    width, height = fig.get_size_inches()
    assert image.format == "PNG" and image.mode == "RGB"
    assert image.size == (round(width * 110), round(height * 110))
    assert image.info["dpi"] == pytest.approx((110, 110), abs=0.01)
    assert fig.dpi == 100  # the figure is left as it was
    ours = np.asarray(image).astype(int)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    theirs = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).astype(int)
    assert np.array_equal(ours, theirs)
    assert (ours < 128).any() and (ours > 250).mean() > 0.5  # drawn, on white


def test_figures_are_drawn_in_worker_processes_only_when_there_are_several_per_worker(monkeypatch):
    from mndtrial import _forking  # when to fork at all
    from mndtrial.report import processes as render  # the rule render.py draws by

    monkeypatch.delenv("MNDTRIAL_FIGURE_PROCESSES", raising=False)
    monkeypatch.setattr(_forking.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(_forking.sys, "platform", "linux")
    assert render.figure_processes(2) == 1  # power.html: two figures, drawn here
    assert render.figure_processes(8) == 2  # the trial report: 8 figures on two CPUs
    monkeypatch.setenv("MNDTRIAL_FIGURE_PROCESSES", "1")
    assert render.figure_processes(8) == 1
