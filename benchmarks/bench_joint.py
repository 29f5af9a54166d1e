"""One joint-model fit on the stored 300-participant reference trial, beside R's JM on the same data.

    PYTHONPATH=src python benchmarks/bench_joint.py [--r-libs DIR]

mndtrial: `JointModel(association="value")` with the baseline-hazard cuts of the JM call
(months 3, 6, 9, 12), 5 adaptive Gauss–Hermite points per random effect, SEs from the numerical
observed information, model-based curves off. JM 1.5-2 (`method = "piecewise-PH-aGH"`, GHk = 5)
runs through `Rscript` in the same session when the package is installed (`--r-libs` names the
library holding it); the JM time includes neither R's start-up nor the lme/coxph fits it starts from.
Reported: seconds of wall clock (best of `--repeat`), CPU seconds, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_of  # noqa: E402

from mndtrial.analysis.joint import JointModel  # noqa: E402
from mndtrial.data import Trial  # noqa: E402
from mndtrial.data.info import Arm, TrialInfo  # noqa: E402

REF = Path(__file__).resolve().parents[1] / "tests" / "reference" / "joint"
JM_SCRIPT = r"""
suppressMessages({library(JM); library(nlme); library(survival)})
p <- read.csv("participants.csv"); s <- read.csv("survival.csv"); a <- read.csv("alsfrs.csv")
p$active <- as.numeric(p$arm == "active")
a <- merge(a, p, by = "subject_id"); a$months <- a$day / 30.44; a <- a[order(a$subject_id, a$day), ]
s <- merge(s, p, by = "subject_id"); s$months <- s$time_days / 30.44; s <- s[order(s$subject_id), ]
lf <- lme(total ~ months * active, random = ~ months | subject_id, data = a, method = "ML",
          control = lmeControl(opt = "optim"))
cf <- coxph(Surv(months, event) ~ active, data = s, x = TRUE)
t <- system.time(jm <- jointModel(lf, cf, timeVar = "months", method = "piecewise-PH-aGH",
                                  control = list(knots = c(3, 6, 9, 12), GHk = 5)))
cat(t[["elapsed"]], t[["user.self"]] + t[["sys.self"]], "\n")
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--r-libs", default=None)
    args = parser.parse_args()
    info = TrialInfo(name="joint reference", arms=(Arm(name="placebo", control=True), Arm(name="active")))
    trial = Trial(pd.read_csv(REF / "participants.csv"), pd.read_csv(REF / "survival.csv"),
                  pd.read_csv(REF / "alsfrs.csv"), info=info)
    model = JointModel(association="value", cut_days=[c * 30.44 for c in (3, 6, 9, 12)], curves=False)
    cpu0 = time.process_time()
    wall = best_of(lambda: model.fit(trial), args.repeat)
    cpu = (time.process_time() - cpu0) / args.repeat
    print(f"mndtrial JointModel, 300 participants: {wall:.2f} s wall (best of {args.repeat}), {cpu:.2f} s CPU per fit")
    env = dict(os.environ)
    if args.r_libs:
        env["R_LIBS"] = args.r_libs
    try:
        out = subprocess.run(["Rscript", "-e", JM_SCRIPT], cwd=REF, env=env, capture_output=True, text=True,
                             check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"JM not run: {getattr(exc, 'stderr', exc)}".strip())
        return
    jm_wall, jm_cpu = float(out[0]), float(out[1])
    print(f"R JM {'':>26} {jm_wall:.2f} s wall, {jm_cpu:.2f} s CPU")
    print(f"ratio JM / mndtrial: {jm_wall / wall:.1f}x wall, {jm_cpu / cpu:.1f}x CPU")


if __name__ == "__main__":
    main()
