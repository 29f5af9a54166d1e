"""A corpus of malformed and valid trial folders, tried as a user would: `mndtrial validate` and
`mndtrial analyze` through the real entry point (`mndtrial.cli.main`).

Every malformed case is built from a valid folder by one edit a user could make (a file saved in
Latin-1, a stray comma, a day typed as -100000, ...) and must be refused with exit code 1 and
exactly one problem line naming the table, the file or column, the subject where there is one,
and the rule; never a traceback. The valid cases must be accepted. The folder's files must be
byte-for-byte the same afterwards (sha256 and mode of every file).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import pathlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from mndtrial.cli import main
from mndtrial.data.example import example_trial

BASE = example_trial(n_per_arm=6, seed=7)


# -- the folder, its edits, its fingerprint -------------------------------------------------------
def fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    """sha256 and permission bits of every file under `folder`."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest() if p.stat().st_mode & 0o444
                                         and os.access(p, os.R_OK) else "", p.stat().st_mode)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def read_rows(folder: Path, table: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO((folder / f"{table}.csv").read_text(encoding="utf-8"), newline="")))


def write_rows(folder: Path, table: str, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    (folder / f"{table}.csv").write_text(buffer.getvalue(), encoding="utf-8")


def set_cell(table: str, row: int, column: str, value: str) -> Callable[[Path], None]:
    """Edit one cell (row counted from 0 below the header) as a spreadsheet user would."""
    def edit(folder: Path) -> None:
        rows = read_rows(folder, table)
        rows[row + 1][rows[0].index(column)] = value
        write_rows(folder, table, rows)
    return edit


def edit_lines(table: str, change: Callable[[list[str]], list[str]]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / f"{table}.csv"
        path.write_text("\n".join(change(path.read_text(encoding="utf-8").splitlines())) + "\n", encoding="utf-8")
    return edit


def to_parquet(table: str, change: Callable[[pd.DataFrame], pd.DataFrame] = lambda df: df) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        df = BASE.tables()[table]
        change(df).to_parquet(folder / f"{table}.parquet", index=False)
        (folder / f"{table}.csv").unlink()
    return edit


def add_column(table: str, column: str, values: dict[int, str]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        rows = read_rows(folder, table)
        rows[0].append(column)
        for i, r in enumerate(rows[1:]):
            r.append(values.get(i, ""))
        write_rows(folder, table, rows)
    return edit


def latin1(folder: Path) -> None:
    path = folder / "participants.csv"
    path.write_bytes(path.read_text(encoding="utf-8").replace("France", "Île-de-France").encode("latin-1"))


def utf16(folder: Path) -> None:
    path = folder / "participants.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))


def both_formats(folder: Path) -> None:
    BASE.survival.to_parquet(folder / "survival.parquet", index=False)


def random_parquet(folder: Path) -> None:
    (folder / "survival.csv").unlink()
    (folder / "survival.parquet").write_bytes(np.random.default_rng(19).bytes(600))


def list_analyte(folder: Path) -> None:
    # the fuzz finding of issue 19: a Parquet column of lists reached a set lookup in validation
    bio = BASE.biomarkers.iloc[:1].astype({"analyte": object})
    bio.at[0, "analyte"] = ["treg_pct_cd4", "%"]
    bio.to_parquet(folder / "biomarkers.parquet", index=False)
    (folder / "biomarkers.csv").unlink()


def items_not_summing(folder: Path) -> None:
    rows = read_rows(folder, "alsfrs")
    rows[0] += [f"q{i}" for i in range(1, 13)]
    for i, r in enumerate(rows[1:]):
        r += ["3"] * 12 if i == 0 else [""] * 12  # row 0 has total 34, the items sum to 36
    write_rows(folder, "alsfrs", rows)


def duplicate_first_row(table: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        rows = read_rows(folder, table)
        write_rows(folder, table, rows + [rows[1]])
    return edit


def header_only(table: str) -> Callable[[Path], None]:
    return lambda folder: write_rows(folder, table, read_rows(folder, table)[:1])


def trial_toml(**changes) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        import tomli_w

        (folder / "trial.toml").write_text(tomli_w.dumps({**BASE.info.to_toml_dict(), **changes}), encoding="utf-8")
    return edit


def write_bytes(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes(data)


def remove(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).unlink()


# -- the corpus ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Refused:
    """What the one problem line must name."""

    table: str
    rule: str
    column: str | None = None
    subject: str | None = None
    words: tuple[str, ...] = ()  # the file's name, the line, the value, ...


@dataclass(frozen=True)
class Case:
    name: str
    edit: Callable[[Path], None]
    refused: Refused | None  # None: a valid folder, accepted
    issue: str = ""
    plan: str | None = None
    extra: dict = field(default_factory=dict)


CASES = [
    # crashed before issue 19: now refused with table, file and rule
    Case("participants_0_bytes", write_bytes("participants.csv", b""),
         Refused("participants", "empty_file", words=("participants.csv", "is empty")), "19"),
    Case("latin1_csv", latin1, Refused("participants", "encoding", words=("participants.csv", "not UTF-8", "line")), "19"),
    Case("utf16_csv", utf16, Refused("participants", "encoding", words=("participants.csv", "UTF-16")), "19"),
    Case("extra_field", edit_lines("survival", lambda ls: ls[:3] + [ls[3] + ",x"] + ls[4:]),
         Refused("survival", "csv_fields", words=("survival.csv", "line 4", "5 fields", "header has 4")), "19"),
    Case("missing_field", edit_lines("survival", lambda ls: ls[:3] + [ls[3].rsplit(",", 1)[0]] + ls[4:]),
         Refused("survival", "csv_fields", words=("survival.csv", "line 4", "3 fields"))),
    Case("unterminated_quote", edit_lines("survival", lambda ls: ls[:3] + ['"' + ls[3]] + ls[4:]),
         Refused("survival", "csv_syntax", words=("survival.csv", "line 4", "quote")), "19"),
    Case("stray_quote", edit_lines("participants", lambda ls: ls[:2] + ['"EX001"x' + ls[1][5:]] + ls[3:]),
         Refused("participants", "csv_syntax", words=("participants.csv",))),
    Case("csv_and_parquet", both_formats,
         Refused("survival", "ambiguous_file", words=("survival.csv", "survival.parquet", "keep one")), "19"),
    Case("parquet_of_random_bytes", random_parquet,
         Refused("survival", "unreadable_file", words=("survival.parquet", "not a readable Parquet file")), "19"),
    Case("parquet_column_of_lists", list_analyte,
         Refused("biomarkers", "text", column="analyte", subject="EX001"), "19"),
    # accepted although wrong before issues 19 and 16
    Case("alsfrs_day_minus_100000", set_cell("alsfrs", 0, "day", "-100000"),
         Refused("alsfrs", "range", column="day", subject="EX001", words=(">= -365", "-100000")), "19"),
    Case("duplicate_event_header", edit_lines("survival", lambda ls: [ls[0] + ",event"] + [x + ",0" for x in ls[1:]]),
         Refused("survival", "duplicate_column", column="event", words=("survival.csv", "2 times")), "19"),
    Case("alsfrs_total_12_3", set_cell("alsfrs", 2, "total", "12.3"),
         Refused("alsfrs", "multiple_of", column="total", subject="EX003", words=("0.5", "12.3")), "16"),
    Case("treg_negative", set_cell("biomarkers", 0, "value", "-6.26"),
         Refused("biomarkers", "analyte_range", column="value", subject="EX001",
                 words=("treg_pct_cd4", "0 to 100 %", "-6.26")), "16"),
    Case("treg_250_percent", set_cell("biomarkers", 4, "value", "250"),
         Refused("biomarkers", "analyte_range", column="value", subject="EX002", words=("treg_pct_cd4", "250")), "16"),
    Case("subject_id_trailing_blank", set_cell("alsfrs", 0, "subject_id", "EX001 "),
         Refused("alsfrs", "id_whitespace", column="subject_id", subject="EX001 ",
                 words=("whitespace", "participant 'EX001'")), "16"),
    # refused well before: kept so
    Case("alsfrs_0_bytes", write_bytes("alsfrs.csv", b""), Refused("alsfrs", "empty_file", words=("alsfrs.csv",))),
    Case("blank_file", write_bytes("alsfrs.csv", b"\n \n"), Refused("alsfrs", "empty_file", words=("alsfrs.csv",))),
    Case("no_participants_file", remove("participants.csv"), Refused("participants", "required_table")),
    Case("no_event_column", edit_lines("survival", lambda ls: [x.rsplit(",", 2)[0] + "," + x.rsplit(",", 1)[1]
                                                                for x in ls]),
         Refused("survival", "required_column", column="event")),
    Case("header_only_table", header_only("alsfrs"), Refused("alsfrs", "empty_table")),
    Case("duplicate_participant", duplicate_first_row("participants"),
         Refused("participants", "duplicate_subject", column="subject_id", subject="EX001")),
    Case("subject_not_randomised", set_cell("alsfrs", 0, "subject_id", "ZZ9"),
         Refused("alsfrs", "not_randomised", column="subject_id", subject="ZZ9")),
    Case("participant_without_survival", edit_lines("survival", lambda ls: ls[:-1]),
         Refused("participants", "missing_survival", column="subject_id", subject="EX012")),
    Case("negative_time", set_cell("survival", 3, "time_days", "-1"),
         Refused("survival", "range", column="time_days", subject="EX004")),
    Case("event_2", set_cell("survival", 0, "event", "2"),
         Refused("survival", "allowed_values", column="event", subject="EX001")),
    Case("event_as_word", set_cell("survival", 3, "event", "dead"),
         Refused("survival", "numeric", column="event", subject="EX004", words=("'dead'",))),
    Case("infinite_time", set_cell("survival", 3, "time_days", "inf"),
         Refused("survival", "finite", column="time_days", subject="EX004")),
    Case("alsfrs_total_49", set_cell("alsfrs", 1, "total", "49"),
         Refused("alsfrs", "range", column="total", subject="EX002")),
    Case("alsfrs_item_5", add_column("alsfrs", "q3", {0: "5"}),
         Refused("alsfrs", "range", column="q3", subject="EX001")),
    Case("alsfrs_items_not_summing", items_not_summing,
         Refused("alsfrs", "items_total", column="total", subject="EX001")),
    Case("visit_after_death", set_cell("alsfrs", 1, "day", "100"),  # EX002 died on day 87.8
         Refused("alsfrs", "visit_after_death", column="day", subject="EX002")),
    Case("duplicate_visit", duplicate_first_row("alsfrs"),
         Refused("alsfrs", "duplicate_visit", column="day", subject="EX001")),
    Case("arm_not_in_trial_toml", set_cell("participants", 3, "arm", "il2_high"),
         Refused("participants", "unknown_arm", column="arm", subject="EX004")),
    Case("blank_sex", set_cell("participants", 1, "sex", "  "),
         Refused("participants", "blank_text", column="sex", subject="EX002")),
    Case("sex_not_allowed", set_cell("participants", 1, "sex", "male"),
         Refused("participants", "allowed_values", column="sex", subject="EX002")),
    Case("riluzole_not_boolean", set_cell("participants", 1, "riluzole", "sometimes"),
         Refused("participants", "boolean", column="riluzole", subject="EX002")),
    Case("arm_nobody_is_in", trial_toml(arms=[*BASE.info.to_toml_dict()["arms"], {"name": "il2_1miu"}]),
         Refused("participants", "empty_arm", column="arm", words=("'il2_1miu'",))),
    Case("stratum_not_a_column", trial_toml(strata=["site"]),
         Refused("participants", "missing_stratum_column", column="site")),
    Case("duplicate_measurement", duplicate_first_row("biomarkers"),
         Refused("biomarkers", "duplicate_measurement", column="day", subject="EX001")),
    Case("wrong_unit", set_cell("biomarkers", 0, "unit", "ratio"),
         Refused("biomarkers", "unit", column="unit", subject="EX001")),
    Case("unknown_analyte", set_cell("biomarkers", 0, "analyte", "il6"),
         Refused("biomarkers", "unknown_analyte", column="analyte", subject="EX001")),
    Case("trial_toml_not_toml", write_bytes("trial.toml", b"name = \n"), Refused("trial.toml", "toml")),
    Case("trial_toml_not_utf8", write_bytes("trial.toml", 'name = "Île"\n'.encode("latin-1")),
         Refused("trial.toml", "encoding")),
    # issue 20: a header a spreadsheet user mis-cased, a file saved with ';', both accepted or
    # misread before
    Case("miscased_biomarker_column", edit_lines("participants", lambda ls: [ls[0].replace("csf_pnfh", "CSF_pNfH")]
                                                 + ls[1:]),
         Refused("participants", "misnamed_column", column="CSF_pNfH",
                 words=("participants.csv", "did you mean 'csf_pnfh'?", "case-sensitive")), "20"),
    Case("miscased_required_column", edit_lines("survival", lambda ls: [ls[0].replace("event,", "Event,")] + ls[1:]),
         Refused("survival", "required_column", column="event", words=("'Event'", "case-sensitive")), "20"),
    Case("semicolon_separated", edit_lines("survival", lambda ls: [x.replace(",", ";") for x in ls]),
         Refused("survival", "csv_delimiter", words=("survival.csv", "';'", "save it as CSV")), "20"),
    Case("trial_toml_misspelt_key", trial_toml(horizon_day=640.0),
         Refused("trial.toml", "trial_info", column="horizon_day",
                 words=("trial.toml:", "did you mean 'horizon_days'?")), "20"),
    Case("trial_toml_repeated_arm", trial_toml(arms=[{"name": "placebo"}, {"name": "placebo"}]),
         Refused("trial.toml", "trial_info", column="arms", words=("unique",))),
    Case("parquet_number_ids", to_parquet("survival", lambda df: df.assign(subject_id=np.arange(len(df)))),
         None, extra={"rules": {"text"}}),
    # valid: accepted
    Case("valid_csv", lambda folder: None, None),
    Case("valid_parquet", lambda folder: [to_parquet(t)(folder) for t in ("participants", "survival", "alsfrs",
                                                                          "biomarkers")], None),
    Case("utf8_byte_order_mark", lambda folder: (folder / "participants.csv").write_bytes(
        b"\xef\xbb\xbf" + (folder / "participants.csv").read_bytes()), None),
    Case("half_point_total", set_cell("alsfrs", 2, "total", "33.5"), None),
    Case("screening_visit_day_minus_30", set_cell("alsfrs", 0, "day", "-30"), None),
    Case("accents_in_utf8", set_cell("participants", 0, "country", "Île-de-France"), None),
    Case("quoted_comma_and_newline", set_cell("participants", 0, "country", "France,\nnord"), None),
]
MALFORMED = [c for c in CASES if c.refused is not None]
VALID = [c for c in CASES if c.refused is None and not c.extra]


@pytest.fixture(scope="module")
def base_folder(tmp_path_factory) -> Path:
    return BASE.write(tmp_path_factory.mktemp("base") / "trial")


def make_case(base: Path, tmp_path: Path, case: Case) -> Path:
    import shutil

    folder = tmp_path / case.name
    shutil.copytree(base, folder)
    case.edit(folder)
    return folder


def run_cli(args: list[str], capsys, monkeypatch) -> tuple[int, list[str], list[str]]:
    """`mndtrial ARGS` through its entry point: exit code, stdout lines, stderr lines."""
    monkeypatch.setattr(sys, "argv", ["mndtrial", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    out, err = capsys.readouterr()
    return exit_.value.code, out.splitlines(), err.splitlines()


def check_problem_line(line: str, refused: Refused) -> None:
    assert line.startswith(f"  - table '{refused.table}'"), line
    assert f"[rule: {refused.rule}]" in line, line
    if refused.column is not None:
        assert f"column '{refused.column}'" in line, line
    if refused.subject is not None:
        assert f"subject '{refused.subject}'" in line, line
    for word in refused.words:
        assert word in line, (word, line)


@pytest.mark.parametrize("case", MALFORMED, ids=lambda c: c.name)
def test_malformed_folder_is_refused_in_one_line_by_validate_and_analyze(case, base_folder, tmp_path, capsys,
                                                                          monkeypatch):
    folder = make_case(base_folder, tmp_path, case)
    before = fingerprint(folder)

    rc, out, err = run_cli(["validate", str(folder)], capsys, monkeypatch)
    assert rc == 1 and not out
    assert not any("Traceback" in line for line in err)
    assert err[0] == f"{folder}: 1 problem in the trial data:", err
    assert len(err) == 2, err  # exactly one problem, on one line
    check_problem_line(err[1], case.refused)

    rc, out, err = run_cli(["analyze", str(folder), "--out", str(tmp_path / "out")], capsys, monkeypatch)
    assert rc == 1
    assert err == ["1 problem in the trial data:", err[1]], err
    check_problem_line(err[1], case.refused)
    assert not (tmp_path / "out").exists()

    assert fingerprint(folder) == before


@pytest.mark.parametrize("case", VALID, ids=lambda c: c.name)
def test_valid_folder_is_accepted(case, base_folder, tmp_path, capsys, monkeypatch):
    folder = make_case(base_folder, tmp_path, case)
    before = fingerprint(folder)
    rc, out, err = run_cli(["validate", str(folder)], capsys, monkeypatch)
    assert (rc, err) == (0, []) and out[0] == f"{folder}: valid"
    assert fingerprint(folder) == before


def test_numbers_as_ids_in_parquet_name_each_row(base_folder, tmp_path, capsys, monkeypatch):
    case = next(c for c in CASES if c.name == "parquet_number_ids")
    folder = make_case(base_folder, tmp_path, case)
    rc, out, err = run_cli(["validate", str(folder)], capsys, monkeypatch)
    problems = [line for line in err if line.startswith("  - ")]
    # 12 ids not text; 12 participants without survival: one line each, with the count and first rows
    assert rc == 1 and err[0].endswith(": 24 problems in the trial data:") and len(problems) == 2, err
    assert problems[0].startswith("  - table 'survival' (survival.parquet), column 'subject_id': 12 rows: ")
    assert "[rule: text]" in problems[0] and "(first: '0', '1', '2', ... in data rows 1, 2, 3)" in \
        problems[0], problems[0]
    assert "column 'subject_id': 12 rows: participant has no row in survival" in problems[1]
    assert all(len(p) <= 200 for p in problems), problems


def test_every_documented_rule_has_a_case():
    """The rules that docs/data-model.md lists (its rule tables) each have a corpus case."""
    import re

    doc = (Path(__file__).resolve().parents[1] / "docs" / "data-model.md").read_text(encoding="utf-8")
    documented = set()
    for table in re.findall(r"\| rule \| meaning \|\n\|---\|---\|\n((?:\|.*\n)+)", doc):
        for line in table.splitlines():
            documented |= set(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    covered = {c.refused.rule for c in MALFORMED} | {PERMISSION.rule}
    assert len(documented) > 20
    assert documented <= covered, documented - covered
    assert len({c.name for c in CASES}) == len(CASES)


def test_missing_folder_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    rc, out, err = run_cli(["validate", str(tmp_path / "nope")], capsys, monkeypatch)
    assert rc == 1 and len(err) == 2, err
    check_problem_line(err[1], Refused("(folder)", "folder", words=("does not exist",)))


# -- a table that cannot be read: no read permission ---------------------------------------------
def _deny(monkeypatch, name: str) -> None:
    """Reading `name` fails as it does without read permission. Simulated because the tests may
    run as root, for whom chmod 000 does not stop reading; the real chmod runs below when not root."""
    read_bytes = pathlib.Path.read_bytes

    def guarded(self):
        if self.name == name:
            raise PermissionError(13, "Permission denied", str(self))
        return read_bytes(self)

    monkeypatch.setattr(pathlib.Path, "read_bytes", guarded)


PERMISSION = Refused("survival", "unreadable_file", words=("survival.csv", "cannot be read", "permission denied"))


def test_unreadable_table_is_refused_in_one_line(base_folder, tmp_path, capsys, monkeypatch):
    folder = make_case(base_folder, tmp_path, Case("no_permission", lambda f: None, None))
    before = fingerprint(folder)
    _deny(monkeypatch, "survival.csv")
    rc, out, err = run_cli(["validate", str(folder)], capsys, monkeypatch)
    assert rc == 1 and len(err) == 2, err
    check_problem_line(err[1], PERMISSION)
    rc, out, err = run_cli(["analyze", str(folder), "--out", str(tmp_path / "out")], capsys, monkeypatch)
    assert rc == 1 and len(err) == 2, err
    check_problem_line(err[1], PERMISSION)
    monkeypatch.undo()
    assert fingerprint(folder) == before


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads a chmod 000 file; the simulated variant above covers it")
def test_unreadable_table_without_permission_bits(base_folder, tmp_path, capsys, monkeypatch):
    folder = make_case(base_folder, tmp_path, Case("chmod_000", lambda f: None, None))
    (folder / "survival.csv").chmod(0)
    try:
        rc, out, err = run_cli(["validate", str(folder)], capsys, monkeypatch)
        assert rc == 1 and len(err) == 2, err
        check_problem_line(err[1], PERMISSION)
    finally:
        (folder / "survival.csv").chmod(0o644)


# -- plans: refused by name, or a warning and the run goes on --------------------------------------
LIGHT = "\n".join(f"[{s}]\nenabled = false" for s in ("subgroups", "interaction", "function", "cafs", "treg")) + "\n"


@pytest.mark.parametrize("plan, start, words", [
    ('[[biomarker_rules]]\nbiomarker = "csf_xyz"\ncutoffs = [3700]\n', "error: parameter 'biomarker_rules[0].biomarker'",
     ("'csf_xyz'", "neither a participants column", "csf_pnfh")),
    ('covariates = ["log(csf_xyz)"]\n', "error: parameter 'covariate'", ("'csf_xyz'",)),
    ('strata = ["site"]\n', "error: parameter 'strata'", ("'site'",)),
    # refused on reading the file: FILE:LINE, the key, its table and the nearest known name
    ("horizon_days = \n", "error: {plan}:1: not valid TOML", ("column 16",)),
    ("horizon_days = -5\n", "error: {plan}:1: horizon_days = -5", ("greater than 0",)),
    ("horizon_days = inf\n", "error: {plan}:1: horizon_days = inf", ("finite",)),
    ("at_risk_days = [0, nan]\n", "error: {plan}:1: at_risk_days", ("finite",)),
    ("colour = 3\n", "error: {plan}:1: unknown key 'colour' at the top level", ()),
    ("sections = 3\n", "error: {plan}: sections must be a table", ()),
    ("name = 'x'\nhorizon_day = 540\n", "error: {plan}:2: unknown key 'horizon_day' at the top level",
     ("did you mean 'horizon_days'?",)),
    ("[subgroup]\nenabled = false\n", "error: {plan}:1: unknown table [subgroup]", ("did you mean [subgroups]?",)),
    ('[[biomarker_rules]]\nbiomarker = "csf_pnfh"\ncutoffs = [3700]\n[[biomarker_rules]]\nbiomarker = "csf_pnfh"\n'
     "cutoff = [750]\n", "error: {plan}:6: unknown key 'cutoff' in the 2nd [[biomarker_rules]]",
     ("did you mean 'cutoffs'?",)),
    ("[survival]\ncox_models = ['quadratic']\n", "error: {plan}:2: survival.cox_models[0] = 'quadratic'",
     ("must be 'unadjusted', 'adjusted' or 'stratified'",)),
])
def test_plan_naming_what_is_not_there_is_refused_in_one_line(plan, start, words, base_folder, tmp_path,
                                                              capsys, monkeypatch):
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text(plan, encoding="utf-8")
    before = fingerprint(tmp_path)
    rc, out, err = run_cli(["analyze", str(base_folder), "--plan", str(plan_file), "--out", str(tmp_path / "out")],
                           capsys, monkeypatch)
    assert rc == 1 and len(err) == 1, err
    assert err[0].startswith(start.format(plan=plan_file)), err
    for word in words:
        assert word in err[0], (word, err)
    if "{plan}" in start:  # a file error: short enough to read at a glance, the path aside
        assert len(err[0].replace(str(plan_file), "plan.toml")) <= 200, err
    assert fingerprint(tmp_path) == before


def test_plan_not_utf8_is_refused_in_one_line(base_folder, tmp_path, capsys, monkeypatch):
    plan_file = tmp_path / "plan.toml"
    plan_file.write_bytes('name = "Île"\n'.encode("latin-1"))
    rc, out, err = run_cli(["analyze", str(base_folder), "--plan", str(plan_file), "--out", str(tmp_path / "out")],
                           capsys, monkeypatch)
    assert rc == 1 and len(err) == 1 and err[0].startswith(f"error: {plan_file}:1: not UTF-8") and "0xce" in err[0], err


def test_misspelt_event_type_is_a_warning_and_the_run_goes_on(base_folder, tmp_path, capsys, monkeypatch):
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text('event_types = ["deth"]\n' + LIGHT, encoding="utf-8")
    rc, out, err = run_cli(["-q", "analyze", str(base_folder), "--plan", str(plan_file), "--out",
                            str(tmp_path / "out")], capsys, monkeypatch)
    assert rc == 0, err
    import json

    results = json.loads((tmp_path / "out" / "results.json").read_text())
    warnings = " ".join(results["trial"]["warnings"])
    assert "['deth']" in warnings and "a typo?" in warnings and "leave no endpoint events" in warnings
    assert results["trial"]["endpoint_events"] == 0 and results["trial"]["events_all"] == BASE.survival.event.sum()
    # Kaplan-Meier is computed (no one has an endpoint event); the log-rank test is recorded as not computable
    assert results["survival"]["logrank"]["error"]["reason"].startswith("no events")
    assert [arm["events"] for arm in results["survival"]["kaplan_meier"]["arms"].values()] == [0, 0]
    assert (tmp_path / "out" / "report.html").exists()


# -- a large valid table --------------------------------------------------------------------------
@pytest.mark.slow
def test_a_million_alsfrs_visits_are_accepted(tmp_path, capsys, monkeypatch):
    n_subjects, n_days = 1_000, 1_000
    ids = np.array([f"S{i:04d}" for i in range(n_subjects)], dtype=object)
    folder = tmp_path / "big"
    folder.mkdir()
    pd.DataFrame({"subject_id": ids, "arm": np.tile(["placebo", "il2"], n_subjects // 2)}).to_csv(
        folder / "participants.csv", index=False)
    pd.DataFrame({"subject_id": ids, "time_days": 1000.0, "event": np.tile([0, 1], n_subjects // 2)}).to_csv(
        folder / "survival.csv", index=False)
    rng = np.random.default_rng(1)
    pd.DataFrame({"subject_id": np.repeat(ids, n_days), "day": np.tile(np.arange(n_days, dtype=float), n_subjects),
                  "total": rng.integers(0, 97, n_subjects * n_days) / 2}).to_csv(folder / "alsfrs.csv", index=False)
    before = fingerprint(folder)
    rc, out, err = run_cli(["validate", str(folder)], capsys, monkeypatch)
    assert (rc, err) == (0, []), err[:5]
    assert "ALSFRS-R: 1000000 visits" in out
    assert fingerprint(folder) == before
