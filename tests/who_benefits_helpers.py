"""Slow, obvious implementations the who-benefits estimators must equal (double programming)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter

from mndtrial.analysis.logrank import logrank


def lifelines_log_hr(time, event, treatment) -> tuple[float, float]:
    """Treatment-only Cox fit by lifelines (Efron ties), run to the maximum."""
    d = pd.DataFrame({"t": np.asarray(time, float), "e": np.asarray(event, int), "a": np.asarray(treatment, float)})
    cph = CoxPHFitter().fit(d, "t", "e", fit_options={"precision": 1e-14, "r_precision": 0.0})
    return float(cph.params_["a"]), float(cph.standard_errors_["a"])


def logrank_oe_var(time, event, treatment) -> tuple[float, float]:
    """O - E of the treated arm and its variance, from mndtrial's R-checked log-rank test."""
    res = logrank(time, event, np.asarray(treatment, float))
    oe = float(res.summary.loc[1.0, "observed"] - res.summary.loc[1.0, "expected"])
    return oe, oe ** 2 / res.chi2


def trial_arrays(trial):
    """(marker, time, event, treatment) of the participants with CSF-pNfH, as the sections take them."""
    from mndtrial.analysis.frame import survival_frame

    frame = survival_frame(trial).data
    marker = trial.participants.set_index("subject_id")["csf_pnfh"].reindex(frame["subject_id"]).to_numpy(float)
    keep = ~np.isnan(marker)
    d = frame.loc[keep]
    return marker[keep], d["time_days"].to_numpy(float), d["event"].to_numpy(int), d["treatment"].to_numpy(float)
