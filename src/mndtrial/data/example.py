"""A small, deterministic example trial (two arms, 60 participants) for demos and docs.

It is not the simulator (see `mndtrial.sim`): just enough structure to show every table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .info import Arm, TrialInfo
from .trial import Trial

__all__ = ["example_trial"]


def example_trial(n_per_arm: int = 30, seed: int = 2026) -> Trial:
    """A two-arm, 18-month trial with survival, monthly ALSFRS-R and Treg measurements.

    Example:
        >>> example_trial().n_participants
        60
    """
    rng = np.random.default_rng(seed)
    n = 2 * n_per_arm
    ids = np.array([f"EX{i + 1:03d}" for i in range(n)])
    arm = np.repeat(["placebo", "il2_2miu"], n_per_arm)
    active = arm == "il2_2miu"
    csf_pnfh = np.round(np.exp(rng.normal(7.62, 0.74, n)), 1)
    participants = pd.DataFrame({
        "subject_id": ids, "arm": arm,
        "age": np.round(rng.normal(58, 10, n).clip(18, 76), 1),
        "sex": rng.choice(["M", "F"], n, p=[0.62, 0.38]),
        "onset_site": rng.choice(["limb", "bulbar"], n, p=[0.72, 0.28]),
        "symptom_duration_months": np.round(rng.normal(13, 3.5, n).clip(3, 24), 1),
        "alsfrs_r_baseline": np.round(rng.normal(37, 5, n).clip(20, 47)),
        "riluzole": np.ones(n, dtype=bool),
        "country": rng.choice(["UK", "France"], n),
        "csf_pnfh": csf_pnfh,
    })
    participants["delta_fs"] = np.round((48 - participants["alsfrs_r_baseline"])
                                        / participants["symptom_duration_months"], 3)
    horizon = 640.0
    rate = 1 / 900 * np.exp(0.6 * (np.log(csf_pnfh) - 7.62)) * np.where(active, 0.7, 1.0)
    death = rng.exponential(1 / rate)
    dropout = rng.exponential(3000, n)
    time = np.minimum.reduce([death, dropout, np.full(n, horizon)])
    event = (death <= time).astype(int)
    survival = pd.DataFrame({"subject_id": ids, "time_days": np.round(time, 1), "event": event,
                             "event_type": np.where(event == 1, "death", "censored")})
    slope = rng.normal(1.0, 0.4, n).clip(0.05) * np.where(active, 0.8, 1.0)
    rows = []
    for i in range(n):
        for month in range(0, 19, 3):
            day = round(month * 30.44)
            if day > survival.time_days[i]:
                break
            total = participants.alsfrs_r_baseline[i] - slope[i] * month + rng.normal(0, 1.0)
            rows.append((ids[i], float(day), float(np.clip(np.round(total), 0, 48))))
    alsfrs = pd.DataFrame(rows, columns=["subject_id", "day", "total"])
    treg_base = rng.normal(5.5, 1.2, n)
    bio_rows = []
    for i in range(n):
        for day in (0.0, 8.0, 64.0):
            lift = 6.0 if (active[i] and day > 0) else 0.0
            bio_rows.append((ids[i], day, "treg_pct_cd4", round(treg_base[i] + lift + rng.normal(0, 0.8), 2), "%"))
    biomarkers = pd.DataFrame(bio_rows, columns=["subject_id", "day", "analyte", "value", "unit"])
    info = TrialInfo(name="example", description="Small synthetic two-arm trial shipped with mndtrial.",
                     arms=(Arm(name="placebo", control=True), Arm(name="il2_2miu", dose_miu=2.0)),
                     strata=("country", "onset_site"), horizon_days=horizon)
    return Trial(participants, survival, alsfrs, biomarkers, info=info)
