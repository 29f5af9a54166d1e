"""The report's "Who benefits" section: effect along the biomarker, STEPP, the cut-off search.

Present only when results.json has `effect_along_biomarker` or `cutoff_search` (both are off by
default in a plan). Figures are drawn from the saved results; the rug of observed biomarker values
comes from the trial when it is given (no subject id is written, only the values).
"""

from __future__ import annotations

from typing import Any, Mapping

from ..analysis.frame import baseline_values
from ..data import Trial
from ..errors import AnalysisError, ParameterError
from .figures_benefit import cutoff_search_figure, effect_curve_figure, stepp_figure
from .page import ReportPage, Section, absent_html, esc, join

__all__ = ["who_benefits_section"]

SELECTION_NOTE = ("Numbers marked <b>naive</b> treat the selected cut-off as if it had been fixed in advance "
                  "and are biased toward benefit; the <b>selection-adjusted</b> p (maximally selected statistic "
                  "against its permutation distribution), the bootstrap interval of the cut-off and the "
                  "optimism-corrected HR account for the choice.")


def _rug_values(trial: Trial | None, biomarker: str) -> list[float] | None:
    if trial is None:
        return None
    try:
        values = baseline_values(trial, biomarker).astype(float).dropna()
    except (ParameterError, AnalysisError, ValueError, TypeError):
        return None
    return sorted(values.tolist())


def _figure(page: ReportPage, name: str, make, alt: str, caption: str) -> str:
    try:
        fig = make()
    except (AnalysisError, ParameterError) as exc:
        return absent_html(f"figure not drawn: {getattr(exc, 'reason', None) or exc}")
    return page.add_figure(name, fig, alt, caption)


def who_benefits_section(page: ReportPage, trial: Trial | None, data: Mapping[str, Any], tables_html: str
                         ) -> Section | None:
    """The section, or None when neither who-benefits analysis ran."""
    effect = data.get("effect_along_biomarker")
    search = data.get("cutoff_search")
    if not isinstance(effect, Mapping) and not isinstance(search, Mapping):
        return None
    parts: list[str] = []
    if isinstance(effect, Mapping) and "error" not in effect:
        marker = effect.get("biomarker", "biomarker")
        marks = effect.get("mark_cutoffs") or []
        rug = _rug_values(trial, marker)
        for key, label in (("survival", "hazard ratio"), ("alsfrs_slope", "ALSFRS-R slope difference")):
            if key in effect:
                parts.append(_figure(page, f"effect_along_{key}",
                                     lambda key=key: effect_curve_figure(effect[key], rug, marks, marker),
                                     f"Treatment effect ({label}) along {marker}",
                                     f"Treatment effect ({label}) as a natural-spline function of {esc(marker)}, "
                                     "with pointwise and simultaneous (sup-t) bands; ticks: observed values; "
                                     "dashed: published cut-off."))
        if "stepp" in effect:
            parts.append(_figure(page, "stepp",
                                 lambda: stepp_figure(effect["stepp"], marks, marker,
                                                      log_x=effect.get("transform", "log") == "log"),
                                 f"STEPP along {marker}",
                                 "Hazard ratio in overlapping windows of participants ordered by "
                                 f"{esc(marker)}; the horizontal segments show each window's range."))
    if isinstance(search, Mapping) and "error" not in search:
        marker = search.get("biomarker", "biomarker")
        marks = effect.get("mark_cutoffs", []) if isinstance(effect, Mapping) else []
        parts.append(_figure(page, "cutoff_search", lambda: cutoff_search_figure(search, marks, marker),
                             f"Cut-off search along {marker}",
                             "Log-rank Z per candidate cut-off (not adjusted) and how often bootstrap resamples "
                             "re-selected each candidate."))
        parts.append(f"<p>{SELECTION_NOTE}</p>")
    parts.append(tables_html)
    errors = [f"{k}: {v['error'].get('reason')}" for k, v in (("effect_along_biomarker", effect),
                                                                 ("cutoff_search", search))
              if isinstance(v, Mapping) and isinstance(v.get("error"), Mapping)]
    parts += [absent_html(e) for e in errors]
    body = join([p for p in parts if p])
    section = Section("who_benefits", "Who benefits: the effect along the biomarker and cut-offs")
    if body:
        section.body = body
    else:
        section.absent = "absent: no who-benefits results"
    return section

