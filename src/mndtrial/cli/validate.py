"""`mndtrial validate DIR`: check a trial folder and print a one-screen summary."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import TrialDataError
from . import app, state


@app.command()
def validate(folder: Path = typer.Argument(..., help="Trial folder (participants/survival/... .csv or .parquet).")) -> None:
    """Validate a trial folder: exit 0 with a summary, or exit 1 listing every problem."""
    from ..data import read_trial
    from ..data.validate import unrecognised_columns
    from ..errors import problem_lines
    try:
        trial = read_trial(folder)
    except TrialDataError as exc:
        # Every problem, the same rule broken in the same column on many rows sharing one line.
        n = len(exc.problems)
        typer.echo(f"{folder}: {n} problem{'s' if n != 1 else ''} in the trial data:", err=True)
        for line in problem_lines(exc.problems):
            typer.echo(f"  - {line}", err=True)
        raise typer.Exit(1)
    if state["quiet"]:
        return  # the exit code says it is valid
    typer.echo(f"{folder}: valid")
    for line in unrecognised_columns(trial.tables()):
        typer.echo(f"note: {line}")
    typer.echo(trial.summary().to_text())
