"""Calibration: the table rules, and IMODALS trials reproduce the published Treg response.

The placebo-arm and MIROCALS checks (model-based statistics: the analysis module's Cox and
mixed models, and the batch engine's equal ones) are in tests/test_power_calibration.py, with
the >= 1,000-trial check.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mndtrial.sim import imodals, simulate
from mndtrial.sim.calibration import IMODALS_TARGETS, Target, calibration_table, imodals_treg_statistics


def test_calibration_table_rules():
    stats = pd.DataFrame({"x": np.arange(100.0)})
    t = calibration_table(stats, (Target("x", 50.0, "s"), Target("x", 95.0, "s"), Target("x", 49.0, "s", "mean", 1.0)))
    assert t["pass"].tolist() == [True, False, True]
    assert t["sim_p10"][0] == pytest.approx(np.percentile(np.arange(100.0), 10))
    assert t["missing"].tolist() == [0, 0, 0]


def test_calibration_table_counts_missing_estimates():
    stats = pd.DataFrame({"x": [np.nan, *np.arange(99.0)]})
    row = calibration_table(stats, (Target("x", 50.0, "s"),)).iloc[0]
    assert (row["trials"], row["missing"]) == (99, 1)
    assert row["sim_median"] == pytest.approx(49.0)


def test_imodals_treg_small():
    stats = imodals_treg_statistics(simulate(imodals(), 300, seed=23))
    table = calibration_table(stats, IMODALS_TARGETS)
    assert table["pass"].all(), table

