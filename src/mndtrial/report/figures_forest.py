"""Forest plot of subgroup hazard ratios with the treatment × subgroup interaction p per variable.

Layout (as in published trial reports): a text column on the left (variable headers in bold,
their levels indented), the intervals on a log axis in the middle, and on the right the
estimate with its CI, the counts, and — on each header row — the interaction p. The left margin
is measured from the drawn text, so a long rule name never runs into the plot frame. Levels
nobody is in (a "missing" level of a variable with no missing values: n = 0) are not drawn.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ..analysis.numbers import fmt_p, fmt_ratio_ci
from ..errors import ParameterError
from .style import new_figure

__all__ = ["forest_rows", "forest_figure", "pretty_level"]

ROW_COLOUR = "#0072B2"


def pretty_level(label: Any) -> str:
    """A level as printed: '<=' and '>=' as '≤' and '≥'.

    Example:
        >>> pretty_level("<= 3700"), pretty_level("> 65")
        ('≤ 3700', '> 65')
    """
    return str(label).replace("<=", "≤").replace(">=", "≥")


def forest_rows(subgroups: Any) -> pd.DataFrame:
    """Normalise subgroup results to columns variable, label, n, events, hr, ci_lower, ci_upper.

    Accepts a DataFrame with those columns or a list of dicts with `hr` and either `ci`
    ([lower, upper]) or `ci_lower`/`ci_upper`; `variable` (or `family`) groups rows, `label`
    (or `subgroup`) names them.
    """
    df = subgroups.copy() if isinstance(subgroups, pd.DataFrame) else pd.DataFrame(list(subgroups))
    if df.empty:
        raise ParameterError("subgroups", "[]", "no subgroup results to plot")
    df = df.rename(columns={"family": "variable", "subgroup": "label"})
    if "ci" in df.columns and "ci_lower" not in df.columns:
        df["ci_lower"] = [c[0] if c is not None else None for c in df["ci"]]
        df["ci_upper"] = [c[1] if c is not None else None for c in df["ci"]]
    for col, default in (("variable", ""), ("n", pd.NA), ("events", pd.NA)):
        if col not in df.columns:
            df[col] = default
    missing = [c for c in ("label", "hr", "ci_lower", "ci_upper") if c not in df.columns]
    if missing:
        raise ParameterError("subgroups", sorted(df.columns), f"missing columns {missing}")
    cols = ["variable", "label", "n", "events", "hr", "ci_lower", "ci_upper"]
    extra = [c for c in ("interaction_p", "note") if c in df.columns]
    out = df[cols + extra].copy()
    for c in ("hr", "ci_lower", "ci_upper"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    return out.reset_index(drop=True)


def _lines(rows: pd.DataFrame, interaction_p: Mapping[str, Any], overall: Mapping[str, Any] | None):
    lines: list[tuple[str, str, Any, str]] = []  # (kind, left text, row, right text of a header)
    if overall is not None:
        o = forest_rows([{"label": "All participants", **overall}]).iloc[0]
        lines.append(("overall", "All participants", o, ""))
    for var, g in rows.groupby("variable", sort=False):
        if var:
            p = interaction_p.get(var)
            known = p is not None and not (isinstance(p, float) and math.isnan(p))
            lines.append(("header", str(var), None, f"interaction p = {fmt_p(p)}" if known else ""))
        lines += [("row", f"   {pretty_level(r.label)}", r, "") for r in g.itertuples()]
    return lines


def forest_figure(subgroups: Any, interaction_p: Mapping[str, float | None] | None = None,
                  overall: Mapping[str, Any] | None = None, title: str | None = "Hazard ratio by subgroup",
                  ci_level: float = 0.95) -> Figure:
    """Forest plot of subgroup hazard ratios (log scale) with the interaction p per variable.

    Rows whose HR is not estimable (too few events) are listed as 'not estimable', not hidden;
    rows with nobody in them (n = 0) are left out. `overall` (keys hr, ci_lower/ci_upper or ci,
    n, events) adds a diamond for the whole trial. `ci_level` is the level of the intervals
    given (the plan's 1 - alpha), shown on the axis.

    Example:
        >>> rows = [{"variable": "sex", "label": "F", "n": 90, "events": 30, "hr": 0.7, "ci": [0.4, 1.2]},
        ...         {"variable": "sex", "label": "missing", "n": 0, "events": 0, "hr": None, "ci": None}]
        >>> fig = forest_figure(rows, {"sex": 0.4})
        >>> [t.get_text().strip() for t in fig.axes[0].texts][:3]  # the header, its p, the level
        ['sex', 'interaction p = 0.400', 'F']
    """
    rows = forest_rows(subgroups)
    n = pd.to_numeric(rows["n"], errors="coerce")
    rows = rows.loc[~(n == 0)].reset_index(drop=True)  # nobody in the level: nothing to show
    if rows.empty:
        raise ParameterError("subgroups", "all n = 0", "no subgroup has participants to plot")
    interaction_p = dict(interaction_p or {})
    if "interaction_p" in rows.columns:
        for var, g in rows.groupby("variable", sort=False):
            p = g["interaction_p"].dropna()
            if len(p) and var not in interaction_p:
                interaction_p[var] = float(p.iloc[0])
    lines = _lines(rows, interaction_p, overall)
    count = len(lines)
    fig = new_figure(10.0, 1.3 + 0.3 * count, layout=None)  # width set by _fit_margins
    ax = fig.add_subplot(1, 1, 1)
    ys = np.arange(count)[::-1]
    finite = rows[["ci_lower", "ci_upper"]].to_numpy(float)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    lo = min(0.1, float(finite.min()) * 0.8) if finite.size else 0.1
    hi = max(10.0, float(finite.max()) * 1.25) if finite.size else 10.0
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    left_texts = []
    for y, (kind, text, r, right) in zip(ys, lines):
        weight = "bold" if kind in ("header", "overall") else "normal"
        # placed (left-aligned, headers flush, levels indented) by _fit_margins once measured
        left_texts.append(ax.text(0.0, y, text, transform=ax.get_yaxis_transform(), ha="left", va="center",
                                  fontsize=8.5, fontweight=weight))
        if kind == "header":
            if right:
                ax.text(1.02, y, right, transform=ax.get_yaxis_transform(), ha="left", va="center", fontsize=8.5,
                        fontstyle="italic")
            continue
        n_text = "" if pd.isna(r.n) else f"n = {int(r.n)}" + ("" if pd.isna(r.events) else f", {int(r.events)} events")
        ok = all(np.isfinite([r.hr, r.ci_lower, r.ci_upper])) and r.hr > 0 and r.ci_lower > 0
        if ok:
            if kind == "overall":
                ax.fill([r.ci_lower, r.hr, r.ci_upper, r.hr], [y, y + 0.3, y, y - 0.3], color="black")
            else:
                ax.plot([r.ci_lower, r.ci_upper], [y, y], color=ROW_COLOUR, lw=1.6)
                ax.plot([r.hr], [y], "s", color=ROW_COLOUR, ms=5)
            est = fmt_ratio_ci(r.hr, [r.ci_lower, r.ci_upper])
        else:
            est = "not estimable"
        ax.text(1.02, y, f"{est}   {n_text}", transform=ax.get_yaxis_transform(), ha="left", va="center",
                fontsize=8.5)
    ax.axvline(1.0, color="#444444", lw=0.8, ls="--")
    ax.set_ylim(-0.7, count - 0.3)
    ax.set_yticks([])
    ax.set_xlabel(f"Hazard ratio (active vs control), {100 * ci_level:.10g}% CI, log scale; < 1 favours active")
    ax.grid(axis="x", alpha=0.3, which="both")
    if title:
        ax.set_title(title, fontsize=10, y=1.0)  # placed, not searched for (see report.layout)
    _fit_margins(fig, ax, left_texts)
    return fig


def _fit_margins(fig: Figure, ax, left_texts) -> None:
    """Size the figure so the widest label (measured), the plot and the estimates each get their
    room, then start every label at the same x, left of the plot frame."""
    height = fig.get_figheight()
    renderer = fig.canvas.get_renderer()
    widest_in = max(t.get_window_extent(renderer).width for t in left_texts) / fig.dpi
    margin_in, gap_in, plot_in, estimates_in = 0.12, 0.15, 4.5, 3.3
    width = margin_in + widest_in + gap_in + plot_in + estimates_in
    fig.set_figwidth(width)
    fig.subplots_adjust(left=(margin_in + widest_in + gap_in) / width, right=1 - estimates_in / width,
                        top=1 - 0.45 / height, bottom=0.75 / height)
    start = -(widest_in + gap_in) / plot_in  # axes fraction of the text column's left edge
    for t in left_texts:
        t.set_x(start)
