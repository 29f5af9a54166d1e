"""`mndtrial power` writes the table the API computes, and refuses bad options clearly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mndtrial.cli.power import parse_vary
from mndtrial.errors import ParameterError
from mndtrial.power import design_points, family, power

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "mndtrial", *args], capture_output=True, text=True, env=env)


def test_power_command_writes_csv_json_equal_to_the_api(tmp_path):
    r = _cli("power", "--design", "mirocals", "--vary", "n=100:200:100", "--designs", "all-comers,enriched",
             "--n-trials", "12", "--seed", "3", "--workers", "1", "--no-slope", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "all-comers" in r.stdout and "enriched" in r.stdout
    table = pd.read_csv(tmp_path / "power.csv")
    assert list(zip(table.strategy, table.n)) == [("all-comers", 100), ("enriched", 100),
                                                  ("all-comers", 200), ("enriched", 200)]
    points = design_points(family("mirocals"), [100, 200], ("all-comers", "enriched"), slope=False)
    api = power(points, n_trials=12, seed=3, n_workers=1)
    assert table["power"].tolist() == pytest.approx(api.table["power"].tolist(), abs=1e-12)
    assert json.loads((tmp_path / "power.json").read_text())["n_trials"] == 12


def test_bad_options_are_clear_errors(tmp_path):
    r = _cli("power", "--designs", "adaptive", "--out", str(tmp_path))
    assert r.returncode == 1 and "--designs" in r.stderr
    r = _cli("power", "--vary", "hr=0.5:0.9:0.1", "--out", str(tmp_path))
    assert r.returncode == 1 and "--vary" in r.stderr


def test_parse_vary():
    assert parse_vary("n=200:600:100") == [200, 300, 400, 500, 600]
    assert parse_vary("n=300") == [300]
    with pytest.raises(ParameterError):
        parse_vary("n=600:200:100")


def test_scheduler_without_the_dask_backend_is_refused_not_ignored(tmp_path):
    # The run used to go ahead on local processes, the scheduler address silently unused.
    r = _cli("power", "--scheduler", "tcp://127.0.0.1:8786", "--designs", "all-comers", "--vary", "n=40",
             "--n-trials", "2", "--no-slope", "--workers", "1", "--out", str(tmp_path))
    assert r.returncode == 1 and "dask" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "power.csv").exists()


def _exponential(tmp_path, *extra: str) -> subprocess.CompletedProcess:
    return _cli("power", "--design", "exponential", "--designs", "all-comers", "--vary", "n=60", "--n-trials", "8",
                "--seed", "4", "--workers", "1", "--no-slope", "--out", str(tmp_path), *extra)


def test_hazard_ratio_sets_the_exponential_effect(tmp_path):
    r = _exponential(tmp_path, "--hazard-ratio", "0.5")
    assert r.returncode == 0, r.stderr
    api = power(design_points(family("exponential", hazard_ratio=0.5), [60], ("all-comers",), slope=False),
                n_trials=8, seed=4, n_workers=1)
    table = pd.read_csv(tmp_path / "power.csv")
    assert table["power"].tolist() == pytest.approx(api.table["power"].tolist(), abs=1e-12)
    assert table["cox_hr_geometric_mean"].iloc[0] == pytest.approx(api.table["cox_hr_geometric_mean"].iloc[0])
    data = json.loads((tmp_path / "power.json").read_text())
    assert data["under_null"] is False and data["power_column"] == "power"
    assert data["provenance"]["extra"]["hazard_ratio"] == 0.5
    assert "type I error" not in r.stdout


def test_exponential_default_run_says_it_is_under_the_null(tmp_path):
    r = _exponential(tmp_path)  # the design's default HR is 1
    assert r.returncode == 0, r.stderr
    assert "type I error" in r.stdout and "under the null" in r.stdout
    data = json.loads((tmp_path / "power.json").read_text())
    assert data["under_null"] is True and data["power_column"] == "type I error"
    r = _exponential(tmp_path / "hr1", "--hazard-ratio", "1")
    assert r.returncode == 0 and "under the null" in r.stdout


def test_hazard_ratio_is_refused_where_it_does_not_apply(tmp_path):
    for args in (("--design", "mirocals"), ("--design", "exponential", "--null")):
        r = _cli("power", *args, "--hazard-ratio", "0.7", "--n-trials", "2", "--out", str(tmp_path))
        assert r.returncode == 1 and "--hazard-ratio" in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "power.csv").exists()
    r = _exponential(tmp_path, "--hazard-ratio", "0")
    assert r.returncode == 1 and "hazard_ratio" in r.stderr and "Traceback" not in r.stderr


def test_multi_arm_run_prints_compared_and_total_counts(tmp_path):
    r = _cli("power", "--design", "imodals", "--designs", "all-comers", "--vary", "n=45", "--n-trials", "2",
             "--workers", "1", "--no-slope", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    header = next(line for line in r.stdout.splitlines() if "events_mean" in line).split()
    assert {"n_compared_mean", "events_all_arms_mean", "n_randomised_mean"} <= set(header)
    table = pd.read_csv(tmp_path / "power.csv")
    assert table["n_compared_mean"].iloc[0] == 30 and table["n_randomised_mean"].iloc[0] == 45
