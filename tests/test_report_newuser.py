"""What a steering committee reads (issue 20): publication number formatting, arm labels, the tidy
notebook summary, the KM / forest / PH figures and the participant flow with screening.

References: closed examples for the formatting; lifelines (`KaplanMeierFitter.event_table`,
`CoxPHFitter`, `logrank_test`) for the censoring ticks, the numbers at risk and the HR / p on the
KM panel; ordinary least squares written out (numpy) for the PH smoother's ± 2 SE band; the
simulator's own screening counts for the flow diagram.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test

from mndtrial.analysis import AnalysisPlan, BiomarkerRule
from mndtrial.analysis.numbers import (arm_labels, fmt_ci, fmt_estimate_ci, fmt_fixed, fmt_median_days, fmt_p,
                                       fmt_ratio_ci)
from mndtrial.analysis.tidy import TIDY_COLUMNS, relabel_arms
from mndtrial.data import Arm, Trial
from mndtrial.report.figures import forest_figure, km_figure, ph_check_figure
from mndtrial.report.figures_ph import spline_smooth
from mndtrial.report.figures_survival import censored_marks
from mndtrial.report.html import km_groups_from_assignments, km_left_out, subgroup_title, trial_report


@pytest.fixture(scope="module")
def labelled_trial():
    from mndtrial.data.example import example_trial

    t = example_trial()
    arms = tuple(a.model_copy(update={"label": "Placebo" if a.control else "IL-2 2 MIU"}) for a in t.info.arms)
    return Trial(**{k: v for k, v in t.tables().items()}, info=t.info.model_copy(update={"arms": arms}))


@pytest.fixture(scope="module")
def results(labelled_trial):
    plan = AnalysisPlan(biomarker_rules=(BiomarkerRule(biomarker="csf_pnfh", cutoffs=(3700.0,)),))
    return plan.run(labelled_trial)


# -- formatting --------------------------------------------------------------------------------
@pytest.mark.parametrize("p, text", [(1.15e-47, "< 0.001"), (0.000999, "< 0.001"), (0.001, "0.001"),
                                     (0.05163, "0.052"), (0.4937, "0.494"), (1.0, "1.000"), (None, "–"),
                                     (float("nan"), "–")])
def test_p_values_are_three_decimals_or_below_0001(p, text):
    assert fmt_p(p) == text


def test_ratios_estimates_and_medians_closed_examples():
    assert fmt_ratio_ci(0.85244, [0.5402, 1.3456]) == "0.85 (0.54, 1.35)"
    assert fmt_ratio_ci(2.0, None) == "2.00"
    assert fmt_estimate_ci(-8.089, [-51.01, 34.83], 1) == "-8.1 (-51.0, 34.8)"
    assert fmt_ci([0.633, None]) == "–"
    assert fmt_fixed(-0.001, 2) == "0.00"  # no "-0.00"
    assert fmt_fixed(float("inf")) == "∞"
    assert [fmt_median_days(x) for x in (None, float("nan"), float("inf"), 715.4, 715.5)] == \
        ["NR", "NR", "NR", "715", "716"]


def test_arm_labels_and_relabelling():
    info = {"arms": [{"name": "placebo", "label": "Placebo"}, {"name": "il2_2miu", "label": "IL-2 2 MIU"},
                     {"name": "il2_2miu_high", "label": None}]}
    labels = arm_labels(info)
    assert labels == {"placebo": "Placebo", "il2_2miu": "IL-2 2 MIU", "il2_2miu_high": "il2_2miu_high"}
    t = pd.DataFrame({"arm": ["il2_2miu", "il2_2miu_high"], "events/n (placebo / il2_2miu)": ["1/2 / 3/4"] * 2})
    out = relabel_arms(t, labels)
    assert out["arm"].tolist() == ["IL-2 2 MIU", "il2_2miu_high"]  # whole words only
    assert list(out.columns) == ["arm", "events/n (Placebo / IL-2 2 MIU)"]
    assert t["arm"].tolist() == ["il2_2miu", "il2_2miu_high"]  # input not modified


def test_summary_tables_use_publication_formats_and_arm_labels(results):
    tables = results.summary_tables()
    cox = tables["survival: Cox models"]
    unadjusted = results["survival"]["cox"]["unadjusted"]["terms"]["treatment"]
    row = cox.loc[(cox["model"] == "unadjusted") & (cox["term"] == "treatment")].iloc[0]
    assert row["HR"] == f"{unadjusted['hr']:.2f}" and row["95% CI"] == fmt_ci(unadjusted["ci"])
    assert row["p"] == fmt_p(unadjusted["p"])
    every_cell = " ".join(str(v) for t in tables.values() for v in t.to_numpy().ravel())
    assert not re.search(r"\d e[-+]?\d|\de-\d", every_cell), "no scientific notation in a table"
    km = tables["survival: Kaplan-Meier"]
    assert set(km["arm"]) == {"Placebo", "IL-2 2 MIU"}
    for arm, v in results["survival"]["kaplan_meier"]["arms"].items():
        label = {"placebo": "Placebo"}.get(arm, "IL-2 2 MIU")
        assert km.loc[km["arm"] == label, "median days"].item() == fmt_median_days(v["median_days"])
    assert "events/n (Placebo / IL-2 2 MIU)" in tables["subgroups: forest"].columns


# -- notebook ----------------------------------------------------------------------------------
def test_summary_is_a_compact_tidy_frame_and_repr_is_short(results, capsys):
    s = results.summary
    assert list(s.columns) == list(TIDY_COLUMNS)
    assert len(s) <= 40
    for col in ("estimate", "ci_lower", "ci_upper", "p"):
        assert pd.api.types.is_float_dtype(s[col])
    hr = s.loc[s["estimand"].str.startswith("hazard ratio (unadjusted Cox)")].iloc[0]
    cox = results["survival"]["cox"]["unadjusted"]["terms"]["treatment"]
    assert (hr["estimate"], hr["ci_lower"], hr["ci_upper"], hr["p"]) == (cox["hr"], *cox["ci"], cox["p"])
    assert not (s["section"] == "subgroups").any() or (s.loc[s["section"] == "subgroups", "population"]
                                                       .str.contains(":")).all()
    assert len(repr(results)) < 2000
    results.print_summary()
    printed = capsys.readouterr().out
    assert "hazard ratio (unadjusted Cox), IL-2 2 MIU vs Placebo" in printed
    assert fmt_ratio_ci(cox["hr"], None) in printed
    md = results.to_markdown()
    assert md.splitlines()[0].startswith("| section") and len(md.splitlines()) == len(s) + 2
    latex = results.to_latex()
    assert "\\begin{tabular}" in latex and "\\toprule" in latex and "il2_2miu" not in latex


# -- Kaplan–Meier ------------------------------------------------------------------------------
def test_km_censor_ticks_match_lifelines_event_table(labelled_trial):
    fig = km_figure(labelled_trial)
    ax = fig.axes[0]
    df = labelled_trial.survival_by_subject()
    for arm, label in (("placebo", "Placebo"), ("il2_2miu", "IL-2 2 MIU")):
        d = df.loc[df["arm"] == arm]
        table = KaplanMeierFitter().fit(d["time_days"], d["event"]).event_table
        expected = table.loc[table["censored"] > 0].index.to_numpy(float)
        ticks = [line for line in ax.lines if line.get_gid() == f"censored:{arm}"]
        assert len(ticks) == 1 and ticks[0].get_marker() == "|"
        np.testing.assert_array_equal(np.asarray(ticks[0].get_xdata(), float), expected)
        assert any(t.get_text().startswith(f"{label} (n = {len(d)})") for t in ax.get_legend().get_texts())


def test_censored_marks_count_every_censored_participant(labelled_trial):
    from mndtrial.report.figures_survival import km_curves

    curves = km_curves(labelled_trial)
    df = labelled_trial.survival_by_subject()
    for arm, c in curves.items():
        assert censored_marks(c)["censored"].sum() == int((df.loc[df["arm"] == arm, "event"] == 0).sum())


def test_km_panel_states_hr_and_logrank_p_from_lifelines(labelled_trial):
    fig = km_figure(labelled_trial)
    text = next(t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("HR"))
    df = labelled_trial.survival_by_subject()
    data = pd.DataFrame({"T": df["time_days"], "E": df["event"], "x": (df["arm"] == "il2_2miu").astype(float)})
    cph = CoxPHFitter().fit(data, "T", "E")
    lo, hi = np.exp(cph.confidence_intervals_.loc["x"])
    a, b = data[data.x == 1], data[data.x == 0]
    p = logrank_test(a["T"], b["T"], a["E"], b["E"]).p_value
    assert text == f"HR {np.exp(cph.params_['x']):.2f} (95% CI {lo:.2f}, {hi:.2f})\nlog-rank p = {fmt_p(p)}"


def test_km_at_risk_rows_use_the_tables_days_and_counts(labelled_trial, results):
    km = results["survival"]["kaplan_meier"]
    days = [d["day"] for d in km["arms"]["placebo"]["at_days"]]
    fig = km_figure(km, at_risk_days=days, labels=arm_labels(labelled_trial.info))
    (ax,) = fig.axes  # the at-risk table is drawn in the survival axes, under its frame
    assert list(ax.get_xticks()) == days
    df = labelled_trial.survival_by_subject()
    rows = {}
    for t in ax.texts:
        if str(t.get_gid()).startswith("at_risk:"):
            rows.setdefault(t.get_color(), []).append((t.get_position()[0], int(t.get_text())))
    expected = {arm: [(d, int((df.loc[df.arm == arm, "time_days"] >= d).sum())) for d in days] for arm in km["arms"]}
    assert sorted(rows.values()) == sorted(expected.values())
    texts = {t.get_gid(): t.get_text() for t in ax.texts}
    assert ax.get_xlabel() == "Days since randomisation" and texts["at_risk_title"] == "Number at risk"
    assert [t.get_text() for t in ax.texts if t.get_gid() == "at_risk_label"] == ["Placebo", "IL-2 2 MIU"]


def test_report_km_uses_the_analysis_numbers_and_at_risk_days(labelled_trial, results):
    from mndtrial.report.analysis_report import analysis_report

    rep = analysis_report(labelled_trial, results)
    ax = rep.figures["km_overall"].axes[0]
    cox = results["survival"]["cox"]["unadjusted"]["terms"]["treatment"]
    text = next(t.get_text() for t in ax.texts if t.get_text().startswith("HR"))
    assert text.startswith(f"HR {fmt_ratio_ci(cox['hr'], cox['ci']).replace(' (', ' (95% CI ')}")
    assert fmt_p(results["survival"]["logrank"]["p"]) in text
    assert list(ax.get_xticks()) == [d["day"] for d in results["survival"]["kaplan_meier"]["arms"]["placebo"]["at_days"]]


# -- subgroups ---------------------------------------------------------------------------------
def test_subgroup_panels_are_titled_with_marker_and_unit_and_skip_missing(labelled_trial):
    t = labelled_trial.tables()
    p = t["participants"].copy()
    p.loc[p.index[:3], "csf_pnfh"] = np.nan  # 3 participants without a measurement
    trial = Trial(p, t["survival"], t["alsfrs"], t["biomarkers"], info=labelled_trial.info)
    assignment = BiomarkerRule(biomarker="csf_pnfh", cutoffs=(3700.0,)).assign(trial)
    groups = km_groups_from_assignments(trial, [assignment])
    (panels,) = groups.values()
    assert set(panels) == {"CSF-pNfH ≤ 3700 pg/mL", "CSF-pNfH > 3700 pg/mL"}
    assert sum(g.n_participants for g in panels.values()) == len(p) - 3
    (note,) = km_left_out(trial, [assignment])
    counts = p.loc[p.index[:3], "arm"].map({"placebo": "Placebo", "il2_2miu": "IL-2 2 MIU"}).value_counts()
    assert note.startswith("3 participants without a CSF-pNfH value (")
    assert all(f"{k} {v}" in note for k, v in counts.items())
    assert subgroup_title("serum_nfl", ">= 90", {"serum_nfl": "ng/L"}) == "Serum NfL ≥ 90 ng/L"


def test_forest_leaves_out_empty_levels_and_keeps_labels_left_of_the_frame():
    rows = [{"variable": "A long rule name: serum neurofilament light chain cut at 90 pg/mL", "label": "<= 90",
             "n": 50, "events": 20, "hr": 0.6, "ci": [0.3, 1.2]},
            {"variable": "A long rule name: serum neurofilament light chain cut at 90 pg/mL", "label": "missing",
             "n": 0, "events": 0, "hr": None, "ci": None},
            {"variable": "sex", "label": "F", "n": 40, "events": 10, "hr": 1.3, "ci": [0.5, 3.3]},
            {"variable": "sex", "label": "missing", "n": 4, "events": 0, "hr": None, "ci": None}]
    fig = forest_figure(rows, {"sex": 0.21}, overall={"hr": 0.8, "ci": [0.5, 1.3], "n": 94, "events": 30})
    ax = fig.axes[0]
    texts = [t.get_text().strip() for t in ax.texts]
    assert texts.count("missing") == 1  # the n = 4 level stays (not estimable), the n = 0 one goes
    assert "not estimable   n = 4, 0 events" in texts and "interaction p = 0.210" in texts
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    left = [t for t in ax.texts if t.get_position()[0] < 0]
    assert left and all(t.get_window_extent(renderer).x0 >= 0 for t in left)
    assert all(t.get_window_extent(renderer).x1 < frame.x0 for t in left)
    assert {round(t.get_window_extent(renderer).x0) for t in left} == {round(left[0].get_window_extent(renderer).x0)}


# -- PH check ----------------------------------------------------------------------------------
@pytest.mark.parametrize("df, ties", [(4, False), (3, False), (5, False), (4, True)])
def test_spline_smoother_and_its_se_are_ordinary_least_squares(df, ties):
    # reference: OLS on patsy's own cr(x, df, constraints='center') design with its intercept
    from patsy import dmatrix

    rng = np.random.default_rng(3 + df)
    x = np.sort(rng.uniform(0, 600, 80))
    if ties:
        x = np.round(x / 50) * 50  # few distinct times, as event days tie
    y = 0.3 - 0.001 * x + rng.normal(0, 0.5, 80)
    grid = np.linspace(0, 620, 9)  # past the last knot too: the spline goes on as a line
    fit, se = spline_smooth(x, y, grid, df=df)
    X = np.asarray(dmatrix(f"cr(x, df={df}, constraints='center')", {"x": x}))
    G = np.asarray(dmatrix(dmatrix(f"cr(x, df={df}, constraints='center')", {"x": x}).design_info, {"x": grid}))
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    s2 = np.sum((y - X @ beta) ** 2) / (len(x) - X.shape[1])
    cov = s2 * np.linalg.inv(X.T @ X)
    np.testing.assert_allclose(fit, G @ beta, rtol=1e-9)
    np.testing.assert_allclose(se, np.sqrt(np.einsum("ij,jk,ik->i", G, cov, G)), rtol=1e-9)
    line, line_se = spline_smooth(x, 2.0 + 0.01 * x, grid)  # a natural spline reproduces a line exactly
    np.testing.assert_allclose(line, 2.0 + 0.01 * grid, atol=1e-9)
    assert np.all(line_se < 1e-8)


def test_ph_figure_has_a_band_and_its_legend_below_the_axes(labelled_trial):
    fig = ph_check_figure(labelled_trial, labels=arm_labels(labelled_trial.info))
    ax = fig.axes[0]
    assert ax.collections and any(c.get_label() == "± 2 SE" for c in ax.collections)
    renderer = fig.canvas.get_renderer()
    assert ax.get_legend().get_window_extent(renderer).y1 < ax.get_window_extent(renderer).y0
    assert ax.get_ylabel() == "β(t) for IL-2 2 MIU vs Placebo"


# -- participant flow --------------------------------------------------------------------------
def test_flow_shows_the_simulators_screening_counts(tmp_path):
    from mndtrial.data import read_trial, write_trial
    from mndtrial.sim import Enrichment, mirocals, simulate

    batch = simulate(mirocals(n_randomised=40, enrichment=Enrichment("csf_pnfh", 750, 3700)), n_trials=2, seed=5)
    counts = batch.metadata["screening"].set_index("trial").loc[1]
    trial = batch.trial(1)
    assert trial.info.screening == {k: int(v) for k, v in counts.items()}
    assert [a.label for a in trial.info.arms] == ["Placebo", "IL-2 2 MIU"]
    write_trial(trial, tmp_path / "t")
    back = read_trial(tmp_path / "t")
    assert back.info.screening == trial.info.screening  # trial.toml keeps it
    html = " ".join(re.sub(r"<[^>]+>", " ", trial_report(back).html).split())
    assert f"Screened n = {counts['screened']}" in html
    assert f"not eligible: {counts['screened'] - counts['eligible']}" in html
    assert f"outside the enrichment range: {counts['enrichment_excluded']}" in html
    assert f"Randomised n = {counts['randomised']}" in html


def test_flow_without_screening_starts_at_randomised(labelled_trial):
    html = trial_report(labelled_trial).html
    assert "Screened" not in html and "<b>Randomised</b>" in html and "<b>IL-2 2 MIU</b>" in html


def test_cli_tables_keep_arm_names_whole():
    from rich.console import Console

    from mndtrial.cli.analyze import _rich_table

    frame = pd.DataFrame([{"arm": "IL-2 2 MIU (high-dose cohort)", **{f"at risk d{d}": 100 for d in range(0, 900, 90)}}])
    console = Console(width=100, record=True)
    console.print(_rich_table("survival: Kaplan-Meier", frame))
    assert "IL-2 2 MIU (high-dose cohort)" in console.export_text()


def test_arm_dose_label_in_simulated_info():
    from mndtrial.sim import imodals

    assert [a.label for a in imodals().trial_info().arms] == ["Placebo", "IL-2 1 MIU", "IL-2 2 MIU"]
    assert Arm(name="x").label is None
