"""JointModel as an estimator and as the plan's [joint] section; the simulator's informative dropout."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from scipy import stats

from joint_helpers import joint_trial
from mndtrial.analysis import AnalysisPlan, JointModel
from mndtrial.analysis.joint import marginal_survival
from mndtrial.errors import AnalysisError, ParameterError

FAST = dict(baseline_pieces=3, quadrature_points=3)


@pytest.fixture(scope="module")
def fitted():
    return JointModel(**FAST).fit(joint_trial(120, seed=11))


def test_shape_summary_and_json(fitted):
    result = fitted.result_
    assert set(result.summary.index.get_level_values("quantity")) >= {
        "slope_per_month", "slope_difference_per_month", "slope_ratio", "log_hr_direct", "log_hr_total_mean",
        "survival_difference_at_horizon", "association_value"}
    out = json.loads(json.dumps(fitted.to_dict()))
    overall = out["overall"]
    assert overall["converged"] and overall["diagnostics"]["gradient_max_abs"] < 1e-4
    assert set(overall["curves"]) == {"alsfrs", "survival"}
    ratio = overall["estimates"]["active"]["slope_ratio"]
    assert ratio["ci"][0] < ratio["estimate"] < ratio["ci"][1]


def test_estimands_are_the_stated_functions_of_theta(fitted):
    f = fitted.result_.overall
    p, e = f.parameters["estimate"], f.estimates
    assert e.loc[("active", "slope_ratio"), "estimate"] == pytest.approx(-p["months:arm[active]"] / p["months"])
    assert e.loc[("placebo", "slope_per_month"), "estimate"] == pytest.approx(p["months"])
    horizon_months = f.horizon_days / 30.44
    total = (p["log_hr:arm[active]"]
             + p["association:value"] * (p["arm[active]"] + p["months:arm[active]"] * horizon_months / 2))
    assert e.loc[("active", "log_hr_total_mean"), "estimate"] == pytest.approx(total)
    # the 2-df joint test is the Wald χ² of (slope difference, direct log HR) with their covariance
    names = ["months:arm[active]", "log_hr:arm[active]"]
    idx = [list(f.parameters.index).index(n) for n in names]
    b = p[names].to_numpy()
    chi2 = b @ np.linalg.solve(f.mle.cov[np.ix_(idx, idx)], b)
    assert f.tests["active"]["chi2"] == pytest.approx(chi2)
    assert f.tests["active"]["p"] == pytest.approx(stats.chi2.sf(chi2, 2))


def test_marginal_survival_equals_monte_carlo(fitted):
    """Model-based survival: GH over the prior equals a plain Monte Carlo average over b."""
    from mndtrial.analysis.joint_likelihood import unpack

    theta = fitted.result_.overall.mle.theta
    d = JointModel(**FAST).design(joint_trial(20, seed=12)).data
    P = unpack(theta, d)
    b = np.random.default_rng(0).standard_normal((20000, 2)) @ P["L"].T
    t = 12.0
    grid = np.linspace(0, t, 241)
    lam = np.exp(P["log_lambda"])[np.searchsorted(d.cuts_months, grid, side="right") - 1]
    a = P["alpha"][0]
    surv = []
    for i in range(d.n):
        u = d.X0[i] @ P["beta"] + b[:, 0]
        v = d.X1[i] @ P["beta"] + b[:, 1]
        h = lam[None, :] * np.exp(d.W[i] @ P["gamma"] + a * (u[:, None] + v[:, None] * grid[None, :]))
        H = ((h[:, 1:] + h[:, :-1]) / 2 * np.diff(grid)).sum(1)
        surv.append(np.exp(-H).mean())
    assert marginal_survival(theta, d, [t])[0] == pytest.approx(np.mean(surv), abs=5e-3)


def test_errors_are_clear():
    with pytest.raises(ParameterError):
        JointModel(association="current")
    with pytest.raises(ParameterError):
        JointModel(quadrature_points=0)
    trial = joint_trial(40, seed=3)
    no_events = trial.survival.assign(event=0)
    from mndtrial.data import Trial

    with pytest.raises(AnalysisError, match="no events"):
        JointModel(**FAST).fit(Trial(trial.participants, no_events, trial.alsfrs, info=trial.info))


def test_plan_section_off_by_default_and_on_when_asked(example_trial):
    off = {"subgroups": {"enabled": False}, "interaction": {"enabled": False}, "function": {"enabled": False},
           "cafs": {"enabled": False}, "treg": {"enabled": False}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert "joint" not in AnalysisPlan.from_dict(off).run(example_trial).to_dict()
        on = {**off, "joint": {"enabled": True, "baseline_pieces": 3, "quadrature_points": 3}}
        results = AnalysisPlan.from_dict(on).run(example_trial).to_dict()
    joint = results["joint"]
    direct = JointModel(horizon_days=example_trial.info.horizon_days, baseline_pieces=3,
                        quadrature_points=3).fit(example_trial).to_dict()
    assert joint["overall"]["estimates"] == direct["overall"]["estimates"]
    assert joint["subgroups"], "the default biomarker rule (median CSF-pNfH) gives subgroups"
    from mndtrial.analysis.joint_section import summarize_joint

    table = summarize_joint(joint)["Joint model of ALSFRS-R and survival"]
    assert "overall" in set(table["population"])


def test_simulator_informative_dropout_defaults_unchanged():
    from mndtrial.sim import mirocals
    from mndtrial.sim.cohort import CohortModel
    from mndtrial.sim.simulate import simulate

    default = simulate(mirocals(), 4, seed=5)
    explicit = simulate(mirocals(cohort=CohortModel(death_log_hr_per_alsfrs_point=0.0)), 4, seed=5)
    assert default.survival.equals(explicit.survival)
    informative = simulate(mirocals(cohort=CohortModel(death_log_hr_per_alsfrs_point=-0.1)), 32, seed=5)
    assert informative.survival.event.mean() > simulate(mirocals(), 32, seed=5).survival.event.mean() + 0.05


def test_simulated_death_times_follow_the_joint_hazard():
    """Against the closed form: with a linear trajectory and Weibull shape 1 (exponential), the
    hazard λ·exp(lp + α(F(t) − 38)) integrates to λ·e^{lp + α(F0 − 38)}·(e^{−α·s·t} − 1)/(−α·s)."""
    from mndtrial.sim.cohort import CohortModel

    cohort = CohortModel(death_log_hr_per_alsfrs_point=-0.1, weibull_shape=1.0, weibull_scale_days=600.0)
    n = 20000
    baseline, slope = np.full(n, 40.0), np.full(n, 1.5)
    days = cohort.death_days_given_alsfrs(np.random.default_rng(1), np.zeros(n), baseline, slope, 400.0)
    a, lam, s = -0.1, 1 / 600.0, 1.5 / 30.44
    for t in (100.0, 250.0, 400.0):
        H = lam * np.exp(a * (40 - 38)) * (np.exp(-a * s * t) - 1) / (-a * s)
        # the draw is rounded up to whole days, so P(day <= t) = F(t) on whole days
        assert np.mean(days <= t) == pytest.approx(1 - np.exp(-H), abs=0.01)
