"""`mndtrial power`: Monte Carlo operating characteristics of designs side by side.

Writes the engine's table (power.csv, power.json with a provenance block, trials.csv.gz) and
power.html (`mndtrial.report.power_html`) into `--out`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import typer

from ..errors import ParameterError
from ..report import collect_provenance
from ..report.power_html import write_power_outputs
from . import app, state
from .console import command_line, step

_RANGE = re.compile(r"^n=(\d+):(\d+):(\d+)$")
TABLE_COLUMNS = ("strategy", "n", "power", "power_mcse", "alpha", "events_mean", "n_randomised_mean",
                 "n_screened_mean", "cox_hr_geometric_mean", "slope_mean")


def parse_vary(text: str) -> list[int]:
    """'n=200:600:100' -> [200, 300, 400, 500, 600] (stop included); 'n=300' -> [300]."""
    single = re.match(r"^n=(\d+)$", text)
    if single:
        return [int(single.group(1))]
    m = _RANGE.match(text)
    if not m:
        raise ParameterError("--vary", text, "use n=START:STOP:STEP or n=VALUE (total randomised)")
    start, stop, step = (int(g) for g in m.groups())
    if step < 1 or stop < start:
        raise ParameterError("--vary", text, "needs STOP >= START and STEP >= 1")
    return list(range(start, stop + 1, step))


@app.command("power")
def power_command(
    ctx: typer.Context,
    design: str = typer.Option("mirocals", "--design", help="Design family: mirocals, imodals or exponential."),
    vary: str = typer.Option(None, "--vary", help="Sample sizes: n=START:STOP:STEP (total randomised); "
                                                  "default: the design's own n."),
    designs: str = typer.Option("all-comers,enriched,stratified", "--designs",
                                help="Strategies, comma-separated: all-comers, enriched, stratified."),
    n_trials: int = typer.Option(1000, "--n-trials", help="Simulated trials per design point."),
    seed: int = typer.Option(1, "--seed", help="Seed (same seed, same numbers for any backend/chunking)."),
    alpha: float = typer.Option(0.025, "--alpha", help="One-sided alpha of the primary test."),
    alpha_split: float = typer.Option(0.5, "--alpha-split",
                                      help="Whole population's share of alpha in the stratified strategy."),
    null: bool = typer.Option(False, "--null", help="No treatment effect: the table's power is the type I error."),
    hazard_ratio: float = typer.Option(None, "--hazard-ratio",
                                       help="Treatment hazard ratio of the exponential design (its default, 1, "
                                            "is the null: power = type I error). Exponential design only."),
    no_slope: bool = typer.Option(False, "--no-slope", help="Skip the ALSFRS-R slope model (faster)."),
    backend: str = typer.Option("local", "--backend", help="local (processes) or dask."),
    workers: int = typer.Option(None, "--workers", help="Processes (local) or LocalCluster workers (dask)."),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address (with --backend dask)."),
    chunk_size: int = typer.Option(256, "--chunk-size", help="Trials per chunk."),
    out: Path = typer.Option(..., "--out", help="Folder for power.csv, power.json, trials.csv.gz and power.html."),
    parameters: Path = typer.Option(None, "--parameters", help="A parameter file replacing the shipped parameters.toml "
                                                               "(e.g. from `mndtrial calibrate`); simulated designs only."),
) -> None:
    """Simulate and analyse many trials per design point; print and write the power table."""
    from ..power import STRATEGIES, design_points, family, power

    if hazard_ratio is not None and design != "exponential":
        raise ParameterError("--hazard-ratio", hazard_ratio, f"applies to --design exponential only; the '{design}' "
                                                             "design's effect comes from its drug model (--null for none)")
    if hazard_ratio is not None and null:
        raise ParameterError("--hazard-ratio", hazard_ratio, "contradicts --null (no effect); give one of them")
    if parameters is not None and design == "exponential":
        raise ParameterError("--parameters", str(parameters), "applies to the simulated designs (mirocals, imodals)")
    if parameters is not None:
        from ..sim import load_parameters

        fam = family(design, parameters=load_parameters(parameters))
    else:
        fam = family(design, **({"hazard_ratio": hazard_ratio} if hazard_ratio is not None else {}))
    if null:
        fam = fam.without_effect()
    null = fam.under_null  # e.g. the exponential design's default HR 1
    strategies = [s.strip() for s in designs.split(",") if s.strip()]
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown or not strategies:
        raise ParameterError("--designs", designs, f"choose from {list(STRATEGIES)}")
    n_values = parse_vary(vary) if vary else [_default_n(fam)]
    points = design_points(fam, n_values, strategies, alpha=alpha, alpha_split=alpha_split, slope=not no_slope)
    res = power(points, n_trials=n_trials, seed=seed, backend=backend, chunk_size=chunk_size, n_workers=workers,
                client=scheduler, progress=not state["quiet"])
    provenance = collect_provenance(seed=seed, command=command_line(ctx), extra={
        "design": design, "strategies": strategies, "n_values": n_values, "n_trials": n_trials, "alpha": alpha,
        "alpha_split": alpha_split, "null": null, "slope": not no_slope,
        **({"parameters": str(parameters)} if parameters is not None else {}),
        **({"hazard_ratio": hazard_ratio} if hazard_ratio is not None else {}),
        **({"power_column": "type I error (no treatment effect)"} if null else {})})
    with step("Writing the power table and power.html"):
        paths = write_power_outputs(out, res, provenance, title=f"Monte Carlo {'type I error' if null else 'power'}:"
                                                               f" {fam.name}", settings=provenance.extra)
        # Said at the top of power.json too, not only in the provenance block.
        data = json.loads(paths["json"].read_text())
        data = {"under_null": null, "power_column": "type I error" if null else "power", **data}
        paths["json"].write_text(json.dumps(data, indent=2))
    if state["quiet"]:
        typer.echo(str(out))
        return
    columns = list(TABLE_COLUMNS)
    if (res.table["n_compared_mean"] != res.table["n_randomised_mean"]).any():
        # Several active arms: events_mean is of the compared arms; show the totals beside it.
        columns[columns.index("events_mean") + 1:columns.index("events_mean") + 1] = [
            "n_compared_mean", "events_all_arms_mean"]
    shown = res.table[[c for c in columns if c in res.table.columns]]
    label = "type I error" if null else "power"
    typer.echo(f"{fam.name}: {label} over {n_trials} simulated trials per point (seed {seed})")
    if null:
        typer.echo("under the null (no treatment effect): the 'power' column is the type I error")
    typer.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    typer.echo(f"written: {paths['csv']}, {paths['json']}, {paths['trials']}")
    typer.echo(f"report: {paths['report']}")


def _default_n(fam) -> int:
    design = getattr(fam, "design", None)
    if design is not None:
        return int(design.n_randomised)
    return 2 * fam.template.n_per_arm
