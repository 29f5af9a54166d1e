"""The trial report: one self-contained HTML file for a steering committee.

`trial_report(trial, results)` builds it from a `Trial` (for the participant flow and the
figures that need the data: Kaplan–Meier curves, ALSFRS-R trajectories, Treg response, PH check)
and the analysis results (results.json as a dict, or an object with `to_dict()` and
`summary_tables()` such as `AnalysisResults`). Each section is rendered only when what it needs
exists; otherwise it says what is absent ("absent: no ALSFRS-R table"). Only aggregates are
shown: no subject id is ever written into the page.

Example:
    >>> from mndtrial.data.example import example_trial
    >>> report = trial_report(example_trial())
    >>> "flow" in report.section_keys(present=True)
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from ..analysis.numbers import arm_labels
from ..analysis.tidy import relabel_arms
from ..data import Trial
from ..errors import AnalysisError, ParameterError
from .benefit_report import who_benefits_section
from .descriptives import consort_flow
from .joint_report import joint_section
from .km_groups import (MARKER_NAMES, MIN_KM_PANEL_N, km_groups_from_assignments, km_left_out,  # noqa: F401
                        subgroup_title)
from .figure_calls import (DEFAULT_INDIVIDUAL_LINES, TREG_ANALYTES, alsfrs_call, endpoint_trial,  # noqa: F401
                           forest_call, km_at_days, km_overall_call,
                           km_subgroup_calls, labels_of, ph_check_call, plan_alpha, plan_horizon, treg_calls)
from .page import ReportPage, Section, absent_html, df_html, esc, flatten, join, provenance_section
from .provenance import Provenance
from .style import collection_paused

__all__ = ["TrialReport", "trial_report", "write_trial_report", "km_groups_from_assignments", "BIOMARKER_COLUMNS",
           "TREG_ANALYTES", "km_left_out", "subgroup_title"]

BIOMARKER_COLUMNS = ("csf_pnfh", "serum_nfl")

# Which results.json sections' printable tables go into which report section.
TABLE_SECTIONS = {"survival": "cox", "subgroups": "forest", "interaction": "forest", "function": "alsfrs",
                  "cafs": "cafs", "treg": "treg", "joint": "joint", "effect_along_biomarker": "who_benefits",
                  "cutoff_search": "who_benefits"}


@dataclass(frozen=True)
class TrialReport:
    """A built report: `html` (the whole page), its figures, and which sections are present."""

    page: ReportPage

    @property
    def html(self) -> str:
        return self.page.to_html()

    @property
    def figures(self) -> dict:
        return dict(self.page.figures)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per section: present or not, and what is absent."""
        return pd.DataFrame([{"section": s.key, "title": s.title, "present": s.present, "absent": s.absent}
                             for s in self.page.sections]).set_index("section")

    def section_keys(self, present: bool | None = None) -> list[str]:
        return self.page.section_keys(present)

    def write(self, out_dir: str | Path, filename: str = "report.html", write_figures: bool = True,
              figure_formats: Sequence[str] = ("png", "svg")) -> dict[str, Any]:
        """Write `out_dir/report.html` and the figures (PNG, and SVG unless left out) under `out_dir/figures/`."""
        return self.page.write(out_dir, filename, write_figures=write_figures, figure_formats=figure_formats)

    def _repr_html_(self) -> str:
        return self.page.notebook_html()


def _results_parts(results: Any) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    if results is None:
        return {}, {}
    tables = dict(results.summary_tables()) if hasattr(results, "summary_tables") else {}
    data = results.to_dict() if hasattr(results, "to_dict") else dict(results)
    return data, tables


def _section_tables(tables: Mapping[str, pd.DataFrame], target: str) -> str:
    parts = []
    for title, df in tables.items():
        name = title.split(":", 1)[0].strip()
        if TABLE_SECTIONS.get(name, "other") == target:
            parts.append(df_html(df, caption=title))
    return join(parts)


def _figure_or_note(page: ReportPage, name: str, make, alt: str, caption: str | None = None) -> str:
    """A figure, or the reason it cannot be drawn on these data (the report still renders)."""
    try:
        with collection_paused():  # a figure's artists all stay alive: nothing for it to find
            return page.figure_or_drawn(name, make, alt, caption)
    except (AnalysisError, ParameterError) as exc:
        return absent_html(f"figure not drawn: {exc}")


def _flow_section(trial: Trial | None, data: Mapping[str, Any]) -> Section:
    s = Section("flow", "Trial summary and participant flow")
    if trial is None:
        info = data.get("trial")
        if info:
            rows = pd.DataFrame([{"arm": a, **v} for a, v in info.get("arms", {}).items()])
            s.body = f"<p>{esc(info.get('n_participants'))} participants randomised.</p>" + df_html(rows)
        else:
            s.absent = "absent: no trial data given, so no participant flow"
        return s
    flow = consort_flow(trial)
    horizon = trial.info.horizon_days
    total = flow.loc["total"]
    arms = [a for a in flow.index if a != "total"]
    labels = arm_labels(trial.info)
    arm_boxes = "".join(f'<div class="box"><b>{esc(labels.get(a, a))}</b>{_dose(trial, a)}<br>'
                        f'randomised: {int(flow.loc[a, "randomised"])}</div>' for a in arms)

    def outcome(a: str) -> str:
        r = flow.loc[a]
        lines = [f"events (deaths): {int(r['events'])}"]
        if pd.isna(r["lost_to_follow_up"]):
            lines.append(f"censored: {int(r['censored'])}")
        else:
            lines += [f"lost to follow-up: {int(r['lost_to_follow_up'])}",
                      f"completed alive: {int(r['completed_alive'])}"]
        return '<div class="box">' + "<br>".join(lines) + "</div>"

    flow_html = (f'<div class="flow">{_screening_boxes(trial.info.screening)}'
                 f'<div class="row"><div class="box"><b>Randomised</b><br>n = '
                 f'{int(total["randomised"])}</div></div><div class="arrow">▼</div>'
                 f'<div class="row">{arm_boxes}</div><div class="arrow">▼</div>'
                 f'<div class="row">{"".join(outcome(a) for a in arms)}</div></div>')
    note = (f"Follow-up horizon: day {horizon:g}; a participant censored before it counts as lost to "
            "follow-up." if horizon else "No follow-up horizon is recorded (trial.toml horizon_days), so "
            "censored participants are not split into lost to follow-up and completed.")
    desc = esc(trial.info.description) if trial.info.description else ""
    s.body = (f"<p><b>{esc(trial.info.name)}</b> {desc}</p>" + flow_html + f'<p class="note">{esc(note)}</p>'
              + df_html(relabel_arms(flow.reset_index(), labels), caption="Participant flow by arm"))
    return s


def _screening_boxes(screening: Mapping[str, int]) -> str:
    """Screened -> excluded (not eligible; outside the enrichment range) -> randomised, where known."""
    if not screening or "screened" not in screening:
        return ""
    screened = int(screening["screened"])
    eligible = screening.get("eligible")
    lines = []
    if eligible is not None:
        lines.append(f"not eligible: {screened - int(eligible)}")
    if screening.get("enrichment_excluded"):
        lines.append(f"eligible, outside the enrichment range: {int(screening['enrichment_excluded'])}")
    excluded = (f'<div class="row"><div class="box"><b>Excluded</b><br>{"<br>".join(esc(x) for x in lines)}'
                '</div></div><div class="arrow">▼</div>') if lines else ""
    return (f'<div class="row"><div class="box"><b>Screened</b><br>n = {screened}</div></div>'
            f'<div class="arrow">▼</div>{excluded}')


def _warnings_section(data: Mapping[str, Any]) -> Section | None:
    """Every warning and fit problem the analyses recorded (results.json), or None when there are none."""
    from ..analysis.plan import result_warnings

    found = result_warnings({k: v for k, v in data.items() if k not in ("plan", "provenance")})
    if not found:
        return None
    rows = pd.DataFrame([{"where in results.json": path, "warning": m} for path, ms in found.items() for m in ms])
    return Section("warnings", "Warnings from the analyses",
                   body=f'<p class="note">{len(rows)} warning(s): read them before the numbers they concern.</p>'
                        + df_html(rows))


def _dose(trial: Trial, arm: str) -> str:
    d = trial.info.arm(arm).dose_miu
    return "" if d is None else f" ({d:g} MIU/day)"


def _has_biomarker(trial: Trial) -> list[str]:
    present = [c for c in BIOMARKER_COLUMNS if c in trial.participant_column_names]
    values = trial.participant_columns(*present)
    return [c for c in present if values[c].notna().any()]


def trial_report(trial: Trial | None = None, results: Any = None,
                 km_groups: Mapping[str, Mapping[str, Trial]] | None = None,
                 provenance: Provenance | Mapping[str, Any] | None = None, title: str | None = None,
                 n_individual_lines: int = DEFAULT_INDIVIDUAL_LINES, seed: int = 0, km_notes: Iterable[str] = (),
                 drawn_ahead: Mapping[str, Mapping[str, bytes]] | None = None,
                 defer_figures: bool = False) -> TrialReport:
    """Build the report of one trial.

    Args:
        trial: the analysed trial (for the flow and data figures); None renders results only.
        results: analysis results (results.json dict, or an object with `to_dict()` and
            optionally `summary_tables()`); None renders the descriptive sections only.
        km_groups: Kaplan–Meier per subgroup: {rule label: {subgroup label: Trial}}, e.g. from a
            biomarker rule's assignment. Without it there is no per-subgroup KM section.
        provenance: shown at the end (default: the `provenance` block of `results`).
        seed: which participants' ALSFRS-R lines are drawn (they are not labelled).
        km_notes: sentences under the subgroup KM panels (e.g. the groups too small for a panel).
        drawn_ahead: figures drawn ahead (`report.ahead.draw_call`, by fingerprint), used where their inputs are
            the same as this page's.
        defer_figures: build each figure where it is drawn (side by side) when the page is
            written, not now; the report then holds no `Figure` objects (`figures` is empty).
    """
    if trial is None and results is None:
        raise ParameterError("trial/results", None, "give a trial, analysis results, or both")
    data, tables = _results_parts(results)
    name = trial.info.name if trial is not None else (data.get("trial") or {}).get("name", "trial")
    page = ReportPage(title=title or f"Trial report: {name}",
                      subtitle=f"Analysis '{(data.get('plan') or {}).get('name', '-')}'" if data else
                      "Descriptive report (no analysis results given)",
                      drawn_ahead=dict(drawn_ahead or {}), defer_figures=defer_figures)
    page.sections.append(_flow_section(trial, data))
    warned = _warnings_section(data)
    if warned is not None:
        page.sections.append(warned)
    page.sections += _survival_sections(page, trial, data, tables, km_groups, km_notes)
    page.sections += _function_sections(page, trial, data, tables, n_individual_lines, seed)
    joint = joint_section(page, data, tables, _figure_or_note)
    if joint is not None:
        page.sections.append(joint)
    benefit = who_benefits_section(page, trial, data, _section_tables(tables, "who_benefits"))
    if benefit is not None:
        page.sections.append(benefit)
    other = _section_tables(tables, "other")
    if other:
        page.sections.append(Section("other", "Other analyses", body=other))
    page.sections.append(provenance_section(provenance if provenance is not None else data.get("provenance")))
    return TrialReport(page)


def _survival_sections(page: ReportPage, trial: Trial | None, data: Mapping[str, Any],
                       tables: Mapping[str, pd.DataFrame], km_groups, km_notes=()) -> list[Section]:
    out = []
    km = Section("km", "Kaplan–Meier survival by arm")
    horizon = plan_horizon(trial, data)
    alpha = plan_alpha(data)
    level = f"{100 * (1 - alpha):.10g}%"
    marked = "" if horizon is None else f" The dotted line marks the horizon, day {horizon:g}."
    labels = labels_of(trial, data)
    km_call = km_overall_call(trial, data)
    if km_call is None:
        km.absent = "absent: no trial data and no Kaplan–Meier results"
    else:
        at_days = km_at_days(data)
        km.body = _figure_or_note(page, "km_overall", km_call, "Kaplan–Meier curves by arm",
                                  f"Kaplan–Meier estimates with pointwise {level} CI; ticks mark censored "
                                  "participants; the table under the plot gives the numbers at risk"
                                  f"{' at the days of the at-risk table' if at_days else ''}. HR: unadjusted Cox "
                                  f"model; p: log-rank test.{marked}")
    out.append(km)

    sub = Section("km_subgroups", "Kaplan–Meier by biomarker subgroup")
    if trial is not None and not _has_biomarker(trial):
        sub.absent = ("absent: no biomarker — the participants table has no CSF-pNfH or serum NfL values, "
                      "so there are no biomarker subgroups")
    elif not km_groups:
        sub.absent = ("absent: the per-subgroup Kaplan–Meier panels need the trial data (`mndtrial report --trial`)"
                      if trial is None else "absent: no biomarker rule in the analysis plan, so no subgroups were "
                                            "defined")
    else:
        calls = km_subgroup_calls(km_groups, horizon, alpha, labels, km_at_days(data))
        figs = [_figure_or_note(page, name, call, f"Kaplan–Meier curves by arm within subgroups of {label}",
                                f"Subgroups: {label} (pointwise {level} CI; HR: unadjusted Cox model within the "
                                "subgroup; p: log-rank test)")
                for name, (label, call) in calls.items()]
        notes = "".join(f'<p class="note">{esc(n)}</p>' for n in (km_notes or ()))
        sub.body = join(figs) + notes
    out.append(sub)

    cox = Section("cox", "Survival: log-rank, Cox models, survival at horizon, RMST")
    body = _section_tables(tables, "cox")
    if body:
        cox.body = body
    elif "survival" in data:
        cox.body = df_html(flatten(data["survival"], skip=("kaplan_meier",)), caption="survival (results.json)")
    else:
        cox.absent = "absent: no survival analysis results (run `mndtrial analyze`)"
    out.append(cox)

    forest = Section("forest", "Subgroups: forest plot and treatment × subgroup interaction")
    forest_figure_call = forest_call(data)
    if forest_figure_call is None:
        forest.absent = ("absent: no subgroup results" if data else
                         "absent: no analysis results, so no subgroup hazard ratios (run `mndtrial analyze`)")
    else:
        forest.body = _figure_or_note(page, "forest", forest_figure_call, "Forest plot of subgroup hazard ratios",
                                      f"Hazard ratio (active vs control) with {level} CI per subgroup; the "
                                      "interaction p tests whether the effect differs between subgroups."
                                      ) + _section_tables(tables, "forest")
    out.append(forest)

    ph = Section("ph", "Proportional-hazards check")
    if trial is None:
        ph.absent = "absent: the PH check plot needs the trial data"
    else:
        ph.body = _figure_or_note(page, "ph_check", ph_check_call(trial, data),
                                  "Scaled Schoenfeld residuals of the treatment effect over time")
    out.append(ph)
    return out


def _function_sections(page: ReportPage, trial: Trial | None, data: Mapping[str, Any],
                       tables: Mapping[str, pd.DataFrame], n_lines: int, seed: int) -> list[Section]:
    out = []
    no_alsfrs = trial is not None and trial.alsfrs is None
    fn = Section("alsfrs", "ALSFRS-R decline")
    if no_alsfrs:
        fn.absent = "absent: no ALSFRS-R table in this trial"
    else:
        parts = []
        if trial is not None:
            parts.append(_figure_or_note(page, "alsfrs_trajectories", alsfrs_call(trial, n_lines, seed),
                                         "ALSFRS-R total by visit: means by arm and individual lines",
                                         "Mean ALSFRS-R by arm and visit with 95% CI; thin lines are a random "
                                         "sample of participants (unlabelled)."))
        parts.append(_section_tables(tables, "alsfrs"))
        fn.body = join(parts) or None
        if fn.body is None:
            fn.absent = "absent: no ALSFRS-R results"
    out.append(fn)

    cafs = Section("cafs", "CAFS (combined assessment of function and survival)")
    cafs_tables = _section_tables(tables, "cafs")
    if no_alsfrs:
        cafs.absent = "absent: no ALSFRS-R table, so CAFS cannot be computed"
    elif cafs_tables:
        cafs.body = cafs_tables
    elif "cafs" in data:
        cafs.body = df_html(flatten(data["cafs"]), caption="cafs (results.json)")
    else:
        cafs.absent = "absent: no CAFS results"
    out.append(cafs)

    treg = Section("treg", "Treg response by dose")
    calls = {} if trial is None else treg_calls(trial, data)
    if trial is not None and not calls:
        treg.absent = "absent: no Treg measurements (analyte treg_pct_cd4 or treg_count) in the biomarkers table"
    else:
        parts = [_figure_or_note(page, name, call, f"Treg response ({call.args[2]}) by dose",
                                 f"Mean change from baseline in {call.args[2]} with its CI, by visit and by dose.")
                 for name, call in calls.items()]
        parts.append(_section_tables(tables, "treg"))
        treg.body = join(parts) or None
        if treg.body is None:
            treg.absent = "absent: no Treg results"
    out.append(treg)
    return out


def write_trial_report(out_dir: str | Path, trial: Trial | None = None, results: Any = None,
                       **kwargs: Any) -> dict[str, Any]:
    """Build the report and write `out_dir/report.html` and `out_dir/figures/*.png|svg`."""
    return trial_report(trial, results, **kwargs).write(out_dir)
