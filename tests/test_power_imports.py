"""`mndtrial power` imports only what a fixed-design run uses (a behaviour test, not a timing test).

Importing scipy.stats (the cohort calibration), scipy.optimize (group-sequential boundaries),
statsmodels, lifelines or the trial-analysis stack costs seconds that the power command, which
needs none of them, paid at every start. A fresh interpreter does what the command does before
and during the engine's run (`mndtrial power` itself, a tiny run on one worker: in-process, the
chunks' own code as a worker runs it) and lists what was imported; each lazy package still
resolves every public name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
# Never imported on the power command's path until the report is drawn. (scipy.linalg is: numba
# loads its BLAS bindings when its first compiled kernel loads.)
HEAVY = ("scipy.stats", "scipy.optimize", "statsmodels", "lifelines", "sklearn", "matplotlib",
         "mndtrial.design", "mndtrial.sim.fit_cohort", "mndtrial.analysis.plan", "mndtrial.analysis.cox",
         "mndtrial.power.enrichment", "mndtrial.power.confirmatory", "mndtrial.report.html")

SCRIPT = """
import json, sys
import mndtrial.cli as cli
import mndtrial.power as power_package

run, seen = power_package.power, {}


def recorded(*args, **kwargs):  # the engine's run as the command calls it, its imports recorded
    seen["before"] = sorted(sys.modules)
    res = run(*args, **kwargs)
    seen["after"] = sorted(sys.modules)
    return res


power_package.power = recorded
sys.argv = ["mndtrial", "power", "--design", "mirocals", "--n-trials", "8", "--chunk-size", "8", "--workers", "1",
            "--out", sys.argv[1], "-q"]
try:
    cli.main()
except SystemExit as exc:
    seen["exit"] = exc.code
seen["report"] = "matplotlib" in sys.modules
json.dump(seen, sys.stderr)
"""


def _heavy(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_the_power_command_path_does_not_import_heavy_modules(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "out")], capture_output=True, text=True,
                          env=env, timeout=300)
    seen = json.loads(done.stderr.splitlines()[-1])
    assert seen.get("exit") == 0, done.stderr[-3000:]
    assert (tmp_path / "out" / "power.html").exists() and seen["report"]  # the report was drawn after the run
    assert "mndtrial.batch.cox" in seen["after"]  # the run did run the analyses (in this process: one worker)
    assert not _heavy(seen["before"]), f"imported before the run: {_heavy(seen['before'])[:10]}"
    assert not _heavy(seen["after"]), f"imported by the engine's run: {_heavy(seen['after'])[:10]}"


@pytest.mark.parametrize("package", ["mndtrial.analysis", "mndtrial.power", "mndtrial.sim", "mndtrial.report"])
def test_every_public_name_of_a_lazy_package_resolves(package):
    import importlib

    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError):
        getattr(module, "no_such_name")


def test_the_analysis_plan_sections_register_without_the_package_importing_them():
    from mndtrial.analysis.registry import BUILTIN_SECTION_MODULES, registered_sections

    names = set(registered_sections())
    assert {"survival", "subgroups", "interaction", "function", "cafs", "treg", "joint"} <= names
    assert len(BUILTIN_SECTION_MODULES) == 5
