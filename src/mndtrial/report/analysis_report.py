"""The report of an analysis plan's run: `AnalysisResults` + the trial → report.html.

This is what `mndtrial analyze` calls after it has written results.json: it reuses the results
(no computation is repeated) and adds the per-subgroup Kaplan–Meier panels from the plan's
biomarker rules (`plan_biomarker_rules`: the plan's rules, or a median split of each known
baseline biomarker when it declares none).

Example:
    >>> from mndtrial.analysis import AnalysisPlan
    >>> from mndtrial.data.example import example_trial
    >>> trial = example_trial()
    >>> report = analysis_report(trial, AnalysisPlan().run(trial))
    >>> "forest" in report.section_keys(present=True)
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ..analysis import AnalysisPlan, AnalysisResults
from ..analysis.subgroup_section import plan_biomarker_rules
from ..data import Trial
from ..errors import AnalysisError, ParameterError
from ..analysis.numbers import arm_labels
from .ahead import FigureCall
from .figure_calls import alsfrs_call, endpoint_trial, km_subgroup_calls
from .html import TrialReport, _has_biomarker, km_groups_from_assignments, km_left_out, trial_report
from .provenance import Provenance, hash_inputs, results_with_provenance

__all__ = ["analysis_report", "write_analysis_report", "write_analysis_outputs", "rebuild_report",
           "check_trial_matches", "results_with_provenance", "figure_calls_ahead"]


def analysis_report(trial: Trial, results: AnalysisResults, plan: AnalysisPlan | None = None,
                    provenance: Provenance | Mapping[str, Any] | None = None, **kwargs: Any) -> TrialReport:
    """The trial report of `results` (from `plan.run(trial)`), with KM panels per biomarker subgroup."""
    plan = plan or results.plan
    km_groups, km_notes = _km_subgroups(trial, plan)
    return trial_report(trial, results, km_groups=km_groups, km_notes=km_notes, provenance=provenance, **kwargs)


def _km_subgroups(trial: Trial, plan: AnalysisPlan) -> tuple[dict, list[str]]:
    """The per-subgroup KM panels' trials, from the plan's biomarker rules, and the notes under them."""
    assignments = []
    if plan.section("subgroups").enabled:
        for rule in plan_biomarker_rules(plan, trial):
            try:
                assignments.append(rule.assign(trial))
            except (AnalysisError, ParameterError):
                continue  # the subgroup output already says why this rule could not split anyone
    # the subgroup curves count the plan's events only (event_types), as its survival analyses do
    km_trial = endpoint_trial(trial, plan.event_types)
    return km_groups_from_assignments(km_trial, assignments), km_left_out(km_trial, assignments)


def figure_calls_ahead(trial: Trial, plan: AnalysisPlan) -> list[FigureCall]:
    """The figures of `plan`'s report that the trial and plan alone determine, as the report will
    call them: the per-subgroup KM panels and the ALSFRS-R trajectories. They can be drawn while
    the analysis runs (`report.background`); the page uses a drawing only if its call is the same
    as the page's own (`report.ahead`), so a guess here that proves wrong costs time, not truth.
    """
    calls = []
    if plan.section("subgroups").enabled and _has_biomarker(trial):  # as the page decides to show the panels
        km_groups, _ = _km_subgroups(trial, plan)
        # what the page reads back from the results: the plan's horizon and alpha, the KM's at-risk days
        at_days = [float(d) for d in plan.at_risk_for(trial)] or None
        calls += [call for _, call in km_subgroup_calls(km_groups, plan.horizon_or_none(trial), float(plan.alpha),
                                                        arm_labels(trial.info), at_days).values()]
    if trial.alsfrs is not None:
        calls.append(alsfrs_call(trial))
    return calls


def write_analysis_report(out_dir: str | Path, trial: Trial, results: AnalysisResults,
                          figure_formats: Sequence[str] = ("png", "svg"), **kwargs: Any) -> dict[str, Any]:
    """Write `out_dir/report.html` and `out_dir/figures/*.png` (and `.svg`) for an analysis run."""
    return analysis_report(trial, results, **kwargs).write(out_dir, figure_formats=figure_formats)


def write_analysis_outputs(out_dir: str | Path, trial: Trial, results: AnalysisResults,
                           provenance: Provenance | None = None,
                           figure_formats: Sequence[str] = ("png", "svg")) -> dict[str, Any]:
    """What `mndtrial analyze` writes: results.json (its provenance completed) and the report.

    `provenance` (input hashes, plan, seed, reproducing command) is merged into the results'
    own provenance block, so results.json and report.html carry the same record.
    """
    results = results_with_provenance(results, provenance)
    path = results.write_json(Path(out_dir) / "results.json")
    written = write_analysis_report(out_dir, trial, results, figure_formats=figure_formats)
    return {"results": path, **written}


def check_trial_matches(results: AnalysisResults, folder: str | Path) -> None:
    """Refuse a trial folder whose files are not the inputs `results` records (SHA-256).

    results.json from `mndtrial analyze` records the hash of every input file; a file of
    `folder` whose hash is not among them means the figures would be drawn from other data than
    the numbers beside them. Results without recorded inputs (made from Python) are not checked.
    """
    recorded = set(((results.provenance or {}).get("inputs_sha256") or {}).values())
    if not recorded:
        return
    changed = sorted(Path(name).name for name, digest in hash_inputs(folder).items() if digest not in recorded)
    if changed:
        raise ParameterError("--trial", str(folder), f"is not the trial results.json was computed from: "
                                                      f"{', '.join(changed)} differ from the recorded inputs "
                                                      "(sha256 in provenance.inputs_sha256)")


def rebuild_report(results: AnalysisResults, trial: Trial | None = None) -> TrialReport:
    """The report of saved results (`AnalysisResults.read_json`), with nothing recomputed.

    With the trial (as analysed) it is the report `mndtrial analyze` wrote; without it, the
    sections that need the data (participant flow details, per-subgroup KM panels, the PH check,
    ALSFRS-R and Treg figures) say so, and everything else is drawn from the saved numbers.
    """
    if trial is not None:
        return analysis_report(trial, results)
    return trial_report(None, results)
