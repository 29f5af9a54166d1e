"""Benchmark the CPU cost of the trial report's figures: building them and drawing them to PNG.

Run by hand from the repository root:

    PYTHONPATH=src python benchmarks/bench_report_figures.py [--rounds N] [--against GIT_REF]

A 300-participant MIROCALS-like trial (`simulate(mirocals(n_randomised=300), seed=7)`) is analysed
once with `docs/examples/analysis-plan.toml`; then, per round, `analysis_report(trial, results)`
builds the report (its figures as matplotlib objects, timed one by one as the report makes them)
and each figure is drawn to PNG bytes (`report.style.figure_bytes(fig, "png")`, as
`mndtrial analyze` writes them). CPU seconds of the process (`time.process_time`), best of the
rounds per figure; the first round is also shown (the text caches of `report.canvas` start empty
there, as in a one-shot `mndtrial analyze`).

With `--against GIT_REF` that revision is exported (`git archive`) to a temporary folder and run
the same way in its own subprocess, interleaved round by round with this checkout's (also a
subprocess), so both see the same machine load; the table gives both and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "docs" / "examples" / "analysis-plan.toml"


# ---- the worker: one revision's mndtrial, imported from its src/ ---------------------------------

def _worker(trial_dir: str) -> None:
    """Read rounds from stdin ("go"), answer one JSON line per round: {figure: {build, png}}."""
    import mndtrial.report.html as html
    from mndtrial.analysis import AnalysisPlan
    from mndtrial.data import read_trial
    from mndtrial.report.analysis_report import analysis_report
    from mndtrial.report.style import figure_bytes

    trial = read_trial(trial_dir)
    results = AnalysisPlan.from_toml(PLAN).run(trial)
    build: dict[str, float] = {}
    original = html._figure_or_note

    def timed(page, name, make, *args, **kwargs):
        def made():
            t0 = time.process_time()
            try:
                return make()
            finally:
                build[name] = time.process_time() - t0
        return original(page, name, made, *args, **kwargs)

    html._figure_or_note = timed
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip() != "go":
            break
        build.clear()
        t0 = time.process_time()
        report = analysis_report(trial, results)
        total_build = time.process_time() - t0
        out = {}
        for name, fig in report.page.figures.items():
            t0 = time.process_time()
            png = figure_bytes(fig, "png")
            out[name] = {"build": build.get(name, float("nan")), "png": time.process_time() - t0,
                         "kb": len(png) / 1e3}
        print(json.dumps({"figures": out, "report_build": total_build}), flush=True)


# ---- the driver ----------------------------------------------------------------------------------

def _export(ref: str, into: Path) -> Path:
    archive = into / "src.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "-o", str(archive), ref, "src"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


class _Side:
    def __init__(self, label: str, src: Path, trial_dir: Path):
        env = {**os.environ, "PYTHONPATH": str(src), "MNDTRIAL_FIGURE_PROCESSES": "1"}
        self.label = label
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", str(trial_dir)], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert json.loads(self.proc.stdout.readline())["ready"]
        self.rounds: list[dict] = []

    def round(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        self.rounds.append(json.loads(self.proc.stdout.readline()))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()

    def best(self) -> dict[str, dict[str, float]]:
        names = self.rounds[0]["figures"]
        return {n: {k: min(r["figures"][n][k] for r in self.rounds) for k in ("build", "png")} | {
            "kb": self.rounds[-1]["figures"][n]["kb"]} for n in names}

    def totals(self) -> dict[str, float]:
        per_round = [(sum(f["build"] for f in r["figures"].values()), sum(f["png"] for f in r["figures"].values()),
                      r["report_build"]) for r in self.rounds]
        return {"build": min(p[0] for p in per_round), "png": min(p[1] for p in per_round),
                "both": min(p[0] + p[1] for p in per_round), "report_build": min(p[2] for p in per_round),
                "first_both": per_round[0][0] + per_round[0][1]}


def _table(sides: list[_Side]) -> None:
    bests = [s.best() for s in sides]
    head = f"{'figure':24s}" + "".join(f" | {s.label + ' build':>14s} {s.label + ' png':>12s} {'kB':>5s}"
                                       for s in sides)
    if len(sides) == 2:
        head += f" | {'ratio build':>11s} {'ratio png':>9s}"
    print(head)
    for name in bests[-1]:
        row = f"{name:24s}"
        for b in bests:
            f = b.get(name)
            row += (f" | {f['build']:14.3f} {f['png']:12.3f} {f['kb']:5.0f}" if f else f" | {'-':>14s} {'-':>12s} {'':5s}")
        if len(sides) == 2 and name in bests[0]:
            a, b = bests[0][name], bests[1][name]
            row += f" | {a['build'] / b['build']:11.2f} {a['png'] / b['png']:9.2f}"
        print(row)
    for key, what in (("build", "figures built (sum, best round)"), ("png", "PNG drawn (sum, best round)"),
                      ("both", "build + PNG (best round)"), ("report_build", "analysis_report() whole"),
                      ("first_both", "build + PNG, first round")):
        values = [s.totals()[key] for s in sides]
        line = f"{what:34s}" + "".join(f"  {s.label} {v:6.3f} s" for s, v in zip(sides, values))
        if len(values) == 2:
            line += f"  ratio {values[0] / values[1]:.2f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--against", metavar="GIT_REF", help="the revision to compare with (before)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker)
        return
    sys.path.insert(0, str(ROOT / "src"))
    from mndtrial.sim import mirocals, simulate

    with tempfile.TemporaryDirectory() as tmp:
        trial_dir = Path(tmp) / "trial"
        simulate(mirocals(n_randomised=300), n_trials=1, seed=7).trial(0).write(trial_dir)
        sides = []
        if args.against:
            before = Path(tmp) / "before"
            before.mkdir()
            sides.append(_Side("before", _export(args.against, before), trial_dir))
        sides.append(_Side("now" if args.against else "this", ROOT / "src", trial_dir))
        try:
            for _ in range(args.rounds):
                for side in sides:
                    side.round()
        finally:
            for side in sides:
                side.close()
        print(f"CPU seconds (process_time), best of {args.rounds} rounds"
              + (f"; before = {args.against}" if args.against else ""))
        _table(sides)


if __name__ == "__main__":
    main()
