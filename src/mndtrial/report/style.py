"""Figure plumbing shared by every plot: an Agg canvas outside pyplot, arm colours, PNG/SVG output."""

from __future__ import annotations

import gc
import io
import struct
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# Figures are drawn on their own Agg canvas, never through pyplot, so the user's backend
# (notebook inline, Qt, ...) is left alone and no window ever opens.
from .axes import ReportFigure
from .canvas import ReportCanvas

__all__ = ["new_figure", "save_figure", "figure_bytes", "arm_colours", "collection_paused", "encode_png",
           "PALETTE", "CONTROL_COLOUR"]

# Colour-blind-safe (Okabe–Ito); the control arm is always grey.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")
CONTROL_COLOUR = "#666666"
PNG_COMPRESSION = 3  # zlib level of the PNGs (1 fastest, 9 smallest)


@contextmanager
def collection_paused() -> Iterator[None]:
    """Python's cyclic garbage collector held off while a figure is built or drawn (then as before).

    A figure is thousands of artists, transforms and ticks that all stay alive until the figure
    goes: every few hundred of them set off a collection that walks the whole heap (pandas,
    matplotlib, the trial) and finds nothing to free. In the trial report that was a quarter of
    the CPU of building and drawing its figures. Reference counting still frees what drawing
    drops; cycles wait for the next collection after the figure is done.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def new_figure(width_in: float = 7.0, height_in: float = 4.5, layout: str | None = "constrained") -> Figure:
    """A Figure on an Agg canvas, outside pyplot's registry (nothing to close, nothing shown).

    `layout=None` leaves the placing to the caller (`report.layout`: margins measured once, no
    layout engine): the figures of the trial and power reports are drawn that way, since
    constrained layout draws a figure once more before each save to place it.
    """
    fig = ReportFigure(figsize=(width_in, height_in), dpi=100, layout=layout)
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
    with collection_paused():
        if fmt == "png" and isinstance(fig.canvas, FigureCanvasAgg):
            return _png_bytes(fig, dpi)
        buf = io.BytesIO()
        # SVG text stays text (not paths) so it is small and searchable; no date, so output is stable.
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "mndtrial"}):
            fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
        return buf.getvalue()


def _png_bytes(fig: Figure, dpi: int) -> bytes:
    """Draw once on the Agg canvas and write the pixels as an RGB PNG (`encode_png`).

    `savefig` draws a figure with a layout engine twice (a dry run to place it, then the picture)
    and writes RGBA; the figures are opaque (a white figure patch under everything), so the alpha
    channel says nothing.
    """
    saved = fig.dpi
    fig.dpi = dpi
    try:
        canvas = fig.canvas
        canvas.draw()  # a layout engine, if any, places the axes within this one draw
        return encode_png(np.asarray(canvas.buffer_rgba()), dpi)
    finally:
        fig.dpi = saved


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(rgb: np.ndarray, dpi: float) -> bytes:
    """An 8-bit RGB PNG of `rgb` (height x width x 3 or more channels, uint8; a fourth is left out),
    its resolution recorded as `dpi`.

    Every row is stored unfiltered and deflated at zlib level `PNG_COMPRESSION`: on these
    flat-colour pictures that is within a few per cent of the size Pillow's adaptive per-row
    filters give at the same level (it tries all five filters on every row), in half the time.

    Example:
        >>> from PIL import Image
        >>> pixels = np.zeros((2, 3, 3), np.uint8); pixels[1, 2] = (255, 128, 0)
        >>> image = Image.open(io.BytesIO(encode_png(pixels, 110)))
        >>> image.mode, image.size, image.getpixel((2, 1)), round(image.info["dpi"][0])
        ('RGB', (3, 2), (255, 128, 0), 110)
    """
    height, width = rgb.shape[:2]
    rows = np.empty((height, 1 + 3 * width), np.uint8)
    rows[:, 0] = 0  # filter type 0 (none) on every row
    pixels = rows[:, 1:].reshape(height, width, 3)
    for channel in range(3):  # a channel at a time: numpy copies the RGB of RGBA pixels 7x slower at once
        pixels[..., channel] = rgb[..., channel]
    per_metre = int(dpi / 0.0254 + 0.5)  # pHYs, as Pillow writes `dpi`
    return b"".join((b"\x89PNG\r\n\x1a\n",
                     _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),
                     _chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
                     _chunk(b"IDAT", zlib.compress(rows.tobytes(), PNG_COMPRESSION)),
                     _chunk(b"IEND", b"")))


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
