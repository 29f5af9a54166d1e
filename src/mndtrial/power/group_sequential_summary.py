"""Operating characteristics of simulated group-sequential trials, with Monte Carlo SEs, beside
the design's analytic stopping probabilities (numerical integration at the Schoenfeld drift)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..batch._result import json_safe
from ..design import z_for_hazard_ratio

__all__ = ["GroupSequentialResult", "gs_operating_characteristics", "look_table", "rate", "mean_and_se",
           "analytic_stopping"]


def rate(x) -> tuple[float, float]:
    """Proportion of true values and its binomial Monte Carlo SE."""
    x = np.asarray(x, dtype=bool)
    p = float(np.mean(x))
    return p, float(np.sqrt(p * (1 - p) / len(x)))


def mean_and_se(x) -> tuple[float, float]:
    """Mean of the finite values and its Monte Carlo SE (NaN when none)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return float("nan"), float("nan")
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")


def analytic_stopping(design, hazard_ratio: float, max_events: float) -> dict[str, np.ndarray | float]:
    """Efficacy and futility stopping probability per look, and expected events, when the log-rank
    Z has drift −log(HR)·√(d_max)/2 at the last look (Schoenfeld; rpact's design characteristics)."""
    drift = float(z_for_hazard_ratio(hazard_ratio, max_events))
    up, low = design.stopping_probabilities(drift)
    return {"efficacy": up, "futility": low, "expected_events": max_events * design.expected_information(drift),
            "drift": drift}


def gs_operating_characteristics(trials: pd.DataFrame, trial: Any) -> dict[str, Any]:
    """One row: power (H0 rejected at any look), stopping for efficacy or futility before the last
    look, expected events (analysed population, everyone), randomised, screened and duration at the
    stopping look, each with `_mcse`; the design's analytic power and expected events where the
    pool knows the true hazard ratio of the analysed population."""
    K = trial.design.k_max
    out: dict[str, Any] = {"strategy": trial.name, "n_trials": len(trials), "looks": K,
                           "max_events": trial.max_events, "n_randomised_max": trial.n_randomised_max}
    out["power"], out["power_mcse"] = rate(trials["reject"])
    early = trials["stop_look"].to_numpy() < K
    out["stop_efficacy_early"], out["stop_efficacy_early_mcse"] = rate(early & (trials["stop_reason"] == "efficacy"))
    out["stop_futility"], out["stop_futility_mcse"] = rate(trials["stop_reason"] == "futility")
    for name in ("events", "events_all", "n_randomised", "n_screened", "duration_days"):
        out[f"{name}_mean"], out[f"{name}_mcse"] = mean_and_se(trials[name])
    hr = np.log(trials["hr_at_stop"].to_numpy())
    m, _ = mean_and_se(hr)
    out["hr_at_stop_geometric_mean"] = float(np.exp(m)) if np.isfinite(m) else float("nan")
    truth = trial.true_hazard_ratio
    if np.isfinite(truth):
        a = analytic_stopping(trial.design, truth, trial.max_events)
        out["true_hazard_ratio"] = truth
        out["power_analytic"] = float(a["efficacy"].sum())
        out["events_analytic"] = float(a["expected_events"])
    return out


def look_table(trials: pd.DataFrame, trial: Any) -> pd.DataFrame:
    """One row per look: event target, bounds (Z and HR), simulated stopping probabilities for
    efficacy and futility (with MC SE) and, where the truth is known, the analytic ones."""
    d = trial.design
    K = d.k_max
    table = d.table(trial.max_events)
    look = trials["stop_look"].to_numpy()
    reason = trials["stop_reason"].to_numpy()
    rows = []
    for k in range(1, K + 1):
        eff, eff_se = rate((look == k) & (reason == "efficacy"))
        fut, fut_se = rate((look == k) & (reason == "futility"))
        day, _ = mean_and_se(trials[f"day_{k}"])
        rows.append({"strategy": trial.name, "look": k, "information_rate": float(d.information_rates[k - 1]),
                     "event_target": int(trial.event_targets[k - 1]),
                     "events_mean": float(trials[f"events_{k}"].mean()), "day_mean": day,
                     "z_efficacy": float(d.critical_values[k - 1]),
                     "z_futility": float(table["z_futility"].iat[k - 1]),
                     "hr_efficacy": float(table["hr_efficacy"].iat[k - 1]),
                     "hr_futility": float(table["hr_futility"].iat[k - 1]),
                     "p_efficacy": eff, "p_efficacy_mcse": eff_se, "p_futility": fut, "p_futility_mcse": fut_se})
    out = pd.DataFrame(rows)
    truth = trial.true_hazard_ratio
    if np.isfinite(truth):
        a = analytic_stopping(d, truth, trial.max_events)
        out["p_efficacy_analytic"] = a["efficacy"]
        out["p_futility_analytic"] = a["futility"]
    return out


@dataclass(frozen=True, repr=False)
class GroupSequentialResult:
    """Simulated group-sequential trials: `table` (one row), `looks` (one row per look), `trials`."""

    table: pd.DataFrame
    looks: pd.DataFrame
    trials: pd.DataFrame
    n_trials: int
    seed: int

    @property
    def summary(self) -> pd.DataFrame:
        return self.table

    def to_dict(self) -> dict:
        return json_safe({"n_trials": self.n_trials, "seed": self.seed, "table": self.table.to_dict(orient="records"),
                          "looks": self.looks.to_dict(orient="records")})

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = {"csv": out_dir / "power.csv", "looks": out_dir / "looks.csv", "trials": out_dir / "trials.parquet"}
        self.table.to_csv(paths["csv"], index=False)
        self.looks.to_csv(paths["looks"], index=False)
        self.trials.to_parquet(paths["trials"], index=False)
        return paths

    def __repr__(self) -> str:
        row = self.table.iloc[0]
        return f"<GroupSequentialResult {row['strategy']}: power {row['power']:.3f} over {self.n_trials} trials>"
