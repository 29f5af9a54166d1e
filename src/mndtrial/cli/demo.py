"""`mndtrial demo`: the main job on built-in defaults, with no input.

It makes a trial, writes it as a trial folder (the same files a user brings), reads and validates
it back, builds the report with its figures, and says where everything is. Every output carries
provenance, including the command that reproduces it.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from ..data import Trial, read_trial
from ..data.example import example_trial
from ..report import collect_provenance, trial_report
from . import app, state
from .console import command_line, step

# MIROCALS's pre-specified CSF-pNfH cut-off (pg/mL) between its "low" and "high" groups
# (shared/reference/mnd-evidence.md).
CSF_PNFH_CUTOFF = 3700.0


def _km_groups(trial: Trial) -> dict[str, dict[str, Trial]]:
    p = trial.participants
    low = p.loc[p["csf_pnfh"] <= CSF_PNFH_CUTOFF, "subject_id"]
    high = p.loc[p["csf_pnfh"] > CSF_PNFH_CUTOFF, "subject_id"]
    groups = {f"<= {CSF_PNFH_CUTOFF:g} pg/mL": low, f"> {CSF_PNFH_CUTOFF:g} pg/mL": high}
    return {f"CSF-pNfH cut at {CSF_PNFH_CUTOFF:g}": {k: trial.select(v) for k, v in groups.items() if len(v)}}


@app.command()
def demo(ctx: typer.Context,
         out: Path = typer.Option(Path("demo-out"), "--out", help="Folder for the demo's outputs."),
         seed: int = typer.Option(2026, "--seed", help="Seed of the demo trial.")) -> None:
    """Make a trial, write and validate its folder, analyse it and write demo-out/report.html."""
    start = time.perf_counter()
    argv = command_line(ctx)
    with step("Making the demo trial"):
        trial = example_trial(seed=seed)
        folder = trial.write(out / "trial")
        trial = read_trial(folder)
    with step("Writing the report and figures"):
        prov = collect_provenance(inputs=folder, seed=seed, command=argv)
        written = trial_report(trial, km_groups=_km_groups(trial), provenance=prov).write(out)
    if not state["quiet"]:
        typer.echo(trial.summary().to_text())
        typer.echo(f"Trial folder: {folder}  (analyse your own with `mndtrial analyze FOLDER --out OUT`)")
        typer.echo(f"Figures (PNG and SVG): {out / 'figures'}")
        typer.echo(f"Done in {time.perf_counter() - start:.1f} s.")
    typer.echo(f"Report: {written['report']}")
