"""Trial folders: reading, writing, exact round trips, file-level problems, the CLI."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mndtrial import Trial, TrialDataError, read_trial
from mndtrial.cli import app


def test_csv_to_parquet_round_trip_is_lossless(example_trial, tmp_path):
    csv_dir = example_trial.write(tmp_path / "csv")
    from_csv = read_trial(csv_dir)
    assert from_csv.equals(example_trial)
    pq_dir = from_csv.write(tmp_path / "pq", format="parquet")
    assert sorted(p.name for p in pq_dir.iterdir()) == [
        "alsfrs.parquet", "biomarkers.parquet", "participants.parquet", "survival.parquet", "trial.toml"]
    from_parquet = read_trial(pq_dir)
    assert from_parquet.equals(from_csv)
    for name, df in from_parquet.tables().items():
        pd.testing.assert_frame_equal(df, from_csv.tables()[name], check_exact=True)


def test_round_trip_keeps_missing_values_extra_columns_and_awkward_floats(tmp_path):
    participants = pd.DataFrame({
        "subject_id": ["001", "NA", "x-3"], "arm": ["placebo", "il2", "il2"],
        "sex": ["M", None, "F"], "riluzole": [True, None, False],
        "csf_pnfh": [0.1 + 0.2, np.nan, 1e-300], "site_code": ["A", "B", "C"]})
    survival = pd.DataFrame({"subject_id": ["001", "NA", "x-3"], "time_days": [1 / 3, 640.0, 2.5e-7],
                             "event": [1, 0, 0]})
    trial = Trial(participants, survival)
    for fmt in ("csv", "parquet"):
        back = read_trial(trial.write(tmp_path / fmt, format=fmt))
        assert back.equals(trial), fmt
        assert back.participants["subject_id"].tolist() == ["001", "NA", "x-3"]


def test_writing_other_format_replaces_stale_files(example_trial, tmp_path):
    folder = example_trial.write(tmp_path / "t")
    example_trial.write(folder, format="parquet")
    assert not list(folder.glob("*.csv"))


def test_file_problems_are_all_reported(example_trial, tmp_path):
    folder = example_trial.write(tmp_path / "t")
    (folder / "alsfrs.csv").write_text("")
    (folder / "biomarkers.parquet").write_bytes(b"")
    s = pd.read_csv(folder / "survival.csv", dtype=str)
    s.loc[3, "event"] = "dead"
    s.to_csv(folder / "survival.csv", index=False)
    with pytest.raises(TrialDataError) as exc:
        read_trial(folder)
    rules = exc.value.rules
    assert {"empty_file", "ambiguous_file", "numeric"} <= rules
    bad = next(p for p in exc.value.problems if p.rule == "numeric")
    assert (bad.table, bad.column, bad.value) == ("survival", "event", "dead")


def test_invalid_trial_toml(example_trial, tmp_path):
    folder = example_trial.write(tmp_path / "t")
    (folder / "trial.toml").write_text('name = "x"\narms = [{name = "placebo"}, {name = "placebo"}]\n')
    with pytest.raises(TrialDataError) as exc:
        read_trial(folder)
    assert exc.value.problems[0].table == "trial.toml"


def test_missing_folder(tmp_path):
    with pytest.raises(TrialDataError, match="does not exist"):
        read_trial(tmp_path / "nope")


def test_without_trial_toml_arms_are_derived(example_trial, tmp_path):
    folder = example_trial.write(tmp_path / "t")
    (folder / "trial.toml").unlink()
    trial = read_trial(folder)
    assert trial.info.source == "derived"
    assert trial.info.control_arm == "placebo"
    assert set(trial.info.arm_names) == {"placebo", "il2_2miu"}


def test_select_restricts_every_table(example_trial):
    ids = example_trial.participants.query("arm == 'placebo'")["subject_id"].iloc[:5]
    sub = example_trial.select(ids)
    assert sub.n_participants == 5 and sub.info.arm_names == ("placebo",)
    assert set(sub.alsfrs["subject_id"]) <= set(ids)


def test_cli_validate_ok_and_summary(example_trial, tmp_path):
    folder = example_trial.write(tmp_path / "t")
    result = CliRunner().invoke(app, ["validate", str(folder)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output and "placebo" in result.output and "treg_pct_cd4" in result.output


def test_cli_validate_lists_every_problem(example_trial, tmp_path):
    folder = example_trial.write(tmp_path / "t")
    a = pd.read_csv(folder / "alsfrs.csv", dtype=str)
    a.loc[0, "total"] = "60"
    a.loc[5, "subject_id"] = "ZZ9"
    a.to_csv(folder / "alsfrs.csv", index=False)
    result = subprocess.run([sys.executable, "-m", "mndtrial", "validate", str(folder)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "rule: range" in result.stderr and "subject 'ZZ9'" in result.stderr
    assert "2 problems in the trial data:" in result.stderr


def test_cli_version():
    result = subprocess.run([sys.executable, "-m", "mndtrial", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("mndtrial ")


def test_shipped_example_folder_is_the_example_trial(example_trial):
    from pathlib import Path

    shipped = read_trial(Path(__file__).resolve().parents[1] / "examples" / "example-trial")
    assert shipped.equals(example_trial)


def test_quoted_and_unquoted_csv_read_the_same(example_trial, tmp_path):
    """A CSV with quotes goes through the csv module, one without through pyarrow's reader; the
    same table written both ways must read back the same (text, missing values, numbers)."""
    import csv

    from mndtrial.data.io import read_table

    for name, df in example_trial.tables().items():
        plain, quoted = tmp_path / f"plain_{name}.csv", tmp_path / f"quoted_{name}.csv"
        df.to_csv(plain, index=False)
        df.to_csv(quoted, index=False, quoting=csv.QUOTE_NONNUMERIC)
        assert b'"' not in plain.read_bytes() and b'"' in quoted.read_bytes()
        pd.testing.assert_frame_equal(read_table(plain, name), read_table(quoted, name), check_exact=True)


@pytest.mark.parametrize("content, rule", [
    (b"subject_id,time_days,event\nA,1,0\nB,2\n", "csv_fields"),
    (b"subject_id,time_days,event\nA,1,0,\n", "csv_fields"),
    (b"subject_id,time_days,event\nA\x00,1,0\n", "encoding"),
    (b'subject_id,time_days,event\n"A"x,1,0\n', "csv_syntax"),
    (b"subject_id,time_days,event\n\xc9A,1,0\n", "encoding"),
])
def test_csv_problems_are_refused_by_either_reader(content, rule, tmp_path):
    from mndtrial.data.io import read_table

    file = tmp_path / "survival.csv"
    file.write_bytes(content)
    with pytest.raises(TrialDataError) as exc:
        read_table(file, "survival")
    assert exc.value.rules == {rule} and "survival.csv" in str(exc.value)
