"""`mndtrial power` imports only what a fixed-design run uses (a behaviour test, not a timing test).

Importing scipy.stats (the cohort calibration), scipy.optimize (group-sequential boundaries),
statsmodels, lifelines or the trial-analysis stack costs seconds that the power command, which
needs none of them, paid at every start. A fresh interpreter does what the command does before
and during the engine's run (a tiny run, in-process: the chunks' own code, as a worker runs it)
and lists what was imported; each lazy package still resolves every public name.
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
from pathlib import Path
import mndtrial.cli.power  # the command's module, as `mndtrial power` loads it
from mndtrial.cli.power_sweep import sweep_points
from mndtrial.power import STRATEGIES, family, power
from mndtrial.report import collect_provenance
fam = family("mirocals")
_, points, _, _ = sweep_points(fam, None, [], list(STRATEGIES), False, "stratified-logrank", alpha=0.025,
                               alpha_split=0.5, slope=True)
before = sorted(sys.modules)
res = power(points, n_trials=8, seed=1, chunk_size=8, n_workers=1, progress=False,
            trials_path=Path(sys.argv[1]) / "trials.parquet")
json.dump({"before": before, "after": sorted(sys.modules), "points": len(res.table)}, sys.stdout)
"""


def _heavy(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_the_power_command_path_does_not_import_heavy_modules(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    assert seen["points"] == 3 and "mndtrial.batch.cox" in seen["after"]  # the run did run the analyses
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
