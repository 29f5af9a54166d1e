"""AnalysisPlan, the section registry and `mndtrial analyze`, end to end on the example trial."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mndtrial.analysis import AnalysisPlan, CoxModel, logrank_test
from mndtrial.analysis.registry import SectionConfig, register_section, registered_sections, unregister_section
from mndtrial.cli import app
from mndtrial.errors import ParameterError

PLAN = """
name = "example primary"
horizon_days = 540
covariates = ["log(csf_pnfh)", "onset_site", "age"]
strata = ["country"]
[survival]
cox_models = ["unadjusted", "adjusted", "stratified"]
"""


def test_plan_results_match_direct_calls(example_trial):
    """The plan's JSON carries exactly what the estimators compute when called directly."""
    out = AnalysisPlan.from_toml_text(PLAN).run(example_trial).to_dict()
    direct = CoxModel(["log(csf_pnfh)", "onset_site", "age"]).fit(example_trial).result_
    adj = out["survival"]["cox"]["adjusted"]["terms"]
    for term, row in direct.summary.iterrows():
        assert adj[term]["coef"] == pytest.approx(row.coef, rel=1e-12)
        assert adj[term]["se"] == pytest.approx(row.se, rel=1e-12)
    strat = logrank_test(example_trial, strata=["country"])
    assert out["survival"]["logrank_stratified"]["chi2"] == pytest.approx(strat.chi2, rel=1e-12)
    json.dumps(out, allow_nan=False)  # JSON-safe: no NaN anywhere


def test_plan_rejects_unknown_settings_with_parameter_error():
    with pytest.raises(ParameterError, match="nonsense"):
        AnalysisPlan.from_toml_text("nonsense = 1")
    with pytest.raises(ParameterError, match="section 'survival'"):
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
        plan = AnalysisPlan.from_toml_text("[survival]\nenabled = false\n[count_test]\nminimum_age = 60")
        out = plan.run(example_trial).to_dict()
        assert "survival" not in out
        assert out["count_test"] == {"n_older": int((example_trial.participants["age"] > 60).sum())}
        off = AnalysisPlan.from_toml_text("[count_test]\nenabled = false").run(example_trial).to_dict()
        assert "count_test" not in off
    finally:
        unregister_section("count_test")
    assert "count_test" not in registered_sections()


def test_plan_round_trips_through_toml():
    plan = AnalysisPlan.from_toml_text(PLAN)
    again = AnalysisPlan.from_toml_text(plan.to_toml())
    assert again.to_dict() == plan.to_dict()


def test_cli_analyze_writes_results_json(tmp_path, example_trial):
    folder = example_trial.write(tmp_path / "trial")
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN)
    result = CliRunner().invoke(app, ["analyze", str(folder), "--plan", str(plan), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    expected = AnalysisPlan.from_toml_text(PLAN).run(example_trial).to_dict()
    assert data["survival"]["cox"]["unadjusted"] == expected["survival"]["cox"]["unadjusted"]
    assert "onset_site[bulbar]" in result.output
