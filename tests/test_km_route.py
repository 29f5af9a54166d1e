"""The own Kaplan–Meier curves (`analysis.km.km_curve`) equal lifelines' `KaplanMeierFitter`.

Double programming: every column of every curve, and the medians with their CI, on data with
ties, a time-0 event, curves that reach 0 and curves that never reach 0.5.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times

from mndtrial.analysis.km import km_by_group, km_curve


def _samples():
    rng = np.random.default_rng(3)
    yield np.ceil(rng.exponential(300, 150) / 7) * 7, (rng.random(150) < 0.7).astype(int)  # ties, censoring
    yield np.array([0.0, 0, 3, 5, 5, 8]), np.array([1, 0, 1, 1, 1, 1])  # an event at day 0, ends at S = 0
    yield np.array([10.0, 20, 30, 40]), np.array([0, 1, 0, 0])  # never reaches 0.5
    yield rng.uniform(1, 640, 40).round(), np.ones(40, dtype=int)


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_curves_and_medians_equal_lifelines(alpha):
    for time, event in _samples():
        kmf = KaplanMeierFitter(alpha=alpha).fit(time, event)
        got = km_curve(time, event, alpha)
        np.testing.assert_allclose(got.index.to_numpy(), kmf.survival_function_.index.to_numpy())
        np.testing.assert_allclose(got["survival"], kmf.survival_function_.iloc[:, 0], atol=1e-12)
        np.testing.assert_allclose(got[["ci_lower", "ci_upper"]].to_numpy(), kmf.confidence_interval_.to_numpy(),
                                   atol=1e-12)
        np.testing.assert_array_equal(got["at_risk"], kmf.event_table["at_risk"].reindex(got.index))
        res = km_by_group(time, event, np.array(["a"] * len(time), dtype=object), ["a"], alpha=alpha)
        med = res.medians.loc["a"]
        ci = median_survival_times(kmf.confidence_interval_)
        assert med["median_days"] == kmf.median_survival_time_
        assert (med["median_lower"], med["median_upper"]) == (ci.iloc[0, 0], ci.iloc[0, 1])
