"""`mndtrial analyze DIR [--plan PLAN.toml] --out OUT`: run an analysis plan, write results.json.

Computing (`AnalysisPlan.run`) and printing (`print_summary`) are apart, so other outputs (an
HTML report) can reuse the same `AnalysisResults`: OUT/report.html and OUT/figures/ are written
from them by `mndtrial.report`, and results.json's provenance gains the input hashes, the plan
and the command that reproduces it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from . import app, state
from .console import command_line, echo_paths, output_folder, step

if TYPE_CHECKING:  # the analysis stack (pandas, scipy, lifelines) is imported when a command runs
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from ..analysis import AnalysisResults


def endpoint_event_text(t: dict, endpoint: str) -> str:
    """'12 events (7 endpoint 'death' events; placebo: 6 (4), ...)': all events, then the plan's endpoint events."""
    arms = "; ".join(f"{a}: n={v['n']}, {v['events_all']} events ({v['endpoint_events']} endpoint)"
                     for a, v in t["arms"].items())
    return f"{t['events_all']} events in all, {t['endpoint_events']} endpoint ({endpoint}) events [{arms}]"


def print_summary(results: AnalysisResults, console: Console | None = None) -> None:
    """Print each section's summary tables as rich tables."""
    from rich.console import Console
    from rich.markup import escape

    console = console or Console()
    t = results.trial
    console.print(escape(f"Analysis '{results.plan.name}' of trial '{t['name']}': {t['n_participants']} participants, "
                         f"{endpoint_event_text(t, results.plan.endpoint)}"))
    for warning in t.get("warnings", []):
        console.print(f"[bold yellow]warning[/bold yellow]: {escape(warning)}")
    for title, frame in results.summary_tables().items():
        console.print(_rich_table(title, frame))
    section_warnings = results.warnings()
    if section_warnings:
        console.print(f"[bold yellow]{sum(map(len, section_warnings.values()))} warning(s) from the analyses"
                      "[/bold yellow]:")
        for path, messages in section_warnings.items():
            for message in messages:
                console.print(escape(f"  {path}: {message}"))
    errors = results.errors()
    if errors:
        console.print(f"[bold red]{len(errors)} analysis(es) could not be computed[/bold red]:")
        for path, err in errors.items():
            console.print(escape(f"  {path}: {err['analysis']}: {err['reason']}"))


def _rich_table(title: str, frame: pd.DataFrame) -> Table:
    from rich.markup import escape
    from rich.table import Table

    # cell text such as "onset_site[bulbar]" must not be read as rich markup
    table = Table(title=escape(title), title_justify="left", show_lines=False)
    for i, col in enumerate(frame.columns):
        # the first column names the row (an arm, a model, a subgroup): it keeps its whole width
        # and the other columns wrap instead, so an arm name is never cut to "place…"
        widest = max([len(str(v)) for v in frame[col]] + [1]) if i == 0 else None
        table.add_column(escape(str(col)), no_wrap=i == 0, min_width=widest)
    for row in frame.itertuples(index=False):
        table.add_row(*["" if v is None else escape(str(v)) for v in row])
    return table


@app.command()
def analyze(ctx: typer.Context,
            folder: Path = typer.Argument(..., help="Trial folder (as read by `mndtrial validate`)."),
            plan: Path | None = typer.Option(None, "--plan", help="Analysis plan TOML (default: built-in plan)."),
            out: Path = typer.Option(..., "--out", callback=output_folder,
                                     help="Output folder: results.json, plan.toml, report.html, figures/."),
            keep_going: bool = typer.Option(False, "--keep-going",
                                            help="Record analyses that cannot be computed in results.json "
                                                 "(on_error = \"record\") instead of stopping."),
            svg: bool = typer.Option(False, "--svg", help="Also write every figure as SVG (OUT/figures/*.svg); "
                                                          "the report embeds the PNGs.")) -> None:
    """Run the analysis plan on a trial folder, write OUT/results.json and OUT/report.html, print a summary.

    OUT/plan.toml is the plan as run, every default written out, so the run can be repeated;
    OUT/figures/ holds the report's figures as PNG (and SVG with --svg).
    """
    import pandas  # noqa: F401 - imported before the fork: the report writer shares it
    from ..report.background import ReportProcess

    formats = ("png", "svg") if svg else ("png",)
    # forked once pandas is imported, the report's writer imports matplotlib while this process
    # imports the analysis, reads the trial and runs the plan; it is then told the trial, each
    # section's block as it ends and the results, and draws each figure as soon as it can
    # (`report.background`). Forked before pandas it imported pandas again (measured slower);
    # forked after the analysis's imports it was ready only after the analysis had ended.
    report_writer = ReportProcess.start(figure_formats=formats)
    try:
        from ..analysis import AnalysisPlan
        from ..data import read_trial
        from ..report import collect_provenance

        trial = read_trial(folder)
        analysis_plan = AnalysisPlan.from_toml(plan) if plan is not None else AnalysisPlan()
        if keep_going:
            analysis_plan = analysis_plan.model_copy(update={"on_error": "record"})
        if report_writer is not None:
            report_writer.report_on(trial, analysis_plan)
        with step("Running the analysis plan"):
            results = analysis_plan.run(trial, on_section=None if report_writer is None else report_writer.section_done)
        provenance = collect_provenance(inputs=[folder] + ([plan] if plan is not None else []),
                                        plan=analysis_plan.to_dict(), command=command_line(ctx))
        with step("Writing results.json, the report and figures"):
            written, summary = _write_outputs(out, trial, results, provenance, formats, report_writer)
    finally:
        if report_writer is not None:
            report_writer.close()
    (Path(out) / "plan.toml").write_text(analysis_plan.to_toml(), encoding="utf-8")
    if state["quiet"]:
        echo_paths(written["results"], written["report"])
        return
    typer.echo(summary, nl=False)
    typer.echo(f"results written to {written['results']}")
    typer.echo(f"report written to {written['report']}")


def _write_outputs(out: Path, trial, results: AnalysisResults, provenance, formats: tuple[str, ...],
                   report_writer) -> tuple[dict, str]:
    """results.json, report.html and the figures; and the summary as printed text.

    With a report writer (a forked process, `report.background`) this process writes
    results.json and formats the summary while the fork draws the figures.
    """
    from ..report.provenance import results_with_provenance

    if report_writer is None:
        from ..report.analysis_report import write_analysis_outputs

        written = write_analysis_outputs(out, trial, results, provenance, figure_formats=formats)
        return written, _summary_text(results)
    from ..report.background import ReportProcessLost

    results = results_with_provenance(results, provenance)
    path = results.write_json(Path(out) / "results.json")
    report_writer.submit(out, results, formats)
    summary = _summary_text(results)
    try:
        return {"results": path, **report_writer.result()}, summary
    except ReportProcessLost as lost:
        from ..report.analysis_report import write_analysis_report

        typer.echo(f"note: {lost}; writing it here", err=True)
        return {"results": path, **write_analysis_report(out, trial, results, figure_formats=formats)}, summary


def _summary_text(results: AnalysisResults) -> str:
    """`print_summary`'s output as text, for printing after the outputs are written."""
    if state["quiet"]:
        return ""
    from rich.console import Console

    console = Console(width=120)
    with console.capture() as captured:
        print_summary(results, console)
    return captured.get()
