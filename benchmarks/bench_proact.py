"""Import a synthetic 10,000-participant PRO-ACT export (~150,000 ALSFRS rows), then analyse it.

Budget (issue 8): import + full analysis (`mndtrial analyze` with docs/examples/proact-plan.toml:
log-rank, unadjusted and adjusted Cox with PH tests, survival and RMST at one year, Kaplan-Meier,
subgroups, creatinine subgroups and interaction) under 60 s and under 2 GiB peak
memory. Each step runs in its own fresh Python process (what a user runs), timed from outside,
and reports its own peak resident memory. Peer, measured in the same run: plain `pandas.read_csv`
of the same PRO-ACT files (parsing alone), so the import figure to quote is the ratio.

    python benchmarks/bench_proact.py [--n 10000] [--naming current|2016] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_S = 60.0
BUDGET_MIB = 2048.0
CHILD = """
import resource, sys, time
import pandas, mndtrial.cli, mndtrial.data  # imports are in the wall time, not the in-process time
start = time.perf_counter()
{body}
print("BENCH", time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def run_step(body: str, env: dict) -> tuple[float, float, float]:
    """Run `body` in a fresh interpreter: (wall seconds incl. start-up, seconds inside, peak RSS MiB)."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD.format(body=body)], env=env, check=True,
                         capture_output=True, text=True)
    wall = time.perf_counter() - start
    line = next(l for l in out.stdout.splitlines() if l.startswith("BENCH"))
    _, inside, rss = line.split()
    return wall, float(inside), float(rss)


def cli(args: list[str]) -> str:
    return f"from mndtrial.cli import app\napp({args!r}, standalone_mode=False)"


def has_analyze(env: dict) -> bool:
    out = subprocess.run([sys.executable, "-m", "mndtrial", "--help"], env=env, capture_output=True, text=True)
    return " analyze " in out.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--naming", default="current", choices=["current", "2016"])
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--keep", type=Path, default=None, help="Keep the generated folders here.")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}

    from mndtrial.data.proact_synthetic import write_synthetic_proact

    tmp = tempfile.TemporaryDirectory()
    root = args.keep or Path(tmp.name)
    src, out = root / "proact", root / "trial"
    synth = write_synthetic_proact(src, args.n, naming=args.naming, seed=args.seed)
    n_rows = sum(1 for _ in open(next(src.glob("*ALSFRS*.csv"), None) or src / "alsfrs.csv")) - 1
    print(f"synthetic PRO-ACT: {args.n} subjects, {n_rows} ALSFRS rows, naming {args.naming} ({src})")

    steps = {
        "peer: pandas.read_csv of the PRO-ACT files": (
            f"import pandas as pd, pathlib\n[pd.read_csv(p, dtype=str) for p in pathlib.Path({str(src)!r}).glob('*.csv')]"),
        "import-proact (read, map, validate, write)": cli(["-q", "import-proact", str(src), "--out", str(out)]),
        "read_trial of the imported folder": f"from mndtrial.data import read_trial\nread_trial({str(out)!r})",
    }
    if has_analyze(env):
        plan = Path(__file__).resolve().parents[1] / "docs" / "examples" / "proact-plan.toml"
        steps["analyze (full analysis)"] = cli(["-q", "analyze", str(out), "--plan", str(plan),
                                                "--out", str(root / "analysis")])
    results = {name: run_step(body, env) for name, body in steps.items()}
    for name, (wall, inside, rss) in results.items():
        print(f"{name:45s} wall {wall:6.2f} s (in-process {inside:6.2f} s)  peak RSS {rss:7.0f} MiB")

    peer = results["peer: pandas.read_csv of the PRO-ACT files"][1]
    imp = results["import-proact (read, map, validate, write)"]
    print(f"import / pandas parse: {imp[1] / peer:.1f}x")
    log = json.loads((out / "import-log.json").read_text())
    print(f"imported: {log['imported']}")
    pipeline = [r for n, r in results.items() if not n.startswith(("peer", "read_trial"))]
    total = sum(r[0] for r in pipeline)
    peak = max(r[2] for r in pipeline)
    label = "import + analyze" if "analyze (full analysis)" in results else "import only (no analyze command yet)"
    ok = total < BUDGET_S and peak < BUDGET_MIB
    print(f"{label}: {total:.1f} s wall, peak {peak:.0f} MiB -> {'within' if ok else 'OVER'} budget "
          f"({BUDGET_S:.0f} s, {BUDGET_MIB:.0f} MiB)")
    assert synth.truth["included"].sum() == log["imported"]["participants"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
