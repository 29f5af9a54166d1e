"""One test per data-model rule: a small malformed trial each, refused with the rule named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mndtrial import Arm, Trial, TrialDataError, TrialInfo


def tables():
    participants = pd.DataFrame({
        "subject_id": ["s1", "s2", "s3", "s4"],
        "arm": ["placebo", "placebo", "il2", "il2"],
        "age": [55.0, 61.5, 48.0, 70.0],
        "sex": ["M", "F", "M", "F"],
        "onset_site": ["limb", "bulbar", "limb", "limb"],
        "riluzole": [True, False, True, True],
        "csf_pnfh": [1200.0, np.nan, 4100.0, 2500.0],
    })
    survival = pd.DataFrame({"subject_id": ["s1", "s2", "s3", "s4"],
                             "time_days": [640.0, 200.0, 640.0, 512.5], "event": [0, 1, 0, 1]})
    alsfrs = pd.DataFrame({"subject_id": ["s1", "s1", "s2", "s3", "s4"],
                           "day": [0.0, 91.0, 0.0, 0.0, 0.0], "total": [40.0, 38.0, 35.0, 42.0, 30.5]})
    biomarkers = pd.DataFrame({"subject_id": ["s1", "s3"], "day": [0.0, 0.0],
                               "analyte": ["treg_pct_cd4", "treg_pct_cd4"], "value": [5.1, 6.0], "unit": ["%", "%"]})
    return dict(participants=participants, survival=survival, alsfrs=alsfrs, biomarkers=biomarkers)


INFO = TrialInfo(arms=(Arm(name="placebo", control=True), Arm(name="il2", dose_miu=2.0)))


def refused(rule: str, **changes) -> TrialDataError:
    t = tables()
    t.update(changes)
    with pytest.raises(TrialDataError) as exc:
        Trial(info=changes.pop("info", INFO), **{k: v for k, v in t.items() if k != "info"})
    assert rule in exc.value.rules, str(exc.value)
    return exc.value


def test_valid_trial_is_accepted_and_inputs_untouched():
    t = tables()
    before = {k: v.copy() for k, v in t.items()}
    trial = Trial(info=INFO, **t)
    assert trial.n_participants == 4
    for k in t:
        pd.testing.assert_frame_equal(t[k], before[k])


def test_missing_required_table():
    t = tables()
    with pytest.raises(TrialDataError) as exc:
        Trial(t["participants"], None, info=INFO)
    assert exc.value.problems[0].table == "survival"
    assert exc.value.rules == {"required_table"}


def test_missing_required_column():
    err = refused("required_column", survival=tables()["survival"].drop(columns="event"))
    assert err.problems[0].column == "event"


def test_duplicate_subject():
    p = tables()["participants"]
    p.loc[1, "subject_id"] = "s1"
    err = refused("duplicate_subject", participants=p)
    assert any(pr.subject_id == "s1" and pr.table == "participants" for pr in err.problems)


def test_subject_not_randomised():
    a = tables()["alsfrs"]
    a.loc[2, "subject_id"] = "ghost"
    err = refused("not_randomised", alsfrs=a)
    p = next(pr for pr in err.problems if pr.rule == "not_randomised")
    assert (p.table, p.column, p.subject_id) == ("alsfrs", "subject_id", "ghost")


def test_participant_without_survival_row():
    s = tables()["survival"].iloc[:3]
    err = refused("missing_survival", survival=s)
    assert next(p for p in err.problems if p.rule == "missing_survival").subject_id == "s4"


@pytest.mark.parametrize("bad", [-1.0, np.nan])
def test_negative_or_missing_time(bad):
    s = tables()["survival"]
    s.loc[2, "time_days"] = bad
    err = refused("range" if bad == -1.0 else "missing", survival=s)
    assert any(p.subject_id == "s3" and p.column == "time_days" for p in err.problems)


def test_event_not_zero_one():
    s = tables()["survival"]
    s.loc[0, "event"] = 2
    err = refused("allowed_values", survival=s)
    assert err.problems[0].column == "event" and err.problems[0].value == 2.0


def test_alsfrs_total_out_of_range():
    a = tables()["alsfrs"]
    a.loc[1, "total"] = 49.0
    err = refused("range", alsfrs=a)
    assert err.problems[0].subject_id == "s1"


def test_alsfrs_item_out_of_range():
    a = tables()["alsfrs"]
    a["q3"] = [4.0, 5.0, 3.0, 2.0, np.nan]
    err = refused("range", alsfrs=a)
    assert err.problems[0].column == "q3"


def test_items_must_sum_to_total():
    a = tables()["alsfrs"].iloc[:1].copy()
    for i in range(1, 13):
        a[f"q{i}"] = [3.0]
    a["total"] = [35.0]
    refused("items_total", alsfrs=a)


def test_visit_after_death():
    a = tables()["alsfrs"]
    a.loc[2, "day"] = 250.0  # s2 died on day 200
    err = refused("visit_after_death", alsfrs=a)
    assert next(p for p in err.problems if p.rule == "visit_after_death").subject_id == "s2"


def test_duplicate_visit():
    a = tables()["alsfrs"]
    a.loc[1, "day"] = 0.0
    refused("duplicate_visit", alsfrs=a)


def test_arm_not_in_info():
    p = tables()["participants"]
    p.loc[3, "arm"] = "il2_high"
    err = refused("unknown_arm", participants=p)
    assert next(pr for pr in err.problems if pr.rule == "unknown_arm").subject_id == "s4"


def test_arm_without_participants():
    info = TrialInfo(arms=(*INFO.arms, Arm(name="il2_1miu", dose_miu=1.0)))
    err = refused("empty_arm", info=info)
    assert err.problems[0].value == "il2_1miu"


def test_non_numeric_value():
    p = tables()["participants"]
    p["age"] = p["age"].astype(object)
    p.loc[2, "age"] = "forty"
    err = refused("numeric", participants=p)
    assert (err.problems[0].subject_id, err.problems[0].value) == ("s3", "forty")


def test_unknown_unit():
    b = tables()["biomarkers"]
    b.loc[1, "unit"] = "ratio"
    err = refused("unit", biomarkers=b)
    assert err.problems[0].subject_id == "s3"


def test_unknown_analyte_unless_declared():
    b = tables()["biomarkers"]
    b.loc[1, ["analyte", "unit"]] = ["il6", "pg/mL"]
    refused("unknown_analyte", biomarkers=b)
    info = INFO.model_copy(update={"analyte_units": {"il6": "pg/mL"}})
    assert Trial(info=info, **{**tables(), "biomarkers": b}).biomarkers["analyte"].tolist() == ["treg_pct_cd4", "il6"]


def test_empty_table():
    refused("empty_table", alsfrs=tables()["alsfrs"].iloc[:0])


def test_text_columns_must_be_text():
    p = tables()["participants"]
    p["subject_id"] = [1, 2, 3, 4]
    refused("text", participants=p)


def test_every_problem_is_reported_not_just_the_first():
    s = tables()["survival"]
    s["event"] = [0, 3, 1, 7]
    s.loc[0, "time_days"] = -5.0
    err = refused("allowed_values", survival=s)
    assert sum(p.rule == "allowed_values" for p in err.problems) == 2
    assert "range" in err.rules
    assert "subject 's2'" in str(err) and "rule: allowed_values" in str(err)


def test_blank_text_is_refused_not_read_as_missing():
    p = tables()["participants"]
    p.loc[1, "sex"] = "  "
    err = refused("blank_text", participants=p)
    assert (err.problems[0].column, err.problems[0].subject_id) == ("sex", "s2")


@pytest.mark.parametrize("total, ok", [(30.5, True), (12.0, True), (12.3, False), (30.25, False)])
def test_alsfrs_scores_are_whole_or_half_points(total, ok):
    a = tables()["alsfrs"]
    a.loc[1, "total"] = total
    if ok:
        assert Trial(info=INFO, **{**tables(), "alsfrs": a}).alsfrs["total"].iat[1] == total
        return
    err = refused("multiple_of", alsfrs=a)
    p = err.problems[0]
    assert (p.table, p.column, p.subject_id, p.value) == ("alsfrs", "total", "s1", total)
    assert len(err.problems) == 1


def test_alsfrs_items_are_whole_or_half_points():
    a = tables()["alsfrs"]
    a["q2"] = [4.0, 3.5, 2.7, np.nan, np.nan]
    err = refused("multiple_of", alsfrs=a)
    assert [(p.column, p.subject_id, p.value) for p in err.problems] == [("q2", "s2", 2.7)]


@pytest.mark.parametrize("day, ok", [(-365.0, True), (-30.0, True), (-366.0, False), (-100000.0, False)])
def test_days_before_randomisation_stay_in_the_screening_window(day, ok):
    a, b = tables()["alsfrs"], tables()["biomarkers"]
    a.loc[0, "day"] = day
    b.loc[0, "day"] = day
    if ok:
        Trial(info=INFO, **{**tables(), "alsfrs": a, "biomarkers": b})
        return
    err = refused("range", alsfrs=a, biomarkers=b)
    assert {(p.table, p.column, p.subject_id) for p in err.problems} == {("alsfrs", "day", "s1"),
                                                                      ("biomarkers", "day", "s1")}


@pytest.mark.parametrize("value, ok", [(0.0, True), (100.0, True), (-6.26, False), (250.0, False)])
def test_treg_percentage_is_0_to_100(value, ok):
    b = tables()["biomarkers"]
    b.loc[1, "value"] = value
    if ok:
        Trial(info=INFO, **{**tables(), "biomarkers": b})
        return
    err = refused("analyte_range", biomarkers=b)
    p = err.problems[0]
    assert (p.table, p.column, p.subject_id, p.value) == ("biomarkers", "value", "s3", value)
    assert "treg_pct_cd4" in p.message and "0 to 100 %" in p.message


def test_negative_concentration_is_refused_but_a_declared_analyte_has_no_range():
    b = tables()["biomarkers"]
    b.loc[0, ["analyte", "value", "unit"]] = ["serum_nfl", -1.0, "pg/mL"]
    refused("analyte_range", biomarkers=b)
    b.loc[0, ["analyte", "unit"]] = ["il6_delta", "pg/mL"]  # declared by the trial: unit only, any sign
    info = INFO.model_copy(update={"analyte_units": {"il6_delta": "pg/mL"}})
    Trial(info=info, **{**tables(), "biomarkers": b})


@pytest.mark.parametrize("stray", ["s2 ", " s2", "s2\t"])
def test_id_differing_only_by_whitespace_names_the_participant(stray):
    s = tables()["survival"]
    s.loc[1, "subject_id"] = stray
    err = refused("id_whitespace", survival=s)
    p = next(p for p in err.problems if p.rule == "id_whitespace")
    assert (p.table, p.column, p.subject_id) == ("survival", "subject_id", stray)
    assert "participant 's2'" in p.message
    assert "not_randomised" not in err.rules  # said once, with the reason


def test_a_cell_is_reported_once():
    s = tables()["survival"]
    s["event"] = s["event"].astype(object)
    s.loc[1, "event"] = "dead"
    s.loc[2, "time_days"] = np.inf
    err = refused("numeric", survival=s)
    assert sorted(p.rule for p in err.problems) == ["finite", "numeric"]
