"""Figures for reports and notebooks: each function returns a matplotlib `Figure`.

Figures are drawn with the Agg backend (no display needed) on `matplotlib.figure.Figure`
objects that are not registered with pyplot, so making many of them leaks nothing and never
opens a window. `save_figure` writes a figure as PNG and SVG.

- survival: `km_figure`, `km_subgroups_figure`, `forest_figure`, `ph_check_figure`
  (in `figures_survival`)
- function and biomarkers: `alsfrs_figure`, `treg_figure` (in `figures_longitudinal`)
- design: `power_figure` (in `figures_power`)
"""

from __future__ import annotations

from .figures_longitudinal import alsfrs_figure, treg_figure
from .figures_power import power_figure
from .figures_survival import forest_figure, km_figure, km_subgroups_figure, ph_check_figure
from .style import arm_colours, figure_bytes, new_figure, save_figure

__all__ = ["new_figure", "save_figure", "figure_bytes", "arm_colours", "km_figure", "km_subgroups_figure",
           "forest_figure", "ph_check_figure", "alsfrs_figure", "treg_figure", "power_figure"]
