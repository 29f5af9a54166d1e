"""The joint model's report section: its figures show exactly the curves results.json records."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from joint_helpers import joint_trial
from mndtrial.analysis import AnalysisPlan, JointModel
from mndtrial.data.schema import DAYS_PER_MONTH
from mndtrial.report import trial_report
from mndtrial.report.figures_joint import joint_alsfrs_figure, joint_survival_figure

FAST = dict(baseline_pieces=3, quadrature_points=3)


@pytest.fixture(scope="module")
def curves():
    fit = JointModel(**FAST).fit(joint_trial(120, seed=11))
    return json.loads(json.dumps(fit.to_dict()))["overall"]["curves"]


def test_alsfrs_figure_draws_the_saved_means(curves):
    fig = joint_alsfrs_figure(curves, control="placebo", min_n=5)
    ax = fig.axes[0]
    for arm in ("placebo", "active"):
        c = curves["alsfrs"][arm]
        n = np.asarray(c["n"])
        shown = n >= 5
        points = [col for col in ax.collections if col.get_label().startswith(f"{arm}: observed")][0]
        np.testing.assert_allclose(points.get_offsets()[:, 1], np.asarray(c["observed_mean"])[shown])
        np.testing.assert_allclose(points.get_offsets()[:, 0], np.asarray(c["day"])[shown] / DAYS_PER_MONTH)
        line = [ln for ln in ax.lines if ln.get_label() == f"{arm}: joint model, population mean"][0]
        np.testing.assert_allclose(np.sort(line.get_ydata()), np.sort(c["fitted_mean"]))
    # the fitted population mean declines (the truth's placebo slope is negative)
    fitted = np.asarray(curves["alsfrs"]["placebo"]["fitted_mean"])
    assert fitted[np.argmax(curves["alsfrs"]["placebo"]["day"])] < fitted[0]


def test_survival_figure_draws_model_and_km(curves):
    ax = joint_survival_figure(curves, control="placebo").axes[0]
    for arm in ("placebo", "active"):
        c = curves["survival"][arm]
        model = [ln for ln in ax.lines if ln.get_label() == f"{arm}: joint model (marginal)"][0]
        np.testing.assert_allclose(model.get_ydata(), c["fitted"])
        km = [ln for ln in ax.lines if ln.get_label() == f"{arm}: Kaplan–Meier"][0]
        np.testing.assert_allclose(km.get_ydata()[: len(c["km"])], c["km"])
        # the model's marginal survival tracks Kaplan-Meier on data drawn from the model
        at_end = np.interp(c["day"][-1], c["km_day"], c["km"])
        assert abs(c["fitted"][-1] - at_end) < 0.12


def test_report_has_the_joint_section_only_when_the_plan_ran_it(example_trial):
    plan = {"survival": {"enabled": False}, "subgroups": {"enabled": False}, "interaction": {"enabled": False},
            "function": {"enabled": False}, "cafs": {"enabled": False}, "treg": {"enabled": False},
            "joint": {"enabled": True, "biomarker_subgroups": False, **FAST}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = AnalysisPlan.from_dict(plan).run(example_trial)
    # the figures are drawn from the saved results, so the section is the same with or without the trial
    report = trial_report(None, results)
    assert "joint" in report.section_keys(present=True)
    assert {"joint_alsfrs", "joint_survival"} <= set(report.figures)
    html = report.html
    assert "Joint model of ALSFRS-R and survival" in html  # the estimates table
    assert "joint test p (2 df)" in html
    saved = json.loads(json.dumps(results.to_dict()))
    assert "joint" in trial_report(None, saved).section_keys(present=True)
    del saved["joint"]
    assert "joint" not in trial_report(None, saved).section_keys()


def test_not_computed_is_said():
    from mndtrial.report.joint_report import joint_section
    from mndtrial.report.page import ReportPage

    s = joint_section(ReportPage(title="t"), {"joint": {"not_computed": "the trial has no alsfrs table"}}, {},
                      lambda *a, **k: "")
    assert not s.present and "no alsfrs table" in s.absent
