"""`mndtrial design`: group-sequential boundaries (and events/sample size) printed and written."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..errors import ParameterError
from . import app, state
from .console import output_folder


def _numbers(text: str | None, option: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ParameterError(option, text, "a comma-separated list of numbers") from None


@app.command()
def design(
    config: Path = typer.Option(None, "--config", help="A design TOML file ([design], optional [survival] or "
                                                      "[events]); the other options are then not allowed."),
    looks: int = typer.Option(None, "--looks", help="Number of looks, equally spaced (rpact kMax)."),
    information_rates: str = typer.Option(None, "--information-rates", help="Cumulative information "
                                          "fractions, e.g. 0.3,0.6,1 (rpact informationRates)."),
    spending: str = typer.Option("asOF", "--spending", help="asOF, asP, asHSD, asKD, asUser, OF or P "
                                 "(rpact typeOfDesign)."),
    gamma: float = typer.Option(None, "--gamma", help="Parameter of asHSD / asKD (rpact gammaA)."),
    user_alpha: str = typer.Option(None, "--user-alpha", help="Cumulative alpha at each look for asUser."),
    alpha: float = typer.Option(0.025, "--alpha", help="One-sided type I error."),
    beta: float = typer.Option(0.2, "--beta", help="Type II error (1 - power)."),
    beta_spending: str = typer.Option("none", "--beta-spending", help="Futility by beta spending: bsOF, bsP, "
                                      "bsHSD, bsKD, or none (rpact typeBetaSpending)."),
    gamma_beta: float = typer.Option(None, "--gamma-beta", help="Parameter of bsHSD / bsKD (rpact gammaB)."),
    futility: str = typer.Option(None, "--futility", help="Fixed futility Z bounds at the interim looks, "
                                 "e.g. 0,0.5 (rpact futilityBounds)."),
    binding: bool = typer.Option(False, "--binding/--non-binding", help="Futility bounds binding or not."),
    max_events: float = typer.Option(None, "--max-events", help="Maximum events: adds events, hazard ratios "
                                     "at the bounds and expected events to the table."),
    allocation_ratio: float = typer.Option(1.0, "--allocation-ratio", help="Active:control allocation."),
    out: Path = typer.Option(None, "--out", callback=output_folder, help="Folder for boundaries.csv, design.json and "
                                                 "boundaries.png/svg."),
) -> None:
    """Group-sequential boundaries by numerical integration (rpact's getDesignGroupSequential)."""
    from ..design import group_sequential_design
    from ..design.spec import DesignSpec, load_design

    if config is not None:
        if any(v is not None for v in (looks, information_rates, gamma, user_alpha, gamma_beta, futility, max_events)):
            raise ParameterError("--config", str(config), "declares the whole design; drop the other design options")
        spec = load_design(config)
    else:
        kwargs = {"k_max": looks, "information_rates": _numbers(information_rates, "--information-rates"),
                  "type_of_design": spending, "gamma_a": gamma,
                  "user_alpha_spending": _numbers(user_alpha, "--user-alpha"),
                  "type_beta_spending": beta_spending, "gamma_b": gamma_beta,
                  "futility_bounds": _numbers(futility, "--futility"), "binding_futility": binding}
        if alpha != 0.025:
            kwargs["alpha"] = alpha
        if beta != 0.2:
            kwargs["beta"] = beta
        if beta_spending == "none":
            kwargs.pop("type_beta_spending")
        if not binding:
            kwargs.pop("binding_futility")
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        if spending == "asOF":
            kwargs.pop("type_of_design")
        spec = DesignSpec(group_sequential_design(**kwargs), None, max_events, allocation_ratio)
    d = spec.design
    table = spec.sample_size.summary if spec.sample_size is not None else d.table(spec.events, spec.allocation_ratio)
    if not state["quiet"]:
        typer.echo(f"{d.type_of_design} design, {d.k_max} looks, one-sided alpha {d.alpha:g}, power {1 - d.beta:g}; "
                   f"inflation factor {d.inflation_factor:.4f}")
        typer.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        if spec.events is not None:
            exp = d.expected_events(spec.events)
            typer.echo(f"maximum events {spec.events:.1f}; expected events H0 {exp['H0']:.1f}, H1 {exp['H1']:.1f}")
        typer.echo(f"rpact: {d.reproducing_call('r')}")
    if out is not None:
        from ..report.figures_design import boundary_figure
        from ..report.style import save_figure
        out.mkdir(parents=True, exist_ok=True)
        table.to_csv(out / "boundaries.csv", index=False)
        payload = d.to_dict()
        if spec.events is not None:
            payload["max_events"] = spec.events
            payload["expected_events"] = d.expected_events(spec.events)
        (out / "design.json").write_text(json.dumps(payload, indent=2))
        save_figure(boundary_figure(d, spec.events, spec.allocation_ratio), out, "boundaries")
        typer.echo(str(out) if state["quiet"] else f"written to {out}")
