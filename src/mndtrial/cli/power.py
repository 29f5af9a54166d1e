"""`mndtrial power`: Monte Carlo operating characteristics of designs side by side.

Writes the engine's table (power.csv, power.json with a provenance block, trials.parquet streamed
as the chunks finish) and
power.html (`mndtrial.report.power_html`) into `--out`.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import typer

from ..errors import ParameterError
from . import app, state
from .console import command_line, moved_paths, output_folder, staged_output, step

_AXIS = re.compile(r"^([a-z_][a-z0-9_]*)=(.+)$")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
TABLE_COLUMNS = ("strategy", "n", "power", "power_mcse", "alpha", "events_mean", "n_randomised_mean",
                 "n_screened_mean", "cox_hr_geometric_mean", "slope_mean")
# --primary: (test kind, strata; None = the design's strata) -> `design_points(primary_test, primary_strata)`
PRIMARY_CHOICES: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "logrank": ("logrank", ()), "stratified-logrank": ("logrank", None), "cox": ("cox", ())}


def parse_vary_axis(text: str) -> tuple[str, list[float]]:
    """'NAME=START:STOP:STEP' (stop included), 'NAME=V1,V2,...' or 'NAME=V' -> (NAME, values); n is whole.

    Example:
        >>> parse_vary_axis("hazard_ratio=0.6:0.8:0.1")
        ('hazard_ratio', [0.6, 0.7, 0.8])
        >>> parse_vary_axis("n=200,300")
        ('n', [200, 300])
    """
    m = _AXIS.match(text.strip())
    rule = "use NAME=START:STOP:STEP, NAME=V1,V2,... or NAME=VALUE (n: total randomised)"
    if not m:
        raise ParameterError("--vary", text, rule)
    name, spec = m.groups()
    if re.fullmatch(f"{_NUMBER}:{_NUMBER}:{_NUMBER}", spec):
        start, stop, step = (float(x) for x in spec.split(":"))
        if not step > 0 or stop < start:
            raise ParameterError("--vary", text, "needs STOP >= START and STEP > 0")
        count = int((stop - start) / step + 1e-9) + 1  # the tolerance keeps a STOP of 0.9 in 0.5:0.9:0.1
        values = [round(start + i * step, 12) for i in range(count)]
    elif re.fullmatch(f"{_NUMBER}(?:,{_NUMBER})*", spec):
        values = [float(x) for x in spec.split(",")]
    else:
        raise ParameterError("--vary", text, rule)
    if name == "n":
        if any(v != int(v) or v < 1 for v in values):
            raise ParameterError("--vary", text, "n (total randomised) takes whole numbers >= 1")
        return name, [int(v) for v in values]
    return name, values


def parse_vary(text: str) -> list[int]:
    """'n=200:600:100' -> [200, 300, 400, 500, 600] (stop included); 'n=300' -> [300]."""
    name, values = parse_vary_axis(text)
    if name != "n":
        raise ParameterError("--vary", text, "expected the sample size axis, n=START:STOP:STEP or n=VALUE")
    return values


def vary_points(fam: Any, vary: Sequence[str], strategies: Sequence[str], null: bool,
                primary: str = "stratified-logrank", **options: Any) -> tuple[list[int], list, dict[str, list], bool]:
    """Design points over the grid of `--vary` axes: (n values, points, {parameter: values}, all under null).

    `n` is the sample size; every other axis is a numeric design parameter of the family
    (`family.parameters`), each combination a design labelled with its values (and `under_null`
    when only some have no treatment effect: their power is the type I error).
    """
    from ..power import design_points

    if primary not in PRIMARY_CHOICES:
        raise ParameterError("--primary", primary, f"choose from {list(PRIMARY_CHOICES)}")
    test, strata = PRIMARY_CHOICES[primary]
    axes = dict()
    for text in vary or ():
        name, values = parse_vary_axis(text)
        if name in axes:
            raise ParameterError("--vary", text, f"{name} is varied twice; give its values in one --vary")
        axes[name] = values
    n_values = axes.pop("n", None) or [_default_n(fam)]
    points, nulls = [], []
    for combo in (dict(zip(axes, c)) for c in itertools.product(*axes.values())):
        try:
            variant = fam.with_parameters(**combo)
        except ParameterError as exc:
            raise ParameterError("--vary", f"{exc.parameter}={exc.value}", exc.rule) from None
        if null:
            variant = variant.without_effect()
            undone = [k for k, v in combo.items() if variant.parameters[k] != v]
            if undone:
                raise ParameterError("--vary", undone[0], "sets the treatment effect, which --null removes")
        label = fam.name + "".join(f" {k}={v:g}" for k, v in combo.items())
        for p in design_points(variant, n_values, strategies, primary_test=test, primary_strata=strata, **options):
            points.append(replace(p, labels={**p.labels, "design": label, **combo}))
            nulls.append(variant.under_null)
    if len(set(nulls)) > 1:  # some points have no effect (e.g. hazard_ratio=1): say which rows are type I error
        points = [replace(p, labels={**p.labels, "under_null": n}) for p, n in zip(points, nulls)]
    return n_values, points, axes, all(nulls)


@app.command("power")
def power_command(
    ctx: typer.Context,
    design: str = typer.Option("mirocals", "--design", help="Design family: mirocals, imodals or exponential."),
    vary: list[str] = typer.Option(None, "--vary", help="A design parameter and its values, repeat for a grid: "
                                                        "n=START:STOP:STEP (total randomised; default: the design's "
                                                        "own n), hazard_ratio=0.6,0.7, follow_up_days=540:720:90, "
                                                        "... (the design's numeric parameters)."),
    marker: str = typer.Option(None, "--marker", help="Screening marker(s) of the enrichment: csf_pnfh, serum_nfl "
                                                     "or both comma-separated (also --vary marker=...); "
                                                     "--vary cutoff=... is then on the CSF-pNfH scale (pg/mL)."),
    primary: str = typer.Option("stratified-logrank", "--primary",
                                help="Primary test: logrank (unadjusted), stratified-logrank (by the design's "
                                     "strata) or cox (Wald test of treatment, unstratified)."),
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
    chunk_size: int = typer.Option(None, "--chunk-size", help="Trials per chunk (default: ~56,000 participants a chunk)."),
    out: Path = typer.Option(..., "--out", callback=output_folder, help="Folder for power.csv, power.json, trials.parquet and power.html."),
    parameters: Path = typer.Option(None, "--parameters", help="A parameter file replacing the shipped parameters.toml "
                                                               "(e.g. from `mndtrial calibrate`); simulated designs only."),
    confirmatory: Path = typer.Option(None, "--confirmatory", help="A confirmatory design TOML (looks, spending, "
                                      "futility, adaptive enrichment; docs/power.md): group-sequential all-comers, "
                                      "fixed enriched and adaptive enrichment simulated patient by patient."),
    preset: str = typer.Option(None, "--preset", help="A shipped confirmatory design: il2-confirmatory."),
) -> None:
    """Simulate and analyse many trials per design point; print and write the power table."""
    if confirmatory is not None or preset is not None:
        _confirmatory(ctx, confirmatory, preset, n_trials, seed, null, backend, workers, chunk_size, out)
        return
    from ..power import STRATEGIES, family, power
    from ..report import collect_provenance

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
    no_effect = null  # --null: every design point without treatment effect
    if null:
        fam = fam.without_effect()
    strategies = [s.strip() for s in designs.split(",") if s.strip()]
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown or not strategies:
        raise ParameterError("--designs", designs, f"choose from {list(STRATEGIES)}")
    if hazard_ratio is not None and any(v.strip().startswith("hazard_ratio=") for v in vary or ()):
        raise ParameterError("--hazard-ratio", hazard_ratio, "contradicts --vary hazard_ratio=...; give one of them")
    # null: every point without effect, e.g. the exponential design's default HR 1
    from .power_sweep import split_markers, sweep_columns, sweep_points

    vary, markers = split_markers(vary, marker)
    n_values, points, varied, null = sweep_points(fam, markers, vary, strategies, no_effect, primary, alpha=alpha,
                                                  alpha_split=alpha_split, slope=not no_slope)
    # Everything, the streamed trials.parquet included, is written to a staging folder that
    # reaches `out` only when the run completes (an interrupted run leaves nothing that looks whole).
    with staged_output(out) as staging:
        res = power(points, n_trials=n_trials, seed=seed, backend=backend, chunk_size=chunk_size, n_workers=workers,
                    client=scheduler, progress=not state["quiet"], trials_path=staging / "trials.parquet")
        provenance = collect_provenance(seed=seed, command=command_line(ctx), extra={
            "design": design, "strategies": strategies, "n_values": n_values, "n_trials": n_trials, "alpha": alpha,
            "alpha_split": alpha_split, "null": null, "slope": not no_slope, "primary": primary, "vary": varied,
            **({"parameters": str(parameters)} if parameters is not None else {}),
            **({"hazard_ratio": hazard_ratio} if hazard_ratio is not None else {}),
            **({"power_column": "type I error (no treatment effect)"} if null else {})})
        with step("Writing the power table and power.html"):
            # matplotlib and the page code load here, not before the run (its workers never need them)
            from ..report.power_html import fixed_decimals, write_power_outputs

            paths = write_power_outputs(staging, res, provenance,
                                        title=f"Monte Carlo {'type I error' if null else 'power'}: {fam.name}",
                                        settings=provenance.extra)
            # Said at the top of power.json too, not only in the provenance block.
            data = json.loads(paths["json"].read_text())
            data = {"under_null": null, "power_column": "type I error" if null else "power", **data}
            paths["json"].write_text(json.dumps(data, indent=2))
    paths = moved_paths(paths, staging, out)
    if state["quiet"]:
        typer.echo(str(out))
        return
    columns = list(TABLE_COLUMNS)
    if (res.table["n_compared_mean"] != res.table["n_randomised_mean"]).any():
        # Several active arms: events_mean is of the compared arms; show the totals beside it.
        columns[columns.index("events_mean") + 1:columns.index("events_mean") + 1] = [
            "n_compared_mean", "events_all_arms_mean"]
    columns[columns.index("n") + 1:columns.index("n") + 1] = list(varied)
    columns += sweep_columns(res.table, varied)
    shown = res.table[[c for c in columns if c in res.table.columns]]
    label = "type I error" if null else "power"
    typer.echo(f"{fam.name}: {label} over {n_trials} simulated trials per point (seed {seed})")
    if null:
        typer.echo("under the null (no treatment effect): the 'power' column is the type I error")
    # one number of decimals per column (0.188 / 0.250, not 0.1875 / 0.25), as in power.html
    typer.echo(fixed_decimals(shown).to_string(index=False))
    typer.echo(f"written: {paths['csv']}, {paths['json']}, {paths['trials']}")
    typer.echo(f"report: {paths['report']}")


def _confirmatory(ctx: typer.Context, confirmatory, preset, n_trials, seed, null, backend, workers, chunk_size,
                  out) -> None:
    from .power_confirmatory import run_confirmatory_command

    # the fixed-sample options have no meaning for a declared confirmatory design
    own = {"confirmatory", "preset", "n_trials", "seed", "null", "backend", "workers", "chunk_size", "out"}
    for name in ctx.params:
        if name not in own and ctx.get_parameter_source(name).name == "COMMANDLINE":
            raise ParameterError(f"--{name.replace('_', '-')}", ctx.params[name],
                                 "does not apply to --confirmatory/--preset (the design file declares the design)")
    run_confirmatory_command(confirmatory=confirmatory, preset=preset, n_trials=n_trials, seed=seed, null=null,
                             backend=backend, workers=workers, chunk_size=chunk_size, out=out,
                             command=command_line(ctx))


def _default_n(fam) -> int:
    design = getattr(fam, "design", None)
    if design is not None:
        return int(design.n_randomised)
    return 2 * fam.template.n_per_arm
