"""Treg pharmacodynamics: closed-form ANCOVA, known-truth simulation, degenerate input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from mndtrial.analysis.treg import TregAnalysis
from mndtrial.data import Arm, Trial, TrialInfo
from mndtrial.errors import AnalysisError

IMODALS = TrialInfo(arms=(Arm(name="placebo", control=True, dose_miu=0.0), Arm(name="il2_1miu", dose_miu=1.0),
                          Arm(name="il2_2miu", dose_miu=2.0)))
TRUE_LIFT = {"placebo": 0.0, "il2_1miu": 3.0, "il2_2miu": 6.0}  # %Treg points, linear in dose


def imodals_like(seed: int, n_per_arm: int = 12, days=(0.0, 29.0, 57.0, 85.0), jitter: int = 0,
                 analyte: str = "treg_pct_cd4", unit: str = "%") -> Trial:
    rng = np.random.default_rng(seed)
    arms = np.repeat(list(TRUE_LIFT), n_per_arm)
    ids = [f"I{i:03d}" for i in range(len(arms))]
    base = rng.normal(5.5, 1.2, len(ids))
    person = rng.normal(0, 0.7, len(ids))
    rows = []
    for i, s in enumerate(ids):
        for day in days:
            lift = TRUE_LIFT[arms[i]] if day > 0 else 0.0
            actual = day + (rng.integers(-jitter, jitter + 1) if (jitter and day > 0) else 0)
            value = base[i] + lift + (person[i] if day > 0 else 0) + rng.normal(0, 0.6)
            rows.append((s, float(actual), analyte, round(float(value), 3), unit))
    return Trial(pd.DataFrame({"subject_id": ids, "arm": arms}),
                 pd.DataFrame({"subject_id": ids, "time_days": 100.0, "event": 0}),
                 biomarkers=pd.DataFrame(rows, columns=["subject_id", "day", "analyte", "value", "unit"]),
                 info=IMODALS)


def test_ancova_matches_closed_form_least_squares():
    trial = imodals_like(1)
    res = TregAnalysis().fit(trial).result_
    bio = trial.biomarkers.merge(trial.participants, on="subject_id")
    base = bio[bio.day == 0].set_index("subject_id")["value"]
    at = bio[bio.day == 57.0].assign(baseline=lambda f: f.subject_id.map(base))
    y = (at["value"] - at["baseline"]).to_numpy()
    X = np.column_stack([np.ones(len(at)), at["baseline"], at["arm"] == "il2_1miu", at["arm"] == "il2_2miu"]).astype(float)
    beta = np.linalg.solve(X.T @ X, X.T @ y)
    resid = y - X @ beta
    dof = len(y) - X.shape[1]
    cov = resid @ resid / dof * np.linalg.inv(X.T @ X)
    for k, arm in ((2, "il2_1miu"), (3, "il2_2miu")):
        row = res.ancova.loc[(arm, 57.0)]
        assert row["estimate"] == pytest.approx(beta[k], rel=1e-10)
        assert row["se"] == pytest.approx(np.sqrt(cov[k, k]), rel=1e-10)
        assert row["p"] == pytest.approx(2 * stats.t.sf(abs(beta[k] / np.sqrt(cov[k, k])), dof), rel=1e-8)
    change = at.groupby("arm").apply(lambda f: (f["value"] - f["baseline"]).mean(), include_groups=False)
    assert res.by_visit.loc[("il2_2miu", 57.0), "mean_change"] == pytest.approx(change["il2_2miu"])


def test_mixed_model_matches_statsmodels_formula_fit():
    trial = imodals_like(2)
    res = TregAnalysis().fit(trial).result_
    bio = trial.biomarkers.merge(trial.participants, on="subject_id")
    base = bio[bio.day == 0].set_index("subject_id")["value"]
    d = bio[bio.day > 0].assign(change=lambda f: f.value - f.subject_id.map(base),
                                baseline=lambda f: f.subject_id.map(base))
    ref = smf.mixedlm("change ~ baseline + C(day) + C(arm, Treatment('placebo'))", d,
                      groups=d["subject_id"]).fit(reml=True)
    for arm in ("il2_1miu", "il2_2miu"):
        name = f"C(arm, Treatment('placebo'))[T.{arm}]"
        assert res.mixed.loc[arm, "estimate"] == pytest.approx(ref.fe_params[name], abs=1e-4)
        assert res.mixed.loc[arm, "se"] == pytest.approx(ref.bse_fe[name], rel=1e-3)
    assert res.mixed_fit.ok


def test_known_truth_dose_response_and_differences():
    """Large simulated trial: every 99.9% CI covers the true lift; the dose slope is 3 points/MIU.

    Nine intervals are checked at once, so each is at 99.9% (a miss anywhere has probability
    < 1%); at 95% one of nine would miss a third of the time.
    """
    trial = imodals_like(3, n_per_arm=150)
    res = TregAnalysis(level=0.999).fit(trial).result_
    for arm in ("il2_1miu", "il2_2miu"):
        assert res.mixed.loc[arm, "ci_low"] < TRUE_LIFT[arm] < res.mixed.loc[arm, "ci_high"]
        for day in (29.0, 57.0, 85.0):
            row = res.ancova.loc[(arm, day)]
            assert row["ci_low"] < TRUE_LIFT[arm] < row["ci_high"]
    slope = res.dose_response["slope_per_miu"]
    assert slope["ci_low"] < 3.0 < slope["ci_high"]
    assert res.dose_response["visit_day"] == 29.0


def test_visit_windows_and_treg_count():
    trial = imodals_like(4, jitter=3, analyte="treg_count", unit="cells/uL")
    res = TregAnalysis(analyte="treg_count", visit_days=[29, 57, 85], window_days=3).fit(trial).result_
    assert sorted(res.ancova.index.get_level_values("visit_day").unique()) == [29.0, 57.0, 85.0]
    assert res.excluded["measurements_outside_visit_windows"] == 0
    narrow = TregAnalysis(analyte="treg_count", visit_days=[29, 57, 85], window_days=1).fit(trial).result_
    assert narrow.excluded["measurements_outside_visit_windows"] > 0
    assert narrow.by_visit["n"].sum() < res.by_visit["n"].sum()


def test_example_trial_round_trips_to_json(example_trial):
    import json

    d = json.loads(json.dumps(TregAnalysis().fit(example_trial).to_dict()))
    assert d["ancova"]["il2_2miu"]["day_8"]["estimate"] > 4


def test_degenerate_inputs():
    trial = imodals_like(5)
    with pytest.raises(AnalysisError, match="no 'treg_pct_cd4' rows"):
        TregAnalysis().fit(Trial(trial.participants, trial.survival, info=IMODALS))
    with pytest.raises(AnalysisError, match="no 'treg_count' rows"):
        TregAnalysis(analyte="treg_count").fit(trial)
    no_control = TrialInfo(arms=tuple(a.model_copy(update={"control": False}) for a in IMODALS.arms))
    with pytest.raises(AnalysisError, match="no placebo"):
        TregAnalysis().fit(Trial(trial.participants, trial.survival, biomarkers=trial.biomarkers, info=no_control))
    baseline_only = trial.biomarkers.query("day == 0")
    with pytest.raises(AnalysisError, match="only one visit"):
        TregAnalysis().fit(Trial(trial.participants, trial.survival, biomarkers=baseline_only, info=IMODALS))
    dead = trial.survival.assign(time_days=5.0, event=1)
    with pytest.raises(AnalysisError, match="all participants died before the first follow-up"):
        TregAnalysis().fit(Trial(trial.participants, dead, biomarkers=baseline_only, info=IMODALS))


def test_unknown_primary_day_error_lists_plain_visit_days(example_trial):
    # the message is read by people: "[8.0, 29.0]" and not "[np.float64(8.0), ...]"
    from mndtrial.analysis import TregAnalysis
    from mndtrial.errors import ParameterError

    bio = example_trial.biomarkers
    days = sorted(bio.loc[(bio.analyte == "treg_pct_cd4") & (bio.day > 0), "day"].unique())
    with pytest.raises(ParameterError) as err:
        TregAnalysis(primary_day=-1.0).fit(example_trial)
    assert str([float(d) for d in days]) in str(err.value)
    assert "np.float64" not in str(err.value)
