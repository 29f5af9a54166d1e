"""`mndtrial report results.json --out DIR`: the report rebuilt from saved results, nothing recomputed;
and the plan's alpha and horizon in the report's Kaplan–Meier figures."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from typer.testing import CliRunner

from mndtrial.analysis import AnalysisPlan, AnalysisResults, BiomarkerRule
from mndtrial.cli import app
from mndtrial.data import read_trial
from mndtrial.report.analysis_report import rebuild_report

# alpha and horizon differ from the defaults (0.05; the trial's 640 days) so that the figures show
# which they follow; sections the report test does not need are off (speed)
PLAN = AnalysisPlan(name="primary", covariates=("log(csf_pnfh)",), alpha=0.2, horizon_days=500.0,
                    biomarker_rules=(BiomarkerRule(biomarker="csf_pnfh", ranges=((0, 3700), (3700, float("inf")))),),
                    sections={name: {"enabled": False} for name in ("interaction", "function", "cafs", "treg")})


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """`mndtrial analyze` run once: (trial folder, its output folder)."""
    from mndtrial.data.example import example_trial

    tmp = tmp_path_factory.mktemp("rebuild")
    folder = example_trial().write(tmp / "trial")
    plan = tmp / "plan.toml"
    plan.write_text(PLAN.to_toml(), encoding="utf-8")
    out = tmp / "analysed"
    res = CliRunner().invoke(app, ["--quiet", "analyze", str(folder), "--plan", str(plan), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return folder, out


def strip_images(html: str) -> str:
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)


def test_results_json_reads_back_as_it_was_written(analysed):
    _, out = analysed
    data = json.loads((out / "results.json").read_text())
    back = AnalysisResults.read_json(out / "results.json")
    assert back.to_dict() == data
    # the open range bound, null in JSON, is infinite again in the plan
    assert back.plan.biomarker_rules[0].ranges[-1] == (3700.0, float("inf"))
    assert back.plan.to_dict() == PLAN.to_dict()


def test_report_with_the_trial_is_the_report_analyze_wrote(analysed, tmp_path):
    folder, out = analysed
    res = CliRunner().invoke(app, ["report", str(out / "results.json"), "--trial", str(folder),
                                   "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1] == f"report written to {tmp_path / 'report.html'}"
    assert (tmp_path / "report.html").read_text() == (out / "report.html").read_text()
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == sorted(
        p.name for p in (out / "figures").iterdir())


def test_report_from_results_alone_draws_the_saved_numbers(analysed, tmp_path):
    folder, out = analysed
    data = json.loads((out / "results.json").read_text())
    res = CliRunner().invoke(app, ["--quiet", "report", str(out / "results.json"), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "report.html").read_text()
    hr = data["survival"]["cox"]["unadjusted"]["terms"]["treatment"]["hr"]
    assert f"{hr:.2f}" in html  # publication format: HR to 2 decimals
    assert "need the trial data (`mndtrial report --trial`)" in html
    assert {"km_overall", "forest"} <= {p.stem for p in (tmp_path / "figures").glob("*.png")}
    # aggregates only: no subject id of the trial appears
    ids = [line.split(",")[0] for line in (folder / "participants.csv").read_text().splitlines()[1:]]
    assert ids and not any(re.search(rf"\b{re.escape(s)}\b", strip_images(html)) for s in ids)


def test_report_refuses_a_trial_that_is_not_the_analysed_one(analysed, tmp_path):
    import shutil

    folder, out = analysed
    other = tmp_path / "other"
    shutil.copytree(folder, other)
    survival = other / "survival.csv"
    lines = survival.read_text().splitlines()
    lines[1] = lines[1].replace(",1", ",0", 1) if ",1" in lines[1] else lines[1].replace(",0", ",1", 1)
    survival.write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(app, ["report", str(out / "results.json"), "--trial", str(other),
                                   "--out", str(tmp_path / "r")])
    assert res.exit_code != 0
    assert "survival.csv differ from the recorded inputs" in str(res.exception or res.output)


def test_report_of_a_file_that_is_not_results_json(tmp_path):
    bad = tmp_path / "power.json"
    bad.write_text(json.dumps({"table": []}))
    from mndtrial.errors import ParameterError

    with pytest.raises(ParameterError, match="not a results.json"):
        AnalysisResults.read_json(bad)


def band_edges(ax) -> np.ndarray:
    """y of the first arm's CI band polygon (fill_between), rounded."""
    return np.round(np.unique(ax.collections[0].get_paths()[0].vertices[:, 1]), 10)


def test_subgroup_bands_follow_the_plan_alpha_and_km_marks_the_plan_horizon(analysed):
    # reference: lifelines' KM of the low group's placebo arm at the plan's alpha
    folder, out = analysed
    trial = read_trial(folder)
    rep = rebuild_report(AnalysisResults.read_json(out / "results.json"), trial)
    df = trial.survival_by_subject()
    low = df.loc[(df["csf_pnfh"] <= 3700) & (df["arm"] == "placebo")]
    panel = rep.figures["km_subgroups_1"]
    ax = next(ax for ax in panel.axes if ax.get_title() == "CSF-pNfH (0, 3700] pg/mL")
    for alpha, same in ((0.2, True), (0.05, False)):
        ci = KaplanMeierFitter(alpha=alpha).fit(low["time_days"], low["event"]).confidence_interval_
        expected = np.round(np.unique(np.r_[ci.iloc[:, 0], ci.iloc[:, 1]]), 10)
        assert np.array_equal(band_edges(ax), expected) is same
    # every KM axis marks the plan's horizon (500), not the trial's (640)
    assert trial.info.horizon_days == 640
    for fig in (rep.figures["km_overall"], panel):
        curves_axes = [a for a in fig.axes if a.get_ylabel() == "Survival probability"]
        assert curves_axes
        for a in curves_axes:
            marks = [tuple(line.get_xdata()) for line in a.lines if line.get_label().startswith("horizon")]
            assert marks == [(500.0, 500.0)]
    assert "80% CI" in rep.html and "horizon, day 500" in rep.html
