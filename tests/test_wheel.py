"""The wheel works on its own: built with `python -m build`, installed (not editable) into a clean
venv, it runs `mndtrial demo` and reference tests with nothing of the checkout importable.

Slow (a venv and the dependencies, from pip's cache or PyPI): `.ci/run` runs it after `make test`.
The checkout is copied first so that the build leaves nothing (build/, *.egg-info) behind in it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from checkout import copy_checkout

# Read stored reference data and package data (the simulator's parameters.toml, the presets), and
# check that the example trial the wheel makes (`mndtrial.data.example`) is the shipped examples/ folder.
INSTALLED_TESTS = ("tests/test_function.py::test_sleepstudy_matches_lme4",
                   "tests/test_power.py::test_schoenfeld_closed_form_matches_reference",
                   "tests/test_follow_up.py", "tests/test_sim_design.py",
                   "tests/test_data_io.py::test_shipped_example_folder_is_the_example_trial")


def _run(args: list, cwd: Path, timeout: int = 1200) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_wheel_installs_and_runs_demo_and_tests(tmp_path):
    pytest.importorskip("build")
    source = copy_checkout(tmp_path / "source")
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", tmp_path / "dist", source], cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("mndtrial-*.whl"))

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    _run([python, "-m", "pip", "install", "--quiet", f"{wheel}[test]"], cwd=tmp_path)

    # an empty folder: nothing of the checkout is on the path
    work = tmp_path / "work"
    work.mkdir()
    where = _run([python, "-c", "import mndtrial; print(mndtrial.__file__)"], cwd=work).stdout.strip()
    assert Path(where).resolve().is_relative_to(env_dir.resolve()), where
    package = Path(where).parent
    assert (package / "sim" / "parameters.toml").is_file() and (package / "py.typed").is_file()

    demo = _run([env_dir / "bin" / "mndtrial", "--quiet", "demo", "--out", work / "demo-out", "--n-trials", "20"],
                cwd=work)
    assert (work / "demo-out" / "report.html").is_file() and (work / "demo-out" / "power" / "power.html").is_file()
    assert "report.html" in demo.stdout

    # the tests, against the installed package: copied without src/, so only the wheel can be imported
    shutil.copytree(source / "tests", work / "tests")
    shutil.copytree(source / "examples", work / "examples")
    shutil.copy2(source / "pyproject.toml", work / "pyproject.toml")
    done = _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *INSTALLED_TESTS], cwd=work)
    assert " passed" in done.stdout and "failed" not in done.stdout
