"""AnalysisPlan, the section registry and `mndtrial analyze`, end to end on the example trial."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mndtrial.analysis import AnalysisPlan, CoxModel, logrank_test
from mndtrial.analysis.registry import SectionConfig, register_section, registered_sections, unregister_section
from mndtrial.cli import app
from mndtrial.data import Trial
from mndtrial.errors import AnalysisError, ParameterError

PLAN = """
name = "example primary"
horizon_days = 540
covariates = ["log(csf_pnfh)", "onset_site", "age"]
strata = ["country"]
[survival]
cox_models = ["unadjusted", "adjusted", "stratified"]
"""


@pytest.fixture(scope="module")
def example():
    from mndtrial.data.example import example_trial

    return example_trial()


@pytest.fixture(scope="module")
def plan_output(example):
    """PLAN run once on the example trial, shared by the tests that only read it."""
    return AnalysisPlan.from_toml_text(PLAN).run(example).to_dict()


def test_plan_results_match_direct_calls(example_trial, plan_output):
    """The plan's JSON carries exactly what the estimators compute when called directly."""
    out = plan_output
    direct = CoxModel(["log(csf_pnfh)", "onset_site", "age"]).fit(example_trial).result_
    adj = out["survival"]["cox"]["adjusted"]["terms"]
    for term, row in direct.summary.iterrows():
        assert adj[term]["coef"] == pytest.approx(row.coef, rel=1e-12)
        assert adj[term]["se"] == pytest.approx(row.se, rel=1e-12)
    strat = logrank_test(example_trial, strata=["country"])
    assert out["survival"]["logrank_stratified"]["chi2"] == pytest.approx(strat.chi2, rel=1e-12)
    json.dumps(out, allow_nan=False)  # JSON-safe: no NaN anywhere


def test_on_section_sees_each_section_as_it_ends(example):
    """`run(on_section=...)` is called once per enabled section, in registry order, with the very
    block that results.json holds for it (what the report's writer starts drawing from)."""
    plan = AnalysisPlan.from_toml_text(PLAN + "\n[cafs]\nenabled = false\n")
    seen = []
    results = plan.run(example, on_section=lambda name, output: seen.append((name, output)))
    enabled = [name for name in registered_sections() if plan.section(name).enabled]
    assert [name for name, _ in seen] == enabled and "cafs" not in enabled
    assert plan.enabled_sections() == tuple(enabled)
    for name, output in seen:
        assert output is results.sections[name]


@pytest.mark.parametrize("setting", [{"covariates": ("subject_id",)}, {"strata": ("subject_id",)},
                                     {"biomarker_rules": [{"biomarker": "subject_id", "cutoffs": [3]}]}])
def test_the_participant_identifier_is_not_a_baseline_value(example, setting):
    with pytest.raises(ParameterError, match="'subject_id': is the participant identifier"):
        AnalysisPlan.from_dict(setting).run(example)


def test_plan_rejects_unknown_settings_with_parameter_error():
    with pytest.raises(ParameterError, match="nonsense"):
        AnalysisPlan.from_toml_text("nonsense = 1")
    with pytest.raises(ParameterError, match=r"survival\.cox_models.*'quadratic'"):
        AnalysisPlan.from_toml_text("[survival]\ncox_models = ['quadratic']")
    with pytest.raises(ParameterError, match="covariates"):
        AnalysisPlan.from_toml_text("covariates = ['exp(age)']")


def test_registered_section_joins_plan_and_can_be_switched_off(example_trial):
    class CountConfig(SectionConfig):
        minimum_age: float = 0.0

    def run_count(trial, plan, config):
        return {"n_older": int((trial.participants["age"] > config.minimum_age).sum())}

    register_section("count_test", CountConfig, run_count, order=500)
    try:
        off_others = "[subgroups]\nenabled = false\n[interaction]\nenabled = false\n"
        plan = AnalysisPlan.from_toml_text(off_others + "[survival]\nenabled = false\n[count_test]\nminimum_age = 60")
        out = plan.run(example_trial).to_dict()
        assert "survival" not in out
        assert out["count_test"] == {"n_older": int((example_trial.participants["age"] > 60).sum())}
        off = AnalysisPlan.from_toml_text(off_others + "[survival]\nenabled = false\n[count_test]\nenabled = false")
        off = off.run(example_trial).to_dict()
        assert "count_test" not in off
    finally:
        unregister_section("count_test")
    assert "count_test" not in registered_sections()


def test_plan_round_trips_through_toml():
    plan = AnalysisPlan.from_toml_text(PLAN)
    again = AnalysisPlan.from_toml_text(plan.to_toml())
    assert again.to_dict() == plan.to_dict()


def test_cli_analyze_writes_results_json(tmp_path, example_trial, plan_output):
    folder = example_trial.write(tmp_path / "trial")
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN)
    result = CliRunner().invoke(app, ["analyze", str(folder), "--plan", str(plan), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    for key in ("survival", "subgroups", "interaction"):
        assert data[key] == plan_output[key]
    assert data["plan"] == plan_output["plan"]
    assert "onset_site[bulbar]" in result.output


def _trial_from(example, participants=None, survival=None):
    t = example.tables()
    return Trial(t["participants"] if participants is None else participants,
                 t["survival"] if survival is None else survival, t["alsfrs"], t["biomarkers"], info=example.info)


def test_single_arm_trial_gives_a_clear_error_in_plan_and_cli(tmp_path, example_trial):
    parts = example_trial.participants
    keep = parts.loc[parts.arm == "placebo", "subject_id"]
    single = example_trial.select(keep)
    with pytest.raises(AnalysisError, match="single arm"):
        AnalysisPlan().run(single)
    folder = single.write(tmp_path / "single")
    result = CliRunner().invoke(app, ["analyze", str(folder), "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert isinstance(result.exception, AnalysisError) and "single arm" in str(result.exception)


def test_cli_main_turns_analysis_errors_into_one_line(tmp_path, example_trial):
    import subprocess
    import sys

    parts = example_trial.participants
    folder = example_trial.select(parts.loc[parts.arm == "placebo", "subject_id"]).write(tmp_path / "single")
    proc = subprocess.run([sys.executable, "-m", "mndtrial", "analyze", str(folder), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, env={**__import__("os").environ, "PYTHONPATH": "src"})
    assert proc.returncode == 1
    assert "single arm" in proc.stderr and "Traceback" not in proc.stderr


def test_no_events_in_one_arm_raises_or_is_recorded(example_trial):
    surv = example_trial.survival
    active = example_trial.participants.query("arm == 'il2_2miu'").subject_id
    surv.loc[surv.subject_id.isin(active), "event"] = 0
    trial = _trial_from(example_trial, survival=surv)
    with pytest.raises(AnalysisError, match="monotone likelihood"):
        AnalysisPlan(horizon_days=300).run(trial)
    plan = AnalysisPlan.from_dict({"horizon_days": 300, "on_error": "record", "subgroups": {"enabled": False},
                                   "interaction": {"enabled": False}})
    results = plan.run(trial)
    cox = results["survival"]["cox"]["unadjusted"]
    assert "monotone likelihood" in cox["error"]["reason"]
    assert "survival.cox.unadjusted" in results.errors()
    assert results["survival"]["logrank"]["chi2"] > 0  # the log-rank test is still defined
    json.dumps(results.to_dict(), allow_nan=False)


def test_biomarker_missing_for_everyone_is_reported_in_subgroups_and_interaction(example_trial):
    parts = example_trial.participants
    parts["csf_pnfh"] = float("nan")
    trial = _trial_from(example_trial, participants=parts)
    plan = AnalysisPlan.from_dict({"biomarker_rules": [{"biomarker": "csf_pnfh", "cutoffs": [3700]}],
                                   "survival": {"enabled": False},
                                   "subgroups": {"columns": ["sex"], "age_bands_years": []}})
    out = plan.run(trial).to_dict()
    rule_rows = [r for r in out["subgroups"] if r["variable"] == "csf_pnfh"]
    assert len(rule_rows) == 1 and rule_rows[0]["estimable"] is False
    assert "missing for all 60 participants" in rule_rows[0]["reason"]
    assert "missing for all" in out["interaction"]["continuous"][0]["not_computed"]
    assert any(r["variable"] == "sex" and r["estimable"] for r in out["subgroups"])  # the rest goes on


def test_default_plan_on_example_has_every_documented_key(example_trial):
    out = AnalysisPlan().run(example_trial).to_dict()
    s = out["survival"]
    for key in ("logrank", "logrank_stratified", "horizon", "rmst", "kaplan_meier"):
        assert key in s
    assert s["cox"]["adjusted"] == {"not_computed": "no covariates in the plan"}
    for term in s["cox"]["stratified"]["terms"].values():
        assert set(term) >= {"coef", "se", "hr", "ci", "p"}
    assert out["subgroups"][0]["variable"] == "all"
    assert {r["variable"] for r in out["subgroups"]} >= {"csf_pnfh", "age", "onset_site", "sex", "country"}
    assert out["interaction"]["continuous"][0]["biomarker"] == "csf_pnfh"


def test_documented_example_plan_runs_on_the_example_trial(example_trial):
    from pathlib import Path

    plan = AnalysisPlan.from_toml(Path(__file__).resolve().parents[1] / "docs" / "examples" / "analysis-plan.toml")
    assert plan.horizon_days == 640 and len(plan.biomarker_rules) == 3
    out = plan.run(example_trial).to_dict()
    assert out["survival"]["logrank_stratified"]["n_strata"] == 4
    assert out["survival"]["cox"]["stratified"]["strata"] == ["country", "onset_site"]
    tertiles = [r for r in out["subgroups"] if r["rule"] == "CSF-pNfH tertiles"]
    assert [r["n"] for r in tertiles] == [20, 20, 20, 0]


def test_trial_without_horizon_reports_horizon_analyses_not_computed(example_trial):
    info = example_trial.info.model_copy(update={"horizon_days": None})
    t = example_trial.tables()
    trial = Trial(t["participants"], t["survival"], info=info)
    plan = AnalysisPlan.from_dict({"subgroups": {"enabled": False}, "interaction": {"enabled": False}})
    out = plan.run(trial).to_dict()["survival"]
    assert out["rmst"] == out["horizon"] == {"not_computed": "no horizon_days in the plan or the trial"}
    assert out["kaplan_meier"]["arms"]["placebo"]["at_days"][-1]["day"] <= trial.survival.time_days.max()


def test_event_types_recode_other_events_as_censored(example_trial):
    surv = example_trial.survival
    first_deaths = surv.index[surv.event == 1][:5]
    surv.loc[first_deaths, "event_type"] = "tracheostomy"
    trial = _trial_from(example_trial, survival=surv)
    only_death = logrank_test(trial, event_types=["death"])
    assert only_death.summary["observed"].sum() == surv.event.sum() - 5
    both = logrank_test(trial, event_types=["death", "tracheostomy"])
    assert both.chi2 == pytest.approx(logrank_test(trial).chi2, rel=1e-12)
    with pytest.raises(AnalysisError, match="no events"):
        logrank_test(trial, event_types=["stroke"])


def test_cli_keep_going_records_errors_and_writes_the_plan_as_run(tmp_path, example_trial):
    surv = example_trial.survival
    active = example_trial.participants.query("arm == 'il2_2miu'").subject_id
    surv.loc[surv.subject_id.isin(active), "event"] = 0
    folder = _trial_from(example_trial, survival=surv).write(tmp_path / "trial")
    plan = tmp_path / "plan.toml"
    plan.write_text("[subgroups]\nenabled = false\n[interaction]\nenabled = false\n")
    result = CliRunner().invoke(app, ["analyze", str(folder), "--plan", str(plan), "--out", str(tmp_path / "out"),
                                      "--keep-going"])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert "monotone likelihood" in data["survival"]["cox"]["unadjusted"]["error"]["reason"]
    assert "could not be computed" in result.output
    as_run = AnalysisPlan.from_toml(tmp_path / "out" / "plan.toml")
    assert as_run.on_error == "record" and as_run.section("subgroups").enabled is False


def test_three_arm_trial_needs_the_active_arm_named(example_trial):
    parts = example_trial.participants
    parts.loc[parts.index[::3], "arm"] = "il2_1miu"
    t = example_trial.tables()
    trial = Trial(parts, t["survival"])
    with pytest.raises(ParameterError, match="name the active arm"):
        logrank_test(trial)
    plan = AnalysisPlan.from_dict({"arms": {"active": "il2_1miu"}, "horizon_days": 300,
                                   "subgroups": {"enabled": False}, "interaction": {"enabled": False}})
    out = plan.run(trial).to_dict()
    assert out["survival"]["arms"] == {"control": "placebo", "active": "il2_1miu"}
    assert set(out["survival"]["kaplan_meier"]["arms"]) == {"placebo", "il2_1miu", "il2_2miu"}
    assert out["survival"]["logrank"]["groups"]["il2_1miu"]["n"] == int((parts.arm == "il2_1miu").sum())


def test_open_ended_biomarker_range_is_written_to_results_json(tmp_path, example_trial):
    # MIROCALS' CSF-pNfH groups, 750-3700 and > 3700 pg/mL, as ranges with an open upper bound:
    # `inf` is valid TOML and a valid rule, so results.json (which has no infinity) must still be written
    plan_text = PLAN + '[[biomarker_rules]]\nbiomarker = "csf_pnfh"\nranges = [[750, 3700], [3700, inf]]\n'
    folder = example_trial.write(tmp_path / "trial")
    (tmp_path / "plan.toml").write_text(plan_text)
    result = CliRunner().invoke(app, ["analyze", str(folder), "--plan", str(tmp_path / "plan.toml"),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["plan"]["biomarker_rules"][0]["ranges"] == [[750.0, 3700.0], [3700.0, None]]
    assert data["provenance"]["plan"]["biomarker_rules"][0]["ranges"] == [[750.0, 3700.0], [3700.0, None]]
    # the groups themselves, against a direct count of the baseline values
    pnfh = example_trial.participants["csf_pnfh"]
    rows = {r["level"]: r for r in data["subgroups"] if r["variable"] == "csf_pnfh"}
    assert rows["(3700, inf]"]["n"] == int((pnfh > 3700).sum())
    assert rows["(750, 3700]"]["n"] == int(((pnfh > 750) & (pnfh <= 3700)).sum())
    # plan.toml as run keeps the open bound, so the run repeats exactly
    rerun = AnalysisPlan.from_toml(tmp_path / "out" / "plan.toml")
    assert rerun.biomarker_rules[0].ranges == ((750.0, 3700.0), (3700.0, float("inf")))


def test_unknown_stratum_is_reported_as_a_strata_error(example_trial):
    # the plan setting that is wrong is `strata`; the error must not send the user to `covariates`
    plan = AnalysisPlan.from_toml_text('strata = ["nosuch"]\n')
    with pytest.raises(ParameterError) as err:
        plan.run(example_trial)
    assert err.value.parameter == "strata" and err.value.value == "nosuch"
    with pytest.raises(ParameterError) as err:
        AnalysisPlan.from_toml_text('covariates = ["nosuch"]\n').run(example_trial)
    assert err.value.parameter == "covariate"


def test_interval_labels_follow_the_plan_alpha(example_trial):
    # alpha = 0.1 gives 90% intervals everywhere; the printed tables and the forest plot must say so
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    from scipy import stats as st

    from mndtrial.report.figures_survival import forest_figure

    results = AnalysisPlan.from_toml_text("alpha = 0.1\n" + PLAN).run(example_trial)
    cox = results["survival"]["cox"]["unadjusted"]["terms"]["treatment"]
    z90 = st.norm.ppf(0.95)  # the interval really is 90%: exp(coef ± z_0.95 se)
    assert cox["ci"][0] == pytest.approx(np.exp(cox["coef"] - z90 * cox["se"]), rel=1e-9)
    tables = results.summary_tables()
    columns = [c for t in tables.values() for c in t.columns]
    assert "95% CI" not in columns and "HR (95% CI)" not in columns
    assert "90% CI" in tables["survival: Cox models"].columns
    assert "HR (90% CI)" in tables["subgroups: forest"].columns
    from mndtrial.report.figure_calls import forest_input

    rows, interaction, overall = forest_input(results.to_dict())
    fig = forest_figure(rows, interaction, overall, ci_level=0.9)
    assert "90% CI" in fig.axes[0].get_xlabel()
    default = AnalysisPlan.from_toml_text(PLAN).run(example_trial).summary_tables()
    assert "95% CI" in default["survival: Cox models"].columns


def test_forest_table_names_the_arms_of_its_counts(example_trial):
    # "events/n by arm: 12/30 / 9/30" did not say which arm is which; the column now names them,
    # and the counts read in that order equal a direct count per arm
    tables = AnalysisPlan.from_toml_text(PLAN).run(example_trial).summary_tables()
    forest = tables["subgroups: forest"]
    column = "events/n (placebo / il2_2miu)"
    assert column in forest.columns
    df = example_trial.survival_by_subject()
    direct = " / ".join(f"{int(df.loc[df.arm == a, 'event'].sum())}/{int((df.arm == a).sum())}"
                        for a in ("placebo", "il2_2miu"))
    assert forest.loc[forest["level"] == "all", column].iloc[0] == direct
