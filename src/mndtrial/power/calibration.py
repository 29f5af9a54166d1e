"""Calibration over thousands of simulated trials, with the batch engine.

`mndtrial.sim.calibration` computes the calibration statistics trial by trial with the analysis
module (`CoxModel`, `SlopeAnalysis`), which takes 1-2 s of mixed-model fitting per
trial. This module computes the same table — same columns, same trials, same NaN rule — with
`mndtrial.batch.BatchCox` (Efron ties, equal to lifelines per trial) and
`mndtrial.batch.BatchSlopes` (the same REML random-intercept-and-slope model, equal to
`mndtrial.analysis.lmm` per trial), so ≥ 1,000 trials take seconds. It sits above `sim` and
`batch` because `sim` may not import `batch`. `tests/test_power_calibration.py` shows that the two
routes agree trial by trial.

Example:
    >>> from mndtrial.power.calibration import calibration_tables
    >>> tables = calibration_tables(n_trials=64, seed=1)  # doctest: +SKIP
    >>> tables["mirocals"][["statistic", "published", "sim_p10", "sim_p90", "pass"]]  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..batch import cox_batch, slopes_batch
from ..data.batch import TrialBatch
from ..errors import ParameterError
from ..sim import imodals, mirocals, simulate
from ..sim.calibration import (IMODALS_TARGETS, MIROCALS_COLUMNS, MIROCALS_TARGETS, PLACEBO_COLUMNS,
                               PLACEBO_TARGETS, calibration_table, imodals_treg_statistics, mirocals_descriptives,
                               placebo_descriptives, pnfh_groups)

__all__ = ["placebo_statistics_batch", "mirocals_statistics_batch", "calibration_tables"]

# Fits whose estimates the analysis module also reports: `SlopeAnalysis` reports boundary fits
# (with the problem named) and gives none when the optimiser does not converge.
_SLOPE_REPORTED = ("converged", "boundary")


def _two_arm_mask(batch: TrialBatch, active: str, control: str) -> np.ndarray:
    arms = batch.participants["arm"]
    return (arms == control).to_numpy() | (arms == active).to_numpy()


def _hazard_ratio(batch: TrialBatch, active: str, subset: np.ndarray | None = None) -> np.ndarray:
    res = cox_batch(batch, subset=subset, active_arm=active)
    return np.where(res.converged, res.hazard_ratio, np.nan)


def _slopes(batch: TrialBatch, active: str, subset: np.ndarray | None = None):
    res = slopes_batch(batch, subset=subset, active_arm=active)
    reported = np.isin(res.status, _SLOPE_REPORTED)
    return res, reported


def _active(batch: TrialBatch, control: str, active: str | None) -> str:
    if control not in batch.info.arm_names:
        raise ParameterError("control", control, f"must be one of {list(batch.info.arm_names)}")
    others = [a for a in batch.info.arm_names if a != control]
    return active or others[0]


def placebo_statistics_batch(batch: TrialBatch, control: str = "placebo", active: str | None = None) -> pd.DataFrame:
    """`mndtrial.sim.calibration.placebo_statistics` over a whole batch at once (batch engine)."""
    active = _active(batch, control, active)
    res, reported = _slopes(batch, active, _two_arm_mask(batch, active, control))
    slope = pd.Series(np.where(reported, -res.slope_control_per_month, np.nan), index=res.trial,
                      name="slope_per_month").rename_axis("trial")
    return placebo_descriptives(batch, control).join(slope, how="left")[list(PLACEBO_COLUMNS)]


def mirocals_statistics_batch(batch: TrialBatch, active: str = "il2_2miu", control: str = "placebo") -> pd.DataFrame:
    """`mndtrial.sim.calibration.mirocals_statistics` over a whole batch at once (batch engine).

    HRs: `BatchCox` on both arms, the low and the high CSF-pNfH groups (NaN where the fit is
    not `converged`, e.g. monotone likelihood); slope reduction −β_months:arm / β_months of
    `BatchSlopes` on the low group (NaN where the fit did not converge).
    """
    both = _two_arm_mask(batch, active, control)
    low, high = pnfh_groups(batch.participants)
    res, reported = _slopes(batch, active, both & low)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = -res.slope_difference_per_month / res.slope_control_per_month
    model = pd.DataFrame({"hr_all": _hazard_ratio(batch, active, both),
                          "hr_low_pnfh": _hazard_ratio(batch, active, both & low),
                          "hr_high_pnfh": _hazard_ratio(batch, active, both & high),
                          "slope_reduction_low_pnfh": np.where(reported, ratio, np.nan)},
                         index=pd.Index(batch.trial_index, name="trial"))
    return mirocals_descriptives(batch, active, control).join(model, how="left")[list(MIROCALS_COLUMNS)]


def calibration_tables(n_trials: int = 1000, seed: int = 2025) -> dict[str, pd.DataFrame]:
    """The three calibration checks of docs/simulation.md over `n_trials` simulated trials each.

    "placebo" and "mirocals" use the `mirocals()` preset (the placebo rows its placebo arms),
    "imodals" the `imodals()` preset; each a `calibration_table` (published figure, simulated
    mean and 10th/50th/90th percentiles, pass).
    """
    if n_trials < 10:
        raise ParameterError("n_trials", n_trials, "needs at least 10 trials for 10th/90th percentiles")
    trials = simulate(mirocals(), n_trials, seed=seed)
    return {"placebo": calibration_table(placebo_statistics_batch(trials), PLACEBO_TARGETS),
            "mirocals": calibration_table(mirocals_statistics_batch(trials), MIROCALS_TARGETS),
            "imodals": calibration_table(imodals_treg_statistics(simulate(imodals(), n_trials, seed=seed)),
                                         IMODALS_TARGETS)}
