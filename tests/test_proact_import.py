"""PRO-ACT import on hand-written exports: every quirk asserts the mapped value or the logged reason.

Expected values are worked out by hand from the rows in each test (closed form), e.g. subject '1'
has onset 304.4 days before baseline (10.0 months) and a baseline ALSFRS-R of 36, so
delta_fs = (48 - 36) / 10 = 1.2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from proact_helpers import base_forms, import_forms, visit, write_export

from mndtrial.data.proact import import_proact
from mndtrial.errors import TrialDataError


def _row(df: pd.DataFrame, sid: str) -> pd.Series:
    return df.set_index("subject_id").loc[sid]


def test_clean_export_maps_every_participant_field(tmp_path):
    res = import_forms(tmp_path, base_forms())
    p, s = res.trial.participants, res.trial.survival
    one, two = _row(p, "1"), _row(p, "2")
    assert (one.arm, one.age, one.sex, one.onset_site, bool(one.riluzole)) == ("active", 60.0, "M", "limb", True)
    assert (two.arm, two.age, two.sex, two.onset_site, bool(two.riluzole)) == ("placebo", 50.0, "F", "bulbar", False)
    assert one.symptom_duration_months == pytest.approx(10.0)
    assert one.alsfrs_r_baseline == 36 and one.delta_fs == pytest.approx(1.2)
    assert two.symptom_duration_months == pytest.approx(20.0) and two.delta_fs == pytest.approx(0.1)
    assert tuple(_row(s, "1")[["time_days", "event"]]) == (90.0, 0)  # censored at last ALSFRS visit
    assert tuple(_row(s, "2")[["time_days", "event"]]) == (200.0, 1)
    assert res.trial.info.control_arm == "placebo"
    assert res.log.count("censored_at_last_contact") == 1


@pytest.mark.parametrize("naming,prefix", [("current", ()), ("current", ("alsfrs", "deathdata", "treatment")),
                                           ("2016", ())])
def test_both_namings_and_f_prefix_give_the_same_trial(tmp_path, naming, prefix):
    reference = import_forms(tmp_path / "ref", base_forms()).trial
    res = import_proact(write_export(tmp_path / naming, base_forms(), naming=naming, f_prefix=prefix))
    for name in ("participants", "survival", "alsfrs"):
        pd.testing.assert_frame_equal(getattr(res.trial, name), getattr(reference, name))
    expected = "2016" if naming == "2016" else "current"
    assert {n.split(" ")[0] for n in res.log.info["naming"].values()} == {expected}
    if prefix:
        assert res.log.info["naming"]["alsfrs"] == "current (F_ prefix)"


def test_two_files_for_one_form_and_missing_treatment_are_refused(tmp_path):
    folder = write_export(tmp_path / "x", base_forms())
    base_forms()["alsfrs"].to_csv(folder / "alsfrs.csv", index=False)
    with pytest.raises(TrialDataError) as err:
        import_proact(folder)
    assert err.value.rules == {"ambiguous_file"}
    forms = base_forms()
    del forms["treatment"]
    with pytest.raises(TrialDataError) as err:
        import_forms(tmp_path / "y", forms)
    assert err.value.rules == {"required_form"}


# -- ALSFRS ---------------------------------------------------------------------------------------
def _alsfrs(tmp_path, rows):
    forms = base_forms()
    forms["alsfrs"] = pd.DataFrame(rows)
    res = import_forms(tmp_path, forms)
    a = res.trial.alsfrs
    return res, (a.loc[a.subject_id == "1"].set_index("day") if a is not None else None)


def test_missing_total_is_the_item_sum(tmp_path):
    res, a = _alsfrs(tmp_path, [visit("1", 0, (4,) * 6 + (3,) * 6, total=None)])
    assert a.loc[0, "total"] == 42.0
    assert res.log.count("alsfrs_r_total_from_items") == 1


def test_half_points_are_kept(tmp_path):
    items = (3.5, 4, 4, 2.5, 4, 4, 4, 4, 4, 4, 4, 4)
    res, a = _alsfrs(tmp_path, [visit("1", 0, items, total=None), visit("1", 30, items, total=46.0)])
    assert a.loc[0, "q1"] == 3.5 and a.loc[0, "q4"] == 2.5
    assert a.loc[0, "total"] == 46.0 and a.loc[30, "total"] == 46.0
    assert _row(res.trial.participants, "1").alsfrs_r_baseline == 46.0


def test_original_alsfrs_is_kept_apart(tmp_path):
    original = {"subject_id": "1", "ALSFRS_Delta": 30, "Q1_Speech": 4, "Q2_Salivation": 4, "Q3_Swallowing": 4,
                "Q4_Handwriting": 3, "Q5a_Cutting_without_Gastrostomy": 3, "Q6_Dressing_and_Hygiene": 3,
                "Q7_Turning_in_Bed": 3, "Q8_Walking": 3, "Q9_Climbing_Stairs": 2, "Q10_Respiratory": 4,
                "ALSFRS_Total": 33}
    res, a = _alsfrs(tmp_path, [visit("1", 0, (3,) * 12), original])
    assert list(a.index) == [0.0]  # the original-scale visit is not in the ALSFRS-R table
    orig = res.alsfrs_original.set_index("day")
    assert orig.loc[30, "alsfrs_total"] == 33 and orig.loc[30, "q10_respiratory"] == 4
    assert res.log.count("alsfrs_original_scale") == 1


def test_total_that_disagrees_with_items_keeps_total_not_items(tmp_path):
    res, a = _alsfrs(tmp_path, [visit("1", 0, (3,) * 12, total=35.0)])
    assert a.loc[0, "total"] == 35.0 and a.loc[0, ["q1", "q12"]].isna().all()
    assert res.log.count("alsfrs_r_total_items_mismatch") == 1


def test_item5_with_and_without_gastrostomy(tmp_path):
    with_g = visit("1", 0, (3,) * 12, total=None)
    with_g.update({"Q5a_Cutting_without_Gastrostomy": None, "Q5b_Cutting_with_Gastrostomy": 1})
    both = visit("1", 30, (3,) * 12, total=36.0, Q5b_Cutting_with_Gastrostomy=2)
    res, a = _alsfrs(tmp_path, [with_g, both])
    assert a.loc[0, "q5"] == 1 and a.loc[0, "total"] == 34 and a.loc[0, "q5_with_gastrostomy"] == 1
    assert np.isnan(a.loc[30, "q5"]) and a.loc[30, "total"] == 36
    assert res.log.count("alsfrs_q5_both") == 1


def test_incomplete_out_of_range_and_undated_rows_are_logged(tmp_path):
    incomplete = visit("1", 30, (3,) * 12, total=None, R_3_Respiratory_Insufficiency=None)
    out_of_range = visit("1", 60, (3,) * 12, total=36.0, Q1_Speech=5)
    undated = visit("1", None, (3,) * 12)
    res, a = _alsfrs(tmp_path, [visit("1", 0, (3,) * 12), incomplete, out_of_range, undated])
    assert list(a.index) == [0.0, 60.0] and np.isnan(a.loc[60, "q1"]) and a.loc[60, "total"] == 36
    assert res.log.count("alsfrs_r_incomplete") == 1
    assert res.log.count("alsfrs_out_of_range") == 1
    assert res.log.count("missing_day", "alsfrs") == 1


def test_visits_before_the_screening_window_are_dropped_and_logged(tmp_path):
    """The data model refuses days before -SCREENING_WINDOW_DAYS; the importer drops and logs them."""
    from mndtrial.data.schema import SCREENING_WINDOW_DAYS

    early = visit("1", -(SCREENING_WINDOW_DAYS + 1), (3,) * 12)
    edge = visit("1", -SCREENING_WINDOW_DAYS, (3,) * 12)
    res, a = _alsfrs(tmp_path, [early, edge, visit("1", 0, (3,) * 12)])
    assert list(a.index) == [-float(SCREENING_WINDOW_DAYS), 0.0]
    assert res.log.count("before_screening_window", "alsfrs") == 1


def test_same_day_duplicates(tmp_path):
    rows = [visit("1", 0, (3,) * 12), visit("1", 0, (3,) * 12), visit("1", 30, (3,) * 12),
            visit("1", 30, (2,) * 12)]
    res, a = _alsfrs(tmp_path, rows)
    assert list(a.index) == [0.0]
    assert res.log.count("duplicate_visit", "alsfrs") == 1 and res.log.count("conflicting_visit", "alsfrs") == 2


def test_visit_after_death_is_dropped(tmp_path):
    forms = base_forms()
    forms["alsfrs"] = pd.concat([forms["alsfrs"], pd.DataFrame([visit("2", 250, (2,) * 12)])])
    res = import_forms(tmp_path, forms)
    assert res.trial.alsfrs.query("subject_id == '2'")["day"].max() == 100
    assert res.log.count("alsfrs_after_death") == 1


def test_baseline_window(tmp_path):
    rows = [visit("1", -100, (4,) * 12), visit("1", -20, (3,) * 12), visit("1", 10, (2,) * 12)]
    res, _ = _alsfrs(tmp_path, rows)
    assert _row(res.trial.participants, "1").alsfrs_r_baseline == 36  # last visit in [-90, 0]
    res, _ = _alsfrs(tmp_path / "b", [visit("1", -100, (4,) * 12), visit("1", 10, (2,) * 12)])
    one = _row(res.trial.participants, "1")
    assert one.alsfrs_r_baseline == 24  # none in [-90, 0]: first in (0, 14]
    assert one.delta_fs == pytest.approx((48 - 24) / ((10 + 304.4) / 30.44))
    res, _ = _alsfrs(tmp_path / "c", [visit("1", 40, (2,) * 12)])
    assert np.isnan(_row(res.trial.participants, "1").alsfrs_r_baseline)
    assert res.log.subjects("no_baseline_alsfrs_r") == {"1", "2"}  # "2" has no ALSFRS rows here


# -- death, censoring, arm --------------------------------------------------------------------
def _deaths(tmp_path, rows):
    forms = base_forms()
    forms["deathdata"] = pd.DataFrame(rows, columns=["subject_id", "Subject_Died", "Death_Days"])
    return import_forms(tmp_path, forms)


def test_duplicate_and_conflicting_death_rows(tmp_path):
    res = _deaths(tmp_path, [("1", "Yes", 300), ("1", "Yes", 300), ("2", "No", None), ("2", "Yes", 250),
                             ("2", "Yes", 240)])
    s = res.trial.survival.set_index("subject_id")
    assert tuple(s.loc["1", ["time_days", "event"]]) == (300.0, 1)
    assert tuple(s.loc["2", ["time_days", "event"]]) == (240.0, 1)  # death wins; earliest day
    assert res.log.count("duplicate_death_rows") == 1 and res.log.count("death_rows_conflict") == 1


def test_death_without_day_or_before_baseline_excludes_the_subject(tmp_path):
    with pytest.raises(TrialDataError) as err:  # nobody left: no trial, and the log says why
        _deaths(tmp_path, [("1", "Yes", None), ("2", "Yes", -3)])
    assert err.value.rules == {"no_participants"} and "death_day_missing" in str(err.value)
    res = _deaths(tmp_path / "b", [("1", "Yes", None), ("2", "Yes", 200)])
    assert list(res.trial.participants.subject_id) == ["2"]
    assert res.log.subjects("death_day_missing") == {"1"}
    assert res.log.count("rows_of_excluded_subjects", "alsfrs") == 2


def test_death_before_baseline_is_logged(tmp_path):
    res = _deaths(tmp_path, [("1", "No", None), ("2", "Yes", -3)])
    assert list(res.trial.participants.subject_id) == ["1"] and res.log.subjects("death_before_baseline") == {"2"}


def test_alive_with_death_days_is_censored_at_last_contact(tmp_path):
    forms = base_forms()
    forms["deathdata"] = pd.DataFrame({"subject_id": ["1"], "Subject_Died": ["No"], "Death_Days": [999]})
    forms["fvc"] = pd.DataFrame({"subject_id": ["1"], "Forced_Vital_Capacity_Delta": [150]})
    forms["labs"] = pd.DataFrame({"subject_id": ["1"], "Test_Name": ["Creatinine"], "Test_Result": ["80"],
                                  "Test_Unit": ["umol/L"], "Laboratory_Delta": [170]})
    forms["vitalsigns"] = pd.DataFrame({"subject_id": ["2"], "Vital_Signs_Delta": [120]})
    res = import_forms(tmp_path, forms)
    s = res.trial.survival.set_index("subject_id")
    assert tuple(s.loc["1", ["time_days", "event"]]) == (170.0, 0)  # labs day 170 > FVC 150 > ALSFRS 90
    assert tuple(s.loc["2", ["time_days", "event"]]) == (120.0, 0)  # no death row: vital signs day 120
    assert res.log.count("death_days_when_alive") == 1


def test_no_follow_up_is_censored_at_zero(tmp_path):
    forms = base_forms()
    forms["alsfrs"] = forms["alsfrs"].query("subject_id == '2'")
    forms["deathdata"] = forms["deathdata"].query("subject_id == '2'")
    res = import_forms(tmp_path, forms)
    assert tuple(_row(res.trial.survival, "1")[["time_days", "event"]]) == (0.0, 0)
    assert res.log.subjects("no_follow_up") == {"1"}


def test_subjects_without_treatment_rows_or_arm_are_excluded(tmp_path):
    forms = base_forms()
    forms["demographics"] = pd.concat([forms["demographics"], pd.DataFrame(
        {"subject_id": ["3", "4", "5"], "Age": [40, 41, 42], "Sex": ["Male"] * 3})])
    forms["treatment"] = pd.concat([forms["treatment"], pd.DataFrame(
        {"subject_id": ["4", "5", "5"], "Study_Arm": ["Drug X", "Active", "Placebo"]})])
    res = import_forms(tmp_path, forms)
    assert sorted(res.trial.participants.subject_id) == ["1", "2"]
    assert res.log.subjects("no_treatment_row") == {"3"}
    assert res.log.subjects("arm_unmapped") == {"4"} and res.log.subjects("arm_conflict") == {"5"}
    assert res.log.count("rows_of_excluded_subjects", "demographics") == 3


# -- participant covariates ------------------------------------------------------------------
def test_onset_site_variants(tmp_path):
    forms = base_forms()
    ids = [str(i) for i in range(3, 9)]
    forms["treatment"] = pd.concat([forms["treatment"], pd.DataFrame({"subject_id": ids, "Study_Arm": "Active"})])
    forms["alshistory"] = pd.concat([forms["alshistory"], pd.DataFrame({
        "subject_id": ids + ["8"],
        "Site_of_Onset": ["Onset: Limb and Bulbar", "Onset: Other", "Onset: Spine", None, None, "Onset: Limb",
                          "Onset: Bulbar"],
        "Site_of_Onset___Bulbar": [None, None, None, 1, 1, None, None],
        "Site_of_Onset___Limb": [None, None, None, None, 1, None, None]})])
    res = import_forms(tmp_path, forms)
    site = res.trial.participants.set_index("subject_id")["onset_site"]
    assert site["3"] == "limb_and_bulbar" and pd.isna(site["4"]) and site["5"] == "limb"
    assert site["6"] == "bulbar" and site["7"] == "limb_and_bulbar" and pd.isna(site["8"])
    assert res.log.subjects("onset_site_unmapped") == {"4"}
    assert res.log.subjects("onset_site_spine_as_limb") == {"5"}
    assert res.log.subjects("conflicting_values") == {"8"}


def test_onset_after_baseline_and_zero_duration(tmp_path):
    forms = base_forms()
    forms["alshistory"] = pd.DataFrame({"subject_id": ["1", "2"], "Site_of_Onset": ["Onset: Limb"] * 2,
                                        "Onset_Delta": [12, 0]})
    res = import_forms(tmp_path, forms)
    p = res.trial.participants.set_index("subject_id")
    assert np.isnan(p.loc["1", "symptom_duration_months"]) and np.isnan(p.loc["1", "delta_fs"])
    assert p.loc["2", "symptom_duration_months"] == 0 and np.isnan(p.loc["2", "delta_fs"])
    assert res.log.subjects("onset_delta_after_baseline") == {"1"}
    assert res.log.subjects("delta_fs_zero_duration") == {"2"}


def test_age_sex_riluzole_and_text_in_number_columns(tmp_path):
    forms = base_forms()
    forms["demographics"] = pd.DataFrame({"subject_id": ["1", "2"], "Age": [None, "abc"],
                                          "Date_of_Birth": [-21915, None], "Sex": ["Unknown", "Female"]})
    forms["riluzole"] = pd.DataFrame({"subject_id": ["1", "2"], "Subject_used_Riluzole": ["Maybe", "Yes"]})
    res = import_forms(tmp_path, forms)
    p = res.trial.participants.set_index("subject_id")
    assert p.loc["1", "age"] == pytest.approx(21915 / 365.25) and np.isnan(p.loc["2", "age"])
    assert pd.isna(p.loc["1", "sex"]) and pd.isna(p.loc["1", "riluzole"]) and bool(p.loc["2", "riluzole"])
    assert res.log.subjects("age_from_date_of_birth") == {"1"}
    assert res.log.count("non_numeric_value", "demographics") == 1
    assert res.log.subjects("sex_unmapped") == {"1"} and res.log.subjects("riluzole_unmapped") == {"1"}
    assert res.log.info["participants_missing_values"] == {"age": 1, "sex": 1, "riluzole": 1}


def test_age_out_of_range(tmp_path):
    forms = base_forms()
    forms["demographics"]["Age"] = [130, 50]
    res = import_forms(tmp_path, forms)
    assert np.isnan(_row(res.trial.participants, "1").age) and res.log.subjects("age_out_of_range") == {"1"}


def test_source_trial_is_carried_when_present(tmp_path):
    forms = base_forms()
    forms["treatment"]["source_trial"] = ["T1", "T2"]
    p = import_forms(tmp_path, forms).trial.participants.set_index("subject_id")
    assert list(p["source_trial"]) == ["T1", "T2"]
    assert "source_trial" not in import_forms(tmp_path / "b", base_forms()).trial.participants.columns


# -- labs -----------------------------------------------------------------------------------------
def test_labs(tmp_path):
    forms = base_forms()
    forms["labs"] = pd.DataFrame({
        "subject_id": ["1", "1", "1", "2", "2", "2"],
        "Test_Name": ["Creatinine", "Creatinine", "Bilirubin  (total)", "CK", "Creatinine", "Hematocrit"],
        "Test_Result": ["71.5", "<5", "9", "NEG", "0.9", "41"],
        "Test_Unit": ["umol/L", "umol/L", "umol/L", "U/L", "mg/dL", "%"],
        "Laboratory_Delta": [0, 30, 0, 0, 0, 0]})
    lab_tests = {"Creatinine": ("creatinine", "umol/L"), "CK": ("creatine_kinase", "U/L"),
                 "Bilirubin (Total)": ("bilirubin", "umol/L")}
    res = import_forms(tmp_path, forms, lab_tests=lab_tests)
    b = res.trial.biomarkers.sort_values(["subject_id", "analyte"])
    assert b[["subject_id", "analyte", "value", "unit"]].values.tolist() == [
        ["1", "bilirubin", 9.0, "umol/L"], ["1", "creatinine", 71.5, "umol/L"]]
    assert res.log.count("lab_result_not_numeric") == 2  # '<5' and 'NEG'
    assert res.log.count("lab_unit_unexpected") == 1  # creatinine in mg/dL is not converted
    assert [e.detail for e in res.log.entries("lab_test_not_imported")] == ["hematocrit"]
    assert res.trial.info.analyte_units["creatinine"] == "umol/L"


def test_log_json_and_written_folder(tmp_path):
    import json

    from mndtrial.data import read_trial

    forms = base_forms()
    forms["treatment"] = pd.concat([forms["treatment"], pd.DataFrame({"subject_id": ["9"], "Study_Arm": ["?"]})])
    res = import_forms(tmp_path, forms)
    folder = res.write(tmp_path / "out")
    log = json.loads((folder / "import-log.json").read_text())
    entry = next(e for e in log["reasons"] if e["reason"] == "arm_unmapped")
    assert entry["count"] == 1 and entry["example_subject_ids"] == ["9"] and entry["action"] == "participant excluded"
    assert log["imported"]["participants"] == 2 and log["subjects_in_export"] == 3
    assert log["participants_missing_values"] == {}
    assert read_trial(folder).equals(res.trial)
    assert read_trial(res.write(tmp_path / "pq", format="parquet")).equals(res.trial)


def test_docs_list_every_log_reason():
    from pathlib import Path

    from mndtrial.data.proact import REASONS

    text = (Path(__file__).resolve().parents[1] / "docs" / "proact.md").read_text()
    missing = [r for r in REASONS if f"`{r}`" not in text]
    assert missing == []


def test_unit_spellings_bom_and_latin1_files(tmp_path):
    forms = base_forms()
    forms["labs"] = pd.DataFrame({"subject_id": ["1", "2"], "Test_Name": ["Creatinine", "Creatinine"],
                                  "Test_Result": ["70", "80"], "Test_Unit": ["µmol/L", "UMOL / L"],
                                  "Laboratory_Delta": [0, 0]})
    folder = write_export(tmp_path / "x", forms)
    treatment = folder / "PROACT_TREATMENT.csv"
    treatment.write_bytes(b"\xef\xbb\xbf" + treatment.read_bytes())  # UTF-8 byte-order mark
    labs = folder / "PROACT_LABS.csv"
    labs.write_bytes(labs.read_text(encoding="utf-8").encode("latin-1"))  # 'µ' as one Latin-1 byte
    res = import_proact(folder)
    b = res.trial.biomarkers.sort_values("subject_id")
    assert b["value"].tolist() == [70.0, 80.0] and set(b["unit"]) == {"umol/L"}
    assert [e.form for e in res.log.entries("file_not_utf8")] == ["labs"]


def test_only_the_treatment_form(tmp_path):
    forms = {"treatment": base_forms()["treatment"]}
    folder = write_export(tmp_path / "x", forms)
    (folder / "PROACT_CONMEDS.csv").write_text("subject_id,Medication_Coded\n1,ASPIRIN\n")
    (folder / "notes.csv").write_text("a,b\n1,2\n")
    res = import_proact(folder)
    p = res.trial.participants
    assert p["arm"].tolist() == ["active", "placebo"] and p["age"].isna().all()
    assert res.trial.survival["time_days"].tolist() == [0.0, 0.0] and res.trial.alsfrs is None
    assert res.log.count("missing_form") == 9  # every optional form the data model uses
    assert [e.detail for e in res.log.entries("form_not_imported")] == ["PROACT_CONMEDS.csv"]
    assert [e.detail for e in res.log.entries("file_not_recognised")] == ["notes.csv"]
