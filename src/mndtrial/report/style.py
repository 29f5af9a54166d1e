"""Figure plumbing shared by every plot: an Agg canvas outside pyplot, arm colours, PNG/SVG output."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

# Figures are drawn on their own Agg canvas, never through pyplot, so the user's backend
# (notebook inline, Qt, ...) is left alone and no window ever opens.
from .canvas import ReportCanvas

__all__ = ["new_figure", "save_figure", "figure_bytes", "arm_colours", "PALETTE", "CONTROL_COLOUR"]

# Colour-blind-safe (Okabe–Ito); the control arm is always grey.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")
CONTROL_COLOUR = "#666666"
PNG_COMPRESSION = 3  # zlib level of the PNGs (1 fastest, 9 smallest)


def new_figure(width_in: float = 7.0, height_in: float = 4.5, layout: str | None = "constrained") -> Figure:
    """A Figure on an Agg canvas, outside pyplot's registry (nothing to close, nothing shown).

    `layout=None` leaves the placing to the caller (`report.layout`: margins measured once, no
    layout engine): the figures of the trial and power reports are drawn that way, since
    constrained layout draws a figure once more before each save to place it.
    """
    fig = Figure(figsize=(width_in, height_in), dpi=100, layout=layout)
    ReportCanvas(fig)
    return fig


def arm_colours(arms: Sequence[str], control: str | None = None) -> dict[str, str]:
    """A stable colour per arm: grey for the control, the palette in order for the others."""
    out, i = {}, 0
    for arm in arms:
        if arm == control:
            out[arm] = CONTROL_COLOUR
        else:
            out[arm] = PALETTE[i % len(PALETTE)]
            i += 1
    return out


def figure_bytes(fig: Figure, fmt: str = "png", dpi: int = 110) -> bytes:
    """The figure encoded as PNG or SVG bytes.

    Example:
        >>> fig = new_figure(2, 1); _ = fig.add_subplot().plot([0, 1])
        >>> figure_bytes(fig)[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
        True
    """
    if fmt == "png" and isinstance(fig.canvas, FigureCanvasAgg):
        return _png_bytes(fig, dpi)
    buf = io.BytesIO()
    # SVG text stays text (not paths) so it is small and searchable; no date, so output is stable.
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "mndtrial"}):
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
    return buf.getvalue()


def _png_bytes(fig: Figure, dpi: int) -> bytes:
    """Draw once on the Agg canvas and write the pixels as an RGB PNG (zlib level `PNG_COMPRESSION`).

    `savefig` draws a figure with a layout engine twice (a dry run to place it, then the picture)
    and writes RGBA at zlib level 6; the figures are opaque (a white figure patch under
    everything), so the alpha channel says nothing, and level 3 compresses these flat-colour
    pictures within a few per cent of level 6 in half the time.
    """
    saved = fig.dpi
    fig.dpi = dpi
    try:
        canvas = fig.canvas
        canvas.draw()  # a layout engine, if any, places the axes within this one draw
        width, height = canvas.get_width_height(physical=True)
        image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="png", compress_level=PNG_COMPRESSION, dpi=(dpi, dpi))
    finally:
        fig.dpi = saved
    return buf.getvalue()


def save_figure(fig: Figure, folder: str | Path, stem: str, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write `folder/stem.png` and `folder/stem.svg`; returns the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = folder / f"{stem}.{fmt}"
        path.write_bytes(figure_bytes(fig, fmt))
        paths.append(path)
    return paths
