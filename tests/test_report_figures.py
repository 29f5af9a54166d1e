"""Figures: the data drawn against independent computations (a naive product-limit estimator,
raw at-risk counts, the Cox score equation), output formats, and no subject ids in any figure."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from mndtrial import Trial
from mndtrial.analysis.numbers import fmt_p
from mndtrial.errors import AnalysisError, ParameterError
from mndtrial.report import figures as F
from mndtrial.report.figures_survival import at_risk_at, km_curves


def naive_km(time: np.ndarray, event: np.ndarray) -> dict[float, float]:
    """Product-limit estimate at each distinct event time, written the slow obvious way."""
    s, out = 1.0, {}
    for t in sorted(set(time[event == 1])):
        at_risk = sum(1 for x in time if x >= t)
        deaths = sum(1 for x, e in zip(time, event) if x == t and e == 1)
        s *= 1 - deaths / at_risk
        out[t] = s
    return out


def test_km_curves_match_a_naive_product_limit(example_trial):
    curves = km_curves(example_trial)
    df = example_trial.survival_by_subject()
    assert list(curves) == ["placebo", "il2_2miu"]
    for arm, c in curves.items():
        g = df.loc[df["arm"] == arm]
        ref = naive_km(g["time_days"].to_numpy(float), g["event"].to_numpy(int))
        got = c.set_index("time_days")["survival"]
        for t, s in ref.items():
            assert got.loc[t] == pytest.approx(s, rel=1e-12)
        assert (c["ci_lower"] <= c["survival"] + 1e-12).all() and (c["survival"] <= c["ci_upper"] + 1e-12).all()


def test_numbers_at_risk_under_the_axis_equal_raw_counts(example_trial):
    fig = F.km_figure(example_trial)
    assert isinstance(fig, Figure)
    (main,) = fig.axes  # the at-risk table is drawn in the survival axes, under its frame
    df = example_trial.survival_by_subject()
    labels = [t.get_text() for t in main.texts if t.get_gid() == "at_risk_label"]
    assert labels == ["placebo", "il2_2miu"]  # drawn top-down
    numbers = [t for t in main.texts if str(t.get_gid()).startswith("at_risk:")]
    ticks = sorted({t.get_position()[0] for t in numbers})
    assert ticks[0] == 0 and len(ticks) >= 4 and ticks == list(main.get_xticks())
    for arm in labels:
        drawn = [int(t.get_text()) for t in sorted(numbers, key=lambda t: t.get_position()[0])
                 if t.get_gid() == f"at_risk:{arm}"]
        times = df.loc[df["arm"] == arm, "time_days"].to_numpy(float)
        assert drawn == [int((times >= d).sum()) for d in ticks]
    # each row under the one before, all under the axes (y 0 in axes units is the frame's bottom)
    fig.canvas.draw()
    rows = [t.get_window_extent().y0 for t in main.texts if t.get_gid() == "at_risk_label"]
    assert rows[0] > rows[1] and rows[0] < main.get_window_extent().y0
    # and the helper agrees on days past the end of follow-up
    c = km_curves(example_trial)["placebo"]
    assert at_risk_at(c, [0.0, 1e6]) == [30, 0]


def test_km_from_results_dict_draws_the_same_curves(example_trial):
    curves = km_curves(example_trial)
    as_dict = {"arms": {a: {"curve": {k: c[k].tolist() for k in c.columns}} for a, c in curves.items()}}
    again = km_curves(as_dict)
    for a in curves:
        pd.testing.assert_frame_equal(curves[a], again[a])
    with pytest.raises(ParameterError):
        km_curves({"arms": {"x": {}}})
    with pytest.raises(ParameterError):
        km_curves(42)


def test_km_subgroups_one_panel_per_group(example_trial):
    p = example_trial.participants
    groups = {"low": example_trial.select(p.loc[p.csf_pnfh <= 3700, "subject_id"]),
              "high": example_trial.select(p.loc[p.csf_pnfh > 3700, "subject_id"])}
    fig = F.km_subgroups_figure(groups)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["low", "high"]
    assert len(fig.axes) == 2  # one per panel: the curves, the at-risk table drawn under them
    with pytest.raises(ParameterError):
        F.km_subgroups_figure({})


def test_forest_plot_draws_every_subgroup_and_the_interaction_p():
    rows = [{"variable": "CSF-pNfH", "label": "<= 3700", "n": 150, "events": 40, "hr": 0.52, "ci": [0.3, 0.9]},
            {"variable": "CSF-pNfH", "label": "> 3700", "n": 70, "events": 35, "hr": 1.37, "ci": [0.7, 2.7]},
            {"variable": "sex", "label": "F", "n": 80, "events": 1, "hr": None, "ci": None}]
    fig = F.forest_figure(rows, interaction_p={"CSF-pNfH": 0.0123}, overall={"hr": 0.81, "ci": [0.55, 1.2]})
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    texts = [t.get_text() for t in ax.texts]
    assert "CSF-pNfH" in texts and "interaction p = 0.012" in texts  # header left, its p on the right
    assert any(t.startswith("0.52 (0.30, 0.90)") for t in texts)
    assert any(t.startswith("not estimable") for t in texts)  # listed, not hidden
    squares = [ln for ln in ax.lines if ln.get_marker() == "s"]
    assert sorted(float(ln.get_xdata()[0]) for ln in squares) == [0.52, 1.37]
    with pytest.raises(ParameterError):
        F.forest_figure([{"label": "x"}])


def test_ph_check_points_average_to_the_cox_coefficient(example_trial):
    # The Cox score equation makes the Schoenfeld residuals sum to zero at the estimate, so the
    # mean of beta(t) = scaled residual + beta over the events is beta itself.
    from lifelines import CoxPHFitter

    df = example_trial.survival_by_subject()
    df = df.assign(treatment=(df["arm"] == "il2_2miu").astype(float))[["time_days", "event", "treatment"]]
    beta = float(CoxPHFitter().fit(df, "time_days", "event").params_["treatment"])
    fig = F.ph_check_figure(example_trial)
    ax = fig.axes[0]
    points = ax.collections[0].get_offsets()
    assert len(points) == int(df["event"].sum())
    assert float(np.mean(points[:, 1])) == pytest.approx(beta, abs=1e-6)
    assert "test p =" in ax.get_title()
    fig2 = F.ph_check_figure(example_trial, ph_test={"chi2": 1.0, "p": 0.5})
    assert "0.500 (analysis results)" in fig2.axes[0].get_title()


def test_ph_check_points_and_test_equal_lifelines_scaled_schoenfeld(example_trial):
    # The figure fits with the project's own Cox and residuals; lifelines is the reference.
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    df = example_trial.survival_by_subject()
    df = df.assign(treatment=(df["arm"] == "il2_2miu").astype(float))[["time_days", "event", "treatment"]]
    cph = CoxPHFitter().fit(df, "time_days", "event")
    resid = cph.compute_residuals(df, "scaled_schoenfeld")
    expected = np.sort(resid["treatment"].to_numpy(float) + float(cph.params_["treatment"]))
    fig = F.ph_check_figure(example_trial)
    points = fig.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(np.sort(np.asarray(points[:, 1])), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np.sort(np.asarray(points[:, 0])), np.sort(df.loc[resid.index, "time_days"]))
    p = float(proportional_hazard_test(cph, df, time_transform="km").summary.loc["treatment", "p"])
    assert f"= {fmt_p(p)} (KM time transform)" in fig.axes[0].get_title()


def test_ph_check_with_too_few_events_says_so(example_trial):
    s = example_trial.survival.assign(event=0, event_type="censored")
    s.loc[0, "event"] = 1
    t = Trial(example_trial.participants, s, info=example_trial.info)
    with pytest.raises(AnalysisError, match="too few"):
        F.ph_check_figure(t)
    # no events in one arm: monotone likelihood, no hazard ratio to check
    arms = example_trial.participants.set_index("subject_id")["arm"]
    s = example_trial.survival
    s.loc[s["subject_id"].map(arms) == "il2_2miu", ["event", "event_type"]] = [0, "censored"]
    t = Trial(example_trial.participants, s, info=example_trial.info)
    with pytest.raises(AnalysisError, match="no events in arm 'il2_2miu'"):
        F.ph_check_figure(t)


def test_alsfrs_figure_shows_means_and_unlabelled_lines(example_trial):
    fig = F.alsfrs_figure(example_trial, n_individual=12, seed=1)
    ax = fig.axes[0]
    # the participants' lines: one collection, a thin path per participant, each its ALSFRS-R series
    (thin,) = [c for c in ax.collections if c.get_gid() == "participants"]
    paths = thin.get_segments()
    assert len(paths) == 12 and all(lw < 1 for lw in thin.get_linewidths())
    series = {tuple(g["total"].astype(float)) for _, g in example_trial.alsfrs.groupby("subject_id")}
    assert all(tuple(p[:, 1]) in series for p in paths)
    labels = [ln.get_label() for ln in ax.lines if not ln.get_label().startswith("_")]
    assert labels == ["placebo: mean (95% CI)", "il2_2miu: mean (95% CI)"]
    svg = F.figure_bytes(fig, "svg").decode()
    for sid in example_trial.participants["subject_id"]:
        assert sid not in svg
    # same seed, same sample of lines
    again = F.alsfrs_figure(example_trial, n_individual=12, seed=1)
    assert [ln.get_ydata().tolist() for ln in again.axes[0].lines] == [ln.get_ydata().tolist() for ln in ax.lines]
    (same,) = [c for c in again.axes[0].collections if c.get_gid() == "participants"]
    assert [p.tolist() for p in same.get_segments()] == [p.tolist() for p in paths]


def change_by_loop(trial, analyte):
    """Mean change from the day-0 value by arm and later day, the slow obvious way."""
    bio = trial.biomarkers
    arms = trial.participants.set_index("subject_id")["arm"]
    out: dict[tuple[str, float], list[float]] = {}
    for sid, g in bio.loc[bio["analyte"] == analyte].groupby("subject_id"):
        base = g.loc[g["day"] == 0, "value"]
        for r in g.loc[g["day"] > 0].itertuples():
            if len(base):
                out.setdefault((arms[sid], r.day), []).append(r.value - float(base.iloc[0]))
    return {k: float(np.mean(v)) for k, v in out.items()}


def test_treg_figure_draws_the_mean_changes_by_visit_and_dose(example_trial):
    fig = F.treg_figure(example_trial)
    left, right = fig.axes
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["placebo", "il2_2miu"]
    expected = change_by_loop(example_trial, "treg_pct_cd4")
    for c, arm in zip(left.containers, ["placebo", "il2_2miu"]):
        line = c.lines[0]
        for x, y in zip(line.get_xdata(), line.get_ydata()):
            assert y == pytest.approx(expected[(arm, x)], rel=1e-12)
    by_visit = {ln.get_label(): ln for ln in right.lines if ln.get_label().startswith("day")}
    assert sorted(by_visit) == ["day 64", "day 8"]
    for label, ln in by_visit.items():
        day = float(label.split()[1])
        assert list(ln.get_xdata()) == [0.0, 2.0]  # placebo at dose 0, then 2 MIU
        assert list(ln.get_ydata()) == pytest.approx([expected[("placebo", day)], expected[("il2_2miu", day)]])


def test_treg_figure_from_results_json_block_equals_from_trial(example_trial):
    from mndtrial.analysis.treg import TregAnalysis
    from mndtrial.report.figures_longitudinal import treg_by_visit

    block = TregAnalysis().fit(example_trial).to_dict()
    a = treg_by_visit(example_trial).sort_values(["arm", "visit"]).reset_index(drop=True)
    b = treg_by_visit(block).sort_values(["arm", "visit"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    with pytest.raises(ParameterError, match="TrialInfo"):
        F.treg_figure(block)
    assert len(F.treg_figure(block, info=example_trial.info).axes) == 2


def test_power_figure_draws_one_line_per_design():
    t = pd.DataFrame({"design": ["all-comers"] * 3 + ["enriched"] * 3, "n": [200, 400, 600] * 2,
                      "power": [0.3, 0.5, 0.65, 0.5, 0.8, 0.9], "mcse": [0.02] * 6})
    fig = F.power_figure(t, target=0.8)
    ax = fig.axes[0]
    data = {c.get_label(): c.lines[0] for c in ax.containers}
    assert list(data) == ["all-comers", "enriched"]
    assert [list(ln.get_ydata()) for ln in data.values()] == [[0.3, 0.5, 0.65], [0.5, 0.8, 0.9]]
    bars = ax.containers[0].lines[2][0].get_segments()
    ends = np.array([seg[:, 1] for seg in bars])  # ± 2 Monte Carlo SE
    np.testing.assert_allclose(ends, [[0.26, 0.34], [0.46, 0.54], [0.61, 0.69]], atol=1e-12)
    with pytest.raises(ParameterError, match="power"):
        F.power_figure(t.drop(columns="power"))


def test_save_figure_writes_png_and_svg(tmp_path, example_trial):
    paths = F.save_figure(F.km_figure(example_trial), tmp_path / "figs", "km")
    png, svg = paths
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    root = ET.fromstring(svg.read_bytes())
    assert root.tag.endswith("svg")
    assert "Kaplan" in svg.read_text()  # text kept as text
