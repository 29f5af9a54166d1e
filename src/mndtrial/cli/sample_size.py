"""`mndtrial sample-size`: the smallest n whose simulated power reaches a target.

A command over `mndtrial.power.sample_size` (bisection over n on a grid, every n simulated with
the same seed). Prints the answer with its Monte Carlo SE and the n evaluated; with `--out`,
writes sample-size.json (answer, every evaluated point, provenance) and sample-size.csv.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..errors import ParameterError
from . import app, state
from .console import command_line, output_folder, step
from .power import PRIMARY_CHOICES, parse_vary_axis

SHOWN = ("n", "power", "power_mcse", "events_mean", "n_screened_mean")


@app.command("sample-size")
def sample_size_command(
    ctx: typer.Context,
    design: str = typer.Option("mirocals", "--design", help="Design family: mirocals, imodals or exponential."),
    target_power: float = typer.Option(0.8, "--target-power", help="Power to reach (0-1)."),
    strategy: str = typer.Option("all-comers", "--strategy", help="all-comers, enriched or stratified."),
    primary: str = typer.Option("stratified-logrank", "--primary",
                                help="Primary test: logrank, stratified-logrank or cox (as in `mndtrial power`)."),
    set_: list[str] = typer.Option(None, "--set", help="A design parameter, NAME=VALUE (repeatable), e.g. "
                                                       "hazard_ratio=0.7 for the exponential design."),
    n_min: int = typer.Option(50, "--n-min", help="Smallest total n searched."),
    n_max: int = typer.Option(2000, "--n-max", help="Largest total n searched."),
    step_n: int = typer.Option(10, "--step", help="Grid of n: multiples of STEP."),
    n_trials: int = typer.Option(2000, "--n-trials", help="Simulated trials per n evaluated."),
    seed: int = typer.Option(1, "--seed", help="Seed (the same for every n: common random numbers)."),
    alpha: float = typer.Option(0.025, "--alpha", help="One-sided alpha of the primary test."),
    workers: int = typer.Option(None, "--workers", help="Processes."),
    out: Path | None = typer.Option(None, "--out", callback=output_folder, help="Folder for sample-size.json and sample-size.csv."),
) -> None:
    """Search the smallest total n (on a grid) whose Monte Carlo power reaches --target-power."""
    from ..power import STRATEGIES, family, sample_size
    from ..report import collect_provenance

    if strategy not in STRATEGIES:
        raise ParameterError("--strategy", strategy, f"choose from {list(STRATEGIES)}")
    if primary not in PRIMARY_CHOICES:
        raise ParameterError("--primary", primary, f"choose from {list(PRIMARY_CHOICES)}")
    changes = {}
    for text in set_ or ():
        name, values = parse_vary_axis(text)
        if name == "n" or len(values) != 1:
            raise ParameterError("--set", text, "give one design parameter and one value, NAME=VALUE (n is searched)")
        changes[name] = values[0]
    fam = family(design)
    try:
        fam = fam.with_parameters(**changes)
    except ParameterError as exc:
        raise ParameterError("--set", f"{exc.parameter}={exc.value}", exc.rule) from None
    test, strata = PRIMARY_CHOICES[primary]
    with step(f"Searching n in [{n_min}, {n_max}] for power {target_power:g}"):
        res = sample_size(fam, target_power, strategy, n_min=n_min, n_max=n_max, step=step_n, n_trials=n_trials,
                          seed=seed, alpha=alpha, primary_strata=strata, primary_test=test, n_workers=workers)
    evaluated = res.evaluated
    if res.n is None:
        answer = f"not reached: power {evaluated['power'].max():.3g} at n = {n_max} (the largest searched)"
    else:
        mcse = float(evaluated.set_index("n").loc[res.n, "power_mcse"])
        answer = f"n = {res.n}: power {res.power:.3g} (Monte Carlo SE {mcse:.2g})"
    if out is not None:
        provenance = collect_provenance(seed=seed, command=command_line(ctx), extra={
            "design": design, "set": changes, "strategy": strategy, "primary": primary, "alpha": alpha,
            "n_trials": n_trials, "n_min": n_min, "n_max": n_max, "step": step_n})
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "sample-size.json").write_text(
            json.dumps({**res.to_dict(), "provenance": provenance.to_dict()}, indent=2) + "\n", encoding="utf-8")
        evaluated.to_csv(Path(out) / "sample-size.csv", index=False)
    if not state["quiet"]:
        typer.echo(f"{fam.name}, {strategy}, primary {primary}, target power {target_power:g} "
                   f"({n_trials} trials per n, seed {seed}):")
        typer.echo(evaluated[[c for c in SHOWN if c in evaluated.columns]].to_string(
            index=False, float_format=lambda v: f"{v:.4g}"))
    if state["quiet"] and out is not None:  # the answer is in the files
        typer.echo(f"{Path(out) / 'sample-size.json'}\n{Path(out) / 'sample-size.csv'}")
        return
    typer.echo(answer)
    if out is not None:
        typer.echo(f"written: {Path(out) / 'sample-size.json'}, {Path(out) / 'sample-size.csv'}")
