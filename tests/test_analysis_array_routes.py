"""Double programming for the array routes of the single-trial analyses (issue 12, analyse speed).

Subgroup rows, interaction tests, the monotone-likelihood check and survival at a horizon now slice
numpy arrays instead of building a table per subgroup. The table routes they replaced are kept here
as the references they must equal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_rossi

from mndtrial.analysis import BiomarkerRule, arm_contrast, fit_cox, survival_frame
from mndtrial.analysis.biomarker import categorical_groups
from mndtrial.analysis.cox import fit_cox_arrays, monotone_terms
from mndtrial.analysis.frame import frames_reused
from mndtrial.analysis.horizon import km_table, median_survival, rmst, survival_at
from mndtrial.analysis.subgroups import subgroup_rows
from mndtrial.errors import AnalysisError


def reference_monotone_terms(data, terms, duration_col="time_days", event_col="event", strata=()):
    """The per-group table loop `monotone_terms` used to be."""
    groups = [data] if not strata else [g for _, g in data.groupby(list(strata), sort=False, dropna=False)]
    found = {}
    for term in terms:
        low_ok = high_ok = True
        informative = False
        for g in groups:
            g = g.sort_values(duration_col, kind="mergesort")
            t = g[duration_col].to_numpy(float)
            x = g[term].to_numpy(float)
            e = g[event_col].to_numpy() == 1
            risk_min = np.minimum.accumulate(x[::-1])[::-1]
            risk_max = np.maximum.accumulate(x[::-1])[::-1]
            first = np.searchsorted(t, t, side="left")
            rmin, rmax = risk_min[first][e], risk_max[first][e]
            xe = x[e]
            varies = rmax > rmin
            informative |= bool(varies.any())
            low_ok &= bool(np.all((xe == rmin) | ~varies))
            high_ok &= bool(np.all((xe == rmax) | ~varies))
        if informative and (low_ok or high_ok):
            found[term] = "-inf" if low_ok else "+inf"
    return found


@pytest.mark.parametrize("seed", range(12))
def test_monotone_terms_equal_the_table_loop(seed):
    rng = np.random.default_rng(seed)
    n = 40
    d = pd.DataFrame({"time_days": rng.integers(1, 15, n).astype(float), "event": rng.integers(0, 2, n),
                      "x": rng.integers(0, 2, n).astype(float), "z": rng.normal(size=n),
                      "s": rng.choice(["a", "b", "c"], n)})
    if seed % 3 == 0:  # no events among x = 1: monotone towards -inf
        d.loc[d["x"] == 1, "event"] = 0
    if seed % 3 == 1:  # every event has the largest x in its risk set, within each stratum
        d["x"] = np.where(d["event"] == 1, 1.0, 0.0)
    for strata in ((), ("s",)):
        assert monotone_terms(d, ["x", "z"], strata=strata) == reference_monotone_terms(d, ["x", "z"], strata=strata)


def test_fit_cox_arrays_is_fit_cox():
    r = load_rossi()
    r["stratum"] = np.where(r["age"] > 25, "older", "younger")
    terms = ["fin", "prio", "wexp"]
    want = fit_cox(r, terms, duration_col="week", event_col="arrest", strata=["stratum"])
    codes = r.groupby(["stratum"], sort=False).ngroup().to_numpy()
    got = fit_cox_arrays(r["week"].to_numpy(), r["arrest"].to_numpy(), r[terms].to_numpy(float), terms, codes,
                         strata_names=["stratum"])
    pd.testing.assert_frame_equal(got.summary, want.summary)
    pd.testing.assert_frame_equal(got.ph_test, want.ph_test)
    assert (got.log_likelihood, got.lr_p, got.n, got.events, got.strata) == \
        (want.log_likelihood, want.lr_p, want.n, want.events, want.strata)
    with pytest.raises(AnalysisError, match="monotone"):
        fit_cox_arrays(r["week"].to_numpy(), r["arrest"].to_numpy(), r["arrest"].to_numpy(float)[:, None], ["x"])


def test_subgroup_rows_equal_a_cox_fit_on_each_subset_table(example_trial):
    frame = survival_frame(example_trial)
    for groups in (BiomarkerRule(biomarker="csf_pnfh", quantiles=(1 / 3, 2 / 3)).assign(example_trial),
                   categorical_groups(example_trial, "onset_site")):
        level_of = frame.data["subject_id"].map(groups.labels)
        for row in subgroup_rows(frame, groups, horizon_days=540):
            d = frame.data.loc[level_of == row["level"]]
            assert row["n"] == len(d) and row["events"] == int(d["event"].sum())
            if not row["estimable"]:
                continue
            t = fit_cox(d, ["treatment"], ph_test=False).term("treatment")
            assert (row["coef"], row["se"], row["p"]) == (t.coef, t.se, t.p)
            for arm, flag in ((frame.contrast.control, 0.0), (frame.contrast.active, 1.0)):
                arm_rows = d.loc[d["treatment"] == flag]
                assert row["arms"][arm]["median_days"] == median_survival(arm_rows["time_days"], arm_rows["event"])


def _reference_survival_at(time, event, tau):
    tab = km_table(time, event)
    before = tab.loc[tab["time_days"] <= tau]
    if before.empty:
        return 1.0, 0.0
    return float(before.iloc[-1]["survival"]), float(before.iloc[-1]["greenwood"])


def _reference_rmst(time, event, tau):
    tab = km_table(time, event)
    tab = tab.loc[tab["time_days"] <= tau]
    knots = np.concatenate([[0.0], tab["time_days"].to_numpy(), [tau]])
    level = np.concatenate([[1.0], tab["survival"].to_numpy()])
    areas = np.diff(knots) * level
    area_after = np.cumsum(areas[::-1])[::-1][1:]
    n, d = tab["at_risk"].to_numpy(float), tab["events"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n > d, d / (n * (n - d)), 0.0)
    return float(areas.sum()), float(np.sum(area_after ** 2 * w))


@pytest.mark.parametrize("tau", [0.5, 3.0, 7.0, 10.0, 20.0])
def test_survival_at_and_rmst_equal_the_table_route(tau):
    rng = np.random.default_rng(5)
    time = rng.integers(1, 21, 60).astype(float)
    event = rng.integers(0, 2, 60)
    assert survival_at(time, event, tau) == _reference_survival_at(time, event, tau)
    assert rmst(time, event, tau) == _reference_rmst(time, event, tau)


def test_frames_reused_gives_the_frame_built_afresh(example_trial):
    contrast = arm_contrast(example_trial)
    with frames_reused():
        first = survival_frame(example_trial, ["log(csf_pnfh)"], ["country"], contrast=contrast)
        again = survival_frame(example_trial, ["log(csf_pnfh)"], ["country"], contrast=contrast)
        other = survival_frame(example_trial, contrast=contrast)
    assert again is first and other is not first
    fresh = survival_frame(example_trial, ["log(csf_pnfh)"], ["country"], contrast=contrast)
    assert fresh is not first
    pd.testing.assert_frame_equal(fresh.data, first.data)
    assert (fresh.terms, fresh.strata, fresh.excluded) == (first.terms, first.strata, first.excluded)
