"""Operating characteristics of simulated adaptive-enrichment trials, with Monte Carlo SEs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .group_sequential_summary import mean_and_se as _mean
from .group_sequential_summary import rate as _rate

__all__ = ["operating_characteristics"]

DECISIONS = ("both", "S only", "F only", "stop efficacy", "stop futility")


def operating_characteristics(trials: pd.DataFrame, design: Any) -> dict[str, Any]:
    """Rejection, selection and stopping probabilities, expected sizes and the naive-HR bias.

    `reject_*`: H_S, H_F, at least one rejected by the closed test (at either look);
    `decision_*`: the interim outcome (both / S only / F only continue, or a stop for efficacy or
    futility); `*_mean`: expected events, randomised, screened and duration (days to the last
    analysis); `log_hr_bias_*`: mean naive log HR at the last analysis minus the true log HR, in the
    trials whose last analysis is about that population (S after selecting S only, else F), where
    the pool knows the truth. Each with its Monte Carlo SE (`_mcse`).
    """
    out: dict[str, Any] = {"n_trials": len(trials)}
    for col in ("reject_s", "reject_f", "reject_any"):
        out[col], out[f"{col}_mcse"] = _rate(trials[col].to_numpy())
    out["reject_s_at_interim"], _ = _rate(trials["reject_stage_s"].to_numpy() == 1)
    out["reject_f_at_interim"], _ = _rate(trials["reject_stage_f"].to_numpy() == 1)
    for d in DECISIONS:
        key = "decision_" + d.replace(" ", "_")
        out[key], out[f"{key}_mcse"] = _rate(trials["decision"].to_numpy() == d)
    selected = np.where(trials["selected_population"] == "S", trials["final_events_s"], trials["final_events_f"])
    for name, values in (("events_selected", selected), ("events_all", trials["final_events_all"]),
                         ("interim_events", trials["interim_events_f"]), ("n_randomised", trials["n_randomised"]),
                         ("n_randomised_s", trials["n_randomised_s"]), ("n_screened", trials["n_screened"]),
                         ("duration_days", trials["duration_days"]), ("interim_day", trials["interim_day"])):
        out[f"{name}_mean"], out[f"{name}_mcse"] = _mean(values)
    truth = getattr(design.pool, "true_hazard_ratios", {"S": np.nan, "F": np.nan})
    for pop in ("S", "F"):
        rows = trials["selected_population"].to_numpy() == pop
        log_hr = np.log(trials["hr_naive_selected"].to_numpy()[rows])
        m, se = _mean(log_hr)
        out[f"hr_naive_{pop.lower()}_geometric_mean"] = float(np.exp(m)) if np.isfinite(m) else float("nan")
        out[f"log_hr_bias_{pop.lower()}"] = m - np.log(truth[pop]) if np.isfinite(truth[pop]) else float("nan")
        out[f"log_hr_bias_{pop.lower()}_mcse"] = se if np.isfinite(truth[pop]) else float("nan")
        out[f"n_final_{pop.lower()}"] = int(rows.sum())
    return out
