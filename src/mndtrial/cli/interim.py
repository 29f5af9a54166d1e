"""`mndtrial interim TRIAL_DIR --design DESIGN.toml --look K [--events ... | --cut-date ...] --out DIR`:
what the DMC statistician runs at a look of a real trial."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import ParameterError
from . import app, state
from .console import output_folder
from .design import _numbers


@app.command()
def interim(
    folder: Path = typer.Argument(..., help="Trial folder with participants.entry_day (calendar day of randomisation)."),
    design: Path = typer.Option(..., "--design", help="Design TOML ([design], [events] or [survival], optional "
                                                      "[analysis] and [enrichment]; docs/design.md)."),
    look: int = typer.Option(None, "--look", help="The look being analysed (default: the number of cuts given)."),
    events: str = typer.Option(None, "--events", help="Cut each look on the day of this many endpoint events, "
                                                      "e.g. 120,240 (or only the last looks': earlier looks are cut "
                                                      "at their planned events)."),
    cut_date: str = typer.Option(None, "--cut-date", help="Calendar cut day of each look (entry_day's scale), "
                                                          "e.g. 400,800 (or only the last looks')."),
    final: bool = typer.Option(None, "--final/--not-final", help="Whether this look is the final analysis "
                                                                 "(default: the design's last look)."),
    selected: str = typer.Option("S,F", "--selected", help="Adaptive enrichment: the populations continued after "
                                                           "the first look: S, F or S,F."),
    out: Path = typer.Option(..., "--out", callback=output_folder, help="Folder for interim.json, interim.html and figures/."),
) -> None:
    """Stage statistics, bounds at the observed events, decision, conditional power, repeated
    confidence intervals and, at the end, the final p-value and estimate (aggregates only)."""
    if (events is None) == (cut_date is None):
        raise ParameterError("--events/--cut-date", (events, cut_date), "give exactly one of them")
    from ..data import read_trial  # the stacks only when the command runs
    from ..design.dmc_trial import interim_analysis
    from ..design.spec import load_design
    from ..report.interim_html import write_interim_report

    spec = load_design(design)
    trial = read_trial(folder)
    result = interim_analysis(trial, spec, look, cut_days=_numbers(cut_date, "--cut-date"),
                              events=_numbers(events, "--events"), final=final,
                              selected=tuple(s.strip() for s in selected.split(",") if s.strip()))
    write_interim_report(result, out, design_text=design.read_text())
    if not state["quiet"]:
        cols = [c for c in ("look", "cut_day", "events", "z", "combined_z", "hazard_ratio", "z_efficacy",
                            "z_futility", "decision") if c in result.summary.columns]
        typer.echo(result.summary[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        typer.echo(f"decision at look {result.look}: {result.decision}")
        for note in result.notes:
            typer.echo(f"note: {note}")
        if result.conditional_power is not None:
            cp = result.conditional_power
            typer.echo(f"conditional power: {cp['design']['value']:.4f} under the design effect (HR "
                       f"{cp['design']['hazard_ratio']:.3f}), {cp['observed']['value']:.4f} under the observed one "
                       f"(HR {cp['observed']['hazard_ratio']:.3f})")
        if result.final_inference is not None:
            f = result.final_inference
            lo, hi = f["hazard_ratio_confidence_interval"]
            typer.echo(f"final p-value {f['p_value']:.6f} ({f['ordering']}); median-unbiased HR "
                       f"{f['hazard_ratio_median_unbiased']:.4f} ({100 * f['confidence_level']:g}% CI {lo:.4f} to {hi:.4f})")
            if "combination_p_value" in f:
                typer.echo(f"inverse-normal combination p-value {f['combination_p_value']:.6f}")
        if result.enrichment is not None:
            e = result.enrichment
            typer.echo(f"closed test ({e.method}): {e.decision}; p-values "
                       + ", ".join(f"{k} {v:.4g}" for k, v in e.final_p_values.items()))
    typer.echo(str(out / "interim.html"))
