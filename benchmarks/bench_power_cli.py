"""Benchmark `mndtrial power --design mirocals --n-trials N` end to end, and `mndtrial --help`.

Run by hand: `PYTHONPATH=src python benchmarks/bench_power_cli.py [N] [--rounds R] [--against SRC]`.

Each round runs, as subprocesses: `mndtrial --help`, then the power command, timed by wall clock
and by CPU (the command's own and its worker processes', user + system), and a phase breakdown
of the power command (the same command inside an instrumented interpreter): start-up imports,
the design points, the engine (`power()`: the parent's CPU and the workers' CPU apart), and the
outputs (power.csv/json, trials.parquet, power.html). CPU seconds change little with the load of
a shared machine; wall seconds do, so the wall figures are only comparable within one run.
`--against SRC` runs another source tree (e.g. a checkout of the previous release) in the
same rounds, interleaved, and prints the ratios.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PHASES = r'''
import os, sys, time, resource, json
T0 = time.perf_counter()
def cpu():
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime, b.ru_utime + b.ru_stime
marks = [("start", 0.0, *cpu())]
def mark(name): marks.append((name, time.perf_counter() - T0, *cpu()))
import mndtrial.cli as cli
import mndtrial.power as P
mark("imports")
run = P.power
def power(*a, **k):
    mark("design points"); r = run(*a, **k); mark("engine"); return r
P.power = power
sys.argv = ["mndtrial"] + sys.argv[1:]
try:
    cli.main()
except SystemExit:
    pass
mark("outputs")
json.dump(marks, sys.stderr)
'''


def _env(src: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(src))


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _phases(src: Path, args: list[str]) -> list[tuple[str, float, float, float]]:
    import json

    done = subprocess.run([sys.executable, "-c", PHASES, *args], env=_env(src), check=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    marks = json.loads(done.stderr.strip().splitlines()[-1])
    # per phase: wall, parent CPU, workers' CPU
    return [(name, t - t0, p - p0, c - c0) for (_, t0, p0, c0), (name, t, p, c) in zip(marks, marks[1:])]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n_trials", nargs="?", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", type=Path, default=None, help="another source tree (its src folder)")
    opts = parser.parse_args()
    trees = {"this": Path(__file__).resolve().parents[1] / "src"}
    if opts.against is not None:
        trees["against"] = opts.against.resolve()
    results: dict[str, dict[str, list]] = {name: {"help": [], "power": [], "phases": []} for name in trees}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(opts.rounds):
            for name, src in trees.items():
                out = Path(tmp) / name
                args = ["power", "--design", "mirocals", "--n-trials", str(opts.n_trials), "--out", str(out), "-q"]
                results[name]["help"].append(_timed([sys.executable, "-m", "mndtrial", "--help"], _env(src)))
                results[name]["power"].append(_timed([sys.executable, "-m", "mndtrial", *args], _env(src)))
                results[name]["phases"].append(_phases(src, args))
    print(f"mndtrial power --design mirocals --n-trials {opts.n_trials:,} (three strategies), "
          f"{opts.rounds} rounds, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    for name, r in results.items():
        print(f"\n[{name}: {trees[name]}]")
        for what in ("help", "power"):
            walls = sorted(w for w, _ in r[what])
            cpus = sorted(c for _, c in r[what])
            print(f"  {what:6s} wall best {walls[0]:6.2f} s (spread {walls[0]:.2f}-{walls[-1]:.2f}), "
                  f"CPU best {cpus[0]:6.2f} s")
        print("  phases (best round by wall): wall / parent CPU / workers' CPU")
        best = min(r["phases"], key=lambda ph: sum(p[1] for p in ph))
        for phase, wall, parent, workers in best:
            print(f"    {phase:14s} {wall:6.2f} s  {parent:6.2f} s  {workers:6.2f} s")
    if "against" in results:
        ratio = min(w for w, _ in results["against"]["power"]) / min(w for w, _ in results["this"]["power"])
        cpu_ratio = min(c for _, c in results["against"]["power"]) / min(c for _, c in results["this"]["power"])
        print(f"\npower: against / this = {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU")


if __name__ == "__main__":
    main()
