"""`mndtrial analyze DIR [--plan PLAN.toml] --out OUT`: run an analysis plan, write results.json.

Computing (`AnalysisPlan.run`) and printing (`print_summary`) are apart, so other outputs (an
HTML report) can reuse the same `AnalysisResults`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..analysis import AnalysisPlan, AnalysisResults
from ..data import read_trial
from . import app, state


def print_summary(results: AnalysisResults, console: Console | None = None) -> None:
    """Print each section's summary tables as rich tables."""
    console = console or Console()
    t = results.trial
    arms = ", ".join(f"{a}: {v['n']} ({v['events']} events)" for a, v in t["arms"].items())
    console.print(f"[bold]Analysis '{results.plan.name}'[/bold] of trial '{t['name']}': "
                  f"{t['n_participants']} participants, {t['events']} events ({arms})")
    for title, frame in results.summary_tables().items():
        console.print(_rich_table(title, frame))
    errors = results.errors()
    if errors:
        console.print(f"[bold red]{len(errors)} analysis(es) could not be computed[/bold red]:")
        for path, err in errors.items():
            console.print(escape(f"  {path}: {err['analysis']}: {err['reason']}"))


def _rich_table(title: str, frame: pd.DataFrame) -> Table:
    # cell text such as "onset_site[bulbar]" must not be read as rich markup
    table = Table(title=escape(title), title_justify="left", show_lines=False)
    for col in frame.columns:
        table.add_column(escape(str(col)))
    for row in frame.itertuples(index=False):
        table.add_row(*["" if v is None else escape(str(v)) for v in row])
    return table


@app.command()
def analyze(folder: Path = typer.Argument(..., help="Trial folder (as read by `mndtrial validate`)."),
            plan: Path | None = typer.Option(None, "--plan", help="Analysis plan TOML (default: built-in plan)."),
            out: Path = typer.Option(..., "--out", help="Output folder; results.json and plan.toml are written there."),
            keep_going: bool = typer.Option(False, "--keep-going",
                                            help="Record analyses that cannot be computed in results.json "
                                                 "(on_error = \"record\") instead of stopping.")) -> None:
    """Run the analysis plan on a trial folder, write OUT/results.json and print a summary.

    OUT/plan.toml is the plan as run, every default written out, so the run can be repeated.
    """
    trial = read_trial(folder)
    analysis_plan = AnalysisPlan.from_toml(plan) if plan is not None else AnalysisPlan()
    if keep_going:
        analysis_plan = analysis_plan.model_copy(update={"on_error": "record"})
    results = analysis_plan.run(trial)
    path = results.write_json(Path(out) / "results.json")
    (Path(out) / "plan.toml").write_text(analysis_plan.to_toml(), encoding="utf-8")
    if not state["quiet"]:
        print_summary(results, Console(width=120))
    typer.echo(f"results written to {path}")
