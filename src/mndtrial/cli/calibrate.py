"""`mndtrial calibrate TRIAL_DIR --out params.toml`: fit the cohort model to a trial folder."""

from __future__ import annotations

from pathlib import Path

import typer

from . import app, state
from .console import output_file


@app.command()
def calibrate(
    trial_dir: Path = typer.Argument(..., help="Trial folder (e.g. written by `mndtrial import-proact`)."),
    out: Path = typer.Option(..., "--out", callback=output_file, help="Parameter file to write (same layout as parameters.toml)."),
    arm: str = typer.Option(None, "--arm", help="Calibrate on this arm only (e.g. placebo); default: all arms."),
    report: Path = typer.Option(None, "--report", callback=output_file, help="Also write the calibration report here (calibration.html)."),
    replicates: int = typer.Option(200, "--replicates", help="Simulated cohorts in the report's predictive check."),
    seed: int = typer.Option(1, "--seed", help="Seed of the report's simulated cohorts."),
    parameters: Path = typer.Option(None, "--parameters", help="Defaults for what the data cannot inform "
                                                               "(the shipped parameters.toml if not given)."),
) -> None:
    """Estimate the simulator's natural history from patient-level data; write a parameter file."""
    from ..data import read_trial
    from ..errors import ParameterError
    from ..sim import load_parameters
    from ..sim.fit_cohort import calibrate as fit, file_hashes

    if replicates < 200 and report is not None:
        raise ParameterError("--replicates", replicates, "the predictive check needs at least 200 replicate cohorts")
    trial = read_trial(trial_dir)
    defaults = load_parameters(parameters) if parameters is not None else None
    result = fit(trial, arm, defaults=defaults, files=file_hashes(trial_dir), name=str(trial_dir))
    path = result.write(out)
    written = [str(path)]
    if report is not None:
        from ..report.calibration_report import write_calibration_report

        written.append(str(write_calibration_report(report, trial, result, arm, replicates, seed)["report"]))
    if state["quiet"]:
        typer.echo("\n".join(written))
        return
    s = result.summary
    d = result.dataset
    typer.echo(f"Calibrated on {d['n_participants']} participants ({d['selection']}), {d['deaths']} deaths, "
               f"{d['visits']} ALSFRS-R visits after baseline.")
    typer.echo(f"{int((s['status'] == 'estimated').sum())} parameters estimated, "
               f"{int((s['status'] != 'estimated').sum())} kept from the defaults (reasons in the file).")
    shown = s[s["status"] == "estimated"][["parameter", "value", "se", "default"]]
    typer.echo(shown.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    typer.echo("Written: " + ", ".join(written))
