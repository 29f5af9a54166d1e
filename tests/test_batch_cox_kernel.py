"""The compiled batch Cox engine equals the numpy route trial by trial (double programming).

`BatchCox(engine="compiled")` (`batch/_cox_kernel.py`, numba) against `engine="numpy"` (the
whole-batch array route, itself held to lifelines in test_batch_survival.py): same status, same
iterations, coefficients, SEs and log-likelihoods to rounding, on simulated MIROCALS trials with
covariates, strata, both tie rules, a subset, and trials built to be monotone or singular.
"""

from __future__ import annotations

import numpy as np
import pytest

from mndtrial.batch import cox_batch
from mndtrial.data import TrialBatch
from mndtrial.power.exponential import ExponentialDesign
from mndtrial.sim import mirocals, simulate

COVARIATES = ("age", "delta_fs", "alsfrs_r_baseline")


@pytest.fixture(scope="module")
def batch() -> TrialBatch:
    return simulate(mirocals(n_randomised=120), n_trials=60, seed=11)


def _same(a, b, runoff_rtol: float = 1e-8) -> None:
    assert list(a.status) == list(b.status)
    np.testing.assert_array_equal(a.iterations, b.iterations)
    ok = a.converged
    np.testing.assert_allclose(a.coef[ok], b.coef[ok], rtol=0, atol=1e-9)
    np.testing.assert_allclose(a.se[ok], b.se[ok], rtol=0, atol=1e-9)
    # where the maximum is at infinity the running-off coefficient agrees to rounding of its size
    np.testing.assert_allclose(a.coef[~ok], b.coef[~ok], rtol=runoff_rtol, atol=1e-9)
    np.testing.assert_allclose(a.se[~ok], b.se[~ok], rtol=1e-6, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(a.loglik, b.loglik, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(a.loglik_null, b.loglik_null, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(a.events, b.events)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("covariates,strata", [((), ()), (COVARIATES, ()), (COVARIATES[:1], ("country", "onset_site")),
                                               (COVARIATES + ("symptom_duration_months",), ("onset_site",))])
def test_compiled_equals_numpy(batch, covariates, strata, ties):
    # p = 1 (treatment only: the death-count evaluation), p <= 4 (padded to four columns), p = 5
    kw = dict(covariates=covariates, strata=strata, ties=ties)
    _same(cox_batch(batch, engine="compiled", **kw), cox_batch(batch, engine="numpy", **kw))


def test_compiled_equals_numpy_on_a_subset(batch):
    low = (batch.participants["csf_pnfh"] < 2000).to_numpy()
    _same(cox_batch(batch, covariates=("age",), subset=low, engine="compiled"),
          cox_batch(batch, covariates=("age",), subset=low, engine="numpy"))


def test_compiled_flags_monotone_singular_and_eventless_trials_as_numpy_does():
    b = ExponentialDesign(n_per_arm=30).simulate_chunk(0, 5, seed=4)
    s = b.survival.copy()
    trial = s["trial"].to_numpy()
    active = (b.participants["arm"] == "active").to_numpy()
    s.loc[active & (trial == 1), "event"] = 0  # no deaths on the active arm: beta -> -infinity
    s.loc[trial == 2, "event"] = 0  # no events at all
    s.loc[s["event"] == 0, "event_type"] = "censored"
    p = b.participants.copy()
    p.loc[trial == 3, "age"] = 60.0  # a covariate constant within a trial: singular
    broken = TrialBatch(info=b.info, n_trials=5, participants=p, survival=s, alsfrs=b.alsfrs)
    for covariates in ((), ("age",)):
        compiled = cox_batch(broken, covariates=covariates, engine="compiled")
        _same(compiled, cox_batch(broken, covariates=covariates, engine="numpy"))
        assert {"monotone_likelihood", "no_events", "converged"} <= set(compiled.status)
    assert cox_batch(broken, covariates=("age",)).status[3] == "singular"


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("covariates,strata", [((), ()), ((), ("onset_site",)), (("age",), ("onset_site",)),
                                               (("age", "log(csf_pnfh)", "onset_site==bulbar"), ())])
def test_compiled_equals_numpy_on_awkward_trials(covariates, strata, ties):
    # all censored, a stratum without deaths (unstratified with onset_site==bulbar: monotone), a
    # stratum of one arm, quarterly ties, two participants, an empty trial
    from test_batch_logrank_kernel import awkward_batch

    b = awkward_batch()
    kw = dict(covariates=covariates, strata=strata, ties=ties)
    compiled = cox_batch(b, engine="compiled", **kw)
    # a coefficient running off along a flat likelihood for 20-odd steps keeps rounding's drift
    _same(compiled, cox_batch(b, engine="numpy", **kw), runoff_rtol=1e-6)
    assert compiled.status[1] == compiled.status[6] == "no_events"
    np.testing.assert_array_equal(compiled.n, cox_batch(b, engine="numpy", **kw).n)


def test_a_shared_layout_changes_nothing(batch):
    from mndtrial.batch._survival_layout import survival_layout

    layout = survival_layout(batch)
    for covariates, strata in (((), ()), (COVARIATES, ("country", "onset_site"))):
        shared = cox_batch(batch, covariates=covariates, strata=strata, layout=layout)
        alone = cox_batch(batch, covariates=covariates, strata=strata)
        for name in ("coef", "se", "loglik", "iterations", "status", "n", "events"):
            np.testing.assert_array_equal(getattr(shared, name), getattr(alone, name))
