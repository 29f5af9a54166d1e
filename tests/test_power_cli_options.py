"""`mndtrial power --primary/--vary NAME=...` and `mndtrial sample-size`: the CLI computes what the API does.

The references are the API calls the options declare (`design_points(primary_test=...,
primary_strata=...)`, `family(...).with_parameters(...)`, `sample_size(...)`) run with the same
seed, and for the Cox primary the per-trial Cox p-values against alpha.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mndtrial.cli import app
from mndtrial.cli.power import parse_vary_axis, vary_points
from mndtrial.errors import ParameterError
from mndtrial.power import design_points, family, power, sample_size

COMMON = ("--design", "exponential", "--designs", "all-comers", "--n-trials", "24", "--seed", "4", "--workers", "1",
          "--no-slope")


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_parse_vary_axis():
    assert parse_vary_axis("hazard_ratio=0.5:0.9:0.1") == ("hazard_ratio", [0.5, 0.6, 0.7, 0.8, 0.9])
    assert parse_vary_axis("follow_up_days=540,720") == ("follow_up_days", [540.0, 720.0])
    assert parse_vary_axis("n=200:600:200") == ("n", [200, 400, 600])
    assert parse_vary_axis("n=1e2") == ("n", [100])
    for bad in ("hazard_ratio", "hazard_ratio=0.9:0.5:0.1", "n=100.5", "hazard_ratio=0.5:0.9:0", "HR=x"):
        with pytest.raises(ParameterError, match="--vary"):
            parse_vary_axis(bad)


@pytest.mark.parametrize("primary, test, strata", [("logrank", "logrank", ()), ("stratified-logrank", "logrank", None),
                                                   ("cox", "cox", ())])
def test_primary_declares_the_api_analysis(primary, test, strata):
    fam = family("exponential", hazard_ratio=0.6)
    _, points, _, null = vary_points(fam, ["n=80"], ["all-comers", "stratified"], False, primary, slope=False)
    expected = design_points(fam, [80], ("all-comers", "stratified"), slope=False, primary_test=test,
                             primary_strata=strata)
    assert [p.analysis for p in points] == [p.analysis for p in expected] and not null
    criteria = [c.test for p in points for c in p.analysis.criteria]
    assert {t.kind for t in criteria} == {test}
    assert {t.strata for t in criteria} == {("onset_site",) if strata is None else ()}


def test_cox_primary_succeeds_on_the_cox_test(tmp_path):
    fam = family("exponential", hazard_ratio=0.6)
    r = run("power", *COMMON, "--vary", "n=80", "--hazard-ratio", "0.6", "--primary", "cox", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    api = power(design_points(fam, [80], ("all-comers",), slope=False, primary_test="cox", primary_strata=()),
                n_trials=24, seed=4, n_workers=1)
    table = pd.read_csv(tmp_path / "power.csv")
    assert table["power"].tolist() == pytest.approx(api.table["power"].tolist(), abs=1e-12)
    assert json.loads((tmp_path / "power.json").read_text())["provenance"]["extra"]["primary"] == "cox"
    # success is the Cox Wald test of treatment, one-sided at alpha; the design's log-rank is reported beside
    trials = api.trials
    expected = trials["cox_converged"].astype(bool) & (trials["cox_p_benefit"] < 0.025)
    np.testing.assert_array_equal(trials["success"].to_numpy(bool), expected.to_numpy())
    assert 0 < expected.sum() < len(trials) and "logrank_stratified_p_benefit" in trials


def test_vary_design_parameters_as_a_grid(tmp_path):
    r = run("power", *COMMON, "--vary", "n=60,100", "--vary", "hazard_ratio=0.6,1", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    table = pd.read_csv(tmp_path / "power.csv")
    assert list(zip(table["hazard_ratio"], table["n"])) == [(0.6, 60), (0.6, 100), (1.0, 60), (1.0, 100)]
    assert set(table["design"]) == {"exponential hazard_ratio=0.6", "exponential hazard_ratio=1"}
    # only the HR 1 rows are type I error, and the table says which
    assert table["under_null"].tolist() == [False, False, True, True]
    data = json.loads((tmp_path / "power.json").read_text())
    assert data["under_null"] is False and data["provenance"]["extra"]["vary"] == {"hazard_ratio": [0.6, 1.0]}
    # the reproducing call repeats --vary as typed
    assert "--vary n=60,100 --vary hazard_ratio=0.6,1" in data["provenance"]["command"]
    for hr, rows in table.groupby("hazard_ratio"):
        api = power(design_points(family("exponential", hazard_ratio=hr), [60, 100], ("all-comers",), slope=False),
                    n_trials=24, seed=4, n_workers=1)
        assert rows["power"].tolist() == pytest.approx(api.table["power"].tolist(), abs=1e-12)
    header = next(line for line in r.output.splitlines() if line.split()[:2] == ["strategy", "n"])
    assert header.split()[2] == "hazard_ratio"  # the printed table shows the varied parameter


def test_vary_refuses_what_the_design_does_not_have(tmp_path):
    r = run("power", "--design", "mirocals", "--vary", "hazard_ratio=0.7", "--out", str(tmp_path))
    assert r.exit_code != 0
    message = str(r.exception)
    assert "--vary" in message and "horizon_days" in message  # names what mirocals can vary
    for args in (("--null", "--vary", "hazard_ratio=0.7"), ("--hazard-ratio", "0.7", "--vary", "hazard_ratio=0.6"),
                 ("--vary", "n=60", "--vary", "n=80"), ("--primary", "wilcoxon")):
        r = run("power", *COMMON, *args, "--out", str(tmp_path))
        assert r.exit_code != 0 and isinstance(r.exception, ParameterError), args
    assert not (tmp_path / "power.csv").exists()


def test_sample_size_command_is_the_api_search(tmp_path):
    args = ("--design", "exponential", "--set", "hazard_ratio=0.6", "--set", "follow_up_days=1000",
            "--target-power", "0.7", "--n-min", "40", "--n-max", "400", "--step", "40", "--n-trials", "40",
            "--seed", "3", "--workers", "1", "--primary", "logrank")
    r = run("sample-size", *args, "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    api = sample_size(family("exponential", hazard_ratio=0.6, follow_up_days=1000.0), 0.7, "all-comers", n_min=40,
                      n_max=400, step=40, n_trials=40, seed=3, primary_strata=(), n_workers=1)
    data = json.loads((tmp_path / "sample-size.json").read_text())
    assert api.n is not None and data["n"] == api.n and data["power"] == pytest.approx(api.power)
    assert f"n = {api.n}: power" in r.output
    evaluated = pd.read_csv(tmp_path / "sample-size.csv")
    assert evaluated["n"].tolist() == api.evaluated["n"].tolist()
    assert data["provenance"]["extra"]["set"] == {"hazard_ratio": 0.6, "follow_up_days": 1000.0}
    r = run("sample-size", "--design", "exponential", "--set", "n=100")
    assert r.exit_code != 0 and "--set" in str(r.exception)
