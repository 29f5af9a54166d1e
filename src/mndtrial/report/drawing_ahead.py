"""What `mndtrial analyze`'s report writer draws while the analysis runs (`report.background`).

`DrawingAhead` keeps the writer's queue of figures: those the trial and plan alone determine
(`analysis_report.figure_calls_ahead`), then those whose analysis sections have ended
(`figure_calls.RESULT_FIGURES`). The writer draws them one by one while the analysis still
holds the other CPU, side by side once every section has ended, and finally builds the page from
the results, taking each drawing whose call is the page's own (`report.ahead`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ..analysis import AnalysisPlan, AnalysisResults
from ..data import Trial
from .ahead import FigureCall, draw_call
from .analysis_report import analysis_report, figure_calls_ahead
from .figure_calls import RESULT_FIGURES
from .render import Rendering, start_rendering

__all__ = ["DrawingAhead"]


class DrawingAhead:
    """The figures of a plan's report drawn while the analysis runs, as what they need arrives.

    Told the trial and plan (`trial_and_plan`), it queues the figures those alone determine
    (`figure_calls_ahead`); told that a section has ended (`section_done`, with its results.json
    block), it queues each figure of `figure_calls.RESULT_FIGURES` whose sections have all ended.
    `draw_next()` draws the first queued figure; `drawn` holds the drawings by fingerprint, for
    the page's `drawn_ahead`. Nothing here can change the report: a call whose figure cannot be
    built is skipped, and the page uses a drawing only for a call identical to its own.

    Example:
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
        self._renderings: list[Rendering] = []

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

    @property
    def sections_ended(self) -> bool:
        """Whether every section of the plan has ended (so the analysis no longer needs a CPU)."""
        return bool(self._data) and not self._pending

    def draw_next(self) -> None:
        """Draw the first queued figure here."""
        call = self._queue.pop(0)
        try:
            encoded = draw_call(call, self.formats)
            if encoded is not None:
                self.drawn[call.fingerprint()] = encoded
        except Exception:  # drawing ahead only saves time: the page draws this figure itself
            pass

    def draw_the_rest(self) -> None:
        """Start drawing every queued figure side by side in forked processes
        (`render.start_rendering`); `write_report` collects them."""
        queued, self._queue = _by_fingerprint(self._queue), []
        if queued:
            self._renderings.append(start_rendering(queued, self.formats))

    def write_report(self, out_dir: str | Path, results: AnalysisResults,
                     figure_formats: Sequence[str] = ("png",)) -> dict[str, Any]:
        """`write_analysis_report` of the trial and `results`, using what was drawn ahead; the
        figures still queued are drawn side by side while the page is built."""
        formats = tuple(figure_formats)
        if formats != self.formats:  # drawn in other formats: the page draws every figure itself
            self._queue, self.drawn = [], {}
        self.draw_the_rest()
        try:
            report = analysis_report(self.trial, results, drawn_ahead=self.drawn, defer_figures=True)
            for rendering in self._renderings:
                # a queued figure that cannot be built is left to the page, which says why
                report.page.drawn_ahead.update(rendering.result(not_drawn={}))
        finally:
            for rendering in self._renderings:
                rendering.close()
            self._renderings = []
        return report.write(out_dir, figure_formats=formats)

    def _queue_result_figures(self) -> None:
        for group, (sections, build) in RESULT_FIGURES.items():
            if group in self._queued_groups or set(sections) & self._pending:
                continue
            self._queued_groups.add(group)
            try:
                self._queue += build(self.trial, self._data).values()
            except Exception:  # as above: the page decides
                pass


def _by_fingerprint(calls: list[FigureCall]) -> dict[str, FigureCall]:
    """The calls keyed by fingerprint, leaving out any that cannot be fingerprinted (the page draws those)."""
    keyed = {}
    for call in calls:
        try:
            keyed[call.fingerprint()] = call
        except Exception:
            continue
    return keyed
