"""Calibrate the cohort model on a synthetic PRO-ACT export (10,000-12,000 subjects, ~150,000 visits).

Budget (issue 17): `mndtrial calibrate` on 10,000 PRO-ACT-scale participants with about 150,000
ALSFRS-R visits in <= 60 s. Timed: reading the imported trial folder + `calibrate` + writing the
parameter file (what `mndtrial calibrate DIR --out params.toml` does), best of `--repeat`. Peer,
measured in the same run on the same data: lifelines' `WeibullAFTFitter` on the survival table
with the same covariates (one standard library fit), so the figure to quote beside the seconds is
the ratio. The predictive check (200 replicate cohorts of 10,000, for calibration.html) is timed
separately with `--report`.

    python benchmarks/bench_calibrate.py [--n 12000] [--repeat 3] [--report]

(`--n 12000` subjects import as about 11,500 participants with about 150,000 visits.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _timing import best_of  # noqa: E402

BUDGET_S = 60.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=12_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--report", action="store_true", help="also time the 200-replicate predictive check")
    args = ap.parse_args()

    import numpy as np
    import pandas as pd
    from lifelines import WeibullAFTFitter

    from mndtrial.data import read_trial
    from mndtrial.data.proact import import_proact
    from mndtrial.data.proact_synthetic import write_synthetic_proact
    from mndtrial.sim.fit_cohort import calibrate, file_hashes

    work = Path(tempfile.mkdtemp(prefix="bench-calibrate-"))
    write_synthetic_proact(work / "raw", n_subjects=args.n, seed=17)
    import_proact(work / "raw").write(work / "trial")
    trial = read_trial(work / "trial")
    print(f"data: {trial.n_participants} participants, {len(trial.alsfrs)} ALSFRS-R visits, "
          f"{int(trial.survival['event'].sum())} deaths")

    def run() -> None:
        t = read_trial(work / "trial")
        calibrate(t, files=file_hashes(work / "trial")).write(work / "params.toml")

    seconds = best_of(run, args.repeat)
    p = trial.participants.set_index("subject_id").join(trial.survival.set_index("subject_id"))
    df = pd.DataFrame({"T": p["time_days"], "E": p["event"], "age": p["age"],
                       "bulbar": (p["onset_site"] != "limb").astype(float),
                       "log_dfs": np.log(p["delta_fs"].clip(lower=0.01))}).dropna()
    df = df[df["T"] > 0]
    peer = best_of(lambda: WeibullAFTFitter().fit(df, "T", "E"), args.repeat)
    print(f"calibrate (read folder + fit + write params.toml): {seconds:.2f} s (budget {BUDGET_S:.0f} s: "
          f"{'within' if seconds <= BUDGET_S else 'OVER'})")
    print(f"peer, lifelines WeibullAFTFitter on the survival table alone: {peer:.2f} s; "
          f"ratio calibrate / peer = {seconds / peer:.1f}")
    if args.report:
        from mndtrial.sim.fit_cohort.check import predictive_check

        fit = calibrate(trial)
        check_s = best_of(lambda: predictive_check(fit, trial, n_replicates=200), 1)
        print(f"predictive check, 200 replicate cohorts of {trial.n_participants}: {check_s:.1f} s")


if __name__ == "__main__":
    main()
