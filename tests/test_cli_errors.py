"""Errors a new user meets first (issue 20), through the real entry point `mndtrial.cli.main`:
one line of at most 200 characters naming the file, the key or option and the nearest known name,
exit code 1, and nothing done before the error.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import pytest

from mndtrial.cli import main
from mndtrial.data.toml_errors import nearest, toml_line

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "example-trial"


def run_cli(args: list[str], capsys, monkeypatch) -> tuple[int, list[str], list[str]]:
    monkeypatch.setattr(sys, "argv", ["mndtrial", *map(str, args)])
    with pytest.raises(SystemExit) as exit_:
        main()
    out, err = capsys.readouterr()
    return exit_.value.code, out.splitlines(), err.splitlines()


def one_line(err: list[str], *words: str, file: Path | None = None) -> str:
    assert len(err) == 1, err
    line = err[0] if file is None else err[0].replace(str(file), file.name)
    assert line.startswith("error: ") and len(line) <= 200, line
    for word in words:
        assert word in line, (word, line)
    return line


# -- --out: an existing file is refused when the command line is read ----------------------------
# Each command is given something else that is wrong or slow (a missing trial folder, an unknown
# design, 10^6 trials): the error is about --out, so the check ran before any of the work.
COMMANDS_WITH_OUT = {
    "analyze": ["analyze", "no-such-folder", "--out", "{file}"],
    "report": ["report", "no-such-results.json", "--out", "{file}"],
    "simulate": ["simulate", "--design", "nosuch", "--seed", "1", "--out", "{file}"],
    "power": ["power", "--design", "nosuch", "--n-trials", "1000000", "--out", "{file}"],
    "sample-size": ["sample-size", "--design", "nosuch", "--out", "{file}"],
    "design": ["design", "--looks", "0", "--out", "{file}"],
    "import-proact": ["import-proact", "no-such-folder", "--out", "{file}"],
    "cut": ["cut", "no-such-folder", "--events", "10", "--out", "{file}"],
    "demo": ["demo", "--seed", "-1", "--out", "{file}"],
    "interim": ["interim", "no-such-folder", "--design", "no-such.toml", "--events", "10", "--out", "{file}"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS_WITH_OUT))
def test_out_that_is_an_existing_file_is_refused_first(command, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("taken.txt").write_text("not a folder")
    args = [a.format(file="taken.txt") for a in COMMANDS_WITH_OUT[command]]
    rc, out, err = run_cli(args, capsys, monkeypatch)
    assert rc == 1 and not out
    one_line(err, "'--out' = 'taken.txt'", "is an existing file", "takes a folder")
    assert Path("taken.txt").read_text() == "not a folder"
    rc, out, err = run_cli([a.replace("taken.txt", "taken.txt/sub") for a in args], capsys, monkeypatch)
    assert rc == 1
    one_line(err, "'--out' = 'taken.txt/sub'", "taken.txt is a file, not a folder")


def test_every_command_with_out_is_covered():
    import typer

    from mndtrial.cli import app

    with_out = {info.name or info.callback.__name__.replace("_", "-") for info in app.registered_commands
                if any(p.opts and "--out" in p.opts for p in typer.main.get_command_from_info(
                    info, pretty_exceptions_short=True, rich_markup_mode=None).params)}
    assert with_out - {"calibrate"} == set(COMMANDS_WITH_OUT), with_out


def test_calibrate_out_is_a_file_and_a_folder_there_is_refused(tmp_path, capsys, monkeypatch):
    rc, out, err = run_cli(["calibrate", "no-such-folder", "--out", tmp_path], capsys, monkeypatch)
    assert rc == 1
    one_line(err, "'--out'", "is an existing folder", "give the file to write")


# -- usage errors: one line, exit 1, as documented ---------------------------------------------------
@pytest.mark.parametrize("args, words", [
    (["analyse", "trial"], ("No such command 'analyse'", "Did you mean 'analyze'?", "mndtrial --help")),
    (["analyze"], ("Missing argument", "mndtrial analyze --help")),
    (["analyze", "trial", "--outt", "o"], ("No such option: --outt", "--out")),
    (["power", "--n-trials", "many", "--out", "o"], ("'--n-trials'", "mndtrial power --help")),
])
def test_usage_errors_are_one_line_and_exit_1(args, words, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    rc, out, err = run_cli(args, capsys, monkeypatch)
    assert rc == 1 and not out
    one_line(err, *words)


# -- TOML files: parameter and design files (plans: tests/test_data_corpus.py) -----------------------
def test_misspelt_parameter_is_named_with_file_line_and_nearest(tmp_path, capsys, monkeypatch):
    text = resources.files("mndtrial.sim").joinpath("parameters.toml").read_text(encoding="utf-8")
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("weibull_shape ="))
    lines[at] = lines[at].replace("weibull_shape", "weibul_shape")
    params = tmp_path / "params.toml"
    params.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rc, out, err = run_cli(["simulate", "--parameters", params, "--seed", "1", "--out", tmp_path / "s"], capsys,
                           monkeypatch)
    assert rc == 1
    one_line(err, f"params.toml:{at + 1}: unknown key 'weibul_shape' in [survival]",
             "did you mean 'weibull_shape'?", file=params)
    assert not (tmp_path / "s").exists()
    params.write_text(text.replace("[dropout]", "[drop_out]"), encoding="utf-8")
    rc, out, err = run_cli(["simulate", "--parameters", params, "--seed", "1", "--out", tmp_path / "s"], capsys,
                           monkeypatch)
    one_line(err, "unknown table [drop_out]", "did you mean [dropout]?", file=params)


def test_invalid_toml_names_the_file_and_line(tmp_path, capsys, monkeypatch):
    params = tmp_path / "params.toml"
    params.write_text("[cohort]\nage_mean_years = { value = 60,, source = 'x' }\n", encoding="utf-8")
    rc, out, err = run_cli(["simulate", "--parameters", params, "--seed", "1", "--out", tmp_path / "s"], capsys,
                           monkeypatch)
    assert rc == 1
    one_line(err, "params.toml:2: not valid TOML", file=params)


def test_misspelt_design_key_is_named_with_file_line_and_nearest(tmp_path, capsys, monkeypatch):
    text = (ROOT / "docs" / "examples" / "design-gsd.toml").read_text(encoding="utf-8")
    config = tmp_path / "design.toml"
    config.write_text(text.replace("type_beta_spending", "type_beta_spendin"), encoding="utf-8")
    line = text.splitlines().index(next(x for x in text.splitlines() if x.startswith("type_beta_spending"))) + 1
    rc, out, err = run_cli(["design", "--config", config], capsys, monkeypatch)
    assert rc == 1
    one_line(err, f"design.toml:{line}: unknown key 'type_beta_spendin' in [design]",
             "did you mean 'type_beta_spending'?", file=config)
    config.write_text(text.replace("[survival]", "[surival]"), encoding="utf-8")
    rc, out, err = run_cli(["design", "--config", config], capsys, monkeypatch)
    one_line(err, "unknown table [surival]", "did you mean [survival]?", file=config)
    config.write_text(text.replace('"asOF"', '"asXX"'), encoding="utf-8")
    rc, out, err = run_cli(["design", "--config", config], capsys, monkeypatch)
    one_line(err, "design.toml:7: type_of_design = 'asXX'", "must be one of", file=config)


# -- the pieces: where a key is, what it was meant to be ----------------------------------------------
def test_toml_line_skips_multiline_values_and_counts_arrays_of_tables():
    text = ('name = "x"  # a [fake] header in a comment\n'
            'at_risk_days = [\n  0,\n  90,\n]\n'
            'note = """\n[not_a_table]\nkey = 1\n"""\n'
            '[[biomarker_rules]]\nbiomarker = "a"\n'
            '[[biomarker_rules]]\n"quoted key" = 1\narms.control = "placebo"\n'
            '[survival]\ncox_models = ["unadjusted"]\n')
    import tomllib

    tomllib.loads(text)  # the text is valid TOML
    assert toml_line(text, ("at_risk_days",)) == 2
    assert toml_line(text, ("not_a_table",)) is None and toml_line(text, ("key",)) is None
    assert toml_line(text, ("biomarker_rules", 0, "biomarker")) == 11
    assert toml_line(text, ("biomarker_rules", 1)) == 12
    assert toml_line(text, ("biomarker_rules", 1, "quoted key")) == 13
    assert toml_line(text, ("biomarker_rules", 1, "arms", "control")) == 14
    assert toml_line(text, ("survival", "cox_models", 0)) == 16  # the enclosing key's line


def test_nearest_prefers_case_and_separator_slips_then_difflib():
    import difflib

    known = ["csf_pnfh", "serum_nfl", "horizon_days", "subgroups"]
    assert nearest("CSF_pNfH", known) == "csf_pnfh"
    assert nearest("Serum NfL", known) == "serum_nfl"
    assert nearest("horizon_day", known) == difflib.get_close_matches("horizon_day", known, n=1)[0]
    assert nearest("subgroup", known) == "subgroups"
    assert nearest("colour", known) is None
    assert nearest("csf_pnf", known, fuzzy=False) is None


# -- --quiet: only errors and the paths of what was written, in every command ----------------------
LIGHT_PLAN = "\n".join(f"[{s}]\nenabled = false" for s in ("subgroups", "interaction", "function", "cafs", "treg"))


@pytest.mark.slow
def test_quiet_prints_only_the_paths_written(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("light.toml").write_text(LIGHT_PLAN + "\n", encoding="utf-8")
    runs = [["validate", EXAMPLE],
            ["simulate", "--design", "mirocals", "--seed", "1", "--out", "sim"],
            ["cut", "sim", "--events", "20", "--out", "cut"],
            ["analyze", EXAMPLE, "--plan", "light.toml", "--out", "a"],
            ["report", "a/results.json", "--out", "r"],
            ["design", "--looks", "2", "--out", "d"],
            ["sample-size", "--design", "exponential", "--set", "hazard_ratio=0.6", "--n-trials", "50",
             "--n-min", "50", "--n-max", "150", "--step", "50", "--out", "ss"],
            ["power", "--design", "exponential", "--hazard-ratio", "0.7", "--vary", "n=60", "--n-trials", "20",
             "--designs", "all-comers", "--out", "p"],
            ["calibrate", EXAMPLE, "--out", "params.toml"]]
    for args in runs:
        rc, out, err = run_cli(["--quiet", *args], capsys, monkeypatch)
        assert rc == 0, (args, err)
        assert not [line for line in err if "✓" in line], (args, err)  # no progress
        assert all(Path(line).exists() for line in out), (args, out)
        assert bool(out) == (args[0] != "validate"), (args, out)  # validate: the exit code says it
