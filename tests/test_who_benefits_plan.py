"""The `[effect_along_biomarker]` and `[cutoff_search]` plan sections and their report section."""

import json

import numpy as np
import pytest

from mndtrial.analysis import AnalysisPlan, AnalysisResults
from mndtrial.data import Trial, read_trial
from mndtrial.errors import ParameterError
from mndtrial.report.benefit_report import who_benefits_section
from mndtrial.report.html import trial_report
from mndtrial.report.page import ReportPage

from who_benefits_helpers import lifelines_log_hr, trial_arrays

OTHERS_OFF = "".join(f"[{name}]\nenabled = false\n"
                     for name in ("survival", "subgroups", "interaction", "function", "cafs", "treg"))
PLAN = 'name = "who benefits"\n' + OTHERS_OFF + """[effect_along_biomarker]
enabled = true
biomarker = "csf_pnfh"
spline_df = 3
simultaneous_draws = 1000
stepp_window_size = 60
stepp_window_step = 30
stepp_permutations = 20
seed = 5
[cutoff_search]
enabled = true
candidate_quantiles = [0.3, 0.7]
n_candidates = 5
permutations = 20
bootstraps = 10
seed = 5
"""


@pytest.fixture(scope="module")
def trial(reference_dir):
    return read_trial(reference_dir / "who_benefits" / "trial")


@pytest.fixture(scope="module")
def results(trial):
    return AnalysisPlan.from_toml_text(PLAN).run(trial)


@pytest.fixture(scope="module")
def ref(reference_dir):
    return json.loads((reference_dir / "who_benefits" / "references.json").read_text())


def test_plan_section_numbers_equal_r(results, ref):
    out = results.to_dict()["effect_along_biomarker"]
    for term, coef in ref["cox"]["coef"].items():
        assert out["survival"]["coefficients"][term]["coef"] == pytest.approx(coef, abs=1e-6)
    assert out["survival"]["interaction_test"]["lr_chi2"] == pytest.approx(ref["cox"]["lr_interaction"], abs=1e-6)
    for term, value in ref["lmer"]["fixef"].items():
        name = "Intercept" if term == "(Intercept)" else term
        assert out["alsfrs_slope"]["coefficients"][name]["coef"] == pytest.approx(value, abs=1e-4)
    assert out["mark_cutoffs"] == [3700.0]
    curve = out["survival"]["curve"]
    assert len(curve["marker"]) == 50 and curve["simultaneous"]["critical_value"] > 1.96


def test_plan_stepp_and_cutoff_search_equal_lifelines(results, trial):
    marker, time, event, treat = trial_arrays(trial)
    out = results.to_dict()
    window = out["effect_along_biomarker"]["stepp"]["windows"][0]
    inside = (marker >= window["marker_low"]) & (marker <= window["marker_high"])
    assert window["log_hr"] == pytest.approx(lifelines_log_hr(time[inside], event[inside], treat[inside])[0], abs=1e-6)
    search = out["cutoff_search"]
    assert [c["cutoff"] for c in search["candidates"]] == pytest.approx(np.quantile(marker, np.linspace(0.3, 0.7, 5)))
    low = marker <= search["selected_cutoff"]
    assert search["naive"]["log_hr"] == pytest.approx(lifelines_log_hr(time[low], event[low], treat[low])[0], abs=1e-6)
    assert search["excluded_missing"] == 11 and search["n"] == 209
    assert "selection_adjusted.p" in search["which_numbers_are_selection_adjusted"]["adjusted"]
    assert "naive.hr" in search["which_numbers_are_selection_adjusted"]["not_adjusted"]


def test_summaries_say_which_numbers_are_adjusted(results):
    tables = results.summary_tables()
    table = tables["cutoff_search: cut-off search"]
    flags = dict(zip(table["quantity"], table["selection-adjusted"]))
    assert flags["HR below the cut-off"] == "NO (naive)" and flags["p (maximally selected)"] == "yes"
    assert "effect_along_biomarker: STEPP windows" in tables


def test_sections_are_off_by_default(trial):
    plan = AnalysisPlan()
    assert not plan.section("effect_along_biomarker").enabled and not plan.section("cutoff_search").enabled


def test_no_alsfrs_table_is_reported_not_computed(trial):
    t = trial.tables()
    no_alsfrs = Trial(t["participants"], t["survival"], None, None, info=trial.info)
    plan = AnalysisPlan.from_toml_text(OTHERS_OFF + "[effect_along_biomarker]\nenabled = true\nstepp = false\n"
                                       "simultaneous_draws = 200\n")
    out = plan.run(no_alsfrs).to_dict()["effect_along_biomarker"]
    assert out["alsfrs_slope"] == {"not_computed": "the trial has no alsfrs table"}
    assert "coefficients" in out["survival"]


def test_bad_candidate_range_is_refused():
    with pytest.raises(ParameterError, match="candidate_quantiles"):
        AnalysisPlan.from_toml_text("[cutoff_search]\ncandidate_quantiles = [0.8, 0.2]\n")


def test_report_section_with_the_trial_has_the_figures_and_a_rug(results, trial):
    page = ReportPage(title="t")
    section = who_benefits_section(page, trial, results.to_dict(), "")
    assert section.present and "selection-adjusted" in section.body and "naive" in section.body
    assert {"effect_along_survival", "effect_along_alsfrs_slope", "stepp", "cutoff_search"} <= set(page.figures)
    rug = [line for line in page.figures["effect_along_survival"].axes[0].lines if line.get_marker() == "|"]
    assert len(rug) == 1 and len(rug[0].get_xdata()) == 209  # every observed CSF-pNfH value
    assert who_benefits_section(ReportPage(title="t"), trial, {"survival": {}}, "") is None


def test_report_from_saved_results_alone(results, tmp_path):
    path = results.write_json(tmp_path / "results.json")
    saved = trial_report(None, AnalysisResults.read_json(path))
    assert "who_benefits" in saved.section_keys(present=True) and "stepp" in saved.figures
    assert "cut-off search" in saved.html


def test_documented_example_plan_parses():
    from pathlib import Path
    plan = AnalysisPlan.from_toml(Path(__file__).resolve().parents[1] / "docs" / "examples" / "who-benefits.toml")
    assert plan.section("effect_along_biomarker").enabled and plan.section("cutoff_search").permutations == 1000
