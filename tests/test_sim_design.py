"""Designs: presets match the evidence file; invalid designs are refused with ParameterError."""

from __future__ import annotations

import numpy as np
import pytest

from mndtrial.errors import ParameterError
from mndtrial.sim import (ArmSpec, CohortModel, DrugModel, Eligibility, Enrichment, imodals, load_parameters,
                          mirocals, simulate)
from mndtrial.sim.randomise import allocation_weights


def test_mirocals_preset_matches_the_evidence_file():
    d = mirocals()
    assert d.n_randomised == 220 and d.horizon_days == 640
    assert d.arm_names == ("placebo", "il2_2miu") and d.weights == (1, 1)
    assert [a.dose_miu for a in d.arms] == [0.0, 2.0]
    assert d.strata == ("country", "onset_site") and d.countries == ("UK", "France")
    e = d.eligibility
    assert (e.age_min_years, e.age_max_years, e.symptom_duration_max_months, e.vital_capacity_min_pct) == (18, 76, 24, 70)


def test_imodals_preset_matches_the_evidence_file():
    d = imodals()
    assert d.n_randomised == 36 and d.arm_names == ("placebo", "il2_1miu", "il2_2miu")
    assert [a.dose_miu for a in d.arms] == [0.0, 1.0, 2.0] and d.weights == (1, 1, 1)
    assert d.eligibility.age_max_years == 75 and d.eligibility.symptom_duration_max_months == 60


@pytest.mark.parametrize("allocation, weights", [((1, 1), (1, 1)), ((2, 1), (2, 1)), ((0.5, 0.5), (1, 1)),
                                                 ((2 / 3, 1 / 3), (2, 1)), ((3, 3), (1, 1))])
def test_allocation_weights(allocation, weights):
    assert allocation_weights(allocation) == weights


@pytest.mark.parametrize("changes, parameter", [
    ({"arms": (ArmSpec("placebo", 0, 0.5, True), ArmSpec("il2_2miu", 2, 0.3))}, "allocation"),   # do not sum
    ({"arms": (ArmSpec("placebo", 0, 1, True), ArmSpec("il2_2miu", 2, -1))}, "allocation"),
    ({"arms": (ArmSpec("placebo", 0, 1, True), ArmSpec("placebo", 2, 1))}, "arms"),
    ({"horizon_days": 30.0}, "horizon_days"),                                                  # before first visit
    ({"accrual_days": -5.0}, "accrual_days"),
    ({"attrition_6_months": -0.1}, "attrition_6_months"),                                      # negative rate
    ({"attrition_6_months": 0.01}, "attrition_6_months"),                                      # below deaths alone
    ({"attrition_12_months": 0.15}, "attrition_12_months"),
    ({"enrichment": Enrichment("csf_pnfh", 1e6, 2e6)}, "enrichment"),                         # excludes everyone
    ({"block_size": 3}, "block_size"),
    ({"n_randomised": 1}, "n_randomised"),
    ({"alsfrs_visit_days": (0.0, 84.0, 84.0)}, "alsfrs_visit_days"),
    ({"strata": ("country", "blood_group")}, "strata"),
    ({"country_fractions": (0.7, 0.7)}, "country_fractions"),
])
def test_invalid_designs_are_refused(changes, parameter):
    with pytest.raises(ParameterError) as err:
        mirocals(**changes)
    assert err.value.parameter == parameter
    assert err.value.rule and parameter in str(err.value)


def test_invalid_models_and_calls_are_refused():
    with pytest.raises(ParameterError, match="slope_mean_points_per_month"):
        CohortModel(slope_mean_points_per_month=-1.0)
    with pytest.raises(ParameterError):
        CohortModel(not_a_parameter=1.0)
    with pytest.raises(ParameterError, match="hr_low_pnfh"):
        DrugModel(hr_low_pnfh=0.0)
    with pytest.raises(ParameterError, match="age_max_years"):
        Eligibility(age_min_years=60, age_max_years=50)
    with pytest.raises(ParameterError, match="n_trials"):
        simulate(mirocals(), n_trials=0, seed=1)
    with pytest.raises(ParameterError, match="seed"):
        simulate(mirocals(), n_trials=1, seed=-1)
    with pytest.raises(ParameterError, match="unknown parameter"):
        load_parameters(overrides={"cohort.nonsense": 1})
    with pytest.raises(ParameterError, match="same kind"):
        load_parameters(overrides={"cohort.age_mean_years": "sixty"})


def test_every_parameter_has_a_source_and_overrides_apply():
    p = load_parameters(overrides={"survival.weibull_shape": 2.1})
    table = p.table()
    assert (table["source"].str.len() > 3).all()
    assert p.section("survival")["weibull_shape"] == 2.1 and p.source("survival.weibull_shape") == "user override"
    # the override reaches the simulation: a user cohort changes the data
    base = simulate(mirocals(), 1, seed=9).participants["age"].mean()
    older = simulate(mirocals(cohort=CohortModel(p, age_mean_years=68.0)), 1, seed=9).participants["age"].mean()
    assert older > base + 4


def test_enrichment_randomises_only_in_range_and_reports_screening():
    d = mirocals(enrichment=Enrichment("csf_pnfh", 750, 3700))
    batch = simulate(d, n_trials=4, seed=2)
    assert batch.participants["csf_pnfh"].between(750, 3700).all()
    s = batch.metadata["screening"]
    assert (s["randomised"] == 220).all() and (s["enrichment_excluded"] > 0).all()
    assert (s["screened"] > s["eligible"]).all() and (s["eligible"] - s["enrichment_excluded"] == 220).all()
    # expected share in range among eligible (fixed-seed pilot) vs what screening saw: binomial agreement
    frac = 220 * len(s) / s["eligible"].sum()
    assert abs(frac - 0.70) < 0.06


def test_dropout_makes_total_attrition_match_the_published_figures():
    # Deaths plus withdrawals in the control arm give 19% / 36% attrition at 6 / 12 months (E:L57).
    d = mirocals(treg_visit_days=(), serum_nfl_visit_days=())
    batch = simulate(d, n_trials=64, seed=4)
    p = batch.participants.reset_index(drop=True)
    s = batch.survival.reset_index(drop=True)
    placebo = (p["arm"] == "placebo").to_numpy()
    death = np.where(s["event"] == 1, s["time_days"], np.inf)
    withdrawn = p["withdrawal_day"].fillna(np.inf).to_numpy()
    for t, target in ((182.625, 0.19), (365.25, 0.36)):
        lost = (np.minimum(death, withdrawn) <= t)[placebo]
        assert abs(lost.mean() - target) < 0.02, (t, lost.mean())
    # withdrawn participants have no visit after withdrawal, and survival is still followed
    last = batch.alsfrs.groupby(["trial", "subject"])["day"].max().to_numpy()
    assert (last <= withdrawn).all()
    assert (s["time_days"][np.isfinite(withdrawn)] > 0).all()


def test_serum_nfl_enrichment_and_a_two_to_one_ratio():
    d = mirocals(arms=(ArmSpec("placebo", 0.0, 1, True), ArmSpec("il2_2miu", 2.0, 2)), block_size=6,
                 enrichment=Enrichment("serum_nfl", 0, 100))
    batch = simulate(d, n_trials=8, seed=6)
    assert (batch.participants["serum_nfl"] <= 100).all()
    share = (batch.participants["arm"] == "il2_2miu").mean()
    # blocks of 6 in 4 strata: an incomplete block is off 2/3 by at most 4/3 per stratum
    per_trial = batch.participants.assign(a=batch.participants["arm"] == "il2_2miu").groupby("trial")["a"].sum()
    assert (abs(per_trial - 220 * 2 / 3) <= 4 * 4 / 3 + 1e-9).all() and abs(share - 2 / 3) < 0.02


def test_user_parameter_file_reaches_the_preset(tmp_path):
    from importlib import resources

    text = resources.files("mndtrial.sim").joinpath("parameters.toml").read_text()
    changed = text.replace("attrition_12_months = { value = 0.36,", "attrition_12_months = { value = 0.45,")
    assert changed != text
    path = tmp_path / "p.toml"
    path.write_text(changed)
    assert mirocals(load_parameters(path)).attrition() == (0.19, 0.45)
    assert mirocals(load_parameters(path)).dropout_weibull != mirocals().dropout_weibull


def test_user_parameter_file_must_have_every_parameter_of_the_right_kind(tmp_path):
    from importlib import resources

    text = resources.files("mndtrial.sim").joinpath("parameters.toml").read_text()
    path = tmp_path / "p.toml"
    path.write_text("\n".join(ln for ln in text.splitlines() if not ln.startswith("hr_low_pnfh")))
    with pytest.raises(ParameterError, match="drug.hr_low_pnfh"):
        load_parameters(path)
    path.write_text(text.replace("weibull_shape = { value = 2.0,", 'weibull_shape = { value = "2.0",'))
    with pytest.raises(ParameterError, match="survival.weibull_shape"):
        load_parameters(path)
    # Only the designs a file needs: dropping the IMODALS section is fine.
    path.write_text(text.split("[designs.imodals]")[0])
    assert mirocals(load_parameters(path)).n_randomised == 220
