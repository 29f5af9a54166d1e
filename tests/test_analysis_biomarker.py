"""Biomarker rules, subgroup forest rows and interaction tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from pydantic import ValidationError

from mndtrial.analysis import BiomarkerRule, arm_contrast, survival_frame
from mndtrial.analysis.biomarker import MISSING, OUTSIDE, categorical_groups
from mndtrial.analysis.subgroups import interaction_by_subgroup, interaction_continuous, subgroup_rows
from mndtrial.data import Trial
from mndtrial.errors import AnalysisError


def _with_missing_pnfh(trial: Trial, every: int = 7) -> Trial:
    t = trial.tables()
    parts = t["participants"].copy()
    parts.loc[parts.index % every == 0, "csf_pnfh"] = np.nan
    return Trial(parts, t["survival"], t["alsfrs"], t["biomarkers"], info=trial.info)


def test_cutoff_groups_follow_the_closed_right_intervals(example_trial):
    trial = _with_missing_pnfh(example_trial)
    g = BiomarkerRule(biomarker="csf_pnfh", cutoffs=[1000, 3700]).assign(trial)
    v = trial.participants.set_index("subject_id")["csf_pnfh"]
    expected = pd.Series(np.select([v.isna(), v <= 1000, v <= 3700], [MISSING, "<= 1000", "(1000, 3700]"], "> 3700"),
                         index=v.index)
    pd.testing.assert_series_equal(g.labels, expected, check_names=False)
    assert g.counts()[MISSING] == int(v.isna().sum()) > 0
    assert sum(g.counts().values()) == trial.n_participants  # nobody dropped


def test_quantile_groups_use_the_trial_quantiles(example_trial):
    g = BiomarkerRule(biomarker="csf_pnfh", quantiles=[1 / 3, 2 / 3]).assign(example_trial)
    v = example_trial.participants["csf_pnfh"].to_numpy()
    np.testing.assert_allclose(g.cut_points, np.quantile(v, [1 / 3, 2 / 3]), rtol=1e-12)
    assert [g.counts()[lv] for lv in g.levels[:3]] == [20, 20, 20]


def test_ranges_put_everyone_else_outside(example_trial):
    g = BiomarkerRule(biomarker="csf_pnfh", ranges=[[750, 3700]]).assign(example_trial)
    v = example_trial.participants.set_index("subject_id")["csf_pnfh"]
    inside = (v > 750) & (v <= 3700)
    assert (g.labels[inside] == "(750, 3700]").all() and (g.labels[~inside] == OUTSIDE).all()


def test_bad_rules_are_refused():
    with pytest.raises(ValidationError, match="exactly one"):
        BiomarkerRule(biomarker="csf_pnfh", cutoffs=[1], quantiles=[0.5])
    with pytest.raises(ValidationError, match="strictly increasing"):
        BiomarkerRule(biomarker="csf_pnfh", cutoffs=[3700, 750])
    with pytest.raises(ValidationError, match="overlap"):
        BiomarkerRule(biomarker="csf_pnfh", ranges=[[0, 1000], [900, 2000]])


def test_biomarker_missing_for_everyone_is_an_analysis_error(example_trial):
    trial = _with_missing_pnfh(example_trial, every=1)
    with pytest.raises(AnalysisError, match="csf_pnfh is missing for all 60 participants"):
        BiomarkerRule(biomarker="csf_pnfh", cutoffs=[3700]).assign(trial)
    with pytest.raises(AnalysisError, match="missing for all"):
        interaction_continuous(trial, "csf_pnfh", arm_contrast(trial))


def test_subgroup_hr_equals_lifelines_on_the_subset_and_missing_is_its_own_row(example_trial):
    trial = _with_missing_pnfh(example_trial)
    frame = survival_frame(trial)
    groups = BiomarkerRule(biomarker="csf_pnfh", cutoffs=[3700]).assign(trial)
    rows = {r["level"]: r for r in subgroup_rows(frame, groups, horizon_days=300)}
    d = trial.survival_by_subject()
    sub = d.loc[d.csf_pnfh <= 3700]
    # lifelines run to the maximum: its relative log-likelihood stop (r_precision) ends ~1e-7 short here.
    ref = CoxPHFitter().fit(pd.DataFrame({"T": sub.time_days, "E": sub.event, "trt": (sub.arm != "placebo") * 1.0}),
                            "T", "E", fit_options={"precision": 1e-16, "r_precision": 0.0}).summary.loc["trt"]
    assert rows["<= 3700"]["hr"] == pytest.approx(np.exp(ref["coef"]), rel=1e-9)
    assert rows["<= 3700"]["se"] == pytest.approx(ref["se(coef)"], rel=1e-9)
    assert rows[MISSING]["n"] == int(d.csf_pnfh.isna().sum())
    assert sum(r["n"] for r in rows.values()) == trial.n_participants
    assert "survival_at_horizon" in rows["<= 3700"]["arms"]["placebo"]


def test_subgroup_with_fewer_than_two_events_is_reported_not_estimable():
    ids = [f"s{i}" for i in range(12)]
    parts = pd.DataFrame({"subject_id": ids, "arm": ["placebo", "il2"] * 6,
                          "sex": ["F"] * 4 + ["M"] * 8})
    surv = pd.DataFrame({"subject_id": ids, "time_days": np.arange(1, 13) * 10.0,
                         "event": [1, 0, 0, 0] + [1, 1, 0, 1, 1, 0, 1, 0]})
    trial = Trial(parts, surv)
    rows = {r["level"]: r for r in subgroup_rows(survival_frame(trial), categorical_groups(trial, "sex"))}
    assert rows["F"]["estimable"] is False and "fewer than 2 events (1)" in rows["F"]["reason"]
    assert rows["F"]["hr"] is None
    assert rows["M"]["estimable"] is True


def test_no_events_in_one_arm_of_a_subgroup_is_reported_as_monotone(example_trial):
    t = example_trial.tables()
    surv = t["survival"].copy()
    parts = t["participants"]
    bulbar_active = parts.loc[(parts.onset_site == "bulbar") & (parts.arm == "il2_2miu"), "subject_id"]
    surv.loc[surv.subject_id.isin(bulbar_active), "event"] = 0
    trial = Trial(parts, surv, info=example_trial.info)
    rows = {r["level"]: r for r in subgroup_rows(survival_frame(trial), categorical_groups(trial, "onset_site"))}
    assert rows["bulbar"]["estimable"] is False and "monotone likelihood" in rows["bulbar"]["reason"]


def test_continuous_interaction_equals_lifelines_product_term(example_trial):
    trial = _with_missing_pnfh(example_trial)
    res = interaction_continuous(trial, "csf_pnfh", arm_contrast(trial))
    d = trial.survival_by_subject().dropna(subset=["csf_pnfh"])
    x = np.log(d.csf_pnfh)
    trt = (d.arm == "il2_2miu") * 1.0
    table = pd.DataFrame({"T": d.time_days, "E": d.event, "trt": trt, "x": x, "tx": trt * x})  # uncentred
    ref = CoxPHFitter().fit(table, "T", "E", fit_options={"precision": 1e-12})
    assert res["interaction"]["coef"] == pytest.approx(ref.params_["tx"], rel=1e-6)  # centring leaves it unchanged
    assert res["interaction"]["se"] == pytest.approx(ref.standard_errors_["tx"], rel=1e-6)
    assert res["excluded_missing"] == int(trial.participants.csf_pnfh.isna().sum())
    reduced = CoxPHFitter().fit(table.drop(columns="tx"), "T", "E", fit_options={"precision": 1e-12})
    lr = 2 * (ref.log_likelihood_ - reduced.log_likelihood_)
    assert res["lr_test"]["chi2"] == pytest.approx(lr, rel=1e-6)


def test_interaction_by_subgroup_is_the_lr_test_of_product_terms(example_trial):
    frame = survival_frame(example_trial)
    groups = BiomarkerRule(biomarker="csf_pnfh", quantiles=[1 / 3, 2 / 3]).assign(example_trial)
    res = interaction_by_subgroup(frame, groups, subgroup_rows(frame, groups, with_km=False))
    d = example_trial.survival_by_subject()
    lab = d.subject_id.map(groups.labels)
    trt = (d.arm == "il2_2miu") * 1.0
    table = pd.DataFrame({"T": d.time_days, "E": d.event, "trt": trt})
    for i, lv in enumerate(groups.levels[1:3]):
        table[f"g{i}"] = (lab == lv) * 1.0
        table[f"tg{i}"] = trt * table[f"g{i}"]
    opts = {"precision": 1e-12}
    full = CoxPHFitter().fit(table, "T", "E", fit_options=opts).log_likelihood_
    reduced = CoxPHFitter().fit(table.drop(columns=["tg0", "tg1"]), "T", "E", fit_options=opts).log_likelihood_
    assert res["df"] == 2
    assert res["chi2"] == pytest.approx(2 * (full - reduced), rel=1e-7)
    assert res["levels_excluded"] == {}


def test_biomarker_rule_on_a_text_column_is_a_clear_error_recorded_by_the_plan(example_trial):
    # a rule on onset_site used to stop the whole plan with "could not convert string to float"
    from mndtrial.analysis import AnalysisPlan
    from mndtrial.errors import ParameterError

    rule = BiomarkerRule(biomarker="onset_site", cutoffs=[1.0])
    with pytest.raises(ParameterError, match="text column") as err:
        rule.assign(example_trial)
    assert err.value.parameter == "biomarker_rules.biomarker"
    with pytest.raises(ParameterError, match="text column"):
        interaction_continuous(example_trial, "onset_site", arm_contrast(example_trial))
    plan = AnalysisPlan.from_toml_text('[[biomarker_rules]]\nbiomarker = "onset_site"\ncutoffs = [1]\n'
                                       '[function]\nenabled = false\n[cafs]\nenabled = false\n'
                                       '[treg]\nenabled = false\n')
    res = plan.run(example_trial)
    row = next(r for r in res["subgroups"] if r["variable"] == "onset_site" and r["level"] is None)
    assert "text column" in row["reason"]
    assert "text column" in res["interaction"]["continuous"][0]["not_computed"]
    # the other subgroups are still computed: onset_site levels as a [subgroups] column
    levels = {r["level"] for r in res["subgroups"] if r["rule"] == "onset_site"}
    assert levels == set(example_trial.participants["onset_site"].dropna()) | {MISSING}
