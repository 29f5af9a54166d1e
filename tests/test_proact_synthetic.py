"""PRO-ACT import on synthetic exports against the generator's truth (simulation with known truth).

The generator knows each subject's arm, age, onset, ALSFRS-R items and death day because it drew
them; the importer must recover exactly those values from the files, and every planted quirk
must show up in the import log with the right count.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mndtrial.cli import app
from mndtrial.data import read_trial
from mndtrial.data.proact import import_proact
from mndtrial.data.proact_synthetic import write_synthetic_proact

N = 400


@pytest.fixture(scope="module", params=["current", "2016"])
def synth(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"proact-{request.param}")
    s = write_synthetic_proact(folder, N, naming=request.param, seed=11, quirk_share=0.03)
    return s, import_proact(folder)


def test_files_follow_the_naming(tmp_path):
    current = write_synthetic_proact(tmp_path / "c", 20, naming="current", seed=1)
    archive = write_synthetic_proact(tmp_path / "a", 20, naming="2016", seed=1)
    assert {p.name for p in current.folder.iterdir()} >= {"F_PROACT_ALSFRS.csv", "F_PROACT_ALSHISTORY.csv",
                                                           "PROACT_DEATHDATA.csv", "PROACT_TREATMENT.csv"}
    assert {p.name for p in archive.folder.iterdir()} >= {"alsfrs.csv", "AlsHistory.csv", "DeathData.csv",
                                                           "Treatment.csv", "demographics.csv", "Labs.csv"}
    with pytest.raises(ValueError):
        write_synthetic_proact(tmp_path / "x", 5, naming="2020")


def test_same_seed_same_files(tmp_path):
    digests = []
    for run in ("a", "b"):
        s = write_synthetic_proact(tmp_path / run, 60, seed=5)
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in s.folder.iterdir()})
    assert digests[0] == digests[1]


def test_import_recovers_the_truth(synth):
    s, res = synth
    truth = s.truth.set_index("subject_id")
    p = res.trial.participants.set_index("subject_id")
    surv = res.trial.survival.set_index("subject_id")
    assert set(p.index) == set(truth.index[truth["included"]])
    t = truth.loc[p.index]
    for col in ("age", "symptom_duration_months", "alsfrs_r_baseline", "delta_fs"):
        np.testing.assert_allclose(p[col].to_numpy(float), t[col].to_numpy(float), rtol=1e-12, equal_nan=True)
    for col in ("arm", "sex", "onset_site"):
        got = p[col].astype(object).where(p[col].notna(), None).tolist()
        want = t[col].astype(object).where(t[col].notna(), None).tolist()
        assert got == want, col
    assert p["riluzole"].astype(bool).tolist() == t["riluzole"].tolist()
    np.testing.assert_array_equal(surv.loc[p.index, "event"], t["event"])
    np.testing.assert_allclose(surv.loc[p.index, "time_days"], t["time_days"])


def test_every_quirk_is_logged(synth):
    s, res = synth
    q, log = s.quirks, res.log
    assert all(len(v) > 0 for v in q.values())  # every quirk was planted
    assert log.count("no_treatment_row") == len(q["no_treatment_row"])
    assert log.count("death_day_missing") == len(q["death_without_day"])
    assert log.count("duplicate_death_rows") == len(q["duplicate_death_rows"])
    assert log.count("age_from_date_of_birth") == len(q["age_from_dob"])
    assert log.count("onset_site_unmapped") == len(q["onset_other"])
    assert log.count("lab_result_not_numeric") == len(q["text_lab_results"])
    assert log.count("alsfrs_after_death") == len(q["alsfrs_after_death"])
    assert log.count("duplicate_visit") == len(q["duplicate_visit"])
    assert log.count("lab_test_not_imported") > 0
    spine = set(q["spine_onset"]) - set(q["onset_other"])
    assert log.count("onset_site_spine_as_limb") == len(spine)


def test_alsfrs_scales_half_points_and_missing_totals(synth):
    s, res = synth
    q = s.quirks
    raw = pd.read_csv(res.files.paths["alsfrs"], dtype={"subject_id": str})
    revised_rows = raw["R_1_Dyspnea"].notna()
    assert res.log.count("alsfrs_r_total_from_items") == int((revised_rows & raw["ALSFRS_R_Total"].isna()).sum())
    original_rows = raw["subject_id"].isin(q["original_alsfrs"])
    assert res.log.count("alsfrs_original_scale") == int(original_rows.sum())
    a = res.trial.alsfrs
    assert not a["subject_id"].isin(q["original_alsfrs"]).any()
    orig = res.alsfrs_original
    assert set(orig["subject_id"]) <= set(q["original_alsfrs"]) and orig["alsfrs_total"].max() <= 40
    half = a.loc[a["subject_id"].isin(q["half_points"])]
    assert (half["total"] % 1 == 0.5).any() and (a.loc[~a["subject_id"].isin(q["half_points"]), "total"] % 1 == 0).all()


def test_cli_round_trip_validates(synth, tmp_path):
    s, _ = synth
    runner = CliRunner()
    out = tmp_path / "trial"
    result = runner.invoke(app, ["import-proact", str(s.folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "no_treatment_row" in result.output and (out / "import-log.json").exists()
    assert (out / "alsfrs_original.csv").exists()
    assert runner.invoke(app, ["validate", str(out)]).exit_code == 0
    trial = read_trial(out)
    assert trial.n_participants == int(s.truth["included"].sum())


def test_proact_analysis_plan_runs_on_an_import(tmp_path):
    """docs/examples/proact-plan.toml runs every section on an imported synthetic export."""
    from pathlib import Path

    from mndtrial.analysis import AnalysisPlan

    s = write_synthetic_proact(tmp_path / "src", 200, seed=8)
    trial = import_proact(s.folder).trial
    plan = AnalysisPlan.from_toml(Path(__file__).resolve().parents[1] / "docs" / "examples" / "proact-plan.toml")
    results = plan.run(trial)
    assert results.errors() == {}
    tables = results.summary_tables()
    assert any("Cox" in title for title in tables) and any("forest" in title for title in tables)
