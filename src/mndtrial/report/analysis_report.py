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
from .ahead import FigureCall, draw_call
from .render import start_rendering
from .figure_calls import RESULT_FIGURES, alsfrs_call, endpoint_trial, km_subgroup_calls
from .html import TrialReport, _has_biomarker, km_groups_from_assignments, km_left_out, trial_report
from .provenance import Provenance, hash_inputs, results_with_provenance

__all__ = ["analysis_report", "write_analysis_report", "write_analysis_outputs", "rebuild_report",
           "check_trial_matches", "results_with_provenance", "figure_calls_ahead", "DrawingAhead"]


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


class DrawingAhead:
    """The figures of a plan's report drawn while the analysis runs, as what they need arrives.

    Told the trial and plan (`trial_and_plan`), it queues the figures those alone determine
    (`figure_calls_ahead`); told that a section has ended (`section_done`, with its results.json
    block), it queues each figure of `figure_calls.RESULT_FIGURES` whose sections have all ended.
    `draw_next()` draws the first queued figure; `drawn` holds the drawings by fingerprint, for
    the page's `drawn_ahead`. Nothing here can change the report: a call whose figure cannot be
    built is skipped, and the page uses a drawing only for a call identical to its own.

    Example:
        >>> from mndtrial.analysis import AnalysisPlan
        >>> from mndtrial.analysis.frame import jsonable
        >>> from mndtrial.data.example import example_trial
        >>> trial, plan = example_trial(), AnalysisPlan(name="p")
        >>> sections = ["survival", "subgroups", "interaction", "function", "cafs", "treg"]
        >>> ahead = DrawingAhead(("png",))
        >>> ahead.trial_and_plan(trial, plan, (jsonable(plan.to_dict()), sections))
        >>> ahead.waiting  # Kaplan–Meier by CSF-pNfH subgroup, the ALSFRS-R trajectories
        2
        >>> ahead.section_done("survival", plan.run(trial).sections["survival"])
        >>> ahead.waiting  # and the Kaplan–Meier curves by arm and the PH check
        4
    """

    def __init__(self, formats: Sequence[str]):
        self.formats = tuple(formats)
        self.trial: Trial | None = None
        self.drawn: dict[str, dict[str, bytes]] = {}
        self._queue: list[FigureCall] = []
        self._data: dict[str, Any] = {}  # results.json as far as it is known: the plan, the ended sections
        self._pending: set[str] = set()
        self._queued_groups: set[str] = set()

    @property
    def waiting(self) -> int:
        """How many figures are queued to be drawn."""
        return len(self._queue)

    def trial_and_plan(self, trial: Trial, plan: AnalysisPlan | None,
                       plan_block_and_sections: tuple[Mapping[str, Any], Sequence[str]] | None) -> None:
        """The trial; the plan that will run on it, as results.json will hold it, and the sections
        it will run (`ReportProcess.report_on`)."""
        self.trial = trial
        if plan is None or plan_block_and_sections is None:
            return
        try:
            self._queue += figure_calls_ahead(trial, plan)
        except Exception:  # the page will draw these figures, or say why it cannot
            pass
        plan_block, sections = plan_block_and_sections
        self._data = {"plan": plan_block}
        self._pending = set(sections)
        self._queue_result_figures()

    def section_done(self, name: str, output: Any) -> None:
        if not self._data:
            return  # no plan: nothing is drawn from the results ahead
        self._data[name] = output
        self._pending.discard(name)
        self._queue_result_figures()

    def write_report(self, out_dir: str | Path, results: AnalysisResults,
                     figure_formats: Sequence[str] = ("png",)) -> dict[str, Any]:
        """`write_analysis_report` of the trial and `results`, using what was drawn ahead; the
        figures still queued are drawn side by side while the page is built."""
        formats = tuple(figure_formats)
        drawn = dict(self.drawn) if formats == self.formats else {}
        queued, self._queue = {call.fingerprint(): call for call in self._queue}, []
        rendering = start_rendering(queued, formats)
        try:
            report = analysis_report(self.trial, results, drawn_ahead=drawn, defer_figures=True)
            # a queued figure that cannot be built is left to the page, which says why
            report.page.drawn_ahead.update(rendering.result(not_drawn={}))
        finally:
            rendering.close()
        return report.write(out_dir, figure_formats=formats)

    def draw_next(self) -> None:
        call = self._queue.pop(0)
        encoded = draw_call(call, self.formats)
        if encoded is not None:
            self.drawn[call.fingerprint()] = encoded

    def _queue_result_figures(self) -> None:
        for group, (sections, build) in RESULT_FIGURES.items():
            if group in self._queued_groups or set(sections) & self._pending:
                continue
            self._queued_groups.add(group)
            try:
                self._queue += build(self.trial, self._data).values()
            except Exception:  # as above: the page decides
                pass


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
