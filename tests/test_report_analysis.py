"""The report of a real analysis run: what it draws equals what results.json says, and
`mndtrial analyze` writes report.html, figures and provenance beside results.json."""

from __future__ import annotations

import hashlib
import json
import re
import shlex

from typer.testing import CliRunner

from mndtrial.analysis import AnalysisPlan, BiomarkerRule
from mndtrial.cli import app
from mndtrial.report.analysis_report import analysis_report

PLAN = AnalysisPlan(name="primary", covariates=("log(csf_pnfh)",),
                    biomarker_rules=(BiomarkerRule(biomarker="csf_pnfh", cutoffs=(3700.0,)),))


def test_report_draws_the_numbers_of_results_json(example_trial):
    results = PLAN.run(example_trial)
    data = results.to_dict()
    rep = analysis_report(example_trial, results)
    html = rep.html
    expected = {"flow", "km", "km_subgroups", "cox", "forest", "ph", "alsfrs", "cafs", "treg"}
    assert expected <= set(rep.section_keys(True))
    assert "function: ALSFRS-R slope (mixed model)" in html and "cafs: CAFS" in html
    # the Treg figure draws the Treg analysis's mean changes
    by_visit = data["treg"]["treg_pct_cd4"]["by_visit"]
    left = rep.figures["treg_treg_pct_cd4"].axes[0]
    for c in left.containers:
        arm = c.get_label()
        assert list(c.lines[0].get_ydata()) == [by_visit[arm][f"day_{d:g}"]["mean_change"]
                                                for d in c.lines[0].get_xdata()]
    # the Cox table shows the fitted hazard ratio
    hr = data["survival"]["cox"]["unadjusted"]["terms"]["treatment"]["hr"]
    assert f"{hr:.2f}" in html  # publication format: HR to 2 decimals
    # the forest plot draws each estimable subgroup's HR and CI as in results.json
    texts = [t.get_text() for t in rep.figures["forest"].axes[0].texts]
    for row in data["subgroups"]:
        if row["variable"] != "all" and row.get("estimable", True) and row["hr"] is not None:
            lo, hi = row["ci"]
            assert any(t.startswith(f"{row['hr']:.2f} ({lo:.2f}, {hi:.2f})") for t in texts), row
    p = next(t["p"] for t in data["interaction"]["by_subgroup"] if t["rule"] == "csf_pnfh cut at 3700")
    assert "csf_pnfh cut at 3700" in texts and f"interaction p = {p:.3f}" in texts
    # one KM panel per populated level of the rule, numbers at risk equal to the subgroup's counts
    fig = rep.figures["km_subgroups_1"]
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    counts = {r["level"]: r["n"] for r in data["subgroups"] if r.get("rule") == "csf_pnfh cut at 3700"}
    from mndtrial.report.html import MIN_KM_PANEL_N, subgroup_title

    assert titles == [subgroup_title("csf_pnfh", lvl) for lvl, n in counts.items()
                      if n >= MIN_KM_PANEL_N and lvl != "missing"]
    # the overall KM is the analysis's own curve
    km = data["survival"]["kaplan_meier"]["arms"]["placebo"]
    line = rep.figures["km_overall"].axes[0].lines[0]
    assert list(line.get_ydata()) == km["curve"]["survival"]
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
    assert not any(re.search(rf"\b{s}\b", text) for s in example_trial.participants["subject_id"])


def test_cli_analyze_writes_report_figures_and_provenance(tmp_path, example_trial):
    folder = example_trial.write(tmp_path / "trial")
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN.to_toml(), encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["--quiet", "analyze", str(folder), "--plan", str(plan), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines() == [str(out / "results.json"), str(out / "report.html")]
    prov = json.loads((out / "results.json").read_text())["provenance"]
    inputs = sorted([*(p for p in folder.iterdir() if p.is_file()), plan])
    assert prov["inputs_sha256"] == {p.as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in inputs}
    # the call that reproduces it, as typed
    assert shlex.split(prov["command"]) == ["mndtrial", "--quiet", "analyze", str(folder), "--plan", str(plan),
                                            "--out", str(out)]
    assert prov["plan"]["biomarker_rules"][0]["cutoffs"] == [3700.0]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert prov["inputs_sha256"][(folder / "survival.csv").as_posix()] in html
    pngs = sorted(p.stem for p in (out / "figures").glob("*.png"))
    assert {"km_overall", "forest", "ph_check", "alsfrs_trajectories"} <= set(pngs)
    assert not list((out / "figures").glob("*.svg"))  # the page embeds PNGs; SVG copies on request
    again = tmp_path / "with-svg"
    res = CliRunner().invoke(app, ["--quiet", "analyze", str(folder), "--plan", str(plan), "--out", str(again), "--svg"])
    assert res.exit_code == 0, res.output
    assert pngs == sorted(p.stem for p in (again / "figures").glob("*.svg"))
    assert (again / "figures" / "km_overall.png").read_bytes() == (out / "figures" / "km_overall.png").read_bytes()


def test_real_results_of_a_trial_without_alsfrs_or_biomarker_say_what_is_absent(example_trial):
    from mndtrial import Trial

    t = Trial(example_trial.participants.drop(columns=["csf_pnfh"]), example_trial.survival,
              info=example_trial.info)
    rep = analysis_report(t, AnalysisPlan().run(t))
    html = rep.html
    assert {"flow", "km", "cox", "forest", "ph", "provenance"} <= set(rep.section_keys(True))
    assert {"km_subgroups", "alsfrs", "cafs", "treg"} <= set(rep.section_keys(False))
    for note in ("absent: no ALSFRS-R table in this trial", "absent: no biomarker",
                 "absent: no ALSFRS-R table, so CAFS cannot be computed", "absent: no Treg measurements"):
        assert note in html


def test_report_figures_use_the_plan_endpoint(example_trial):
    # with event_types = ["death"], tracheostomies are censorings in every survival number; the
    # PH-check and KM-by-subgroup figures drawn from the trial must count the same events.
    # Reference: lifelines' Cox and KM on the same data recoded by hand.
    import numpy as np
    from lifelines import CoxPHFitter, KaplanMeierFitter

    from conftest import with_tracheostomies

    trial, tracheo = with_tracheostomies(example_trial, 8)
    plan = PLAN.model_copy(update={"event_types": ("death",)})
    rep = analysis_report(trial, plan.run(trial))

    df = trial.survival_by_subject()
    df["event"] = np.where(df.index.isin(tracheo), 0, df["event"])
    df["treatment"] = (df["arm"] == "il2_2miu").astype(float)
    beta = CoxPHFitter().fit(df[["time_days", "event", "treatment"]], "time_days", "event").params_["treatment"]
    labels = [line.get_label() for line in rep.figures["ph_check"].axes[0].lines]
    assert any(f"β = log HR = {beta:.3f}" in lab for lab in labels), labels

    low = df.loc[(df["csf_pnfh"] <= 3700) & (df["arm"] == "placebo")]
    km = KaplanMeierFitter().fit(low["time_days"], low["event"])
    panel = rep.figures["km_subgroups_1"]
    ax = next(ax for ax in panel.axes if ax.get_title() == "CSF-pNfH ≤ 3700 pg/mL")
    line = next(line for line in ax.lines if line.get_label().startswith("placebo "))
    assert abs(min(line.get_ydata()) - km.survival_function_.iloc[:, 0].min()) < 1e-12
