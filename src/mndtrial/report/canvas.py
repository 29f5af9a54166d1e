"""The Agg canvas every report figure is drawn on: matplotlib's, with text drawn a string at a time.

Text is most of what a report figure costs to draw (tick labels, at-risk numbers, forest rows).
From matplotlib 3.11 Agg renders text one glyph at a time in Python (a FreeType call, a transform
and a blit per glyph, ~0.2 ms each), and every text layout reads the font's OS/2 and head tables
again. This canvas draws a plain (non-math) string as matplotlib up to 3.10 did: FreeType lays
out and rasterises the whole string into one bitmap in C (`FT2Font.set_text`,
`draw_glyphs_to_bitmap`), blitted once. Each laid-out string (its size and bitmap) is kept per
font, size, dpi and hinting, shared by measuring and drawing and by every figure of the process,
and each font's line metrics (the numbers `Text._get_layout` reads from those tables) likewise.
Math text, text that is not anti-aliased or asks for font features, and every matplotlib whose Agg
renderer has no glyph-by-glyph route (3.8–3.10, already string at a time) take matplotlib's own
path. `tests/test_report_canvas.py` holds the pictures to matplotlib's own rendering (the same
text boxes; glyph edges within a pixel, whole-pixel rather than sub-pixel glyph positions).

Example:
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(2, 1)); canvas = ReportCanvas(fig)
    >>> _ = fig.text(0.1, 0.5, "Number at risk"); canvas.draw()
    >>> bool((np.asarray(canvas.buffer_rgba())[..., :3] < 128).any())  # the text is drawn
    True
"""

from __future__ import annotations

import math
from collections import OrderedDict
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.font_manager import fontManager, get_font

__all__ = ["ReportCanvas", "STRING_TEXT"]

# matplotlib >= 3.11 rasterises glyph by glyph in Python: only then does drawing a string at once pay
STRING_TEXT = hasattr(RendererAgg, "_draw_text_glyphs_and_boxes")


@lru_cache(maxsize=256)
def _line_metrics(font_paths: tuple[str, ...], size_pt: float, dpi: float) -> tuple[float, float, float] | None:
    """(ascent, descent, line gap) in pixels, as `Text._get_layout` computes them from the font's tables."""
    font = get_font(list(font_paths))
    for table_name, gap_key, ascent_key, descent_key in (("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
                                                         ("hhea", "lineGap", "ascent", "descent")):
        table = font.get_sfnt_table(table_name)
        if table is None:
            continue
        scale = size_pt * dpi / 72 / font.get_sfnt_table("head")["unitsPerEm"]
        return table[ascent_key] * scale, -table[descent_key] * scale, table[gap_key] * scale
    return None


class _LaidOut(NamedTuple):
    """One string as FreeType laid it out: its size (pixels) and its bitmap, ready to blit."""

    width: float
    height: float
    descent: float
    bitmap: np.ndarray
    x_offset: float
    y_offset: float


_LAID_OUT: OrderedDict[tuple, _LaidOut] = OrderedDict()
MAX_LAID_OUT = 2048  # strings kept (a few KiB each): a report draws a few hundred distinct ones


def _lay_out(renderer: RendererAgg, s: str, prop) -> _LaidOut:
    """The string laid out and rasterised once per font, size, dpi and hinting (shared by every
    figure drawn in this process): measuring a label and then drawing it cost one FreeType layout."""
    key = (renderer._fonts(prop), float(prop.get_size_in_points()), float(renderer.dpi), get_hinting_flag(), s)
    found = _LAID_OUT.get(key)
    if found is not None:
        _LAID_OUT.move_to_end(key)
        return found
    font = renderer._prepare_font(prop)
    # angle 0: draw_text_image turns the bitmap by the text's angle (as matplotlib 3.10's draw_text)
    font.set_text(s, 0.0, flags=get_hinting_flag())
    width, height = font.get_width_height()
    descent = font.get_descent()
    font.draw_glyphs_to_bitmap(antialiased=True)
    x_offset, y_offset = font.get_bitmap_offset()
    found = _LaidOut(width / 64.0, height / 64.0, descent / 64.0, np.array(font.get_image()), x_offset / 64.0,
                     y_offset / 64.0)
    _LAID_OUT[key] = found
    if len(_LAID_OUT) > MAX_LAID_OUT:
        _LAID_OUT.popitem(last=False)
    return found


def _plain(mtext) -> bool:
    """Text drawn with the font's default features and language (all the report draws)."""
    get = getattr(mtext, "get_fontfeatures", None)
    return mtext is None or get is None or (get() is None and mtext.get_language() is None)


class _StringTextRenderer(RendererAgg):
    def __init__(self, width, height, dpi):
        super().__init__(width, height, dpi)
        self._font_files: dict[int, tuple[str, ...]] = {}

    def _fonts(self, prop) -> tuple[str, ...]:
        """The font files `prop` resolves to (as `_prepare_font` finds them), looked up once per
        renderer: a renderer draws one figure, so rcParams do not change under it."""
        key = hash(prop)
        found = self._font_files.get(key)
        if found is None:
            found = self._font_files[key] = tuple(fontManager._find_fonts_by_props(prop))
        return found

    def get_text_width_height_descent(self, s, prop, ismath):
        if ismath:
            return super().get_text_width_height_descent(s, prop, ismath)
        laid = _lay_out(self, s, prop)
        return laid.width, laid.height, laid.descent

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath or not gc.get_antialiased() or not _plain(mtext):
            return super().draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)
        laid = _lay_out(self, s, prop)
        rad = math.radians(angle)
        x = round(x + laid.x_offset + laid.descent * math.sin(rad))
        y = round(y + laid.y_offset + laid.descent * math.cos(rad))
        self._renderer.draw_text_image(laid.bitmap, x, y + 1, angle, gc)

    def _get_font_height_metrics(self, prop):
        # read by Text._get_layout (matplotlib >= 3.11) in place of the font tables on every layout
        metrics = _line_metrics(self._fonts(prop), float(prop.get_size_in_points()), float(self.dpi))
        return metrics if metrics is not None else (None, None, None)


class ReportCanvas(FigureCanvasAgg):
    """`FigureCanvasAgg` whose renderer draws plain text a string at a time (see the module docstring)."""

    def get_renderer(self):
        if not STRING_TEXT:
            return super().get_renderer()
        w, h = self.get_width_height(physical=True)
        key = w, h, self.figure.dpi
        if self._lastKey != key:
            self.renderer = _StringTextRenderer(w, h, self.figure.dpi)
            self._lastKey = key
        return self.renderer
