"""`mndtrial simulate`: write simulated trials as trial folders that `mndtrial validate` accepts."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import ParameterError
from . import app, state
from .console import output_folder


@app.command()
def simulate(
    design: str = typer.Option("mirocals", "--design", help="Preset design: mirocals or imodals."),
    n_trials: int = typer.Option(1, "--n-trials", help="How many trials to simulate."),
    seed: int = typer.Option(..., "--seed", help="Seed (same seed, same trials)."),
    out: Path = typer.Option(..., "--out", callback=output_folder, help="Folder to write: the trial folder itself when --n-trials is 1, "
                                                "else one sub-folder per trial (trial-00000, ...)."),
    first_trial: int = typer.Option(0, "--first-trial", help="Index of the first trial of the run to write."),
    parameters: Path = typer.Option(None, "--parameters", help="A parameter file replacing the shipped "
                                                               "parameters.toml (same layout)."),
    format: str = typer.Option("csv", "--format", help="Table format: csv or parquet."),
) -> None:
    """Simulate trials of a preset design (IL-2 in ALS) and write each as a trial folder."""
    from ..sim import PRESETS, load_parameters
    from ..sim import simulate as run

    if design not in PRESETS:
        raise ParameterError("--design", design, f"must be one of {sorted(PRESETS)}")
    if format not in ("csv", "parquet"):
        raise ParameterError("--format", format, "must be csv or parquet")
    params = load_parameters(parameters) if parameters is not None else None
    batch = run(PRESETS[design](params), n_trials=n_trials, seed=seed, first_trial=first_trial)
    indices = list(batch.trial_index)
    for i in indices:
        folder = out if n_trials == 1 else out / f"trial-{i:05d}"
        batch.trial(i).write(folder, format=format)
    screening = batch.metadata["screening"]
    if not state["quiet"]:
        where = out if n_trials == 1 else f"{out}/trial-*"
        typer.echo(f"{n_trials} simulated {design} trial(s) (seed {seed}) written to {where}; "
                   f"screened {int(screening['screened'].sum())}, randomised {int(screening['randomised'].sum())}.")
    else:
        typer.echo(str(out))
