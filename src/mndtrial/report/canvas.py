"""The Agg canvas every report figure is drawn on: matplotlib's, with text drawn a string at a time.

Text is most of what a report figure costs to draw (tick labels, at-risk numbers, forest rows).
From matplotlib 3.11 Agg renders text one glyph at a time in Python (a FreeType call, a transform
and a blit per glyph, ~0.2 ms each), and every text layout reads the font's OS/2 and head tables
again. This canvas draws a plain (non-math) string as matplotlib up to 3.10 did: FreeType lays
out and rasterises the whole string into one bitmap in C (`FT2Font.set_text`,
`draw_glyphs_to_bitmap`), blitted once; and it keeps each font's line metrics (the numbers
`Text._get_layout` reads from those tables) per font, size and dpi. Math text, and every
matplotlib whose Agg renderer has no glyph-by-glyph route (3.8–3.10, already string at a time),
take matplotlib's own path. `tests/test_report_canvas.py` holds the pictures to matplotlib's own
rendering (the same text boxes; pixels within anti-aliasing).
"""

from __future__ import annotations

import math
from functools import lru_cache

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


class _StringTextRenderer(RendererAgg):
    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath:
            return super().draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)
        font = self._prepare_font(prop)
        # angle 0 here: draw_text_image turns the bitmap by `angle` (matplotlib 3.10's draw_text)
        font.set_text(s, 0, flags=get_hinting_flag())
        font.draw_glyphs_to_bitmap(antialiased=gc.get_antialiased())
        descent = font.get_descent() / 64.0
        x_offset, y_offset = (v / 64.0 for v in font.get_bitmap_offset())
        rad = math.radians(angle)
        x = round(x + x_offset + descent * math.sin(rad))
        y = round(y + y_offset + descent * math.cos(rad))
        self._renderer.draw_text_image(font.get_image(), x, y + 1, angle, gc)

    def _get_font_height_metrics(self, prop):
        # read by Text._get_layout (matplotlib >= 3.11) in place of the font tables on every layout
        metrics = _line_metrics(tuple(fontManager._find_fonts_by_props(prop)), float(prop.get_size_in_points()),
                                float(self.dpi))
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
