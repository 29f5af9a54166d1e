"""`mndtrial demo`: the main job on built-in defaults, with no input.

1. simulate one MIROCALS-like trial (`mndtrial.sim`, preset `mirocals`) and write it as a trial
   folder — the same files a user brings — then read and validate it back;
2. analyse it with a MIROCALS-like plan (Cox adjusted for log CSF-pNfH, subgroups at the
   pre-specified CSF-pNfH cut-off of 3700 pg/mL) and write results.json, report.html and figures,
   exactly as `mndtrial analyze` does;
3. run a small Monte Carlo power comparison of all-comers vs enriched (low CSF-pNfH only)
   MIROCALS-like designs over a few sample sizes (`mndtrial.power`), and write
   `demo-out/power/` (power.csv, power.json, power.html) as `mndtrial power` does;
4. say where everything is.

Every output carries provenance, including the command that reproduces it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..errors import ParameterError
from . import app, state
from .console import command_line, output_folder, step

if TYPE_CHECKING:
    from ..analysis import AnalysisPlan

# Small on purpose (the demo must finish in well under two minutes): enough trials per point to
# see the all-comers vs enriched difference, not a confirmatory precision (MC SE about 0.035).
DEMO_POWER_N = (150, 220, 300, 400)
DEMO_POWER_TRIALS = 200
DEMO_STRATEGIES = ("all-comers", "enriched")

# MIROCALS's pre-specified CSF-pNfH cut-off between "low" and "high" (docs/evidence/mnd-evidence.md).
CSF_PNFH_CUTOFF = 3700.0


def demo_plan() -> AnalysisPlan:
    """The demo's analysis plan: MIROCALS-like primary and subgroup analyses."""
    from ..analysis import AnalysisPlan, BiomarkerRule

    return AnalysisPlan(name="MIROCALS-like demo", covariates=("log(csf_pnfh)",),
                        biomarker_rules=(BiomarkerRule(biomarker="csf_pnfh", cutoffs=(CSF_PNFH_CUTOFF,),
                                                       name=f"CSF-pNfH cut at {CSF_PNFH_CUTOFF:g} pg/mL"),))


@app.command()
def demo(ctx: typer.Context,
         out: Path = typer.Option(Path("demo-out"), "--out", callback=output_folder, help="Folder for the demo's outputs."),
         seed: int = typer.Option(2026, "--seed", help="Seed of the simulated trial and of the power run."),
         n_trials: int = typer.Option(DEMO_POWER_TRIALS, "--n-trials",
                                      help="Simulated trials per design point in the power comparison.")) -> None:
    """Simulate a MIROCALS-like trial, analyse it, and write demo-out/report.html."""
    from ..data import read_trial
    from ..power import design_points, family, power
    from ..report import collect_provenance
    from ..report.analysis_report import write_analysis_outputs
    from ..report.power_html import fixed_decimals, write_power_outputs
    from ..sim import mirocals, simulate

    if seed < 0:
        raise ParameterError("seed", seed, "must be a whole number >= 0")
    if n_trials < 1:
        raise ParameterError("n_trials", n_trials, "must be at least 1")
    start = time.perf_counter()
    argv = command_line(ctx)
    with step("Simulating one MIROCALS-like trial"):
        trial = simulate(mirocals(), n_trials=1, seed=seed).trial(0)
        folder = trial.write(out / "trial")
        trial = read_trial(folder)  # analyse the files as a user would bring them
    plan = demo_plan()
    with step("Analysing it (survival, Cox, subgroups, interaction)"):
        results = plan.run(trial)
    with step("Writing results.json, the report and figures"):
        prov = collect_provenance(inputs=folder, plan=plan.to_dict(), seed=seed, command=argv)
        written = write_analysis_outputs(out, trial, results, prov)
    points = design_points(family("mirocals"), DEMO_POWER_N, DEMO_STRATEGIES)
    res = power(points, n_trials=n_trials, seed=seed, n_workers=1, progress=not state["quiet"])
    with step("Writing the power table and power.html"):
        power_prov = collect_provenance(seed=seed, command=argv, extra={
            "design": "mirocals", "strategies": list(DEMO_STRATEGIES), "n_values": list(DEMO_POWER_N),
            "n_trials": n_trials})
        power_written = write_power_outputs(out / "power", res, power_prov, title="Monte Carlo power (demo)")
    if not state["quiet"]:
        typer.echo(trial.summary().to_text())
        typer.echo(f"Trial folder: {folder}  (analyse your own with `mndtrial analyze FOLDER --out OUT`)")
        typer.echo(f"Results: {written['results']}")
        typer.echo(f"Figures (PNG and SVG): {out / 'figures'}")
        shown = res.table[["strategy", "n", "power", "power_mcse", "events_mean", "n_screened_mean"]]
        typer.echo(f"Power over {n_trials} simulated trials per point:")
        typer.echo(fixed_decimals(shown).to_string(index=False))
        typer.echo(f"Done in {time.perf_counter() - start:.1f} s.")
    if state["quiet"]:
        typer.echo(f"{written['report']}\n{power_written['report']}")
        return
    typer.echo(f"Report: {written['report']}")
    typer.echo(f"Power report: {power_written['report']}")
