"""`mndtrial demo` end to end (as a user runs it), --quiet, and errors as one line with exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mndtrial import read_trial
from mndtrial.report.provenance import sha256_file

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "mndtrial", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("demo")
    res = run_cli("demo", cwd=cwd)
    return cwd, res


def test_demo_writes_a_valid_trial_folder_and_the_report(demo_run):
    cwd, res = demo_run
    assert res.returncode == 0, res.stderr
    out = cwd / "demo-out"
    assert res.stdout.strip().splitlines()[-2:] == [f"Report: {Path('demo-out') / 'report.html'}",
                                                    f"Power report: {Path('demo-out') / 'power' / 'power.html'}"]
    trial = read_trial(out / "trial")  # the folder a user would bring, valid
    assert trial.n_participants == 220  # MIROCALS-like
    results = json.loads((out / "results.json").read_text())
    assert results["trial"]["n_participants"] == 220
    assert results["provenance"]["seed"] == 2026 and results["provenance"]["command"] == "mndtrial demo"
    assert results["plan"]["biomarker_rules"][0]["cutoffs"] == [3700.0]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<img " in html and "mndtrial demo" in html
    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert {"km_overall.png", "km_overall.svg", "forest.png", "km_subgroups_1.png"} <= set(figures)
    assert len([f for f in figures if f.endswith(".png")]) == len([f for f in figures if f.endswith(".svg")])
    # the report's provenance hashes are those of the files written
    survival = out / "trial" / "survival.csv"
    assert sha256_file(survival) in html
    # the power comparison: all-comers vs enriched at each sample size, with its report
    table = pd.read_csv(out / "power" / "power.csv")
    assert sorted(set(table["strategy"])) == ["all-comers", "enriched"]
    assert (table["n_trials"] == 200).all()
    power_html = (out / "power" / "power.html").read_text(encoding="utf-8")
    assert power_html.count("<img ") == 2 and "mndtrial demo" in power_html
    assert json.loads((out / "power" / "power.json").read_text())["provenance"]["seed"] == 2026


def test_quiet_prints_only_the_paths(tmp_path):
    res = run_cli("--quiet", "demo", "--out", "q", "--n-trials", "10", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines() == ["q/report.html", "q/power/power.html"]
    assert res.stderr == ""


def test_errors_are_one_line_and_exit_1(tmp_path):
    res = run_cli("demo", "--seed", "-1", cwd=tmp_path)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and res.stderr.startswith("error: ")
    res = run_cli("--debug", "demo", "--seed", "-1", cwd=tmp_path)
    assert res.returncode == 1 and "Traceback" in res.stderr


def test_an_output_folder_that_cannot_be_written_is_one_line(tmp_path):
    (tmp_path / "taken").write_text("a file where the output folder should go")
    res = run_cli("demo", "--out", "taken/out", cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert res.stderr.startswith("error: ") and "taken" in res.stderr
