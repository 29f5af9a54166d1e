"""`mndtrial import-proact SRC_DIR --out DIR`: import a PRO-ACT export into a trial folder."""

from __future__ import annotations

from pathlib import Path

import typer

from . import app, state
from .console import output_folder


@app.command("import-proact")
def import_proact_command(
    src: Path = typer.Argument(..., help="Folder of PRO-ACT CSV files (current download or 2016 archive)."),
    out: Path = typer.Option(..., "--out", callback=output_folder, help="Trial folder to write (tables, trial.toml, import-log.json)."),
    format: str = typer.Option("csv", "--format", help="Table format: csv or parquet."),
) -> None:
    """Import PRO-ACT into the mndtrial data model; print what could not be mapped as-is."""
    from ..data.proact import import_proact
    if format not in ("csv", "parquet"):
        raise typer.BadParameter("must be csv or parquet", param_hint="--format")
    result = import_proact(src)
    folder = result.write(out, format=format)
    if state["quiet"]:
        typer.echo(str(folder))
        return
    info = result.log.info
    typer.echo(f"Imported {info['imported']['participants']} of {info['subjects_in_export']} PRO-ACT subjects "
               f"into {folder} (naming: {', '.join(sorted(set(info['naming'].values())))}).")
    typer.echo(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in info["imported"].items()))
    typer.echo("Import log (full detail with example subject ids in import-log.json):")
    typer.echo(result.log.summary_text())
