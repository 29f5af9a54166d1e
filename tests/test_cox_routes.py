"""The Cox fit's own route (Newton-Raphson + own PH test) equals lifelines fit by fit.

Double programming: `fit_cox` fits by `cox_newton.newton_cox` and tests proportional hazards by
`cox_ph.ph_test_statistics`; the reference is lifelines' `CoxPHFitter` and
`proportional_hazard_test` (the fallback route, `_lifelines_result`) on the same data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_rossi

from mndtrial.analysis import cox as cox_module
from mndtrial.analysis.cox_ph import km_time_transform, schoenfeld_residuals

TOL = 1e-6


def _lifelines(df, terms, strata=(), **kw):
    events = int(df["event"].sum())
    return cox_module._lifelines_result(df, list(terms), "time_days", "event", list(strata), 0.05, True, "cox",
                                        "cox", events, "reference")


def _tables(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 220
    treatment = rng.integers(0, 2, n).astype(float)
    log_nfl = rng.normal(3.5, 0.6, n)
    bulbar = (rng.random(n) < 0.3).astype(float)
    hazard = 0.002 * np.exp(-0.3 * treatment + 0.8 * (log_nfl - 3.5) + 0.5 * bulbar)
    death = rng.exponential(1 / hazard)
    censor = rng.uniform(300, 700, n)
    time = np.ceil(np.minimum(death, censor) / 7) * 7  # weekly visits: many ties
    return pd.DataFrame({"time_days": time, "event": (death <= censor).astype(int), "treatment": treatment,
                         "log_nfl": log_nfl, "bulbar": bulbar, "site": rng.integers(0, 3, n)})


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("terms,strata", [(["treatment"], []), (["treatment", "log_nfl", "bulbar"], []),
                                          (["treatment", "log_nfl"], ["site"])])
def test_newton_route_equals_lifelines(seed, terms, strata):
    df = _tables(seed)[["time_days", "event", *terms, *strata]]
    mine = cox_module.fit_cox(df, terms, strata=strata)
    ref = _lifelines(df, terms, strata)
    assert mine.fit_route == cox_module.NEWTON_ROUTE
    for col in ("coef", "se", "hr_lower", "hr_upper", "z", "p"):
        np.testing.assert_allclose(mine.summary[col], ref.summary[col], atol=TOL, rtol=TOL, err_msg=col)
    assert mine.log_likelihood == pytest.approx(ref.log_likelihood, abs=TOL)
    assert mine.log_likelihood_null == pytest.approx(ref.log_likelihood_null, abs=TOL)
    assert mine.lr_p == pytest.approx(ref.lr_p, abs=TOL)
    np.testing.assert_allclose(mine.ph_test["chi2"], ref.ph_test["chi2"], atol=1e-8, rtol=1e-8)
    np.testing.assert_allclose(mine.ph_test["p"], ref.ph_test["p"], atol=1e-8)


def test_schoenfeld_residuals_equal_lifelines_on_rossi():
    from lifelines import CoxPHFitter

    r = load_rossi().assign(week=lambda d: d["week"] // 4 * 4)  # coarser weeks: tied deaths
    terms = ["fin", "age", "prio"]
    cph = CoxPHFitter().fit(r[["week", "arrest", *terms]], "week", "arrest", fit_options=cox_module.FIT_OPTIONS)
    want = cph.compute_residuals(r[["week", "arrest", *terms]], "schoenfeld")
    rows, got = schoenfeld_residuals(r["week"].to_numpy(), r["arrest"].to_numpy(), r[terms].to_numpy(float),
                                     cph.params_[terms].to_numpy())
    got = pd.DataFrame(got, index=r.index[rows], columns=terms).loc[want.index]
    np.testing.assert_allclose(got.to_numpy(), want[terms].to_numpy(), atol=1e-10)


def test_km_time_transform_equals_lifelines_km():
    from lifelines import KaplanMeierFitter

    df = _tables(1)
    want = 1 - KaplanMeierFitter().fit(df["time_days"], df["event"]).survival_function_.loc[df["time_days"]]
    np.testing.assert_allclose(km_time_transform(df["time_days"], df["event"]), want.to_numpy().ravel())
