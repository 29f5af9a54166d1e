"""Writing an analysis report in a forked process while this one is still computing.

`mndtrial analyze` needs the analysis's results before it can draw a figure, and the report's
own start is costly: importing matplotlib (~0.5 s here) and drawing the figures (~1 s of CPU).
`ReportProcess.start(trial)` forks right after the trial has been read. The fork imports the
report's stack while this process runs the analysis, then receives the results (pickled, tens of
kB), writes report.html and the figures (drawing them side by side itself,
`render.render_figures`) and sends back the paths it wrote, while this process writes
results.json and prepares the summary. Given the plan, it first draws the figures that need no
results (`analysis_report.figure_calls_ahead`: per-subgroup Kaplan–Meier panels, ALSFRS-R
trajectories) in the time it would otherwise wait; the page takes them only where every input
is the same (`report.ahead`). The bytes written are those of writing in this process
(`tests/test_report_background.py` holds the two equal).

It is used where drawing side by side is (`processes.figure_processes`: Linux's fork, two usable
CPUs, `MNDTRIAL_FIGURE_PROCESSES` not 1); elsewhere `start` returns None and the caller writes
in its own process. The fork has its own process group and ignores SIGINT: Ctrl-C reaches this
process, whose `close()` ends the fork and the drawing processes under it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import traceback
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .processes import MIN_FIGURES_PER_PROCESS, figure_processes

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from ..analysis import AnalysisPlan, AnalysisResults
    from ..data import Trial

__all__ = ["ReportProcess"]


class ReportProcess:
    """A forked process that writes one analysis report (report.html, figures/) when given results.

    Example:
        >>> from mndtrial.analysis import AnalysisPlan
        >>> from mndtrial.data.example import example_trial
        >>> trial = example_trial()
        >>> writer = ReportProcess.start(trial)  # None where there is no fork or one CPU
        >>> results = AnalysisPlan().run(trial)
        >>> if writer is not None:
        ...     import tempfile
        ...     with writer:
        ...         writer.submit(tempfile.mkdtemp(), results, ("png",))
        ...         written = writer.result()
        ...     assert written["report"].name == "report.html"
    """

    def __init__(self, process: multiprocessing.process.BaseProcess, connection: Connection):
        self._process = process
        self._connection = connection
        self._answered = False

    @classmethod
    def start(cls, trial: Trial, plan: AnalysisPlan | None = None,
              figure_formats: Sequence[str] = ("png",)) -> ReportProcess | None:
        """Fork the writer for reports of `trial` (None where drawing side by side is not used).

        With the `plan` that will be run, the fork also draws, in `figure_formats`, the report's
        figures that the trial and plan alone determine, while it waits (`report.ahead`).
        """
        if figure_processes(2 * MIN_FIGURES_PER_PROCESS) < 2:
            return None
        ours, theirs = multiprocessing.Pipe()
        # what this process has buffered must not be written a second time by the fork's exit
        for stream in (sys.stdout, sys.stderr):
            with suppress(Exception):
                stream.flush()
        process = multiprocessing.get_context("fork").Process(target=_serve,
                                                              args=(theirs, ours, trial, plan, tuple(figure_formats)),
                                                              name="mndtrial-report")
        process.start()
        theirs.close()
        return cls(process, ours)

    def submit(self, out_dir: str | Path, results: AnalysisResults, figure_formats: Sequence[str]) -> None:
        """Have the fork write `out_dir/report.html` and `out_dir/figures/` from `results`."""
        self._connection.send(("write", Path(out_dir), results, tuple(figure_formats)))

    def result(self) -> dict[str, Any]:
        """What `write_analysis_report` returned in the fork, once it has written everything; an
        error raised there is raised here."""
        try:
            kind, payload = self._connection.recv()
            self._answered = True
        except EOFError:
            raise RuntimeError(f"the report process ended without writing the report "
                               f"(exit code {self._process.exitcode})") from None
        if kind == "error":
            raise payload
        return payload

    def close(self) -> None:
        """End the fork (and any process drawing under it) if it is still running."""
        with suppress(OSError):
            self._connection.close()
        if self._answered:
            self._process.join(5)  # it has answered and is ending on its own
        if self._process.is_alive():
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGTERM)
        self._process.join(5)

    def __enter__(self) -> ReportProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(connection: Connection, other_end: Connection, trial: Trial, plan: AnalysisPlan | None,
           formats_ahead: tuple[str, ...]) -> None:
    """The fork: import the report's stack, draw what it can ahead, wait for results, write the
    report, send back the paths."""
    other_end.close()  # so that this end sees EOF when the parent goes
    os.setpgid(0, 0)  # the drawing processes forked from here are ended with this one
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the CLI's handler (which raises): just end
    # matplotlib is imported, and the figures that need no results drawn, while the parent computes
    from .ahead import draw_ahead
    from .analysis_report import figure_calls_ahead, write_analysis_report

    drawn: dict[str, dict[str, bytes]] = {}
    if plan is not None:
        try:
            calls = figure_calls_ahead(trial, plan)
        except Exception:  # the page will draw these figures, or say why it cannot
            calls = []
        drawn = draw_ahead(calls, formats_ahead, stop=connection.poll)
    try:
        message = connection.recv()
    except (EOFError, OSError):
        return  # the parent stopped before its results (an error, Ctrl-C): nothing to write
    _, out_dir, results, figure_formats = message
    if figure_formats != formats_ahead:
        drawn = {}
    try:
        reply: tuple[str, Any] = ("written", write_analysis_report(out_dir, trial, results, drawn_ahead=drawn,
                                                                    defer_figures=True,
                                                                    figure_formats=figure_formats))
    except Exception as exc:  # sent back and raised in the parent, where the CLI reports it
        reply = ("error", _portable(exc))
    with suppress(OSError):
        connection.send(reply)


def _portable(exc: Exception) -> Exception:
    """`exc` if it survives pickling, else a RuntimeError carrying its traceback as text."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError("writing the report failed:\n" + "".join(traceback.format_exception(exc)))
