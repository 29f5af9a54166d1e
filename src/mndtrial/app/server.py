"""The explorer's page (Shiny for Python): the form, the live power curve and table, the exports.

Every input change is checked by `parse_form`; a bad field gets its message right under it (the
rest of the page keeps the last good answer), a good design starts a `Refinement` that replaces
the one running. The page polls the run a few times a second: progress bar, curve, table and
sample sizes follow each stage. Shiny serves its JavaScript and CSS from the installed package,
so the page loads nothing from outside this machine.
"""

from __future__ import annotations

import os
import time
from typing import Any

from .refine import Refinement
from .spec import (ALLOCATIONS, DEFAULTS, FAMILIES, PRIMARY, STRATEGY_CHOICES, ExploreSpec, FormError,
                   family_defaults, parse_form)
from .views import display_table, power_curve_figure, power_page_html, sample_size_text

__all__ = ["create_app", "FIELDS"]

FIELDS = ("family", "parameters_path", "n_min", "n_max", "n_step", "allocation", "follow_up_days", "dropout",
          "cutoff", "hr_low", "hr_high", "strategies", "primary", "alpha", "n_trials", "seed", "target_power")
QUIET_S = 0.15  # a design must stay unchanged this long before it runs (a family switch sends several updates)
POLL_S = 0.2
PARAMETERS_FILE = "parameters.toml"
FOLLOW_UP_LABEL = {True: "Follow-up horizon (days)", False: "Follow-up after the last randomisation (days)"}
DROPOUT_LABEL = {True: "Attrition at 12 months (proportion, deaths included)", False: "Dropout (rate per year)"}


def _ui(ui: Any, family: str, parameters_path: str, start: dict[str, float]):
    simulated = family != "exponential"
    def err(name: str):
        return ui.output_ui(f"err_{name}")

    def numeric(name: str, label: str, value: Any, **kw: Any):
        return ui.div(ui.input_numeric(name, label, value, **kw), err(name))

    form = ui.sidebar(
        ui.input_select("family", "Design family", dict(FAMILIES), selected=family),
        ui.panel_conditional("input.family === 'file'",
                             ui.input_text("parameters_path", "Parameter file (path on this machine)", parameters_path),
                             ),
        err("parameters_path"),
        ui.tags.b("Sample size (total randomised)"),
        ui.layout_columns(numeric("n_min", "from", DEFAULTS["n_min"], min=4),
                          numeric("n_max", "to", DEFAULTS["n_max"], min=4),
                          numeric("n_step", "step", DEFAULTS["n_step"], min=1), col_widths=(4, 4, 4)),
        ui.input_select("allocation", "Allocation (active : placebo)", list(ALLOCATIONS), selected="1:1"), err("allocation"),
        numeric("follow_up_days", FOLLOW_UP_LABEL[simulated], start["follow_up_days"], min=1),
        numeric("dropout", DROPOUT_LABEL[simulated], start["dropout"], min=0, step=0.01),
        numeric("cutoff", "Biomarker cut-off: CSF-pNfH (pg/mL), low group at or below", start["cutoff"], min=1),
        ui.layout_columns(numeric("hr_low", "Hazard ratio, low NfL", start["hr_low"], min=0.01, step=0.01),
                          numeric("hr_high", "Hazard ratio, high NfL", start["hr_high"], min=0.01, step=0.01)),
        ui.input_checkbox_group("strategies", "Strategies", list(STRATEGY_CHOICES),
                                selected=list(DEFAULTS["strategies"])), err("strategies"),
        ui.input_select("primary", "Primary test", list(PRIMARY), selected=DEFAULTS["primary"]),
        ui.layout_columns(numeric("alpha", "α (one-sided)", DEFAULTS["alpha"], min=0, max=1, step=0.005),
                          numeric("target_power", "Target power", DEFAULTS["target_power"], min=0, max=1, step=0.05)),
        ui.layout_columns(numeric("n_trials", "Trials per point", DEFAULTS["n_trials"], min=1, step=100),
                          numeric("seed", "Seed", DEFAULTS["seed"], min=0)),
        err("general"),
        width=380, title="Design",
    )
    return ui.page_sidebar(
        form,
        ui.tags.style("#command { white-space: pre-wrap; word-break: break-word; }"),
        ui.div(ui.output_ui("status"),
               ui.input_action_button("cancel", "Cancel", class_="btn-sm btn-outline-danger"),
               ui.input_action_button("rerun", "Run again", class_="btn-sm btn-outline-secondary ms-2"),
               class_="mb-2"),
        ui.card(ui.output_plot("curve", height="380px"), full_screen=False),
        ui.card(ui.output_ui("sample_size"), ui.output_table("table")),
        ui.card(ui.card_header("Export"),
                ui.output_code("command"),
                ui.div(ui.download_button("download_design", "design.toml", class_="btn-sm me-2"),
                       ui.download_button("download_command", "command (.sh)", class_="btn-sm me-2"),
                       ui.output_ui("parameters_button", inline=True),
                       ui.download_button("download_power_html", "power.html", class_="btn-sm me-2"))),
        title="mndtrial explore — Monte Carlo power of a design",
    )


def create_app(n_workers: int | None = None, first_trials: int | None = None, family: str = DEFAULTS["family"],
               parameters_path: str | None = None):
    """The Shiny app. `n_workers`: processes per run (default: up to 4 of this machine's cores);
    `first_trials`: trials per point in the first answer (default `refine.FIRST_TRIALS`);
    `family` and `parameters_path`: the design the form starts from ('file' with a parameter file)."""
    from shiny import App, reactive, render, req, ui

    if family not in FAMILIES:
        raise FormError({"family": f"choose one of {list(FAMILIES)}"})
    workers = n_workers or max(1, min(4, os.cpu_count() or 1))
    start = family_defaults(family, parameters_path)  # a bad file is refused here, before the server starts
    page = _ui(ui, family, parameters_path or "", start)

    def server(input, output, session):
        holder: dict[str, Any] = {"run": None, "spec": None}
        pending = reactive.value(None)  # (spec, when it was last changed)
        launched = reactive.value(0)

        def values() -> dict[str, Any]:
            out = {}
            for name in FIELDS:
                try:
                    out[name] = input[name]()
                except Exception:  # an input the page has not sent yet: the form's default
                    continue
            return out

        @reactive.calc
        def form() -> tuple[ExploreSpec | None, dict[str, str]]:
            try:
                return parse_form(values()), {}
            except FormError as exc:
                return None, exc.errors

        def error_output(name: str) -> None:
            def fn():
                launched()  # errors found while building the design points (e.g. a horizon too short)
                message = form()[1].get(name) or (holder.get("errors") or {}).get(name)
                if message:
                    return ui.div(message, class_="text-danger small field-error", **{"data-field": name})
                return None

            fn.__name__ = f"err_{name}"
            render.ui(fn)

        for name in (*FIELDS, "general"):
            error_output(name)

        @reactive.effect
        @reactive.event(input.family)
        def _family_changed():
            fam = input.family()
            simulated = fam != "exponential"
            ui.update_numeric("follow_up_days", label=FOLLOW_UP_LABEL[simulated])
            ui.update_numeric("dropout", label=DROPOUT_LABEL[simulated])
            if fam == "file":
                return  # its values come when the path is given
            for name, value in family_defaults(fam).items():
                ui.update_numeric(name, value=value)
            if not simulated:
                ui.update_select("allocation", selected="1:1")
                if input.n_min() and input.n_min() % 2:
                    ui.update_numeric("n_min", value=input.n_min() + 1)

        @reactive.effect
        @reactive.event(input.parameters_path)
        def _file_given():
            if input.family() != "file":
                return
            try:
                defaults = family_defaults("file", input.parameters_path().strip() or None)
            except Exception:
                return  # the field's own message says what is wrong
            for name, value in defaults.items():
                ui.update_numeric(name, value=value)

        @reactive.effect
        def _queue():
            spec, errors = form()
            if spec is not None and spec != holder["spec"]:
                pending.set((spec, time.monotonic()))

        def launch(spec: ExploreSpec) -> None:
            old = holder["run"]
            if old is not None:
                old.cancel()
            holder["spec"] = spec
            try:
                points = spec.points()
            except FormError as exc:
                holder["run"] = None
                holder["errors"] = exc.errors
                launched.set(launched() + 1)
                return
            holder["errors"] = {}
            holder["run"] = Refinement(points, spec.n_trials, spec.seed, n_workers=workers,
                                       **({"first_trials": first_trials} if first_trials else {})).start()
            launched.set(launched() + 1)

        @reactive.effect
        def _launch():
            item = pending()
            if item is None:
                return
            spec, when = item
            wait = QUIET_S - (time.monotonic() - when)
            if wait > 0:
                reactive.invalidate_later(wait)
                return
            with reactive.isolate():
                pending.set(None)
                launch(spec)

        @reactive.effect
        @reactive.event(input.cancel)
        def _cancel():
            if holder["run"] is not None:
                holder["run"].cancel()

        @reactive.effect
        @reactive.event(input.rerun)
        def _rerun():
            if holder["spec"] is not None:
                launch(holder["spec"])

        def poll_key():
            run = holder["run"]
            return (id(run), run.version if run is not None else -1)

        @reactive.poll(poll_key, POLL_S)
        def progress_key():
            return poll_key()

        def snapshot():
            # the polled key only triggers; the snapshot is read now, so a new run is never shown
            # with the previous run's numbers
            progress_key()
            launched()
            run = holder["run"]
            return None if run is None else run.snapshot()

        def shown_spec() -> ExploreSpec | None:
            launched()
            return holder["spec"]

        def answer():
            """The run's table and design; until the new run's first stage, the last answer stays shown."""
            snap, spec = snapshot(), shown_spec()
            req(snap is not None and snap.table is not None and spec is not None, cancel_output=True)
            return snap, spec

        @render.ui
        def status():
            snap = snapshot()
            build_errors = holder.get("errors") or {}
            if build_errors:
                return ui.div("; ".join(f"{k}: {v}" for k, v in build_errors.items()),
                              class_="text-danger field-error", **{"data-field": "general"})
            if snap is None:
                return ui.div("Waiting for a valid design…", id="run-state", **{"data-state": "idle"})
            label = {"running": "refining", "done": "done", "cancelled": "cancelled", "failed": "failed"}[snap.state]
            text = f"{label}: {snap.done:,} / {snap.total:,} trials per design point · {snap.elapsed_s:.1f} s"
            if snap.first_s is not None:
                text += f" (first answer after {snap.first_s:.2f} s)"
            if snap.message:
                text += f" — {snap.message}"
            cls = "text-danger" if snap.state == "failed" else ""
            return ui.div(ui.tags.progress(value=str(snap.done), max=str(snap.total), style="width: 320px"),
                          ui.span(text, class_=f"ms-2 {cls}"), id="run-state",
                          **{"data-state": snap.state, "data-done": str(snap.done)})

        @render.plot(alt="Power by sample size, with Monte Carlo bands")
        def curve():
            snap, spec = answer()
            return power_curve_figure(snap.table, spec.target_power,
                                      title=f"{FAMILIES[spec.family]}, {snap.done:,} trials per point")

        @render.table
        def table():
            snap, _ = answer()
            return display_table(snap.table)

        @render.ui
        def sample_size():
            snap, spec = answer()
            return ui.p(sample_size_text(snap.table, spec.target_power), id="sample-size-text")

        @render.code
        def command():
            spec = shown_spec()
            return "" if spec is None else spec.command_text(parameters_file=PARAMETERS_FILE)

        @render.ui
        def parameters_button():
            spec = shown_spec()
            if spec is None or not spec.parameter_overrides():
                return None
            return ui.download_button("download_parameters", PARAMETERS_FILE, class_="btn-sm me-2")

        @render.download(filename="design.toml")
        def download_design():
            yield holder["spec"].design_toml(parameters_file=PARAMETERS_FILE)

        @render.download(filename="mndtrial-power.sh")
        def download_command():
            yield "#!/bin/sh\n# reproduces the design shown in mndtrial explore\n" + \
                holder["spec"].command_text(parameters_file=PARAMETERS_FILE) + "\n"

        @render.download(filename=PARAMETERS_FILE)
        def download_parameters():
            yield holder["spec"].parameters_toml() or ""

        @render.download(filename="power.html")
        def download_power_html():
            snap, spec = holder["run"].snapshot(), holder["spec"]
            yield power_page_html(snap.table, spec, spec.command_text(parameters_file=PARAMETERS_FILE))

        session.on_ended(lambda: holder["run"] is not None and holder["run"].cancel())

    return App(page, server)
