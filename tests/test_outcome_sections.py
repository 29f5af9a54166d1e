"""The plan's function / cafs / treg sections: present in results.json, switchable, equal to the API."""

from __future__ import annotations

import json
import warnings

import pytest
from typer.testing import CliRunner

from mndtrial.analysis import CAFS, AnalysisPlan, SlopeAnalysis, TregAnalysis
from mndtrial.cli import app
from mndtrial.data import Trial

OFF_SURVIVAL = {"subgroups": {"enabled": False}, "interaction": {"enabled": False}}


@pytest.fixture(scope="module")
def example_results():
    from mndtrial.data.example import example_trial

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return example_trial(), AnalysisPlan.from_dict(OFF_SURVIVAL).run(example_trial()).to_dict()


def test_analyze_example_includes_function_cafs_treg(example_results):
    trial, results = example_results
    assert {"function", "cafs", "treg"} <= set(results)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slope = SlopeAnalysis(horizon_days=trial.info.horizon_days).fit(trial).to_dict()
    assert results["function"]["overall"] == slope["overall"]
    ratio = results["function"]["overall"]["comparisons"]["il2_2miu"]["slope_ratio"]
    assert len(ratio["ci"]) == 2 and ratio["ci"][0] < ratio["estimate"] < ratio["ci"][1]
    assert results["function"]["subgroups"], "the default biomarker rule (median CSF-pNfH) gives subgroups"
    cafs = CAFS(horizon_days=trial.info.horizon_days).fit(trial).to_dict()
    assert results["cafs"]["unstratified"] == cafs
    assert results["cafs"]["stratified"]["strata"] == list(trial.info.strata)
    treg = TregAnalysis().fit(trial).to_dict()
    assert results["treg"]["treg_pct_cd4"] == treg
    assert results["treg"]["treg_count"] == {"not_computed": "no 'treg_count' rows in the biomarkers table"}
    json.dumps(results, allow_nan=False)


def test_sections_switch_off_in_the_plan_toml(example_trial):
    plan = AnalysisPlan.from_toml_text("""
[subgroups]
enabled = false
[interaction]
enabled = false
[function]
enabled = false
[cafs]
enabled = false
[treg]
analytes = ["treg_pct_cd4"]
""")
    results = plan.run(example_trial).to_dict()
    assert "function" not in results and "cafs" not in results
    assert list(results["treg"]) == ["treg_pct_cd4"]
    assert results["plan"]["function"]["enabled"] is False


def test_missing_tables_are_not_computed(example_trial):
    t = example_trial.tables()
    bare = Trial(t["participants"], t["survival"], info=example_trial.info)
    results = AnalysisPlan.from_dict(OFF_SURVIVAL).run(bare).to_dict()
    assert results["function"] == {"not_computed": "the trial has no alsfrs table"}
    assert results["cafs"] == {"not_computed": "the trial has no alsfrs table"}
    assert "not_computed" in results["treg"]


def test_degenerate_alsfrs_is_an_error_or_recorded(example_trial):
    t = example_trial.tables()
    one_visit = Trial(t["participants"], t["survival"], t["alsfrs"].query("day == 0"), t["biomarkers"],
                      info=example_trial.info)
    with pytest.raises(Exception, match="only one visit"):
        AnalysisPlan.from_dict(OFF_SURVIVAL).run(one_visit)
    recorded = AnalysisPlan.from_dict({**OFF_SURVIVAL, "on_error": "record"}).run(one_visit)
    assert "only one visit" in recorded["function"]["error"]["reason"]
    assert "only one visit" in recorded["cafs"]["error"]["reason"]
    assert "treg_pct_cd4" in recorded["treg"]


def test_cli_analyze_writes_the_sections(tmp_path, example_trial):
    folder = example_trial.write(tmp_path / "trial")
    plan = tmp_path / "plan.toml"
    plan.write_text("[subgroups]\nenabled = false\n[interaction]\nenabled = false\n")
    result = CliRunner().invoke(app, ["analyze", str(folder), "--plan", str(plan), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {"function", "cafs", "treg"} <= set(data)
    assert "ALSFRS-R slope" in result.output and "CAFS" in result.output and "Treg" in result.output


def test_results_have_the_documented_keys(example_results):
    """The keys listed in docs/results-json.md for these sections are the keys written."""
    _, results = example_results
    overall = results["function"]["overall"]
    assert set(overall) == {"control_arm", "arms", "comparisons", "random_effects", "reml_criterion", "n_visits",
                            "n_participants", "excluded_visits", "converged", "problems", "warnings"}
    assert set(overall["arms"]["placebo"]) == {"estimate", "se", "ci", "z", "p", "n_participants", "n_visits"}
    assert set(overall["comparisons"]["il2_2miu"]) == {"slope_difference_per_month", "slope_ratio"}
    interaction = next(iter(results["function"]["interaction"].values()))
    assert set(interaction) == {"reference_group", "groups", "terms", "chi2", "df", "p", "n_participants",
                                "problems", "warnings"}
    cafs = results["cafs"]["unstratified"]["comparisons"]["il2_2miu"]
    assert set(cafs) == {"n_active", "n_control", "mean_rank_active", "mean_rank_control", "mann_whitney_u",
                         "mann_whitney_p", "fs_T", "fs_var_T", "fs_z", "fs_p", "van_elteren_z", "van_elteren_p",
                         "deaths_active", "deaths_control"}
    treg = results["treg"]["treg_pct_cd4"]
    assert set(treg) == {"analyte", "control_arm", "by_visit", "ancova", "mixed", "mixed_problems",
                         "mixed_warnings", "dose_response", "notes", "excluded"}
    assert set(treg["ancova"]["il2_2miu"]["day_8"]) == {"estimate", "se", "ci", "t", "p", "df", "n_active",
                                                        "n_control"}
    assert set(treg["dose_response"]["slope_per_miu"]) == {"estimate", "se", "ci", "t", "p", "df"}


def test_function_table_says_which_slope_ratio_it_prints(example_results):
    # the printed "ratio" is 1 − slope_active/slope_control (≈ 0 for no effect), not active/control
    from mndtrial.analysis.outcome_sections import summarize_function

    _, data = example_results
    fn = data["function"]["overall"]
    table = summarize_function(data["function"])["ALSFRS-R slope (mixed model)"]
    column = next(c for c in table.columns if "ratio" in c)
    assert "1 − active/control" in column
    slopes = {arm: a["estimate"] for arm, a in fn["arms"].items()}
    relative = 1 - slopes["il2_2miu"] / slopes["placebo"]
    assert fn["comparisons"]["il2_2miu"]["slope_ratio"]["estimate"] == pytest.approx(relative, rel=1e-9)
    row = table.loc[(table.population == "overall") & (table.arm == "il2_2miu")].iloc[0]
    assert row[column].startswith(f"{relative:.2f} (")  # publication format: 2 decimals


def test_function_subgroup_columns_count_participants_with_a_missing_value(example_trial):
    # reference: a direct count of the blanked values; every participant is in a subgroup or counted
    t = example_trial.tables()
    parts = t["participants"].copy()
    blank = parts.index[[1, 4, 9, 20, 33, 41, 58]]
    parts["onset_site"] = parts["onset_site"].astype(object)
    parts.loc[blank, "onset_site"] = None
    trial = Trial(parts, t["survival"], t["alsfrs"], t["biomarkers"], info=example_trial.info)
    plan = AnalysisPlan.from_dict({**OFF_SURVIVAL, "survival": {"enabled": False}, "cafs": {"enabled": False},
                                   "treg": {"enabled": False},
                                   "function": {"biomarker_subgroups": False, "interaction": False,
                                                "subgroup_columns": ["onset_site"]}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = plan.run(trial)
    fn = results["function"]
    assert fn["subgroups_excluded"] == {"onset_site": {"missing": len(blank)}}
    in_subgroups = sum(fit["n_participants"] for label, fit in fn["subgroups"].items())
    assert in_subgroups + len(blank) == fn["overall"]["n_participants"]
    table = results.summary_tables()["function: ALSFRS-R slope (mixed model)"]
    notes = table.loc[table["population"].str.startswith("onset_site="), "note"]
    assert notes.str.contains(f"{len(blank)} with missing onset_site in no subgroup").all()


def _sections_only(arms: dict | None) -> AnalysisPlan:
    plan = {**OFF_SURVIVAL, "survival": {"enabled": False},
            "function": {"biomarker_subgroups": False, "interaction": False}, "cafs": {"stratified": False},
            "treg": {"analytes": ["treg_pct_cd4"]}}
    return AnalysisPlan.from_dict(plan if arms is None else {**plan, "arms": arms})


def test_function_cafs_treg_honour_the_plan_arms(example_trial):
    # reference: swapping which arm is the control negates every active − control contrast of the same
    # model (closed form: a reparametrisation), and leaves two-sided p-values unchanged
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = _sections_only(None).run(example_trial)
        swapped = _sections_only({"control": "il2_2miu", "active": "placebo"}).run(example_trial)
    fn, fn_s = default["function"]["overall"], swapped["function"]["overall"]
    assert fn_s["control_arm"] == "il2_2miu" and list(fn_s["comparisons"]) == ["placebo"]
    d, d_s = (f["comparisons"][a]["slope_difference_per_month"] for f, a in ((fn, "il2_2miu"), (fn_s, "placebo")))
    assert d_s["estimate"] == pytest.approx(-d["estimate"], rel=1e-4)
    assert d_s["p"] == pytest.approx(d["p"], rel=1e-3)
    c, c_s = default["cafs"]["unstratified"], swapped["cafs"]["unstratified"]
    assert c_s["control_arm"] == "il2_2miu" and list(c_s["comparisons"]) == ["placebo"]
    assert c_s["comparisons"]["placebo"]["fs_T"] == -c["comparisons"]["il2_2miu"]["fs_T"]
    assert c_s["comparisons"]["placebo"]["mann_whitney_p"] == pytest.approx(
        c["comparisons"]["il2_2miu"]["mann_whitney_p"], rel=1e-12)
    t, t_s = default["treg"]["treg_pct_cd4"], swapped["treg"]["treg_pct_cd4"]
    assert t_s["control_arm"] == "il2_2miu" and list(t_s["ancova"]) == ["placebo"]
    for visit, r in t["ancova"]["il2_2miu"].items():
        assert t_s["ancova"]["placebo"][visit]["estimate"] == pytest.approx(-r["estimate"], rel=1e-9)
        assert t_s["ancova"]["placebo"][visit]["p"] == pytest.approx(r["p"], rel=1e-9)


def test_cafs_compares_only_the_plan_arms_of_a_three_arm_trial():
    # reference: the plan's arms.active picks one comparison; it equals that row of the all-arms CAFS
    # (pairs are formed within the two compared arms either way)
    from test_cafs import random_trial

    trial = random_trial(7)
    plan = AnalysisPlan.from_dict({**OFF_SURVIVAL, "survival": {"enabled": False}, "function": {"enabled": False},
                                   "treg": {"enabled": False}, "cafs": {"stratified": False},
                                   "arms": {"active": "il2_1miu"}})
    out = plan.run(trial)["cafs"]["unstratified"]
    assert list(out["comparisons"]) == ["il2_1miu"] and out["control_arm"] == "placebo"
    every = CAFS(horizon_days=trial.info.horizon_days).fit(trial).to_dict()
    assert out["comparisons"]["il2_1miu"] == every["comparisons"]["il2_1miu"]
