"""Light commands import only what they use: `mndtrial --help` must not pull in the analysis stack.

A behaviour test, not a timing test: `python -X importtime` lists every module the interpreter
imported while running the command; the heavy libraries must not be among them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("pandas", "numpy", "scipy", "lifelines", "statsmodels", "matplotlib", "numba", "pyarrow")


def imported_modules(*args: str) -> tuple[set[str], subprocess.CompletedProcess]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "mndtrial", *args],
                          capture_output=True, text=True, env=env, timeout=120)
    names = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    return names, done


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("analyze", "--help"), ("power", "--help"),
                                  ("explore", "--help")])
def test_light_commands_do_not_import_the_analysis_stack(args):
    names, done = imported_modules(*args)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "typer" in names  # the importtime listing was read (else the check below proves nothing)
    heavy = sorted(n for n in names if n.split(".")[0] in HEAVY)
    assert not heavy, f"`mndtrial {' '.join(args)}` imported {heavy[:10]}"


def test_the_lazy_names_of_the_package_still_resolve():
    import mndtrial
    from mndtrial.data import Trial, read_trial

    assert mndtrial.Trial is Trial and mndtrial.read_trial is read_trial
    assert "TrialBatch" in dir(mndtrial)
    with pytest.raises(AttributeError):
        mndtrial.no_such_name  # noqa: B018
