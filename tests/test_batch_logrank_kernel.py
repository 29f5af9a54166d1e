"""The compiled log-rank kernel and the shared sorted layout equal the numpy routes trial by trial.

`logrank_batch(engine="compiled")` (`batch/_logrank_kernel.py`, numba, on rows sorted once by
`batch/_survival_layout.py`) against `engine="numpy"` (the whole-batch array route, itself held to
lifelines, statsmodels and R survdiff in test_batch_survival.py): unstratified and stratified, on
weekly times (many ties), a subset, and trials built to be awkward — all censored, a stratum
without deaths, a stratum holding one arm only, a trial of two participants, an empty trial.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mndtrial.batch import logrank_batch
from mndtrial.batch._layout import _risk_order
from mndtrial.batch._survival_layout import sorted_rows, survival_layout
from mndtrial.data import TrialBatch
from mndtrial.errors import ParameterError
from mndtrial.power.exponential import ExponentialDesign
from mndtrial.sim import mirocals, simulate


def awkward_batch() -> TrialBatch:
    """Eight trials on a weekly grid; trials 1-6 are edge cases (see the module docstring)."""
    b = ExponentialDesign(n_per_arm=25, hazard_ratio=0.7, time_resolution_days=7).simulate_chunk(0, 8, seed=21)
    p, s = b.participants.copy(), b.survival.copy()
    trial = s["trial"].to_numpy()
    active = (p["arm"] == "active").to_numpy()
    bulbar = (p["onset_site"] == "bulbar").to_numpy()
    s.loc[trial == 1, "event"] = 0  # everyone censored
    s.loc[(trial == 2) & bulbar, "event"] = 0  # a stratum without deaths
    p.loc[(trial == 3) & ~active, "onset_site"] = "limb"  # bulbar holds the active arm only
    s.loc[trial == 4, "time_days"] = np.ceil(s.loc[trial == 4, "time_days"] / 91) * 91  # quarterly: big ties
    keep = ~((trial == 5) & (p["subject"].to_numpy() % 25 > 0))  # trial 5: two participants
    keep &= trial != 6  # trial 6: nobody
    s.loc[s["event"] == 0, "event_type"] = "censored"
    return TrialBatch(info=b.info, n_trials=8, participants=p[keep].reset_index(drop=True),
                      survival=s[keep].reset_index(drop=True), alsfrs=None)


def _same(a, b) -> None:
    np.testing.assert_allclose(a.observed_minus_expected, b.observed_minus_expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(a.variance, b.variance, rtol=0, atol=1e-10)
    for name in ("events", "events_active", "n", "trial"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    with np.errstate(invalid="ignore"):  # 0/0 where a trial has no deaths
        np.testing.assert_allclose(a.chi_square, b.chi_square, rtol=1e-9, equal_nan=True)


@pytest.mark.parametrize("strata", [(), ("onset_site",)])
def test_compiled_equals_numpy_on_awkward_trials(strata):
    b = awkward_batch()
    compiled = logrank_batch(b, strata=strata)
    _same(compiled, logrank_batch(b, strata=strata, engine="numpy"))
    assert compiled.events[1] == 0 and compiled.variance[1] == 0  # all censored: nothing to test
    assert compiled.n[6] == 0 and compiled.n[5] == 2


@pytest.mark.parametrize("strata", [(), ("country",), ("country", "onset_site")])
def test_compiled_equals_numpy_on_simulated_mirocals_trials(strata):
    b = simulate(mirocals(n_randomised=120), n_trials=40, seed=12)
    _same(logrank_batch(b, strata=strata), logrank_batch(b, strata=strata, engine="numpy"))
    low = (b.participants["csf_pnfh"] < 2000).to_numpy()
    _same(logrank_batch(b, strata=strata, subset=low), logrank_batch(b, strata=strata, subset=low, engine="numpy"))


def test_sorted_rows_follow_the_numpy_routes_order():
    b = awkward_batch()
    layout, rows = sorted_rows(None, b, ("onset_site",))
    codes = layout.strata(("onset_site",))
    t = layout.trial
    expected = _risk_order(t * (codes.max() + 1) + codes, layout.time, layout.event)
    np.testing.assert_array_equal(rows.rows, expected)
    np.testing.assert_array_equal(rows.starts, np.searchsorted(t[expected], np.arange(b.n_trials + 1)))
    fractional = dataclasses.replace(b, survival=b.survival.assign(time_days=b.survival["time_days"] + 0.25))
    layout = survival_layout(fractional)  # not whole days: the lexsort route gives the same order
    np.testing.assert_array_equal(layout.order, _risk_order(t, layout.time, layout.event))


def test_one_layout_serves_every_test_of_its_batch_and_no_other():
    b = awkward_batch()
    layout = survival_layout(b)
    for strata in ((), ("onset_site",)):
        _same(logrank_batch(b, strata=strata, layout=layout), logrank_batch(b, strata=strata))
    other = ExponentialDesign(n_per_arm=10).simulate_chunk(0, 2, seed=1)
    with pytest.raises(ParameterError, match="layout"):
        logrank_batch(other, layout=layout)
    with pytest.raises(ParameterError, match="engine"):
        logrank_batch(b, engine="fortran")
