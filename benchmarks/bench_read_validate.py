"""Read and validate a 10,000-participant trial with 150,000 ALSFRS-R rows (issue 2: < 10 s).

Peer: plain `pandas.read_csv` of the same files, measured in the same run, so the figure to
report is the ratio (mndtrial read + validation) / (pandas parsing alone).

    python benchmarks/bench_read_validate.py [--n 10000] [--visits 15]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from mndtrial import Arm, Trial, TrialInfo, read_trial

from _timing import best_of


def large_trial(n: int, visits: int, seed: int = 1) -> Trial:
    rng = np.random.default_rng(seed)
    ids = np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), 6))
    arm = np.where(np.arange(n) % 2 == 0, "placebo", "il2_2miu")
    baseline = rng.normal(37, 5, n).clip(10, 48).round()
    participants = pd.DataFrame({"subject_id": ids, "arm": arm, "age": rng.normal(58, 10, n).round(1),
                                 "sex": rng.choice(["M", "F"], n), "onset_site": rng.choice(["limb", "bulbar"], n),
                                 "alsfrs_r_baseline": baseline, "riluzole": rng.random(n) < 0.7,
                                 "csf_pnfh": np.exp(rng.normal(7.62, 0.74, n)).round(1)})
    time_days = rng.uniform(visits * 30.0, 1000.0, n).round(1)
    survival = pd.DataFrame({"subject_id": ids, "time_days": time_days, "event": (rng.random(n) < 0.4).astype(int)})
    days = np.tile(np.arange(visits) * 30.0, n)
    slope = np.repeat(rng.gamma(4, 0.25, n), visits)
    total = (np.repeat(baseline, visits) - slope * days / 30.44).clip(0, 48).round()
    alsfrs = pd.DataFrame({"subject_id": np.repeat(ids, visits), "day": days, "total": total})
    info = TrialInfo(name="bench", arms=(Arm(name="placebo", control=True), Arm(name="il2_2miu", dose_miu=2.0)))
    return Trial(participants, survival, alsfrs, info=info)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--visits", type=int, default=15)
    args = ap.parse_args()
    trial = large_trial(args.n, args.visits)
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("csv", "parquet"):
            folder = trial.write(Path(tmp) / fmt, format=fmt)
            ours = best_of(lambda: read_trial(folder), repeat=3)
            reader = pd.read_csv if fmt == "csv" else pd.read_parquet
            peer = best_of(lambda: [reader(f) for f in folder.glob(f"*.{fmt}")], repeat=3)
            print(f"{fmt:8s} read+validate {ours:6.2f} s | pandas parse only {peer:6.2f} s | ratio {ours / peer:5.1f}x"
                  f" | {args.n} participants, {args.n * args.visits} ALSFRS-R rows")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
