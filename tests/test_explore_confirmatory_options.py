"""The confirmatory form's further options: asHSD / asKD / asUser alpha spending, conditional-power
and Z futility, and event re-estimation in the adaptive design.

References: `mndtrial power --confirmatory` run on the exported design file (the same numbers for
the same seed, and the file its loader reads holds the option), `mndtrial.design`'s boundaries
computed directly from the same arguments, and the form itself (export then reload).
"""

from __future__ import annotations

import shlex

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mndtrial.app import ConfirmatoryRun, FormError, parse_form
from mndtrial.app.confirm import checked_spec
from mndtrial.app.spec import form_values_from_toml
from mndtrial.cli import app as cli_app
from mndtrial.design import group_sequential_design
from mndtrial.power import load_confirmatory

BASE = {"family": "exponential", "mode": "confirmatory", "hr_low": 0.6, "hr_high": 1.0, "dropout": 0.05,
        "cutoff": 3700, "cf_info_rates": "0.4, 0.7, 1", "cf_n_max": 160, "cf_events": 80, "cf_interim_events": 32,
        "n_trials": 12, "seed": 5}
OPTIONS = {
    "asHSD": ({"cf_spending": "asHSD", "cf_gamma_a": -4}, ("design", {"type_of_design": "asHSD", "gamma_a": -4.0})),
    "asKD": ({"cf_spending": "asKD", "cf_gamma_a": 3}, ("design", {"type_of_design": "asKD", "gamma_a": 3.0})),
    "asUser": ({"cf_spending": "asUser", "cf_user_spending": "0.002, 0.01, 0.025", "cf_adaptive": False},
               ("design", {"type_of_design": "asUser", "user_alpha_spending": [0.002, 0.01, 0.025]})),
    "cp futility": ({"cf_futility": "conditional_power", "cf_futility_cp": 0.15},
                    ("futility", {"rule": "conditional_power", "conditional_power": 0.15, "binding": False})),
    "z futility": ({"cf_futility": "z", "cf_futility_z": "-0.5, 0.25"},
                   ("futility", {"rule": "z", "bounds": [-0.5, 0.25], "binding": False})),
    "re-estimation": ({"cf_reestimate": True, "cf_re_cp": 0.85, "cf_re_min": 20, "cf_re_max": 120},
                      ("adaptive_enrichment", {"reestimation": {"conditional_power": 0.85, "min_events": 20,
                                                                "max_events": 120}})),
}


@pytest.mark.parametrize("name", list(OPTIONS))
def test_each_option_reaches_the_design_file_the_cli_reads_and_reloads(name, tmp_path):
    changes, (table, expected) = OPTIONS[name]
    spec = parse_form({**BASE, **changes})
    (tmp_path / "confirmatory.toml").write_text(spec.confirmatory_toml())
    loaded = load_confirmatory(tmp_path / "confirmatory.toml").model_dump(exclude_none=True)[table]
    assert {k: loaded[k] for k in expected} == expected
    checked_spec(spec)  # every boundary computes
    assert parse_form(form_values_from_toml(spec.design_toml())) == spec


def test_the_spending_options_give_the_boundaries_of_the_design_module():
    for changes, kw in (({"cf_spending": "asHSD", "cf_gamma_a": -4}, {"gamma_a": -4.0}),
                        ({"cf_spending": "asKD", "cf_gamma_a": 3}, {"gamma_a": 3.0}),
                        ({"cf_spending": "asUser", "cf_user_spending": "0.002, 0.01, 0.025", "cf_adaptive": False},
                         {"user_alpha_spending": [0.002, 0.01, 0.025]})):
        spec = parse_form({**BASE, **changes, "cf_futility": "none"})
        ours = checked_spec(spec)
        from mndtrial.power.confirmatory import boundaries

        direct = group_sequential_design(information_rates=[0.4, 0.7, 1.0], alpha=0.025,
                                         type_of_design=changes["cf_spending"], **kw)
        np.testing.assert_allclose(boundaries(ours).critical_values, direct.critical_values, rtol=1e-12)


@pytest.mark.parametrize("names", [
    ("asHSD", "cp futility", "re-estimation"),  # together: one CLI run in the default suite
    pytest.param(("asKD", "z futility"), marks=pytest.mark.slow),
    pytest.param(("asUser",), marks=pytest.mark.slow)])
def test_the_options_give_the_numbers_of_mndtrial_power_confirmatory(names, tmp_path, monkeypatch):
    spec = parse_form({**BASE, **{k: v for name in names for k, v in OPTIONS[name][0].items()}})
    snap = ConfirmatoryRun(checked_spec(spec), spec.n_trials, spec.seed, first_trials=6, n_workers=1).start().wait(300)
    assert (snap.state, snap.done) == ("done", spec.n_trials), snap.message
    (tmp_path / "confirmatory.toml").write_text(spec.confirmatory_toml())
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(cli_app, shlex.split(spec.command_text(out="cli"))[1:])
    assert done.exit_code == 0, done.output[-2000:]
    cli = pd.read_csv(tmp_path / "cli" / "power.csv")
    cols = ["power", "power_mcse", "stop_efficacy_early", "stop_futility", "events_mean", "n_randomised_mean"]
    pd.testing.assert_frame_equal(snap.table[["strategy", *cols]].reset_index(drop=True), cli[["strategy", *cols]],
                                  check_dtype=False)


@pytest.mark.parametrize("changes, field", [
    ({"cf_spending": "asKD", "cf_gamma_a": -1}, "cf_gamma_a"),
    ({"cf_spending": "asHSD", "cf_gamma_a": ""}, "cf_gamma_a"),
    ({"cf_spending": "asUser", "cf_user_spending": "0.01, 0.025"}, "cf_user_spending"),
    ({"cf_spending": "asUser", "cf_user_spending": "0.01, x, 0.025"}, "cf_user_spending"),
    ({"cf_futility": "conditional_power", "cf_futility_cp": 1.2}, "cf_futility_cp"),
    ({"cf_futility": "z", "cf_futility_z": "0"}, "cf_futility_z"),
    ({"cf_reestimate": True, "cf_re_min": 200, "cf_re_max": 100}, "cf_re_max"),
    ({"cf_reestimate": True, "cf_re_cp": 0}, "cf_re_cp")])
def test_bad_option_values_are_named_by_their_field(changes, field):
    with pytest.raises(FormError) as err:
        parse_form({**BASE, **changes})
    assert list(err.value.errors) == [field]


@pytest.mark.parametrize("changes, field", [
    # the design checker's own rules, shown by the field they come from
    ({"cf_spending": "asUser", "cf_user_spending": "0.002, 0.01, 0.05", "cf_adaptive": False}, "cf_user_spending"),
    ({"cf_spending": "asUser", "cf_user_spending": "0.002, 0.01, 0.025"}, "cf_user_spending")])  # adaptive: 2 looks
def test_option_values_the_design_refuses_are_named_by_their_field(changes, field):
    spec = parse_form({**BASE, **changes})
    with pytest.raises(FormError) as err:
        checked_spec(spec)
    assert list(err.value.errors) == [field]


def test_options_of_another_choice_are_left_out_of_the_design():
    spec = parse_form({**BASE, "cf_spending": "asOF", "cf_gamma_a": "not used", "cf_futility": "none",
                       "cf_futility_z": "??", "cf_reestimate": False, "cf_re_cp": 7})
    assert (spec.cf_gamma_a, spec.cf_futility_z, spec.cf_re_cp, spec.cf_reestimate) == (None, None, None, False)
    doc = spec.confirmatory_design()
    assert "gamma_a" not in doc["design"] and "reestimation" not in doc["adaptive_enrichment"]
