"""`mndtrial validate DIR`: check a trial folder and print a one-screen summary."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import TrialDataError
from . import app


@app.command()
def validate(folder: Path = typer.Argument(..., help="Trial folder (participants/survival/... .csv or .parquet).")) -> None:
    """Validate a trial folder: exit 0 with a summary, or exit 1 listing every problem."""
    from ..data import read_trial
    try:
        trial = read_trial(folder)
    except TrialDataError as exc:
        typer.echo(f"{folder}: INVALID", err=True)
        for p in exc.problems:
            typer.echo(f"  - {p}", err=True)
        typer.echo(f"{len(exc.problems)} problem(s) found.", err=True)
        raise typer.Exit(1)
    typer.echo(f"{folder}: valid")
    typer.echo(trial.summary().to_text())
