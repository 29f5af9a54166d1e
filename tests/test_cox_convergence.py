"""Issue 18: a Cox fit is a result only at the maximum of the likelihood.

The reference trial (tests/reference/cox_convergence/, made by make_trial.py) has a binary
covariate with HR ~ 14 in which most of the group dies; lifelines alone stops on it with a
ConvergenceWarning far from the maximum. R `coxph` values are stored beside it
(coxph_reference.R -> coxph_reference.json).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.datasets import load_lung
from scipy import optimize

from mndtrial.analysis import AnalysisPlan, fit_cox
from mndtrial.analysis import cox as cox_module
from mndtrial.analysis.cox_newton import CoxNewtonFit, cox_loglik, newton_cox
from mndtrial.data import Trial
from mndtrial.errors import AnalysisError

REF = Path(__file__).parent / "reference" / "cox_convergence"
TOL = 1e-6


@pytest.fixture(scope="module")
def r_ref() -> dict:
    return json.loads((REF / "coxph_reference.json").read_text())


def reference_trial() -> Trial:
    d = pd.read_csv(REF / "trial.csv")
    return Trial(d[["subject_id", "arm", "serum_nfl", "high_nfl"]], d[["subject_id", "time_days", "event"]])


def reference_table() -> pd.DataFrame:
    d = pd.read_csv(REF / "trial.csv")
    return d.assign(treatment=(d["arm"] == "il2").astype(float))


@pytest.fixture(scope="module")
def plan_output() -> dict:
    return AnalysisPlan.from_toml(REF / "plan.toml").run(reference_trial()).to_dict()


def _same_terms(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for term, w in want.items():
        for key in ("coef", "se", "p"):
            assert got[term][key] == pytest.approx(w[key], abs=TOL), (term, key)


def test_the_reference_trial_does_defeat_lifelines_alone():
    """The case is real: plain lifelines (mndtrial's fit options) warns and stops at a negative log HR."""
    d = reference_table()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cph = CoxPHFitter().fit(d[["time_days", "event", "treatment", "high_nfl"]], "time_days", "event",
                                fit_options=cox_module.FIT_OPTIONS)
    assert any("converge" in str(w.message) for w in caught)
    assert cph.params_["high_nfl"] < 0  # R: +2.67


def test_survival_cox_models_equal_r(plan_output, r_ref):
    cox = plan_output["survival"]["cox"]
    for kind in ("unadjusted", "adjusted", "stratified"):
        _same_terms(cox[kind]["terms"], r_ref[kind]["terms"])
        assert cox[kind]["log_likelihood"] == pytest.approx(r_ref[kind]["loglik"], abs=TOL)
        assert cox[kind]["log_likelihood_null"] == pytest.approx(r_ref[kind]["loglik_null"], abs=TOL)
        lr = 2 * (r_ref[kind]["loglik"] - r_ref[kind]["loglik_null"])
        assert cox[kind]["lr_test"]["chi2"] == pytest.approx(lr, abs=TOL)
    assert cox["adjusted"]["terms"]["high_nfl"]["hr"] == pytest.approx(14.44, abs=0.01)
    assert all(cox[kind]["fit_route"] == cox_module.NEWTON_ROUTE for kind in ("unadjusted", "adjusted"))
    # the PH test is computed on the refitted model, like the estimates
    assert set(cox["adjusted"]["ph_test"]["terms"]) == {"treatment", "high_nfl"}


def test_subgroup_rows_and_interactions_equal_r(plan_output, r_ref):
    rows = {r["level"]: r for r in plan_output["subgroups"] if r["variable"] == "serum_nfl"}
    for level, key in (("<= 90", "subgroup_low"), ("> 90", "subgroup_high")):
        t = r_ref[key]["terms"]["treatment"]
        assert rows[level]["estimable"] is True
        for k in ("coef", "se", "p"):
            assert rows[level][k] == pytest.approx(t[k], abs=TOL), (level, k)
    by = plan_output["interaction"]["by_subgroup"][0]
    want = r_ref["interaction_by_subgroup"]
    assert by["chi2"] == pytest.approx(want["chi2"], abs=TOL) and by["p"] == pytest.approx(want["p"], abs=TOL)
    cont = plan_output["interaction"]["continuous"][0]
    want = r_ref["interaction_continuous"]
    assert cont["centre"] == pytest.approx(want["centre"], abs=1e-12)
    assert cont["lr_test"]["chi2"] == pytest.approx(want["chi2"], abs=TOL)
    for mine, theirs in (("interaction", "treatment:x"), ("treatment_at_centre", "treatment")):
        for k in ("coef", "se", "p"):
            assert cont[mine][k] == pytest.approx(want["full"]["terms"][theirs][k], abs=TOL), (mine, k)


def test_newton_kernel_equals_an_obvious_efron_likelihood_maximised_by_scipy():
    """Double programming: Efron's likelihood written as the textbook loop, maximised by BFGS."""
    d = reference_table()
    time, event = d["time_days"].to_numpy(), d["event"].to_numpy()
    X = np.column_stack([d["treatment"], d["high_nfl"], np.log(d["serum_nfl"])])

    def slow_loglik(beta):
        eta = X @ beta
        ll = 0.0
        for t in np.unique(time[event == 1]):
            dead = (time == t) & (event == 1)
            at_risk = time >= t
            k = dead.sum()
            ll += eta[dead].sum()
            for j in range(k):
                ll -= np.log(np.exp(eta[at_risk]).sum() - j / k * np.exp(eta[dead]).sum())
        return ll

    beta = np.array([0.3, -1.2, 0.7])
    assert cox_loglik(time, event, X, beta)[0] == pytest.approx(slow_loglik(beta), rel=1e-12)
    fit = newton_cox(time, event, X)
    best = optimize.minimize(lambda b: -slow_loglik(b), np.zeros(3), method="BFGS", options={"gtol": 1e-9})
    assert fit.converged
    assert fit.coef == pytest.approx(best.x, abs=1e-4)
    assert fit.loglik == pytest.approx(-best.fun, abs=1e-8)
    assert fit.loglik >= -best.fun - 1e-10  # Newton's maximum is at least as high as BFGS's


def test_newton_kernel_equals_the_batch_engine_on_the_reference_trial():
    from mndtrial.batch.cox import _fit_chunk

    d = reference_table()
    X = d[["treatment", "high_nfl"]].to_numpy()
    got = newton_cox(d["time_days"], d["event"], X)
    ref = _fit_chunk(np.zeros(len(d), dtype=np.int64), np.zeros(len(d), dtype=np.int64), d["time_days"].to_numpy(),
                     d["event"].to_numpy(), X.copy(), 1, True, 50, 1e-9)
    assert ref["status"][0] == "converged"
    assert got.coef == pytest.approx(ref["coef"][0], abs=1e-9)


def _lung():
    return load_lung()[["time", "status", "age", "sex"]]


def test_a_fit_that_stops_quietly_short_is_refitted(monkeypatch):
    """lifelines with a loose stopping rule reports success, without a warning, 0.1 short in log HR;
    the score check at its estimate catches it (the lifelines fallback route, `converged_coxph`)."""
    monkeypatch.setattr(cox_module, "FIT_OPTIONS", {"precision": 1e-16, "r_precision": 0.01})
    fit = cox_module.converged_coxph(_lung(), "time", "status")
    assert "Newton-Raphson" in fit.route
    assert fit.fitter.params_["age"] == pytest.approx(0.01704533, rel=1e-6)  # R coxph (test_analysis_cox.py)
    assert fit.fitter.params_["sex"] == pytest.approx(-0.51321852, rel=1e-6)


def test_where_newton_alone_fails_lifelines_at_its_maximum_is_taken(monkeypatch, r_ref):
    """The fallback: Newton-Raphson stopped (here forced to), lifelines converged: its fit, same values."""
    monkeypatch.setattr(cox_module, "newton_cox", _newton_that_fails)
    res = fit_cox(reference_table(), ["treatment"])
    assert res.fit_route.startswith("lifelines; " + cox_module.NEWTON_ROUTE + " alone stopped")
    assert res.term("treatment").coef == pytest.approx(r_ref["unadjusted"]["terms"]["treatment"]["coef"], abs=TOL)


def _newton_that_fails(*args, **kwargs) -> CoxNewtonFit:
    fit = newton_cox(*args, **{**kwargs, "max_iter": 1})
    assert not fit.converged
    return fit


def test_a_fit_stopped_short_is_never_reported_as_an_estimate(monkeypatch, r_ref):
    """When the robust route fails too, every section says 'not estimable' and gives no number."""
    monkeypatch.setattr(cox_module, "newton_cox", _newton_that_fails)
    with pytest.raises(AnalysisError, match="not estimable: the Cox fit did not converge"):
        fit_cox(reference_table(), ["treatment", "high_nfl"])
    plan = AnalysisPlan.from_toml(REF / "plan.toml").model_copy(update={"on_error": "record"})
    results = plan.run(reference_trial())
    out = results.to_dict()
    adjusted = out["survival"]["cox"]["adjusted"]
    assert set(adjusted) == {"error"} and "not estimable" in adjusted["error"]["reason"]
    assert "terms" in out["survival"]["cox"]["unadjusted"]  # lifelines converged there: kept
    by = out["interaction"]["by_subgroup"][0]
    assert "chi2" not in by and "not estimable" in by["not_computed"]
    printed = results.summary_tables()["survival: Cox models"]
    row = printed.loc[printed["model"] == "adjusted"].iloc[0]
    assert row["HR"] == "-" and "not estimable" in row["n/events"]
    tests = results.summary_tables()["interaction: tests"]
    assert (tests.loc[tests["test"].str.contains("cut at 90"), "statistic"] == "-").all()


def test_warnings_reach_the_printed_summary_and_the_report(plan_output):
    from rich.console import Console

    from mndtrial.analysis.plan import AnalysisResults
    from mndtrial.cli.analyze import print_summary
    from mndtrial.report import trial_report

    plan = AnalysisPlan.from_toml(REF / "plan.toml")
    sections = json.loads(json.dumps({k: plan_output[k] for k in ("survival", "subgroups", "interaction")}))
    sections["survival"]["cox"]["stratified"]["warnings"] = ["a warning only results.json had"]
    sections["subgroups"][1]["warnings"] = ["a subgroup fit warning"]
    results = AnalysisResults(plan=plan, trial=plan_output["trial"], sections=sections)
    console = Console(record=True, width=200)
    print_summary(results, console)
    text = console.export_text()
    assert "survival.cox.stratified: a warning only results.json had" in text
    assert "a subgroup fit warning" in text
    html = trial_report(results=results).html
    assert "a warning only results.json had" in html and "a subgroup fit warning" in html


def test_cli_analyze_accepts_global_flags_after_the_subcommand(tmp_path, r_ref):
    from typer.testing import CliRunner

    from mndtrial.cli import app

    folder = reference_trial().write(tmp_path / "trial")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["analyze", str(folder), "--plan", str(REF / "plan.toml"), "--out", str(out),
                                   "--quiet"])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines() == [str(out / "results.json"), str(out / "report.html")]
    adjusted = json.loads((out / "results.json").read_text())["survival"]["cox"]["adjusted"]
    assert adjusted["terms"]["high_nfl"]["coef"] == pytest.approx(r_ref["adjusted"]["terms"]["high_nfl"]["coef"],
                                                                  abs=TOL)


@pytest.mark.slow
def test_scan_of_strong_prognostic_trials_agrees_with_the_batch_engine():
    """benchmarks/scan_cox_convergence.py on 200 trials: lifelines alone stops short on some, and
    after the fix no reported estimate differs from the batch engine by more than 1e-6."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "scan_cox_convergence.py"
    spec = importlib.util.spec_from_file_location("scan_cox_convergence", path)
    scan = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scan)
    res = scan.scan(200, seed=18)
    assert res["lifelines_alone_stopped_short"].sum() > 0  # the scan does reach the failing cases
    # every estimate reported is the batch engine's to 1e-6, and none where it found no maximum
    assert (res["max_abs_diff_after"].dropna() <= 1e-6).all()
    assert not (res["after_differs"] & ~res["after_not_estimable"]).any()
    # known gap (1000-trial scan: 3 of 2000 fits): a few are called not estimable though the
    # batch engine converged; they must stay rare
    assert (res["after_differs"] & res["after_not_estimable"]).mean() < 0.01
