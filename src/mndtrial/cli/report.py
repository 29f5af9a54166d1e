"""`mndtrial report RESULTS.json --out DIR [--trial FOLDER]`: rebuild report.html from saved results.

Nothing is recomputed: the numbers are those in results.json (`AnalysisResults.read_json`).
The figures that need the data (per-subgroup Kaplan–Meier, PH check, ALSFRS-R lines, Treg) are
drawn when `--trial` gives the analysed trial folder, which must be the one results.json records
(SHA-256 of each file); without it those sections say what is missing.
"""

from __future__ import annotations

from pathlib import Path

import typer

from . import app, state
from .console import output_folder, step


@app.command("report")
def report_command(
    results: Path = typer.Argument(..., help="results.json written by `mndtrial analyze` (or `demo`)."),
    out: Path = typer.Option(..., "--out", callback=output_folder, help="Folder for report.html and figures/."),
    trial: Path | None = typer.Option(None, "--trial", help="The analysed trial folder, for the figures that "
                                                            "need the data (checked against results.json)."),
    svg: bool = typer.Option(False, "--svg", help="Also write every figure as SVG (OUT/figures/*.svg), "
                                                  "as `mndtrial analyze --svg`."),
) -> None:
    """Rebuild OUT/report.html and OUT/figures/ from a saved results.json (aggregates only)."""
    from ..analysis import AnalysisResults  # the analysis stack loads when the command runs
    from ..data import read_trial
    from ..report.analysis_report import check_trial_matches, rebuild_report

    saved = AnalysisResults.read_json(results)
    data = None
    if trial is not None:
        check_trial_matches(saved, trial)
        data = read_trial(trial)
    with step("Writing the report and figures"):
        written = rebuild_report(saved, data).write(out, figure_formats=("png", "svg") if svg else ("png",))
    typer.echo(str(written["report"]) if state["quiet"] else f"report written to {written['report']}")
