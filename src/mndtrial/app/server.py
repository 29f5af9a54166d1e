"""The explorer's page (Shiny for Python): the form, the live power curve and table, the exports.

Every input change is checked by `parse_form`; a bad field gets its message right under it (the
rest of the page keeps the last good answer), a good design starts a `Refinement` that replaces
the one running. The page polls the run a few times a second: progress bar, curve, table and
sample sizes follow each stage. Shiny serves its JavaScript and CSS from the installed package,
so the page loads nothing from outside this machine.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import ParameterError
from .confirm import CONFIRMATORY_DEFAULTS, FUTILITY, SELECTION, SPENDING, checked_spec
from .pool import start_pool
from .refine import ConfirmatoryRun, Refinement
from .spec import (ALLOCATIONS, DEFAULTS, FAMILIES, MARKERS, MODES, PRIMARY, STRATEGY_CHOICES, ExploreSpec,
                   FormError, family_defaults, form_values_from_toml, parse_form)
from .views import (confirmatory_figure, confirmatory_page_html, confirmatory_table, confirmatory_text,
                    display_table, looks_table, power_curve_figure, power_page_html, sample_size_text,
                    selection_table)

__all__ = ["create_app", "FIELDS"]

CONFIRMATORY_FIELDS = tuple(CONFIRMATORY_DEFAULTS)
FIELDS = ("mode", "family", "parameters_path", "n_min", "n_max", "n_step", "allocation", "follow_up_days", "dropout",
          "marker", "cutoff", "hr_low", "hr_high", "strategies", "primary", "alpha", "n_trials", "seed", "target_power",
          *CONFIRMATORY_FIELDS)
UPLOADS = ("parameters_upload", "design_upload")
CONFIRMATORY_FILE = "confirmatory.toml"
RELOAD_WINDOW_S = 5.0  # a reloaded design's values win over the defaults a family switch sends meanwhile
QUIET_S = 0.1  # a design must stay unchanged this long before it runs (a family switch sends several updates)
POLL_S = 0.05  # how often the page looks at the run (a cheap check: the run's id and version)
PARAMETERS_FILE = "parameters.toml"
FOLLOW_UP_LABEL = {True: "Follow-up horizon (days)", False: "Follow-up after the last randomisation (days)"}
DROPOUT_LABEL = {True: "Attrition at 12 months (proportion, deaths included)", False: "Dropout (rate per year)"}


def _ui(ui: Any, family: str, parameters_path: str, start: dict[str, float]):
    simulated = family != "exponential"
    def err(name: str):
        return ui.output_ui(f"err_{name}")

    def numeric(name: str, label: str, value: Any, **kw: Any):
        return ui.div(ui.input_numeric(name, label, value, **kw), err(name))

    def listed(name: str, label: str, values: Any):
        return ui.div(ui.input_text(name, label, ", ".join(f"{v:g}" for v in values)), err(name))

    fixed_only = "input.mode !== 'confirmatory'"
    c = CONFIRMATORY_DEFAULTS
    confirmatory = ui.panel_conditional(
        "input.mode === 'confirmatory'",
        ui.tags.b("Confirmatory design"),
        ui.div(ui.input_text("cf_info_rates", "Looks: information fractions", ", ".join(f"{r:g}" for r in c["cf_info_rates"])),
               err("cf_info_rates")),
        ui.div(ui.input_select("cf_spending", "Alpha spending", SPENDING, selected=c["cf_spending"]), err("cf_spending")),
        ui.panel_conditional("['asHSD', 'asKD'].includes(input.cf_spending)",
                             numeric("cf_gamma_a", "Spending parameter: γ (asHSD) or ρ (asKD)", c["cf_gamma_a"],
                                     step=0.5)),
        ui.panel_conditional("input.cf_spending === 'asUser'",
                             listed("cf_user_spending", "Cumulative α spent at each look", c["cf_user_spending"])),
        ui.div(ui.input_select("cf_futility", "Futility", FUTILITY, selected=c["cf_futility"]), err("cf_futility")),
        ui.panel_conditional("input.cf_futility === 'hazard_ratio'",
                             numeric("cf_futility_hr", "Futility: observed hazard ratio at or above",
                                     c["cf_futility_hr"], step=0.05)),
        ui.panel_conditional("input.cf_futility === 'conditional_power'",
                             numeric("cf_futility_cp", "Futility: conditional power below", c["cf_futility_cp"],
                                     min=0, max=1, step=0.05)),
        ui.panel_conditional("input.cf_futility === 'z'",
                             listed("cf_futility_z", "Futility: Z bound at each interim look", c["cf_futility_z"])),
        ui.layout_columns(numeric("cf_n_max", "Randomised at most", c["cf_n_max"], min=4),
                          numeric("cf_events", "Events at the last look", c["cf_events"], min=2)),
        ui.div(ui.input_checkbox("cf_adaptive", "Adaptive enrichment (interim selection of S)", c["cf_adaptive"]),
               err("cf_adaptive")),
        ui.layout_columns(numeric("cf_interim_events", "Interim at events (overall)", c["cf_interim_events"], min=1),
                          numeric("cf_arrivals_per_day", "Candidates a day", c["cf_arrivals_per_day"], min=0.01,
                                  step=0.1)),
        ui.div(ui.input_select("cf_selection", "Selection at the interim", SELECTION, selected=c["cf_selection"]),
               err("cf_selection")),
        ui.input_checkbox("cf_reestimate", "Re-estimate the stage-2 events (conditional power)", c["cf_reestimate"]),
        ui.panel_conditional("input.cf_reestimate",
                             numeric("cf_re_cp", "Conditional power aimed at", c["cf_re_cp"], min=0, max=1,
                                     step=0.05),
                             ui.layout_columns(numeric("cf_re_min", "Stage-2 events at least", c["cf_re_min"], min=1),
                                               numeric("cf_re_max", "at most", c["cf_re_max"], min=1))),
    )
    form = ui.sidebar(
        ui.div(ui.input_file("design_upload", "Load a saved design (design.toml)", accept=[".toml"]),
               err("design_upload")),
        ui.div(ui.input_select("mode", "Mode", MODES, selected=DEFAULTS["mode"]), err("mode")),
        ui.div(ui.input_select("family", "Design family", dict(FAMILIES), selected=family), err("family")),
        ui.panel_conditional("input.family === 'file'",
                             ui.input_file("parameters_upload", "Upload a parameters file (TOML)", accept=[".toml"]),
                             ui.input_text("parameters_path", "or its path on this machine", parameters_path),
                             ),
        err("parameters_path"),
        ui.panel_conditional(
            fixed_only,
            ui.tags.b("Sample size (total randomised)"),
            ui.layout_columns(numeric("n_min", "from", DEFAULTS["n_min"], min=4),
                              numeric("n_max", "to", DEFAULTS["n_max"], min=4),
                              numeric("n_step", "step", DEFAULTS["n_step"], min=1), col_widths=(4, 4, 4)),
            ui.input_select("allocation", "Allocation (active : placebo)", list(ALLOCATIONS), selected="1:1"),
            err("allocation"),
            numeric("follow_up_days", FOLLOW_UP_LABEL[simulated], start["follow_up_days"], min=1)),
        numeric("dropout", DROPOUT_LABEL[simulated], start["dropout"], min=0, step=0.01),
        ui.div(ui.input_select("marker", "Biomarker rule: screening marker", MARKERS, selected=DEFAULTS["marker"]),
               err("marker")),
        numeric("cutoff", "Cut-off, CSF-pNfH scale (pg/mL): low group at or below", start["cutoff"], min=1),
        ui.output_ui("cutoff_note"),
        ui.layout_columns(numeric("hr_low", "Hazard ratio, low NfL", start["hr_low"], min=0.01, step=0.01),
                          numeric("hr_high", "Hazard ratio, high NfL", start["hr_high"], min=0.01, step=0.01)),
        ui.input_checkbox_group("strategies", "Strategies", list(STRATEGY_CHOICES),
                                selected=list(DEFAULTS["strategies"])), err("strategies"),
        ui.panel_conditional(fixed_only,
                             ui.input_select("primary", "Primary test", list(PRIMARY), selected=DEFAULTS["primary"])),
        confirmatory,
        ui.layout_columns(numeric("alpha", "α (one-sided)", DEFAULTS["alpha"], min=0, max=1, step=0.005),
                          numeric("target_power", "Target power", DEFAULTS["target_power"], min=0, max=1, step=0.05)),
        ui.layout_columns(numeric("n_trials", "Trials per point", DEFAULTS["n_trials"], min=1, step=100),
                          numeric("seed", "Seed", DEFAULTS["seed"], min=0)),
        err("general"),
        width=380, title="Design",
    )
    return ui.page_sidebar(
        form,
        ui.tags.style("#command { white-space: pre-wrap; word-break: break-word; } #table { overflow-x: auto; }"),
        ui.div(ui.output_ui("status"),
               ui.input_action_button("cancel", "Cancel", class_="btn-sm btn-outline-danger"),
               ui.input_action_button("rerun", "Run again", class_="btn-sm btn-outline-secondary ms-2"),
               class_="mb-2"),
        ui.card(ui.output_plot("curve", height="380px"), full_screen=False),
        ui.card(ui.output_ui("sample_size"), ui.output_table("table"), ui.output_table("looks"),
                ui.output_table("selection")),
        ui.card(ui.card_header("Export"),
                ui.output_code("command"),
                ui.div(ui.download_button("download_design", "design.toml", class_="btn-sm me-2"),
                       ui.download_button("download_command", "command (.sh)", class_="btn-sm me-2"),
                       ui.output_ui("parameters_button", inline=True),
                       ui.output_ui("confirmatory_button", inline=True),
                       ui.download_button("download_power_html", "power.html", class_="btn-sm me-2"))),
        title="mndtrial explore — Monte Carlo power of a design",
    )


def create_app(n_workers: int | None = None, first_trials: int | None = None, family: str = DEFAULTS["family"],
               parameters_path: str | None = None, pool: Any = None):
    """The Shiny app. `n_workers`: worker processes (default: up to 4 of this machine's cores);
    `first_trials`: trials per point in the first answer (default `refine.FIRST_TRIALS`);
    `family` and `parameters_path`: the design the form starts from ('file' with a parameter file).
    `pool`: a started `mndtrial.power.WorkerPool` every run uses; by default the app starts one
    (warm, see `mndtrial.app.pool`) and ends it when the server stops."""
    from shiny import App, reactive, render, req, ui

    if family not in FAMILIES:
        raise FormError({"family": f"choose one of {list(FAMILIES)}"})
    workers = n_workers or max(1, min(4, os.cpu_count() or 1))
    start = family_defaults(family, parameters_path)  # a bad file is refused here, before the server starts
    page = _ui(ui, family, parameters_path or "", start)
    own_pool = pool is None
    if own_pool:
        pool = start_pool(workers)

    def server(input, output, session):
        holder: dict[str, Any] = {"run": None, "spec": None, "loaded": None}
        pending = reactive.value(None)  # (spec, when it was last changed)
        launched = reactive.value(0)
        upload_errors = reactive.value({})  # field -> message, from the two file uploads
        uploads_dir = Path(tempfile.mkdtemp(prefix="mndtrial-explore-"))
        uploaded_names: dict[str, str] = {}  # saved path -> the name the user's file had

        def parameters_name(spec: ExploreSpec | None) -> str | None:
            return None if spec is None or spec.parameters_path is None else uploaded_names.get(spec.parameters_path)

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
                message = upload_errors().get(name) or form()[1].get(name) or (holder.get("errors") or {}).get(name)
                if message:
                    return ui.div(message, class_="text-danger small field-error", **{"data-field": name})
                return None

            fn.__name__ = f"err_{name}"
            render.ui(fn)

        for name in (*FIELDS, "general", "design_upload"):
            error_output(name)

        def apply_values(loaded: dict[str, Any]) -> None:
            """Put a reloaded design's values into the form's inputs."""
            for name, value in loaded.items():
                if name in ("family", "allocation", "primary", "marker", "mode", "cf_spending", "cf_futility",
                            "cf_selection"):
                    ui.update_select(name, selected=value)
                elif name == "strategies":
                    ui.update_checkbox_group(name, selected=list(value))
                elif name in ("cf_adaptive", "cf_reestimate"):
                    ui.update_checkbox(name, value=bool(value))
                elif name == "parameters_path":
                    ui.update_text(name, value=value or "")
                elif name in ("cf_info_rates", "cf_user_spending", "cf_futility_z"):
                    ui.update_text(name, value=", ".join(f"{float(r):g}" for r in value))
                else:
                    ui.update_numeric(name, value=value)

        def reapply_loaded() -> None:
            loaded = holder["loaded"]
            if loaded is not None and time.monotonic() - loaded[1] < RELOAD_WINDOW_S:
                apply_values(loaded[0])

        @reactive.effect
        @reactive.event(input.design_upload)
        def _design_uploaded():
            files = input.design_upload()
            if not files:
                return
            try:
                loaded = form_values_from_toml(Path(files[0]["datapath"]).read_text(encoding="utf-8"))
                parse_form(loaded)
            except FormError as exc:
                upload_errors.set({"design_upload": "; ".join(f"{k}: {v}" if k != "design_upload" else v
                                                              for k, v in exc.errors.items())})
                return
            except UnicodeDecodeError:
                upload_errors.set({"design_upload": "not a text file: upload a design.toml saved here"})
                return
            upload_errors.set({})
            holder["loaded"] = (loaded, time.monotonic())
            apply_values(loaded)

        @reactive.effect
        @reactive.event(input.parameters_upload)
        def _parameters_uploaded():
            files = input.parameters_upload()
            if not files:
                return
            name = Path(files[0]["name"]).name or "parameters.toml"
            folder = Path(tempfile.mkdtemp(dir=uploads_dir))
            saved = folder / name
            shutil.copyfile(files[0]["datapath"], saved)
            try:
                family_defaults("file", str(saved))
            except (ParameterError, OSError, ValueError) as exc:
                rule = f"{exc.parameter}: {exc.rule}" if isinstance(exc, ParameterError) else str(exc)
                upload_errors.set({"parameters_path": f"{name}: {rule}"})
                return
            upload_errors.set({})
            uploaded_names[str(saved)] = name
            ui.update_select("family", selected="file")
            ui.update_text("parameters_path", value=str(saved))

        @reactive.effect
        @reactive.event(input.family)
        def _family_changed():
            fam = input.family()
            simulated = fam != "exponential"
            ui.update_numeric("follow_up_days", label=FOLLOW_UP_LABEL[simulated])
            ui.update_numeric("dropout", label=DROPOUT_LABEL[simulated])
            if fam == "file":
                reapply_loaded()
                return  # its values come when the path is given
            for name, value in family_defaults(fam).items():
                ui.update_numeric(name, value=value)
            if not simulated:
                ui.update_select("allocation", selected="1:1")
                ui.update_select("marker", selected="csf_pnfh")
                if input.n_min() and input.n_min() % 2:
                    ui.update_numeric("n_min", value=input.n_min() + 1)
            reapply_loaded()

        @reactive.effect
        @reactive.event(input.parameters_path)
        def _file_given():
            if input.family() != "file":
                return
            upload_errors.set({k: v for k, v in upload_errors().items() if k != "parameters_path"})
            try:
                defaults = family_defaults("file", input.parameters_path().strip() or None)
            except Exception:
                return  # the field's own message says what is wrong
            for name, value in defaults.items():
                ui.update_numeric(name, value=value)
            reapply_loaded()

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
                work = checked_spec(spec) if spec.confirmatory else spec.points()
            except FormError as exc:
                holder["run"] = None
                holder["errors"] = exc.errors
                launched.set(launched() + 1)
                return
            holder["errors"] = {}
            stage = {"first_trials": first_trials} if first_trials else {}
            if spec.confirmatory:
                holder["run"] = ConfirmatoryRun(work, spec.n_trials, spec.seed, executor=pool, **stage).start()
            else:
                holder["run"] = Refinement(work, spec.n_trials, spec.seed, executor=pool, **stage).start()
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
            unit = "strategy" if snap.result is not None else "design point"
            text = f"{label}: {snap.done:,} / {snap.total:,} trials per {unit} · {snap.elapsed_s:.1f} s"
            if snap.first_s is not None:
                text += f" (first answer after {snap.first_s:.2f} s)"
            if snap.message:
                text += f" — {snap.message}"
            cls = "text-danger" if snap.state == "failed" else ""
            return ui.div(ui.tags.progress(value=str(snap.done), max=str(snap.total), style="width: 320px"),
                          ui.span(text, class_=f"ms-2 {cls}"), id="run-state",
                          **{"data-state": snap.state, "data-done": str(snap.done)})

        @render.plot(alt="Power by sample size, with Monte Carlo bands (confirmatory: stopping per look)")
        def curve():
            snap, spec = answer()
            if snap.result is not None:
                return confirmatory_figure(snap.result.looks, f"{FAMILIES[spec.family]}, {snap.done:,} trials "
                                                              "per strategy")
            return power_curve_figure(snap.table, spec.target_power,
                                      title=f"{FAMILIES[spec.family]}, {snap.done:,} trials per point")

        @render.table
        def table():
            snap, _ = answer()
            return confirmatory_table(snap.table) if snap.result is not None else display_table(snap.table)

        @render.table
        def looks():
            snap, _ = answer()
            req(snap.result is not None)
            return looks_table(snap.result.looks)

        @render.table
        def selection():
            snap, _ = answer()
            req(snap.result is not None and snap.result.selection is not None)
            return selection_table(snap.result.selection)

        @render.ui
        def sample_size():
            snap, spec = answer()
            if snap.result is not None:
                return ui.p(confirmatory_text(snap.table), id="sample-size-text")
            return ui.p(sample_size_text(snap.table, spec.target_power), id="sample-size-text")

        @render.ui
        def cutoff_note():
            spec = form()[0]
            if spec is None or not spec.simulated or spec.marker == "csf_pnfh" or spec.confirmatory:
                return None
            try:
                level = spec.screening_cutoff()
            except (FormError, ParameterError):
                return None
            return ui.div(f"screened by serum NfL ≤ {level:.1f} pg/mL (the level selecting the same share of the "
                          "cohort)", class_="small text-muted mb-2", id="cutoff-note")

        def command_of(spec: ExploreSpec) -> str:
            return spec.command_text(parameters_file=PARAMETERS_FILE, parameters_name=parameters_name(spec),
                                     confirmatory_file=CONFIRMATORY_FILE)

        @render.code
        def command():
            spec = shown_spec()
            return "" if spec is None else command_of(spec)

        @render.ui
        def parameters_button():
            spec = shown_spec()
            if spec is None or not spec.parameter_overrides():
                return None
            return ui.download_button("download_parameters", PARAMETERS_FILE, class_="btn-sm me-2")

        @render.ui
        def confirmatory_button():
            spec = shown_spec()
            if spec is None or not spec.confirmatory:
                return None
            return ui.download_button("download_confirmatory", CONFIRMATORY_FILE, class_="btn-sm me-2")

        @render.download(filename="design.toml")
        def download_design():
            spec = holder["spec"]
            yield spec.design_toml(parameters_file=PARAMETERS_FILE, parameters_name=parameters_name(spec))

        @render.download(filename="mndtrial-power.sh")
        def download_command():
            yield "#!/bin/sh\n# reproduces the design shown in mndtrial explore\n" + command_of(holder["spec"]) + "\n"

        @render.download(filename=CONFIRMATORY_FILE)
        def download_confirmatory():
            yield holder["spec"].confirmatory_toml()

        @render.download(filename=PARAMETERS_FILE)
        def download_parameters():
            yield holder["spec"].parameters_toml() or ""

        @render.download(filename="power.html")
        def download_power_html():
            snap, spec = holder["run"].snapshot(), holder["spec"]
            if snap.result is not None:
                yield confirmatory_page_html(snap.result, spec, command_of(spec))
            else:
                yield power_page_html(snap.table, spec, command_of(spec))

        def ended() -> None:
            if holder["run"] is not None:
                holder["run"].cancel()
            shutil.rmtree(uploads_dir, ignore_errors=True)

        session.on_ended(ended)

    web = App(page, server)
    if own_pool:
        web.on_shutdown(pool.terminate)
    return web
