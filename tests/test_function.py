"""ALSFRS-R slope analysis: lme4 sleepstudy reference, an independent REML, known truth."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from mndtrial.analysis.function import SlopeAnalysis
from mndtrial.analysis.lmm import fit_random_slope_lmm
from mndtrial.data import Arm, Trial, TrialInfo
from mndtrial.errors import AnalysisError

# lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy), REML (tests/reference/r-outputs.md)
LME4_FIXED = {"Intercept": 251.405105, "Days": 10.467286}
LME4_SE = {"Intercept": 6.824597, "Days": 1.545790}
LME4_VAR = {"Intercept": 612.10, "Days": 35.07, "residual": 654.94}
LME4_SD = {"Intercept": 24.741, "Days": 5.922, "residual": 25.5918}


@pytest.fixture(scope="module")
def sleepstudy(reference_dir):
    return pd.read_csv(reference_dir / "data" / "sleepstudy.csv")


def test_sleepstudy_matches_lme4(sleepstudy):
    fit = fit_random_slope_lmm(sleepstudy, "Reaction", "Days", "Subject", fixed=["Days"])
    assert fit.ok, fit.problems
    for name in LME4_FIXED:
        assert fit.params[name] == pytest.approx(LME4_FIXED[name], abs=1e-4)
        assert fit.bse[name] == pytest.approx(LME4_SE[name], abs=1e-4)
    variances = {"Intercept": fit.cov_re.loc["Intercept", "Intercept"], "Days": fit.cov_re.loc["Days", "Days"],
                 "residual": fit.residual_variance}
    sds = {"Intercept": fit.random_sd["Intercept"], "Days": fit.random_sd["Days"],
           "residual": np.sqrt(fit.residual_variance)}
    for name in LME4_VAR:
        # lme4 prints variances to 2 decimals and SDs to 3-4: compare at 1e-3 on the printed scale
        assert variances[name] == pytest.approx(LME4_VAR[name], rel=1e-3)
        assert sds[name] == pytest.approx(LME4_SD[name], abs=1e-3)
    assert fit.random_correlation == pytest.approx(0.066, abs=1e-3)
    assert fit.reml_criterion == pytest.approx(1743.6283, abs=1e-3)


def test_sleepstudy_through_the_trial_analysis(sleepstudy):
    """The same numbers come out of SlopeAnalysis when sleepstudy is dressed as a trial."""
    d = sleepstudy.assign(subject_id=sleepstudy["Subject"].astype(str))
    ids = sorted(d["subject_id"].unique())
    # Alternate subjects between two arms (totals scaled into 0-48 and rounded to the half points
    # an ALSFRS-R total has) and check SlopeAnalysis's numbers equal the lmm fitted directly with
    # the same design: day/30.44 is months again.
    arm = {s: ("placebo" if i % 2 == 0 else "active") for i, s in enumerate(ids)}
    participants = pd.DataFrame({"subject_id": ids, "arm": [arm[s] for s in ids]})
    survival = pd.DataFrame({"subject_id": ids, "time_days": 400.0, "event": 0})
    alsfrs = pd.DataFrame({"subject_id": d["subject_id"], "day": d["Days"] * 30.44,
                           "total": np.round(d["Reaction"] / 5) / 2})
    trial = Trial(participants, survival, alsfrs,
                  info=TrialInfo(arms=(Arm(name="placebo", control=True), Arm(name="active"))))
    res = SlopeAnalysis().fit(trial).result_.overall
    direct = d.assign(total=np.round(d["Reaction"] / 5) / 2, months=d["Days"].astype(float),
                      act=(d["subject_id"].map(arm) == "active").astype(float))
    direct["mxa"] = direct["months"] * direct["act"]
    ref = fit_random_slope_lmm(direct, "total", "months", "subject_id", fixed=["months", "act", "mxa"])
    assert res.arms.loc["placebo", "estimate"] == pytest.approx(ref.params["months"], abs=1e-6)
    assert res.comparisons.loc[("active", "slope_difference_per_month"), "estimate"] == \
        pytest.approx(ref.params["mxa"], abs=1e-6)
    assert res.comparisons.loc[("active", "slope_difference_per_month"), "se"] == \
        pytest.approx(ref.bse["mxa"], abs=1e-6)


def _reml_deviance(theta, y, X, Z, groups):
    """-2 REML log-likelihood written out directly (Harville 1977), for double programming."""
    L = np.array([[np.exp(theta[0]), 0.0], [theta[1], np.exp(theta[2])]])
    G = L @ L.T
    sigma2 = np.exp(theta[3])
    logdet, xvx, xvy, yvy = 0.0, np.zeros((X.shape[1],) * 2), np.zeros(X.shape[1]), 0.0
    parts = []
    for g in np.unique(groups):
        m = groups == g
        V = Z[m] @ G @ Z[m].T + sigma2 * np.eye(m.sum())
        Vi = np.linalg.inv(V)
        logdet += np.linalg.slogdet(V)[1]
        xvx += X[m].T @ Vi @ X[m]
        xvy += X[m].T @ Vi @ y[m]
        parts.append((m, Vi))
    beta = np.linalg.solve(xvx, xvy)
    r = y - X @ beta
    quad = sum(r[m] @ Vi @ r[m] for m, Vi in parts)
    n, p = X.shape
    return logdet + np.linalg.slogdet(xvx)[1] + quad + (n - p) * np.log(2 * np.pi), beta, xvx


@pytest.mark.parametrize("covariates", [(), ("age",)])
def test_trial_fit_reaches_the_independent_reml_optimum(example_trial, covariates):
    """On ALSFRS-R data (where BFGS from statsmodels' default start stalls) the fit reaches the
    optimum of an independently written REML likelihood, with and without a covariate."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = SlopeAnalysis(covariates=covariates).fit(example_trial).result_.overall
    fit = res.lmm
    parts = example_trial.participants
    alsfrs = example_trial.alsfrs.merge(parts[["subject_id", "arm", "age"]], on="subject_id")
    months = alsfrs["day"].to_numpy() / 30.44
    act = (alsfrs["arm"] == "il2_2miu").to_numpy(float)
    columns = [np.ones_like(months), months, act, months * act]
    if covariates:
        age = alsfrs["age"].to_numpy() - parts["age"].mean()
        columns += [age, months * age]
    X = np.column_stack(columns)
    Z = np.column_stack([np.ones_like(months), months])
    y, groups = alsfrs["total"].to_numpy(float), alsfrs["subject_id"].to_numpy()
    best = optimize.minimize(lambda t: _reml_deviance(t, y, X, Z, groups)[0], x0=[1.0, 0.0, -1.0, 0.0],
                             method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000})
    deviance, beta, xvx = _reml_deviance(best.x, y, X, Z, groups)
    assert fit.reml_criterion == pytest.approx(deviance, abs=1e-5)
    assert fit.params.to_numpy() == pytest.approx(beta, abs=1e-4)
    assert fit.bse.to_numpy() == pytest.approx(np.sqrt(np.diag(np.linalg.inv(xvx))), abs=1e-4)


def test_slope_ratio_is_delta_method_of_the_fixed_effects(example_trial):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = SlopeAnalysis().fit(example_trial).result_.overall
    b = res.lmm.params
    cov = res.lmm.cov_params.loc[["months", "months:arm[il2_2miu]"], ["months", "months:arm[il2_2miu]"]]
    sp, sa = res.arms.loc["placebo", "estimate"], res.arms.loc["il2_2miu", "estimate"]
    ratio = res.comparisons.loc[("il2_2miu", "slope_ratio")]
    assert ratio["estimate"] == pytest.approx((sp - sa) / sp, rel=1e-12)
    # numerical gradient of the ratio as a function of (β1, δ)
    f = lambda v: -v[1] / v[0]  # noqa: E731
    v0 = np.array([b["months"], b["months:arm[il2_2miu]"]])
    grad = np.array([(f(v0 + h) - f(v0 - h)) / (2e-6) for h in np.eye(2) * 1e-6])
    assert ratio["se"] == pytest.approx(np.sqrt(grad @ cov.to_numpy() @ grad), rel=1e-6)


def test_subgroups_by_mask_and_by_column_agree(example_trial):
    p = example_trial.participants.set_index("subject_id")
    mask = p["csf_pnfh"] <= 3700
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_mask = SlopeAnalysis(subgroups={"low": mask, "high": ~mask}).fit(example_trial).result_
        by_column = SlopeAnalysis(subgroups="country").fit(example_trial).result_
        direct = SlopeAnalysis().fit(example_trial.select(mask.index[mask])).result_
    assert by_mask["low"].arms["estimate"].to_numpy() == pytest.approx(direct.overall.arms["estimate"].to_numpy())
    assert {f.population for f in by_column.fits} == {"overall", "country=France", "country=UK"}
    assert by_mask.summary.shape[0] == 3 * 4


def test_covariate_adjustment_changes_the_model_and_is_reported(example_trial):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = SlopeAnalysis(covariates=["age", "onset_site"]).fit(example_trial).result_
    assert {"age", "months:age", "onset_site=limb", "months:onset_site=limb"} <= set(res.overall.lmm.params.index)
    d = res.to_dict()
    assert d["covariates"] == ["age", "onset_site"]
    assert d["overall"]["comparisons"]["il2_2miu"]["slope_ratio"]["ci"][0] is not None


def _tiny_trial(days, died_day=None, control=True):
    ids = [f"S{i}" for i in range(6)]
    arms = ["placebo", "active"] * 3
    participants = pd.DataFrame({"subject_id": ids, "arm": arms})
    time = [died_day or 400.0] * 6
    survival = pd.DataFrame({"subject_id": ids, "time_days": time, "event": [1 if died_day else 0] * 6})
    rows = [(s, float(d), 40.0 - i - d / 30) for i, s in enumerate(ids) for d in days]
    alsfrs = pd.DataFrame(rows, columns=["subject_id", "day", "total"])
    info = TrialInfo(arms=(Arm(name="placebo", control=control), Arm(name="active")))
    return Trial(participants, survival, alsfrs, info=info)


def test_degenerate_inputs_give_clear_errors():
    with pytest.raises(AnalysisError, match="only one visit"):
        SlopeAnalysis().fit(_tiny_trial([0]))
    with pytest.raises(AnalysisError, match="died before the first follow-up"):
        SlopeAnalysis().fit(_tiny_trial([0], died_day=20.0))
    with pytest.raises(AnalysisError, match="no placebo"):
        SlopeAnalysis().fit(_tiny_trial([0, 90], control=False))


def test_boundary_fit_is_surfaced_not_swallowed():
    """No between-participant slope variation: the slope variance sits on the boundary."""
    rng = np.random.default_rng(3)
    ids = [f"S{i}" for i in range(40)]
    arms = ["placebo", "active"] * 20
    days = np.arange(0, 13) * 30.44
    # ALSFRS-R totals are whole points (the data model refuses finer values)
    rows = [(s, d, float(np.round(40 - d / 30.44 + rng.normal(0, 1)))) for s in ids for d in days]
    trial = Trial(pd.DataFrame({"subject_id": ids, "arm": arms}),
                  pd.DataFrame({"subject_id": ids, "time_days": 400.0, "event": 0}),
                  pd.DataFrame(rows, columns=["subject_id", "day", "total"]),
                  info=TrialInfo(arms=(Arm(name="placebo", control=True), Arm(name="active"))))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        res = SlopeAnalysis().fit(trial).result_
    assert res.overall.problems, "a zero random-effect variance must be reported"
    assert any("boundary" in p or "singular" in p for p in res.overall.problems)
    assert res.to_dict()["overall"]["problems"]


def simulate_slopes(rng, n_per_arm=80, slope_placebo=-1.0, ratio=0.23, months=12):
    """Known truth: linear decline, random intercept and slope, dropout, 1:1 arms."""
    n = 2 * n_per_arm
    active = np.arange(n) >= n_per_arm
    mean_slope = np.where(active, slope_placebo * (1 - ratio), slope_placebo)
    slope = mean_slope + rng.normal(0, 0.4, n)
    intercept = 32 + rng.normal(0, 3, n)  # kept inside 0-48 without clipping (which would bias)
    last = rng.integers(2, months + 1, n)  # dropout: last monthly visit
    # scored in whole points, as ALSFRS-R is: rounding adds a uniform error (variance 1/12)
    rows = [(f"P{i}", m * 30.44, float(np.round(intercept[i] + slope[i] * m + rng.normal(0, 1.0))))
            for i in range(n) for m in range(last[i] + 1)]
    ids = [f"P{i}" for i in range(n)]
    return Trial(pd.DataFrame({"subject_id": ids, "arm": np.where(active, "active", "placebo")}),
                 pd.DataFrame({"subject_id": ids, "time_days": 400.0, "event": 0}),
                 pd.DataFrame(rows, columns=["subject_id", "day", "total"]),
                 info=TrialInfo(arms=(Arm(name="placebo", control=True), Arm(name="active"))))


@pytest.mark.slow
def test_slope_ratio_ci_covers_the_truth():
    rng = np.random.default_rng(20260101)
    covered, differences = 0, 0
    for _ in range(100):
        trial = simulate_slopes(rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = SlopeAnalysis().fit(trial).result_.overall
        ratio = fit.comparisons.loc[("active", "slope_ratio")]
        covered += ratio["ci_low"] <= 0.23 <= ratio["ci_high"]
        diff = fit.comparisons.loc[("active", "slope_difference_per_month")]
        differences += diff["ci_low"] <= 0.23 <= diff["ci_high"]
    assert covered >= 90
    assert differences >= 90


def _two_group_trial(seed, ratio_a, ratio_b, n_per_arm=60):
    rng = np.random.default_rng(seed)
    a, b = simulate_slopes(rng, n_per_arm, ratio=ratio_a), simulate_slopes(rng, n_per_arm, ratio=ratio_b)
    rename = lambda df: df.assign(subject_id="B" + df["subject_id"])  # noqa: E731
    ta, tb = a.tables(), b.tables()
    tables = {k: pd.concat([ta[k], rename(tb[k])], ignore_index=True) for k in ("participants", "survival", "alsfrs")}
    trial = Trial(**tables, info=a.info)
    ids = trial.participants["subject_id"]
    return trial, {"a": ids[~ids.str.startswith("B")].tolist(), "b": ids[ids.str.startswith("B")].tolist()}


def test_slope_interaction_recovers_a_known_difference_between_subgroups():
    """Effect only in group a (ratio 0.5 → slope difference +0.5/month), none in b: the
    months × arm × group term is b's difference minus a's, -0.5."""
    from mndtrial.analysis.function import slope_interaction_test

    trial, groups = _two_group_trial(8, 0.5, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = slope_interaction_test(trial, groups, level=0.999)
    term = out["terms"]["months:arm[active]:group[b]"]
    assert term["ci"][0] < -0.5 < term["ci"][1]
    assert out["p"] < 0.01 and out["df"] == 1
    assert out["chi2"] == pytest.approx(term["z"] ** 2)
    same, groups = _two_group_trial(9, 0.23, 0.23)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        null = slope_interaction_test(same, groups, level=0.999)
    term = null["terms"]["months:arm[active]:group[b]"]
    assert term["ci"][0] < 0 < term["ci"][1]


def test_slope_interaction_refuses_overlapping_groups(example_trial):
    from mndtrial.analysis.function import slope_interaction_test
    from mndtrial.errors import ParameterError

    ids = example_trial.participants["subject_id"].tolist()
    with pytest.raises(ParameterError, match="disjoint"):
        slope_interaction_test(example_trial, {"x": ids[:40], "y": ids[30:]})
