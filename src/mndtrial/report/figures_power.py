"""Power curves by sample size, one line per design, with Monte Carlo error bars."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator

from ..errors import ParameterError
from .layout import fit_row
from .style import PALETTE, new_figure

__all__ = ["power_figure", "power_frame", "burden_figure", "series_style", "coinciding_series", "plot_series"]

MARKERS = ("o", "s", "^", "D", "v", "P", "X")
DASHES = ("-", "--", ":", "-.")


def series_style(i: int) -> dict[str, Any]:
    """Colour, marker and line style of the i-th series: each series differs in all three, so
    series that overlap stay distinguishable (and in grey print)."""
    return {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)],
            "linestyle": DASHES[i % len(DASHES)]}


def coinciding_series(series: Mapping[str, pd.DataFrame], x: str, y: str, rtol: float = 1e-9) -> dict[str, str]:
    """{series: the earlier series it coincides with}, for series with the same x and (numerically) the same y.

    Example:
        >>> a = pd.DataFrame({"n": [1, 2], "v": [3.0, 4.0]})
        >>> coinciding_series({"all-comers": a, "stratified": a.copy(), "enriched": a.assign(v=[1.0, 2.0])}, "n", "v")
        {'stratified': 'all-comers'}
    """
    out: dict[str, str] = {}
    seen: list[tuple[str, np.ndarray, np.ndarray]] = []
    for name, g in series.items():
        g = g.sort_values(x)
        xs, ys = g[x].to_numpy(float), g[y].to_numpy(float)
        for other, ox, oy in seen:
            if len(ox) == len(xs) and np.array_equal(ox, xs) and np.allclose(oy, ys, rtol=rtol, atol=0, equal_nan=True):
                out[str(name)] = str(other)
                break
        seen.append((str(name), xs, ys))
    return out


def plot_series(ax, series: Mapping[str, pd.DataFrame], x: str, y: str, err: str | None = None) -> dict[str, str]:
    """Draw one line per series (`series_style`), error bars of ± 2 `err` when given; a series that
    coincides with an earlier one is drawn with open markers on top and says so in the legend."""
    same = coinciding_series(series, x, y)
    for i, (name, g) in enumerate(series.items()):
        g = g.sort_values(x)
        style = series_style(i)
        label = str(name) or y
        extra: dict[str, Any] = {}
        if str(name) in same:
            label += f" (same as {same[str(name)]}: the lines coincide)"
            extra = {"markerfacecolor": "none", "markersize": 9, "markeredgewidth": 1.5, "zorder": 3}
        if err and err in g.columns and g[err].notna().any():
            ax.errorbar(g[x], g[y], yerr=2 * g[err].astype(float), capsize=3, label=label, **style, **extra)
        else:
            ax.plot(g[x], g[y], label=label, **style, **extra)
    return same


def power_frame(table: Any) -> pd.DataFrame:
    """A power table as a DataFrame: from a DataFrame, an object with `summary`, or a list of dicts."""
    if isinstance(table, pd.DataFrame):
        return table.reset_index() if table.index.name is not None else table.copy()
    # a power result's full table (its `summary` is the few columns a committee reads)
    for attr in ("table", "summary"):
        if isinstance(getattr(table, attr, None), pd.DataFrame):
            return power_frame(getattr(table, attr))
    if isinstance(table, (list, tuple)):
        return pd.DataFrame(list(table))
    raise ParameterError("table", type(table).__name__, "must be a DataFrame, a power result or a list of rows")


def power_figure(table: Any, x: str = "n", y: str = "power", by: str = "design", mcse: str | None = "mcse",
                 target: float | None = 0.8, alpha: float | None = None,
                 title: str | None = "Power by sample size") -> Figure:
    """Power (y) against sample size (x), one line per design (`by`), ± 2 Monte Carlo SE.

    `target` draws the power goal; `alpha` (when the table holds type I error rows) the nominal
    level. Missing columns are named in a `ParameterError`.

    Example:
        >>> t = pd.DataFrame({"design": ["all-comers"] * 2 + ["enriched"] * 2, "n": [200, 400] * 2,
        ...                   "power": [0.3, 0.55, 0.5, 0.8], "mcse": [0.02] * 4})
        >>> fig = power_figure(t)
        >>> len(fig.axes[0].lines) >= 2
        True
    """
    df = power_frame(table)
    missing = [c for c in (x, y) if c not in df.columns]
    if missing:
        raise ParameterError("table", sorted(df.columns), f"power table needs columns {missing}")
    groups = dict(list(df.groupby(by, sort=False))) if by in df.columns else {"": df}
    fig = new_figure(7.0, 4.5, layout=None)
    ax = fig.add_subplot(1, 1, 1)
    plot_series(ax, groups, x, y, mcse)
    if target is not None:
        ax.axhline(target, color="#444444", lw=0.8, ls="--", label=f"target {target:.0%}")
    if alpha is not None:
        ax.axhline(alpha, color="#999999", lw=0.8, ls=":", label=f"alpha {alpha:g}")
    ax.set_ylim(0, 1.0)
    ax.set_xlabel({"n": "Participants randomised"}.get(x, x))
    ax.set_ylabel("Power (fraction of simulated trials that succeed)")
    if title:
        ax.set_title(title + (" (error bars: ± 2 Monte Carlo SE)" if mcse and mcse in df.columns else ""),
                     fontsize=10, y=1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="best")
    if np.issubdtype(df[x].dtype, np.number):
        ax.xaxis.set_major_locator(FixedLocator(sorted(df[x].unique())))
    fit_row(fig, [ax])
    return fig


def burden_figure(table: Any, by: Sequence[str] = ("strategy",), label: str | None = "cutoff",
                  target: float | None = 0.8) -> Figure:
    """Power against the screening burden (candidates screened per participant randomised).

    One line per combination of the `by` columns (e.g. marker and strategy), its points in order
    of burden and marked with their `label` value (the enrichment cut-off), ± 2 Monte Carlo SE.
    Needs `power` and either `screened_per_randomised` or `screened` and `n`.

    Example:
        >>> t = pd.DataFrame({"strategy": ["enriched"] * 3, "cutoff": [1500, 2500, 3700], "n": [220] * 3,
        ...                   "screened": [1300, 560, 420], "power": [0.5, 0.7, 0.85], "mcse": [0.02] * 3})
        >>> fig = burden_figure(t)
        >>> [round(v, 2) for v in fig.axes[0].lines[0].get_xdata()]
        [1.91, 2.55, 5.91]
    """
    df = power_frame(table)
    if "screened_per_randomised" not in df.columns:
        missing = [c for c in ("screened", "n") if c not in df.columns]
        if missing:
            raise ParameterError("table", sorted(df.columns), f"the burden figure needs columns {missing}")
        df["screened_per_randomised"] = df["screened"] / df["n"]
    if "power" not in df.columns:
        raise ParameterError("table", sorted(df.columns), "the burden figure needs a power column")
    keys = [c for c in by if c in df.columns]
    groups = df.groupby(keys, sort=False) if keys else [((), df)]
    fig = new_figure(7.0, 4.5, layout=None)
    ax = fig.add_subplot(1, 1, 1)
    for i, (name, g) in enumerate(groups):
        g = g.sort_values("screened_per_randomised")
        colour = PALETTE[i % len(PALETTE)]
        name = " / ".join(map(str, name if isinstance(name, tuple) else (name,))) or "power"
        x, y = g["screened_per_randomised"].astype(float), g["power"].astype(float)
        if "mcse" in g.columns and g["mcse"].notna().any():
            ax.errorbar(x, y, yerr=2 * g["mcse"].astype(float), fmt="o-", color=colour, capsize=3, label=name)
        else:
            ax.plot(x, y, "o-", color=colour, label=name)
        if label and label in g.columns:
            for xi, yi, v in zip(x, y, g[label]):
                ax.annotate(f"{v:g}" if isinstance(v, (int, float, np.number)) else str(v), (xi, yi),
                            textcoords="offset points", xytext=(4, -10), fontsize=7, color=colour)
    if target is not None:
        ax.axhline(target, color="#444444", lw=0.8, ls="--", label=f"target {target:.0%}")
    ax.set_ylim(0, 1.0)
    ax.set_xlabel("Screening burden (candidates screened per participant randomised)")
    ax.set_ylabel("Power (fraction of simulated trials that succeed)")
    ax.set_title("Power against screening burden" + (f" (points: {label})" if label and label in df.columns else ""),
                 fontsize=10, y=1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    fit_row(fig, [ax])
    return fig
