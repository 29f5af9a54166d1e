"""`mndtrial demo`: the main job on built-in defaults, with no input."""

from __future__ import annotations

from pathlib import Path

import typer

from ..data import read_trial
from ..data.example import example_trial
from . import app


@app.command()
def demo(out: Path = typer.Option(Path("demo-out"), "--out", help="Folder for the demo's outputs.")) -> None:
    """Write the built-in example trial, read it back, validate it and print its summary."""
    folder = example_trial().write(out / "example-trial")
    trial = read_trial(folder)
    typer.echo(f"Example trial written to {folder} and validated.")
    typer.echo(trial.summary().to_text())
