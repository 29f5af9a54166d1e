"""Benchmark `mndtrial analyze` of a 300-participant MIROCALS-like trial against R doing the same.

Run by hand: `PYTHONPATH=src python benchmarks/bench_analyze.py [rounds]`.

Per round, interleaved so that machine load hits both alike:
1. `mndtrial --help` and `mndtrial analyze TRIAL --plan docs/examples/analysis-plan.toml --out OUT`
   as subprocesses (wall, imports included);
2. in one process: the plan's analysis (`AnalysisPlan.run`), with the time in Cox fits (the own
   Newton-Raphson route, `cox_newton.newton_cox`) and in mixed-model fits counted separately, and
   writing results.json + report + figures as the command does (PNG only, the report's own; drawn
   side by side, `report/render.py`);
3. R (`benchmarks/r/analyze_peer.R`: survfit, survdiff, coxph, cox.zph, lmer; the same analyses)
   timed inside R, and its Rscript wall. Skipped with a message where Rscript is absent;
4. the command's import floor (`analyze_import_floor.py`: its two processes loading the same
   libraries and doing nothing else), so that the command's time above what its libraries cost
   to load is seen beside it.

The best of the rounds is reported for each, and the ratios of ours to R's.

`... bench_analyze.py [rounds] --against GIT_REF` also runs `mndtrial analyze` of that revision
(exported with `git archive` to a temporary folder) in each round, interleaved, for a
before/after ratio of the command's wall time from one run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "docs" / "examples" / "analysis-plan.toml"
R_SCRIPT = ROOT / "benchmarks" / "r" / "analyze_peer.R"
IMPORT_FLOOR = ROOT / "benchmarks" / "analyze_import_floor.py"


def _wall(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _in_process(trial_dir: Path, out: Path) -> dict[str, float]:
    import mndtrial.analysis.cox as cox_module
    import mndtrial.analysis.lmm as lmm
    from mndtrial.analysis import AnalysisPlan
    from mndtrial.data import read_trial
    from mndtrial.report.analysis_report import write_analysis_outputs

    spent = {"cox_s": 0.0, "cox_fits": 0, "lmm_s": 0.0, "lmm_fits": 0}
    cox_fit, reml_fit = cox_module.newton_cox, lmm.fit_reml

    def timed_cox(*a, **k):
        t = time.perf_counter()
        try:
            return cox_fit(*a, **k)
        finally:
            spent["cox_s"] += time.perf_counter() - t
            spent["cox_fits"] += 1

    def timed_reml(*a, **k):
        t = time.perf_counter()
        try:
            return reml_fit(*a, **k)
        finally:
            spent["lmm_s"] += time.perf_counter() - t
            spent["lmm_fits"] += 1

    cox_module.newton_cox, lmm.fit_reml = timed_cox, timed_reml
    try:
        trial = read_trial(trial_dir)
        plan = AnalysisPlan.from_toml(PLAN)
        t0 = time.perf_counter()
        results = plan.run(trial)
        t1 = time.perf_counter()
        write_analysis_outputs(out, trial, results, figure_formats=("png",))  # as `mndtrial analyze`
        t2 = time.perf_counter()
    finally:
        cox_module.newton_cox, lmm.fit_reml = cox_fit, reml_fit
    return {"analysis_s": t1 - t0, "report_s": t2 - t1, **spent}


def _export(ref: str) -> Path:
    """`ref`'s src/ exported to a temporary folder (its `mndtrial` importable from there)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-analyze-ref-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "src"


def main(rounds: int = 3, against: str | None = None) -> None:
    from mndtrial.sim import mirocals, simulate

    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    ref_env = dict(os.environ, PYTHONPATH=str(_export(against))) if against else None
    work = Path(tempfile.mkdtemp(prefix="bench-analyze-"))
    trial_dir = simulate(mirocals(n_randomised=300), n_trials=1, seed=7).trial(0).write(work / "trial")
    rscript = shutil.which("Rscript")
    if rscript is None:
        print("Rscript not found: the R peer is skipped (apt-get install r-cran-survival r-cran-lme4)")
    best: dict[str, float] = {}
    counts = {}
    for each_env in filter(None, (env, ref_env)):  # each tree's bytecode written once, before any timing
        _wall([sys.executable, "-m", "mndtrial", "analyze", str(trial_dir), "--plan", str(PLAN), "--out",
               str(work / "out-warm")], each_env)
    for _ in range(rounds):
        row = {"help_s": _wall([sys.executable, "-m", "mndtrial", "--help"], env),
               "analyze_s": _wall([sys.executable, "-m", "mndtrial", "analyze", str(trial_dir), "--plan", str(PLAN),
                                   "--out", str(work / "out-cli")], env),
               "floor_s": _wall([sys.executable, str(IMPORT_FLOOR)], env)}
        if ref_env is not None:
            row["analyze_ref_s"] = _wall([sys.executable, "-m", "mndtrial", "analyze", str(trial_dir), "--plan",
                                          str(PLAN), "--out", str(work / "out-ref")], ref_env)
        inner = _in_process(trial_dir, work / "out-py")
        counts = {k: inner.pop(k) for k in ("cox_fits", "lmm_fits")}
        row.update(inner)
        if rscript:
            t = time.perf_counter()
            line = subprocess.run([rscript, str(R_SCRIPT), str(trial_dir), "3"], check=True, capture_output=True,
                                  text=True).stdout.strip()
            row["r_wall_s"] = time.perf_counter() - t
            fields = dict(kv.split("=") for kv in line.split())
            row["r_analysis_s"] = float(fields.pop("seconds"))
            counts.update({f"r_{k}": int(v) for k, v in fields.items()})
        for k, v in row.items():
            best[k] = min(best.get(k, float("inf")), v)
    print(f"best of {rounds} interleaved rounds; 300 participants, {PLAN.name}")
    print(f"  mndtrial --help                 {best['help_s']:.2f} s")
    print(f"  mndtrial analyze (wall)         {best['analyze_s']:.2f} s")
    print(f"  its import floor (wall)         {best['floor_s']:.2f} s (the same libraries loaded in the same two "
          f"processes, nothing run); the command above it: {best['analyze_s'] - best['floor_s']:.2f} s")
    if against:
        print(f"  mndtrial analyze at {against:<10s} {best['analyze_ref_s']:.2f} s "
              f"({best['analyze_ref_s'] / best['analyze_s']:.2f}x this one's time)")
    print(f"  analysis (AnalysisPlan.run)     {best['analysis_s']:.3f} s, of which Cox (Newton-Raphson) "
          f"{best['cox_s']:.3f} s ({counts['cox_fits']} fits), mixed models {best['lmm_s']:.3f} s "
          f"({counts['lmm_fits']} fits)")
    print(f"  results.json + report + figures {best['report_s']:.2f} s")
    if rscript:
        print(f"  R survival + lme4, same analyses {best['r_analysis_s']:.3f} s inside R "
              f"({counts['r_cox']} coxph, {counts['r_lmer']} lmer); Rscript wall {best['r_wall_s']:.2f} s")
        print(f"  ratio analysis / R              {best['analysis_s'] / best['r_analysis_s']:.1f}x "
              f"(without the Cox fits: {(best['analysis_s'] - best['cox_s']) / best['r_analysis_s']:.1f}x)")
        print(f"  ratio analyze wall / Rscript    {best['analyze_s'] / best['r_wall_s']:.1f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    ref = None
    if "--against" in args:
        at = args.index("--against")
        ref = args[at + 1]
        del args[at:at + 2]
    main(*(int(a) for a in args[:1]), against=ref)
