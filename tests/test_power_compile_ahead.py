"""A first run's kernels compiled side by side (`power.compile_ahead`): which kinds are cold, each
compiled in its own process, and the numbers the same as a run that found them cached."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from mndtrial.power import compile_ahead

SRC = Path(__file__).resolve().parents[1] / "src"


def _kernel_module(index_path):
    """A module whose `kernel` has numba's cache attributes (index at `index_path`, or no cache)."""
    cache = None if index_path is None else types.SimpleNamespace(_cache_file=types.SimpleNamespace(
        _index_path=str(index_path)))
    return types.SimpleNamespace(kernel=types.SimpleNamespace(_cache=cache))


def test_a_kind_is_cold_when_its_kernel_can_be_cached_and_is_not(tmp_path, monkeypatch):
    (tmp_path / "warm.nbi").write_bytes(b"")
    modules = {"cached": _kernel_module(tmp_path / "warm.nbi"), "missing": _kernel_module(tmp_path / "cold.nbi"),
               "uncachable": _kernel_module(None)}
    monkeypatch.setattr(compile_ahead.importlib, "import_module", modules.__getitem__)
    monkeypatch.setattr(compile_ahead, "KERNELS", {kind: (kind, "kernel") for kind in modules})
    assert compile_ahead.cold_kinds(["cached", "missing", "uncachable", "missing", "survival"]) == ["missing"]


@pytest.mark.skipif(not compile_ahead._forks(), reason="side by side needs fork and two CPUs")
def test_each_test_but_the_first_runs_in_its_own_process(tmp_path):
    class Recording:
        def __init__(self, name):
            self.name = name

        def run(self, batch):
            (tmp_path / self.name).write_text(f"{os.getpid()} {batch}")
            if self.name == "broken":
                raise RuntimeError("left to the run")

    compile_ahead.compile_side_by_side("batch", [Recording("here"), Recording("there"), Recording("broken")])
    pids = {name: (tmp_path / name).read_text().split()[0] for name in ("here", "there", "broken")}
    assert pids["here"] == str(os.getpid()) and len(set(pids.values())) == 3
    assert all((tmp_path / name).read_text().endswith(" batch") for name in pids)


@pytest.mark.slow
def test_a_first_run_compiles_side_by_side_and_finds_the_same_numbers(tmp_path):
    """A fresh numba cache (first run of an install) against the same cache once filled: both
    kinds are cached after the first run, and the power tables are equal."""
    script = ("import json, sys\n"
              "from mndtrial.power import compile_ahead, power\n"
              "from mndtrial.power.designs import design_points, family\n"
              "cold = compile_ahead.cold_kinds(['cox', 'slope'])\n"
              "points = design_points(family('mirocals'), [120], primary_test='cox')\n"
              "res = power(points, n_trials=40, seed=3, n_workers=1)\n"
              "print(json.dumps({'cold_before': cold, 'cold_after': compile_ahead.cold_kinds(['cox', 'slope']),\n"
              "                  'table': res.table.to_json()}))\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PYTHONPATH": str(SRC)}
    runs = [json.loads(subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                                      check=True, timeout=900).stdout.splitlines()[-1]) for _ in range(2)]
    assert runs[0]["cold_before"] == ["cox", "slope"] and runs[0]["cold_after"] == []
    assert runs[1]["cold_before"] == [] and runs[0]["table"] == runs[1]["table"]
