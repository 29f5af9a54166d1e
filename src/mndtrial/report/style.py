"""Figure plumbing shared by every plot: an Agg canvas outside pyplot, arm colours, PNG/SVG output."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import matplotlib
# Figures are drawn on their own Agg canvas, never through pyplot, so the user's backend
# (notebook inline, Qt, ...) is left alone and no window ever opens.
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["new_figure", "save_figure", "figure_bytes", "arm_colours", "PALETTE", "CONTROL_COLOUR"]

# Colour-blind-safe (Okabe–Ito); the control arm is always grey.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")
CONTROL_COLOUR = "#666666"


def new_figure(width_in: float = 7.0, height_in: float = 4.5, layout: str | None = "constrained") -> Figure:
    """A Figure on an Agg canvas, outside pyplot's registry (nothing to close, nothing shown)."""
    fig = Figure(figsize=(width_in, height_in), dpi=100, layout=layout)
    FigureCanvasAgg(fig)
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
    """The figure encoded as PNG or SVG bytes."""
    buf = io.BytesIO()
    # SVG text stays text (not paths) so it is small and searchable; no date, so output is stable.
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "mndtrial"}):
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
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
