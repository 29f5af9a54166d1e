"""power.html: Monte Carlo power results as one self-contained page.

Input is a power table (one row per design point: design, sample size, power, its Monte Carlo
SE, mean events, mean screened) as a DataFrame, an object with a `summary` DataFrame, or a list
of row dicts. Column names are matched from a short list of synonyms so that the table written
by `mndtrial power` (CSV/JSON) can be read back as it is.

Example:
    >>> import pandas as pd
    >>> table = pd.DataFrame({"design": ["all-comers", "all-comers", "enriched", "enriched"],
    ...                       "n": [200, 400, 200, 400], "power": [0.31, 0.55, 0.52, 0.83],
    ...                       "mcse": [0.02, 0.02, 0.02, 0.01], "events": [70, 140, 60, 120],
    ...                       "screened": [200, 400, 290, 580]})
    >>> rep = power_report(table)
    >>> int(rep.sample_size(0.8).loc["enriched", "n"])
    400
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..analysis.numbers import fmt_fixed
from ..errors import ParameterError
from .figures_power import burden_figure, plot_series, power_figure, power_frame
from .page import ReportPage, Section, df_html, key_values_html, provenance_section
from .provenance import Provenance
from .layout import fit_row
from .style import new_figure

__all__ = ["PowerReport", "power_report", "write_power_report", "write_power_outputs", "COLUMN_SYNONYMS"]

COLUMN_SYNONYMS: dict[str, tuple[str, ...]] = {
    "design": ("design", "design_name", "label"),
    "n": ("n", "n_randomised", "n_randomized", "sample_size", "n_total"),
    "power": ("power", "rejection_rate", "success_rate"),
    "mcse": ("mcse", "power_mcse", "mc_se", "power_se"),
    "events": ("events", "events_mean", "mean_events"),
    "screened": ("screened", "screened_mean", "n_screened_mean", "mean_screened", "n_screened"),
}


def standard_columns(table: Any) -> pd.DataFrame:
    """The power table with its columns renamed to design, n, power, mcse, events, screened."""
    df = power_frame(table)
    rename = {}
    for std, names in COLUMN_SYNONYMS.items():
        found = next((c for c in names if c in df.columns), None)
        if found is not None and found != std:
            rename[found] = std
    df = df.rename(columns=rename)
    missing = [c for c in ("n", "power") if c not in df.columns]
    if missing:
        raise ParameterError("power table", sorted(map(str, df.columns)),
                             f"needs a sample-size and a power column; missing {missing}")
    # `mndtrial power` labels each point with the simulated design (e.g. mirocals) and the
    # strategy (all-comers, enriched, stratified): one curve per strategy, per design if several.
    # `curve` names one line of the power plot and one row of the sample-size table.
    design = df["design"].astype(str) if "design" in df.columns else pd.Series("design", index=df.index)
    if "strategy" in df.columns:
        strategy = df["strategy"].astype(str)
        df["curve"] = design + " / " + strategy if design.nunique() > 1 else strategy
    else:
        df["curve"] = design
    return df


@dataclass(frozen=True)
class PowerReport:
    """A built power report: the standardised `table`, the page, and sample sizes for a target."""

    table: pd.DataFrame
    page: ReportPage
    target: float

    @property
    def html(self) -> str:
        return self.page.to_html()

    @property
    def summary(self) -> pd.DataFrame:
        return self.table

    def sample_size(self, target: float | None = None) -> pd.DataFrame:
        """Smallest simulated sample size per design whose power reaches `target` (None if none does)."""
        return sample_size_table(self.table, self.target if target is None else target)

    def write(self, out_dir: str | Path, filename: str = "power.html", write_figures: bool = True) -> dict[str, Any]:
        return self.page.write(out_dir, filename, figures_dir="figures", write_figures=write_figures)

    def _repr_html_(self) -> str:
        return self.page.notebook_html()


def sample_size_table(table: pd.DataFrame, target: float) -> pd.DataFrame:
    if not 0 < target < 1:
        raise ParameterError("target", target, "power target must be between 0 and 1")
    rows = []
    for curve, g in table.groupby("curve", sort=False):
        g = g.sort_values("n")
        hit = g.loc[g["power"] >= target]
        row: dict[str, Any] = {"design": curve, "target_power": target}
        if hit.empty:
            row.update(n=None, power=float(g["power"].max()), note=f"not reached up to n = {g['n'].max():g}")
        else:
            first = hit.iloc[0]
            row.update(n=int(first["n"]), power=float(first["power"]), note="")
            for c in ("events", "screened"):
                if c in g.columns:
                    row[c] = first[c]
        rows.append(row)
    return pd.DataFrame(rows).set_index("design")


def _needs_figure(table: pd.DataFrame):
    cols = [c for c in ("events", "screened") if c in table.columns and table[c].notna().any()]
    if not cols:
        return None
    fig = new_figure(5.0 * len(cols), 4.0, layout=None)
    axes = np.atleast_1d(fig.subplots(1, len(cols)))
    for ax, col in zip(axes, cols):
        plot_series(ax, dict(list(table.groupby("curve", sort=False))), "n", col)
        ax.set_xlabel("Participants randomised")
        ax.set_ylabel({"events": "Mean number of events", "screened": "Mean number screened"}[col])
        ax.set_title({"events": "Events needed", "screened": "Screening needed"}[col], fontsize=10, y=1.0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
    fit_row(fig, list(axes))
    return fig


def _burden_section(page: ReportPage, df: pd.DataFrame, target: float) -> Section | None:
    """Power against screening burden, for a sweep of enrichment thresholds or screening markers
    (`mndtrial power --vary cutoff=... --marker ...`) whose points differ in how many they screen."""
    if not {"cutoff", "marker"} & set(df.columns) or "screened" not in df.columns or not df["screened"].notna().any():
        return None  # a sweep of thresholds or markers; by n, "Events and screening needed" shows screening
    burden = df["screened_per_randomised"] if "screened_per_randomised" in df.columns else df["screened"] / df["n"]
    if burden.round(6).nunique() < 2:
        return None
    by = [c for c in ("marker", "strategy") if c in df.columns] + (["n"] if df["n"].nunique() > 1 else [])
    fig = burden_figure(df, by=by or ["curve"], label="cutoff" if "cutoff" in df.columns else None, target=target)
    section = Section("burden", "Power against screening burden")
    section.body = page.add_figure("power_burden", fig, "Power against screening burden",
                                   "Each point a design: candidates screened per participant randomised (x) and "
                                   "power (y), ± 2 Monte Carlo SE; points marked with the enrichment cut-off "
                                   "(CSF-pNfH pg/mL) where it varies.")
    return section


def power_report(table: Any, provenance: Provenance | Mapping[str, Any] | None = None, target: float = 0.8,
                 title: str = "Monte Carlo power", settings: Mapping[str, Any] | None = None,
                 assumptions: pd.DataFrame | list | None = None) -> PowerReport:
    """Build power.html: simulation assumptions, curves by sample size per design, events and
    screening, sample sizes, the full table.

    `assumptions` (default: `table.assumptions` when `table` is a `PowerResult`) is the table of
    `mndtrial.power.assumptions.simulation_assumptions`; without it the page says they are absent.
    """
    if assumptions is None:
        assumptions = getattr(table, "assumptions", None)
    df = standard_columns(table)
    page = ReportPage(title=title, subtitle=f"{df['curve'].nunique()} designs compared, {len(df)} design points")
    page.sections.append(_assumptions_section(assumptions))
    curves = Section("curves", "Power by sample size")
    curves.body = page.add_figure("power_curves", power_figure(df, by="curve", target=target), "Power curves by design",
                                  "Fraction of simulated trials meeting the success criterion, ± 2 Monte Carlo SE.")
    page.sections.append(curves)
    needs = Section("needs", "Events and screening needed")
    fig = _needs_figure(df)
    if fig is None:
        needs.absent = "absent: the power table has no events or screening columns"
    else:
        needs.body = page.add_figure("events_screening", fig, "Events and screening by sample size")
    page.sections.append(needs)
    burden = _burden_section(page, df, target)
    if burden is not None:
        page.sections.append(burden)
    ss = sample_size_table(df, target)
    page.sections.append(Section("sample_size", f"Sample size for {target:.0%} power",
                                 body=df_html(fixed_decimals(ss.reset_index()))
                                 + '<p class="note">Smallest simulated sample size reaching the target; '
                                   "a finer grid or a sample-size search narrows it.</p>"))
    page.sections.append(Section("table", "Operating characteristics (full table)",
                                 body=df_html(fixed_decimals(df.drop(columns="curve")))))
    if settings:
        page.sections.append(Section("settings", "Settings", body=key_values_html(settings)))
    page.sections.append(provenance_section(provenance))
    return PowerReport(table=df, page=page, target=target)


def fixed_decimals(table: pd.DataFrame) -> pd.DataFrame:
    """Float columns as text with one number of decimals per column, chosen by the column's size
    (3 below 1, such as power and its MC SE; 2 below 10; 1 below 1,000; else 0), so a column never
    mixes `0.1875` and `0.25`. Whole-number and text columns are left as they are.

    Example:
        >>> fixed_decimals(pd.DataFrame({"power": [0.1875, 0.25], "events": [57.61, 118.0]})).values.tolist()
        [['0.188', '57.6'], ['0.250', '118.0']]
    """
    out = table.copy()
    for col in out.columns:
        values = pd.to_numeric(out[col], errors="coerce") if out[col].dtype == object else out[col]
        if not pd.api.types.is_float_dtype(values) or values.isna().all():
            continue
        if out[col].dtype == object and values.notna().sum() < out[col].notna().sum():
            continue  # text among the numbers: not a number column
        finite = values[np.isfinite(values)]
        if len(finite) and (finite == finite.round()).all() and finite.abs().max() >= 1:
            continue  # whole numbers stored as floats (a sample size)
        biggest = float(finite.abs().max()) if len(finite) else 0.0
        decimals = 3 if biggest < 1 else 2 if biggest < 10 else 1 if biggest < 1000 else 0
        out[col] = [fmt_fixed(v, decimals) for v in values]
    return out


def _assumptions_section(assumptions: Any) -> Section:
    s = Section("assumptions", "Simulation assumptions")
    if assumptions is None or len(assumptions) == 0:
        s.absent = ("absent: the simulation assumptions were not given (they come with a power result: "
                    "power(...).assumptions, power.json 'assumptions')")
        return s
    rows = pd.DataFrame(list(assumptions)) if isinstance(assumptions, list) else assumptions
    s.body = (df_html(rows, align_numbers=False) + '<p class="note">Read from the design and analysis objects that were simulated '
              "(not retyped): every power figure below rests on these.</p>")
    return s


def write_power_report(out_dir: str | Path, table: Any, **kwargs: Any) -> dict[str, Any]:
    """Build the power report and write `out_dir/power.html` and its figures (PNG and SVG)."""
    return power_report(table, **kwargs).write(out_dir)


def write_power_outputs(out_dir: str | Path, result: Any, provenance: Provenance | None = None,
                        **kwargs: Any) -> dict[str, Any]:
    """What `mndtrial power` writes: the engine's files (`result.write`: power.csv, power.json,
    trials.parquet), power.json completed with the provenance block, and power.html."""
    paths = dict(result.write(out_dir))
    if provenance is not None and "json" in paths:
        data = json.loads(Path(paths["json"]).read_text(encoding="utf-8"))
        data["provenance"] = provenance.to_dict()
        Path(paths["json"]).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    kwargs.setdefault("assumptions", getattr(result, "assumptions", None))
    written = power_report(result.table, provenance=provenance, **kwargs).write(out_dir)
    return {**paths, **written}
