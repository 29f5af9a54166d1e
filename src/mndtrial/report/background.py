"""Writing an analysis report in a forked process while this one is still computing.

`mndtrial analyze` needs the analysis's results before it can draw most figures, and the
report's own start is costly: importing matplotlib (~0.6 s here) and drawing the figures
(~0.8 s of CPU). `mndtrial analyze` calls `ReportProcess.start()` once pandas is imported (the
fork shares it), and the fork imports the report's stack while this process imports the
analysis, reads the trial and runs the plan. Then the fork is told, in order:
- the trial and the plan (`report_on`): it draws the figures those alone determine (per-subgroup
  Kaplan–Meier panels, ALSFRS-R trajectories; `analysis_report.figure_calls_ahead`);
- each analysis section's output as it ends (`section_done`, from `AnalysisPlan.run`'s
  `on_section`): it draws the figures whose sections have all ended (the Kaplan–Meier curves by
  arm and the PH check once `survival` has, the forest plot once `subgroups` and `interaction`
  have; `figure_calls.RESULT_FIGURES`) while the later sections still run;
- the results (`submit`): it writes report.html and the figures not drawn yet (side by side,
  `render.start_rendering`, as soon as the last section has ended) and sends back the paths it
  wrote, while this process writes results.json and prepares the summary.
The page takes a drawing made ahead only where its call -- every input -- is the same
(`report.ahead`), so the bytes written are those of writing in this process
(`tests/test_report_background.py` holds the two equal). Messages are sent from a thread of
this process, so the analysis never waits for the fork to read them.

It is used where drawing side by side is (`processes.figure_processes`: Linux's fork, two usable
CPUs, `MNDTRIAL_FIGURE_PROCESSES` not 1); elsewhere `start` returns None and the caller writes
in its own process. The fork has its own process group and ignores SIGINT: Ctrl-C reaches this
process, whose `close()` ends the fork and the drawing processes under it.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
import traceback
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .processes import MIN_FIGURES_PER_PROCESS, figure_processes

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from ..analysis import AnalysisPlan, AnalysisResults
    from ..data import Trial

__all__ = ["ReportProcess", "ReportProcessLost"]


class ReportProcessLost(RuntimeError):
    """The report's process ended without an answer (it crashed or was killed): the report can
    still be written in this process."""


class ReportProcess:
    """A forked process that writes one analysis report (report.html, figures/) when given results.

    Example:
        >>> from mndtrial.analysis import AnalysisPlan
        >>> from mndtrial.data.example import example_trial
        >>> writer = ReportProcess.start()  # None where there is no fork or one CPU
        >>> trial, plan = example_trial(), AnalysisPlan()
        >>> if writer is not None:
        ...     import tempfile
        ...     with writer:
        ...         writer.report_on(trial, plan)
        ...         results = plan.run(trial, on_section=writer.section_done)
        ...         writer.submit(tempfile.mkdtemp(), results, ("png",))
        ...         written = writer.result()
        ...     assert written["report"].name == "report.html"
    """

    def __init__(self, process: multiprocessing.process.BaseProcess, connection: Connection):
        self._process = process
        self._connection = connection
        self._answered = False
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._sender = threading.Thread(target=self._send_all, name="mndtrial-report-sender", daemon=True)
        self._sender.start()

    @classmethod
    def start(cls, trial: Trial | None = None, plan: AnalysisPlan | None = None,
              figure_formats: Sequence[str] = ("png",)) -> ReportProcess | None:
        """Fork the writer (None where drawing side by side is not used).

        It draws ahead in `figure_formats` (those of the results' `submit`; a drawing in other
        formats is not used). Given the `trial` (and the `plan` that will run), `report_on` is
        called at once.
        """
        if figure_processes(2 * MIN_FIGURES_PER_PROCESS) < 2:
            return None
        ours, theirs = multiprocessing.Pipe()
        # what this process has buffered must not be written a second time by the fork's exit
        for stream in (sys.stdout, sys.stderr):
            with suppress(Exception):
                stream.flush()
        process = multiprocessing.get_context("fork").Process(target=_serve,
                                                              args=(theirs, ours, tuple(figure_formats)),
                                                              name="mndtrial-report")
        process.start()
        theirs.close()
        writer = cls(process, ours)
        if trial is not None:
            writer.report_on(trial, plan)
        return writer

    def report_on(self, trial: Trial, plan: AnalysisPlan | None = None) -> None:
        """The trial the report is of, and the plan that will run on it (to draw ahead from)."""
        ahead = None
        if plan is not None:
            from ..analysis.frame import jsonable

            # the plan as results.json will hold it, and the sections whose outputs will come
            ahead = (jsonable(plan.to_dict()), list(plan.enabled_sections()))
        self._post(("trial", trial, plan, ahead))

    def section_done(self, name: str, output: Any) -> None:
        """An analysis section has ended with `output` (its results.json block): `AnalysisPlan.run`'s
        `on_section`."""
        self._post(("section", name, output))

    def submit(self, out_dir: str | Path, results: AnalysisResults, figure_formats: Sequence[str]) -> None:
        """Have the fork write `out_dir/report.html` and `out_dir/figures/` from `results`."""
        self._post(("write", Path(out_dir), results, tuple(figure_formats)))

    def result(self) -> dict[str, Any]:
        """What `write_analysis_report` returned in the fork, once it has written everything; an
        error raised there is raised here."""
        try:
            kind, payload = self._connection.recv()
            self._answered = True
        except (EOFError, OSError):
            self._process.join(5)
            raise ReportProcessLost(f"the report process ended without writing the report "
                                    f"(exit code {self._process.exitcode})") from None
        if kind == "error":
            raise payload
        return payload

    def close(self) -> None:
        """End the fork (and any process drawing under it) if it is still running."""
        self._outbox.put(None)
        self._sender.join(5)
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

    def _post(self, message: tuple) -> None:
        # pickled here, so that what is sent is what the message held when it was posted
        self._outbox.put(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def _send_all(self) -> None:
        while (payload := self._outbox.get()) is not None:
            try:
                self._connection.send_bytes(payload)
            except OSError:  # the fork has ended: `result()` says so
                return


def _serve(connection: Connection, other_end: Connection, formats_ahead: tuple[str, ...]) -> None:
    """The fork: import the report's stack, draw what it can ahead as the trial, plan and sections
    arrive, then write the report from the results and send back the paths."""
    other_end.close()  # so that this end sees EOF when the parent goes
    os.setpgid(0, 0)  # the drawing processes forked from here are ended with this one
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the CLI's handler (which raises): just end
    # matplotlib and pandas are imported while the parent imports its own stack and computes
    from .drawing_ahead import DrawingAhead

    ahead = DrawingAhead(formats_ahead)
    while True:
        if ahead.waiting and not connection.poll():
            if ahead.sections_ended:  # the analysis has ended: its CPU is free for drawing
                ahead.draw_the_rest()
            else:
                ahead.draw_next()
            continue
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return  # the parent stopped before its results (an error, Ctrl-C): nothing to write
        if message[0] == "trial":
            ahead.trial_and_plan(*message[1:])
        elif message[0] == "section":
            ahead.section_done(*message[1:])
        else:
            break
    _, out_dir, results, figure_formats = message
    try:
        if ahead.trial is None:
            raise RuntimeError("the report writer was given results but no trial (`ReportProcess.report_on`)")
        reply: tuple[str, Any] = ("written", ahead.write_report(out_dir, results, figure_formats))
    except Exception as exc:  # sent back and raised in the parent, where the CLI reports it
        reply = ("error", _portable(exc))
    with suppress(OSError):
        connection.send(reply)
def _portable(exc: Exception) -> Exception:
    """`exc` if it survives pickling, else a RuntimeError carrying its traceback as text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError("writing the report failed:\n" + "".join(traceback.format_exception(exc)))
