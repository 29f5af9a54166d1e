"""The explorer's newer inputs without a browser: the biomarker rule and cut-off of the simulated
family, a user parameters file, the confirmatory mode, and reloading a saved design.

References: the `mndtrial power` command run from the exported call (fixed-sample and
`--confirmatory`, same numbers for the same seed), the CLI's own matched serum NfL cut-off
(power.csv's `marker_cutoff_pg_ml`), the parameter file loader's own errors, and the form itself
(export then reload gives the same design).
"""

from __future__ import annotations

import shlex
from importlib import resources

import pandas as pd
import pytest
from typer.testing import CliRunner

from mndtrial.app import ConfirmatoryRun, FormError, Refinement, parse_form
from mndtrial.app.confirm import checked_spec
from mndtrial.app.spec import form_values_from_toml
from mndtrial.cli import app as cli_app

COMPARED = ["power", "power_mcse", "events_mean", "n_randomised_mean", "n_screened_mean"]


def _cli(spec, tmp_path, monkeypatch, **files: str) -> pd.DataFrame:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    args = shlex.split(spec.command_text(out=str(tmp_path / "cli")))
    done = CliRunner().invoke(cli_app, args[1:])
    assert done.exit_code == 0, done.output[-2000:]
    return pd.read_csv(tmp_path / "cli" / "power.csv")


def test_cutoff_and_serum_marker_of_the_simulated_family_give_the_cli_numbers(tmp_path, monkeypatch):
    spec = parse_form({"family": "mirocals", "n_min": 80, "n_max": 80, "cutoff": 2500, "marker": "serum_nfl",
                       "strategies": ["all-comers", "enriched"], "n_trials": 32, "seed": 4})
    args = spec.command()
    assert args[args.index("--marker") + 1] == "serum_nfl" and "cutoff=2500.0" in args
    ours = Refinement(spec.points(), spec.n_trials, spec.seed, first_trials=32, n_workers=1).start().wait(300)
    assert ours.state == "done", ours.message
    cli = _cli(spec, tmp_path, monkeypatch)
    pd.testing.assert_frame_equal(ours.table[["strategy", "n", *COMPARED]].reset_index(drop=True),
                                  cli[["strategy", "n", *COMPARED]], check_dtype=False)
    # the serum NfL level the page shows is the CLI's matched cut-off
    assert round(spec.screening_cutoff(), 1) == pytest.approx(cli["marker_cutoff_pg_ml"].iloc[0])
    assert spec.screening_cutoff() < 2500  # serum NfL pg/mL, far below CSF-pNfH's
    # a lower cut-off screens more people out for the enriched trial (same n randomised)
    low = parse_form({"family": "mirocals", "n_min": 80, "n_max": 80, "cutoff": 1500, "strategies": ["enriched"],
                      "n_trials": 32, "seed": 4})
    assert low.family_object().source(80, True).design.enrichment.high == 1500.0


@pytest.mark.parametrize("value, words", [("", "required"), (None, "required"), (0, "> 0"), (-5, "> 0"),
                                          (500, "must exceed 750"), ("abc", "not a number")])
def test_a_bad_cutoff_of_the_simulated_family_is_named_by_its_field(value, words):
    with pytest.raises(FormError) as err:
        parse_form({"family": "mirocals", "cutoff": value})
    assert list(err.value.errors) == ["cutoff"] and words in err.value.errors["cutoff"]
    with pytest.raises(FormError) as err:
        parse_form({"family": "exponential", "marker": "serum_nfl"})
    assert "CSF-pNfH only" in err.value.errors["marker"]


def _shipped_parameters() -> str:
    return resources.files("mndtrial.sim").joinpath("parameters.toml").read_text(encoding="utf-8")


def test_a_user_parameters_file_is_a_family_and_its_errors_are_shown_by_the_field(tmp_path):
    good = tmp_path / "mine.toml"
    good.write_text(_shipped_parameters().replace('hr_low_pnfh = { value = 0.52', 'hr_low_pnfh = { value = 0.61'))
    spec = parse_form({"family": "file", "parameters_path": str(good)})
    assert spec.hr_low == 0.61 and spec.parameter_overrides() == {}
    assert spec.command(parameters_name="mine.toml")[4:6] == ["--parameters", "mine.toml"]
    misspelt = tmp_path / "bad.toml"
    misspelt.write_text(_shipped_parameters().replace("age_mean_years", "age_mean_yeers"))
    with pytest.raises(FormError) as err:
        parse_form({"family": "file", "parameters_path": str(misspelt)})
    assert "age_mean_yeers" in err.value.errors["parameters_path"]
    broken = tmp_path / "broken.toml"
    broken.write_text("[cohort\n")
    with pytest.raises(FormError) as err:
        parse_form({"family": "file", "parameters_path": str(broken)})
    assert list(err.value.errors) == ["parameters_path"]


CONFIRMATORY = {"family": "exponential", "mode": "confirmatory", "hr_low": 0.6, "hr_high": 1.0, "dropout": 0.05,
                "cutoff": 3700, "cf_info_rates": "0.5, 1", "cf_n_max": 120, "cf_events": 60,
                "cf_interim_events": 24, "n_trials": 16, "seed": 2}


def test_confirmatory_mode_gives_the_numbers_of_mndtrial_power_confirmatory(tmp_path, monkeypatch):
    spec = parse_form(CONFIRMATORY)
    assert spec.command_text(out="OUT") == "mndtrial power --confirmatory confirmatory.toml --n-trials 16 --seed 2 --out OUT"
    snap = ConfirmatoryRun(checked_spec(spec), spec.n_trials, spec.seed, first_trials=8, n_workers=1).start().wait(300)
    assert (snap.state, snap.done) == ("done", 16), snap.message
    cli = _cli(spec, tmp_path, monkeypatch, **{"confirmatory.toml": spec.confirmatory_toml()})
    assert list(cli["strategy"]) == ["all-comers", "enriched", "adaptive-enrichment"]
    cols = ["power", "power_mcse", "stop_efficacy_early", "stop_futility", "events_mean", "n_randomised_mean",
            "n_screened_mean", "duration_days_mean"]
    pd.testing.assert_frame_equal(snap.table[["strategy", *cols]].reset_index(drop=True), cli[["strategy", *cols]],
                                  check_dtype=False)
    looks = pd.read_csv(tmp_path / "cli" / "looks.csv")
    pd.testing.assert_frame_equal(snap.result.looks[["strategy", "look", "p_efficacy", "p_futility"]],
                                  looks[["strategy", "look", "p_efficacy", "p_futility"]], check_dtype=False)
    assert snap.result.selection["probability"].sum() == pytest.approx(1.0)
    # the design file the page exports is the one the CLI validated
    doc = spec.confirmatory_design()
    assert doc["pool"] == {"kind": "exponential", "arrivals_per_day": 1.0, "hazard_ratio_s": 0.6,
                           "hazard_ratio_r": 1.0, "dropout_per_year": 0.05}
    assert doc["futility"]["rule"] == "beta_spending" and doc["design"]["beta"] == pytest.approx(0.2)


@pytest.mark.parametrize("changes, field", [
    ({"cf_info_rates": "0.5, 0.4, 1"}, "cf_info_rates"), ({"cf_info_rates": "1"}, "cf_info_rates"),
    ({"cf_info_rates": "0.5, x"}, "cf_info_rates"), ({"cf_events": 200}, "cf_events"),
    ({"cf_interim_events": 60}, "cf_interim_events"), ({"strategies": ["stratified"]}, "strategies"),
    ({"family": "mirocals", "hr_low": 0.3}, "hr_low"), ({"family": "file"}, "family"),
    ({"cf_futility_hr": 0}, "cf_futility_hr")])
def test_confirmatory_field_errors(changes, field):
    with pytest.raises(FormError) as err:
        parse_form({**CONFIRMATORY, **changes})
    assert field in err.value.errors


def test_confirmatory_design_errors_found_by_the_design_checker_are_shown_by_their_field():
    spec = parse_form({**CONFIRMATORY, "target_power": 0.3})  # beta = 0.7: beyond rpact's range
    with pytest.raises(FormError) as err:
        checked_spec(spec)
    assert list(err.value.errors) == ["target_power"]


@pytest.mark.parametrize("form", [
    {"family": "mirocals", "cutoff": 2500, "marker": "serum_nfl", "hr_low": 0.4, "allocation": "2:1",
     "strategies": ["enriched", "stratified"], "primary": "cox", "n_trials": 500},
    {"family": "exponential", "hr_low": 0.6, "hr_high": 0.9, "cutoff": 3000, "follow_up_days": 500, "seed": 9},
    CONFIRMATORY, {**CONFIRMATORY, "cf_adaptive": False, "cf_futility": "hazard_ratio", "cf_spending": "asP"}])
def test_export_then_reload_gives_the_same_design(form):
    spec = parse_form(form)
    again = parse_form(form_values_from_toml(spec.design_toml()))
    assert again == spec and again.command_text() == spec.command_text()


def test_a_file_that_is_not_a_saved_design_is_refused_by_the_upload_field():
    for text, words in (("[explore\n", "not valid TOML"), ("[other]\nx = 1\n", "no [explore] table"),
                        ("[explore]\nfamily = 'exponential'\nspeed = 3\n", "unknown setting")):
        with pytest.raises(FormError) as err:
            form_values_from_toml(text)
        assert words in err.value.errors["design_upload"]


def test_the_app_imports_only_names_its_packages_export():
    """The explorer is a client of the public API: every name it imports from elsewhere in
    mndtrial is in that module's `__all__`."""
    import ast
    import importlib
    from pathlib import Path

    import mndtrial.app

    checked = 0
    for source in Path(mndtrial.app.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 2:  # from ..X import names
                module = importlib.import_module(f"mndtrial.{node.module}")
                for alias in node.names:
                    assert alias.name in getattr(module, "__all__", ()), (source.name, node.module, alias.name)
                    checked += 1
    assert checked > 20
