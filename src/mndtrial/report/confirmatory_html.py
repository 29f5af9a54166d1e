"""power.html for a confirmatory run (`mndtrial power --confirmatory` / `--preset`): strategies side by
side, boundaries (Z and HR), stopping probabilities per look, the adaptive design's selection, the
expected size, the designs with the provenance of every input, and the command that reproduces it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .figures_confirmatory import (confirmatory_boundary_figure, expected_size_figure, selection_figure,
                                   stopping_figure)
from .page import ReportPage, Section, df_html, esc, key_values_html, provenance_section
from .provenance import Provenance

__all__ = ["confirmatory_report", "write_confirmatory_outputs"]

_SHOWN = ("strategy", "looks", "power", "power_mcse", "power_analytic", "reject_s", "reject_f", "stop_efficacy_early",
          "stop_futility", "events_mean", "events_all_mean", "n_randomised_mean", "n_screened_mean",
          "duration_days_mean")


def confirmatory_report(result: Any, provenance: Provenance | Mapping[str, Any] | None = None,
                        title: str = "Confirmatory designs", settings: Mapping[str, Any] | None = None) -> ReportPage:
    """The page for a `ConfirmatoryResult` (anything with `table`, `looks`, `selection`, `designs`)."""
    label = "family-wise type I error" if getattr(result, "null", False) else "power"
    page = ReportPage(title=title, subtitle=f"{len(result.table)} strategies, {result.n_trials} simulated "
                                            f"patient-level trials each (seed {result.seed}); '{label}'")
    table = result.table[[c for c in _SHOWN if c in result.table.columns]]
    page.sections.append(Section("side_by_side", "Strategies side by side", body=df_html(table) + (
        '<p class="note">power: H0 rejected at any look (adaptive enrichment: H_S or H_F by the closed test); '
        "power_analytic: the design's power at the pool's true hazard ratio (Schoenfeld drift), where it is "
        "known; events: in the analysed (selected) population at the last analysis; sizes at the stopping "
        "look. Under --null the power column is the family-wise type I error.</p>")))
    sec = Section("boundaries", "Boundaries")
    sec.body = page.add_figure("boundaries", confirmatory_boundary_figure(result.looks),
                               "Efficacy and futility bounds on the Z and hazard-ratio scales",
                               "From mndtrial.design.group_sequential_design (numerical integration), never typed in.")
    page.sections.append(sec)
    sec = Section("stopping", "Stopping probability per look")
    sec.body = page.add_figure("stopping", stopping_figure(result.looks), "Stopping probabilities per look",
                               "Simulated (bars, ± 2 MC SE) and, where the pool's hazard ratio is known, the design's "
                               "analytic probabilities (crosses).")
    page.sections.append(sec)
    sec = Section("selection", "Interim selection (adaptive enrichment)")
    if getattr(result, "selection", None) is None:
        sec.absent = "absent: no adaptive-enrichment strategy in this run"
    else:
        sec.body = page.add_figure("selection", selection_figure(result.selection), "Selection probabilities") \
            + df_html(result.selection)
    page.sections.append(sec)
    sec = Section("size", "Expected size")
    sec.body = page.add_figure("expected_size", expected_size_figure(result.table),
                               "Expected events, randomised, screened and duration per strategy")
    page.sections.append(sec)
    page.sections.append(Section("looks", "Per look", body=df_html(result.looks)))
    calls = "".join(f"<h3>{esc(name)}</h3><pre>{esc(rec.get('reproducing_call_r', ''))}</pre>"
                    + df_html(pd.DataFrame([{"input": k, "value": str(rec['inputs'].get(k)), "provenance": v}
                                            for k, v in rec.get("provenance", {}).items()]))
                    for name, rec in result.designs.items())
    page.sections.append(Section("designs", "Designs and the provenance of their inputs", body=calls))
    if settings:
        page.sections.append(Section("settings", "Settings", body=key_values_html(settings)))
    page.sections.append(provenance_section(provenance))
    return page


def write_confirmatory_outputs(out_dir: str | Path, result: Any, provenance: Provenance | None = None,
                               **kwargs: Any) -> dict[str, Any]:
    """power.csv, looks.csv, trials-*.parquet, power.json (with the provenance block) and power.html."""
    extra = {"provenance": provenance.to_dict()} if provenance is not None else None
    paths = dict(result.write(out_dir, extra=extra))
    written = confirmatory_report(result, provenance=provenance, **kwargs).write(out_dir, "power.html",
                                                                                  figures_dir="figures")
    return {**paths, **written}
