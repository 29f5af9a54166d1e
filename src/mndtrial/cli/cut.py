"""`mndtrial cut DIR --events K | --date DAY --out OUT`: the trial folder as known on a date."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import ParameterError
from . import app, state
from .console import output_folder


@app.command()
def cut(folder: Path = typer.Argument(..., help="Trial folder with participants.entry_day (calendar day of randomisation)."),
        out: Path = typer.Option(..., "--out", callback=output_folder, help="Folder to write the cut trial to."),
        events: int | None = typer.Option(None, "--events", help="Cut on the day of the K-th endpoint event."),
        date: float | None = typer.Option(None, "--date", help="Cut on this calendar day (entry_day's scale)."),
        fmt: str = typer.Option("csv", "--format", help="csv or parquet.")) -> None:
    """Cut a trial in calendar time: later participants removed, survival censored at the cut,
    later visits and samples dropped (docs/data-model.md)."""
    if (events is None) == (date is None):
        raise ParameterError("--events/--date", (events, date), "give exactly one of them")
    from ..data import cut_by_date, event_cut_day, read_trial  # the data stack only when the command runs

    trial = read_trial(folder)
    day = event_cut_day(trial, events) if events is not None else date
    if events is not None and day != day:  # NaN: fewer events than asked
        raise ParameterError("--events", events, f"the trial has only {int(trial.survival['event'].sum())} events")
    result = cut_by_date(trial, day)
    path = result.write(out, format=fmt)
    if not state["quiet"]:
        s = result.summary()
        typer.echo(f"cut at calendar day {day:g}: {s.n_participants} participants, {s.events} events")
    typer.echo(str(path))
