"""Writes trial.csv: the strongly prognostic binary covariate case of issue 18 (run once; the CSV is stored).

120 participants, 1:1 placebo / il2; serum NfL log-normal, `high_nfl` = serum_nfl > 90 pg/mL;
exponential survival with hazard ratio 14 for high NfL and 0.75 for il2, censored at a uniform
day in 300-720 capped at 540. Seed 1298 is one where lifelines 0.30's Newton-Raphson (with
mndtrial's fit options) stops with a ConvergenceWarning at a high_nfl coefficient of -1.6 while
R coxph finds +2.67 (HR 14.4).

    python tests/reference/cox_convergence/make_trial.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 1298


def make() -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    n = 120
    treatment = np.repeat([0.0, 1.0], n // 2)
    serum_nfl = np.round(np.exp(rng.normal(np.log(60), 0.6, n)), 1)
    high = (serum_nfl > 90).astype(int)
    rate = 1 / 3000 * np.exp(np.log(14) * high + np.log(0.75) * treatment)
    death = rng.exponential(1 / rate)
    censor = np.minimum(rng.uniform(300, 720, n), 540)
    time = np.round(np.minimum(death, censor), 1)
    event = (death <= censor).astype(int)
    return pd.DataFrame({"subject_id": [f"H{i + 1:03d}" for i in range(n)],
                         "arm": np.where(treatment == 1, "il2", "placebo"), "serum_nfl": serum_nfl,
                         "high_nfl": high, "time_days": time, "event": event})


if __name__ == "__main__":
    make().to_csv(Path(__file__).with_name("trial.csv"), index=False)
