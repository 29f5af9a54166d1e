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
