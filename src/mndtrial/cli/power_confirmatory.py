"""`mndtrial power --confirmatory FILE.toml` / `--preset il2-confirmatory`: confirmatory strategies
(group-sequential all-comers, fixed enrichment, adaptive enrichment) simulated patient by patient
from one declared design (`mndtrial.power.confirmatory_spec`), written as power.csv, looks.csv,
trials-*.parquet, power.json (design, provenance of every input, the reproducing command), the
validated design as confirmatory.toml, and power.html."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..errors import ParameterError
from . import state
from .console import moved_paths, staged_output, step

__all__ = ["CONFIRMATORY_PRESETS", "run_confirmatory_command"]

# preset name -> TOML file shipped in mndtrial/power/
CONFIRMATORY_PRESETS = {"il2-confirmatory": "il2_confirmatory.toml"}
SHOWN = ("strategy", "looks", "power", "power_mcse", "reject_s", "reject_f", "stop_efficacy_early", "stop_futility",
         "events_mean", "n_randomised_mean", "n_screened_mean", "duration_days_mean")


def load_spec(confirmatory: Path | None, preset: str | None):
    """The validated spec of a file or a shipped preset, and the TOML text it came from."""
    from importlib import resources

    from ..power.confirmatory_spec import ConfirmatorySpec, load_confirmatory

    if (confirmatory is None) == (preset is None):
        raise ParameterError("--confirmatory/--preset", str(confirmatory or preset), "give one of them")
    if preset is not None:
        if preset not in CONFIRMATORY_PRESETS:
            raise ParameterError("--preset", preset, f"choose from {list(CONFIRMATORY_PRESETS)}")
        import tomllib

        text = resources.files("mndtrial.power").joinpath(CONFIRMATORY_PRESETS[preset]).read_text(encoding="utf-8")
        return ConfirmatorySpec.from_dict(tomllib.loads(text)), text
    spec = load_confirmatory(confirmatory)
    return spec, Path(confirmatory).read_text(encoding="utf-8")


def run_confirmatory_command(*, confirmatory: Path | None, preset: str | None, n_trials: int, seed: int, null: bool,
                             backend: str, workers: int | None, chunk_size: int | None, out: Path,
                             command: list[str]) -> None:
    import tomli_w

    from ..power.confirmatory import run_confirmatory
    from ..report import collect_provenance
    from ..report.confirmatory_html import write_confirmatory_outputs

    spec, text = load_spec(confirmatory, preset)
    source = f"preset {preset}" if preset else str(confirmatory)
    with staged_output(out) as staging:
        res = run_confirmatory(spec, n_trials=n_trials, seed=seed, null=null, chunk_size=chunk_size or 256,
                               n_workers=workers, backend=backend, progress=not state["quiet"])
        provenance = collect_provenance(inputs=[confirmatory] if confirmatory else (), seed=seed, command=command,
                                        plan=spec.model_dump(mode="json", exclude_none=True), extra={
            "confirmatory": source, "n_trials": n_trials, "null": null,
            "strategies": list(res.table["strategy"])})
        with step("Writing the confirmatory tables and power.html"):
            paths = write_confirmatory_outputs(staging, res, provenance, settings=provenance.extra,
                                               title=f"Confirmatory designs ({source}): "
                                                     f"{'type I error' if null else 'power'}")
            # The validated design, defaults filled in: `--confirmatory OUT/confirmatory.toml` reruns it.
            filled = spec.model_dump(mode="json", exclude_none=True)
            if filled["pool"]["kind"] != "mirocals":
                filled["pool"].pop("horizon_days")  # a mirocals-only setting
            (staging / "confirmatory.toml").write_text(
                f"# {source}, validated by mndtrial; reproduce: {' '.join(command)}\n"
                + tomli_w.dumps(filled), encoding="utf-8")
            data = json.loads(paths["json"].read_text())
            data = {"command": " ".join(command), "design_source_toml": text, **data}
            paths["json"].write_text(json.dumps(data, indent=2))
    paths = moved_paths(paths, staging, out)
    if state["quiet"]:
        typer.echo(str(out))
        return
    label = "family-wise type I error" if null else "power"
    typer.echo(f"{source}: {label} over {n_trials} patient-level trials per strategy (seed {seed})")
    shown = res.table[[c for c in SHOWN if c in res.table.columns]]
    typer.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    typer.echo(f"written: {paths['csv']}, {paths['looks']}, {paths['json']}")
    typer.echo(f"report: {paths['report']}")
