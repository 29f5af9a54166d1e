"""The explorer without a browser: form checks, progressive refinement, the exported command.

References: `mndtrial.power.power` run in one go (the staged run must give its numbers exactly),
the `mndtrial power` command run from the exported call (same numbers, same seed), and closed
forms for the sample-size interpolation.
"""

from __future__ import annotations

import os
import shlex
import tomllib

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mndtrial.app import ExploreSpec, FormError, Refinement, parse_form, stages
from mndtrial.app.views import power_page_html, sample_size_rows
from mndtrial.cli import app as cli_app
from mndtrial.power import power

COMPARED = ["power", "power_mcse", "events_mean", "n_randomised_mean", "n_screened_mean", "events_sd"]


def _exponential(**changes) -> ExploreSpec:
    form = {"family": "exponential", "n_min": 60, "n_max": 60, "n_step": 40, "hr_low": 0.6, "hr_high": 1.2,
            "n_trials": 70, "seed": 3, "strategies": ["all-comers", "enriched", "stratified"], **changes}
    return parse_form(form)


def test_staged_run_equals_one_power_run_with_the_same_seed():
    spec = _exponential()
    assert stages(70, first=32) == [32, 64, 70]
    run = Refinement(spec.points(), spec.n_trials, spec.seed, first_trials=32, n_workers=1).start()
    snap = run.wait(300)
    assert (snap.state, snap.done) == ("done", 70)
    whole = power(spec.points(), n_trials=70, seed=3, n_workers=1).table
    pd.testing.assert_frame_equal(snap.table[["strategy", "n", *COMPARED]], whole[["strategy", "n", *COMPARED]])
    assert snap.first_s is not None and snap.first_s <= snap.elapsed_s


def test_cancel_stops_a_run_at_the_next_chunk_and_leaves_no_marker():
    spec = _exponential(n_trials=100_000)
    run = Refinement(spec.points(), spec.n_trials, spec.seed, first_trials=32, n_workers=1).start()
    run.cancel()
    snap = run.wait(120)
    assert snap.state == "cancelled" and snap.done < spec.n_trials
    assert not os.path.exists(run._marker)


@pytest.mark.parametrize("field, value, words", [
    ("n_min", -10, "whole number >= 4"), ("n_min", 2.5, "whole number"), ("alpha", 1.0, "(0, 1)"),
    ("alpha", 1.5, "(0, 1)"), ("cutoff", None, "required"), ("cutoff", "", "required"),
    ("hr_low", 0, "> 0"), ("n_trials", 0, "1 to"), ("dropout", -0.1, ">= 0"), ("n_min", "abc", "not a number")])
def test_bad_fields_are_named_with_their_rule(field, value, words):
    with pytest.raises(FormError) as err:
        _exponential(**{field: value})
    assert list(err.value.errors) == [field] and words in err.value.errors[field]


def test_form_rules_that_span_fields():
    with pytest.raises(FormError) as err:
        _exponential(n_min=200, n_max=100)
    assert "below the smallest n" in err.value.errors["n_max"]
    with pytest.raises(FormError) as err:
        _exponential(n_min=61, n_max=101)
    assert "even" in err.value.errors["n_min"]
    with pytest.raises(FormError) as err:  # the simulated low group starts at 750 pg/mL (MIROCALS)
        parse_form({"family": "mirocals", "cutoff": 700})
    assert "must exceed 750" in err.value.errors["cutoff"]
    with pytest.raises(FormError) as err:
        parse_form({"family": "file", "parameters_path": "/no/such/file.toml"})
    assert "no such file" in err.value.errors["parameters_path"]
    with pytest.raises(FormError) as err:  # found only when the design is built: by its field, not a traceback
        parse_form({"family": "mirocals", "follow_up_days": 50, "n_min": 100, "n_max": 100}).points()
    assert "follow_up_days" in err.value.errors


def test_exported_command_gives_the_app_numbers_for_a_changed_mirocals_design(tmp_path, monkeypatch):
    spec = parse_form({"family": "mirocals", "n_min": 120, "n_max": 120, "hr_low": 0.4, "hr_high": 1.1,
                       "allocation": "2:1", "follow_up_days": 600, "n_trials": 32, "seed": 5,
                       "strategies": ["all-comers", "stratified"], "primary": "logrank"})
    assert set(spec.parameter_overrides()) == {"drug.hr_low_pnfh", "drug.hr_high_pnfh",
                                               "designs.mirocals.allocation", "designs.mirocals.block_size"}
    ours = Refinement(spec.points(), spec.n_trials, spec.seed, first_trials=32, n_workers=1).start().wait(300)
    assert ours.state == "done", ours.message
    (tmp_path / "parameters.toml").write_text(spec.parameters_toml())
    monkeypatch.chdir(tmp_path)
    args = shlex.split(spec.command_text(out=str(tmp_path / "cli")))
    assert args[:2] == ["mndtrial", "power"] and "--parameters" in args and "horizon_days=600.0" in args
    done = CliRunner().invoke(cli_app, args[1:])
    assert done.exit_code == 0, done.output[-2000:]
    cli = pd.read_csv(tmp_path / "cli" / "power.csv")
    pd.testing.assert_frame_equal(ours.table[["strategy", "n", *COMPARED]].reset_index(drop=True),
                                  cli[["strategy", "n", *COMPARED]], check_dtype=False)
    # the 2:1 allocation reached the simulated design (placebo first), in blocks of whole cycles
    design = spec.family_object().source(120, False).design
    assert tuple(design.weights) == (1, 2) and design.block_size % 3 == 0

    doc = tomllib.loads(spec.design_toml())["explore"]
    assert doc["command"] == spec.command_text() and doc["parameter_file_overrides"]["drug.hr_low_pnfh"] == 0.4
    page = power_page_html(ours.table, spec, spec.command_text())
    assert "mndtrial power --design mirocals --parameters parameters.toml" in page and "<img" in page


def test_unchanged_family_values_stay_out_of_the_command():
    spec = parse_form({"family": "mirocals"})
    assert spec.design_changes() == {} and spec.parameter_overrides() == {}
    assert "--parameters" not in spec.command() and spec.parameters_toml() is None
    expo = _exponential(hr_high=0.6)  # the same effect above the cut-off: the design's own default
    assert "hazard_ratio_high" not in expo.command_text()


def test_sample_size_interpolates_linearly_between_simulated_sizes():
    n = np.array([100, 200, 300, 400])
    table = pd.DataFrame({"strategy": "all-comers", "n": n, "power": 0.2 + 0.002 * (n - 100),
                          "power_mcse": 0.01})
    row = sample_size_rows(table, 0.75)[0]
    # power = 0.2 + 0.002 (n - 100) = 0.75 at n = 375 (closed form), first simulated n above it: 400
    assert (row["n_grid"], row["n_interpolated"]) == (400, 375)
    assert sample_size_rows(table, 0.95)[0]["n_grid"] is None
