"""Group-sequential patient-level simulation (K >= 2 looks): the trial mechanics against a slow,
obvious loop; the simulated stopping probabilities against the design's analytic ones (numerical
integration, rpact-matched in test_design_boundaries) under proportional hazards; type I error;
reproducibility over chunking."""

from __future__ import annotations

import numpy as np
import pytest

from mndtrial.design import group_sequential_design
from mndtrial.errors import ParameterError
from mndtrial.power.enrichment_pool import ExponentialPool
from mndtrial.power.group_sequential import GroupSequentialTrial, group_sequential_chunk, simulate_group_sequential
from test_power_enrichment import slow_event_day, slow_logrank

OF3 = dict(information_rates=[0.4, 0.7, 1.0], type_of_design="asOF", beta=0.2, type_beta_spending="bsOF")


def gs_trial(hr_s=0.75, hr_r=0.75, **kw) -> GroupSequentialTrial:
    pool = kw.pop("pool", ExponentialPool(hazard_ratio_s=hr_s, hazard_ratio_r=hr_r, arrivals_per_day=1.5,
                                          dropout_per_year=0.05))
    design = kw.pop("design", group_sequential_design(**OF3))
    base = dict(max_events=150, n_randomised_max=300)
    base.update(kw)
    return GroupSequentialTrial(pool, design, **base)


# -- double programming: one trial with plain loops ---------------------------------------------
def slow_trial(t: GroupSequentialTrial, pool_trial) -> dict:
    p = pool_trial.survival_by_subject().sort_values("subject_id")
    cut = t.population.cutoffs[0]
    rows = [{"entry": e, "time": tt, "event": ev == 1, "active": a == "active", "s": pn <= cut}
            for e, tt, ev, a, pn in zip(p["entry_day"], p["time_days"], p["event"], p["arm"], p["csf_pnfh"])]
    randomised = [r for r in rows if r["s"]][:t.n_randomised_max] if t.enriched else rows[:t.n_randomised_max]
    lower = list(t.design.futility_bounds) + [-np.inf]
    for k, target in enumerate(t.event_targets):
        day = slow_event_day(randomised, int(target))
        if t.enriched or not t.stratified:
            u, v, _ = slow_logrank(randomised, day)
        else:
            u_s, v_s, _ = slow_logrank([r for r in randomised if r["s"]], day)
            u_r, v_r, _ = slow_logrank([r for r in randomised if not r["s"]], day)
            u, v = u_s + u_r, v_s + v_r
        z = -u / np.sqrt(v)
        last = k == t.design.k_max - 1
        if z >= t.design.critical_values[k] or z <= lower[k] or last:
            reason = "efficacy" if z >= t.design.critical_values[k] else ("futility" if not last else "none")
            return {"stop_look": k + 1, "stop_reason": reason, "z": z, "day": day,
                    "n_randomised": sum(r["entry"] <= day for r in randomised)}


@pytest.mark.parametrize("enriched", [False, True])
def test_trial_mechanics_equal_slow_loop(enriched):
    t = gs_trial(hr_s=0.6, hr_r=1.0, enriched=enriched, max_events=60, n_randomised_max=150,
                 design=group_sequential_design(information_rates=[0.3, 0.6, 1.0], futility_bounds=[0.0, 0.3]))
    trials = group_sequential_chunk(t, 0, 12, seed=5)
    pools = t.pool.simulate_pool(0, 12, 5, 2 * t.candidates_per_trial)  # a longer pool starts the same
    assert set(trials["stop_reason"]) >= {"futility", "efficacy"} or set(trials["stop_look"]) != {3}
    for _, row in trials.iterrows():
        slow = slow_trial(t, pools.trial(int(row["trial"])))
        assert row["stop_look"] == slow["stop_look"] and row["stop_reason"] == slow["stop_reason"]
        assert row[f"z_{slow['stop_look']}"] == pytest.approx(slow["z"], rel=1e-10)
        assert row["duration_days"] == slow["day"]
        assert row["n_randomised"] == slow["n_randomised"]
        assert row["events"] >= t.event_targets[slow["stop_look"] - 1]


def test_reproducible_whatever_the_chunking():
    t = gs_trial(enriched=True, hr_s=0.7, hr_r=1.0)
    a = simulate_group_sequential(t, n_trials=30, seed=9, chunk_size=7).trials
    b = simulate_group_sequential(t, n_trials=30, seed=9, chunk_size=30).trials
    assert a.equals(b)
    c = simulate_group_sequential(t, n_trials=30, seed=10, chunk_size=30).trials
    assert not a.equals(c)


# -- against the design's analytic characteristics ----------------------------------------------
def check_against_analytic(res, n_sd: float) -> None:
    n = res.n_trials
    looks = res.looks
    for sim, ana in (("p_efficacy", "p_efficacy_analytic"), ("p_futility", "p_futility_analytic")):
        se = np.sqrt(np.maximum(looks[ana] * (1 - looks[ana]), 1e-4) / n)
        assert (np.abs(looks[sim] - looks[ana]) <= n_sd * se).all(), looks[["look", sim, ana]]
    row = res.table.iloc[0]
    se = np.sqrt(row["power_analytic"] * (1 - row["power_analytic"]) / n)
    assert abs(row["power"] - row["power_analytic"]) <= n_sd * se
    assert abs(row["events_mean"] - row["events_analytic"]) <= n_sd * row["events_mcse"] + 1.0  # ties add events


@pytest.mark.parametrize("hr", [1.0, 0.7])
def test_stopping_probabilities_match_design_all_comers(hr):
    res = simulate_group_sequential(gs_trial(hr, hr), n_trials=300, seed=3)
    assert res.table.loc[0, "true_hazard_ratio"] == hr
    check_against_analytic(res, n_sd=4.0)


def test_stopping_probabilities_match_design_enriched():
    design = group_sequential_design(information_rates=[0.5, 1.0], type_of_design="asHSD", gamma_a=-2,
                                     futility_bounds=[0.0])
    t = gs_trial(0.65, 1.2, design=design, enriched=True, max_events=120, n_randomised_max=250)
    res = simulate_group_sequential(t, n_trials=250, seed=8)
    check_against_analytic(res, n_sd=4.0)
    assert (res.trials["n_screened"] > res.trials["n_randomised"]).all()  # high-pNfH candidates screened out


@pytest.mark.slow
@pytest.mark.parametrize("hr, spending", [(1.0, "asOF"), (0.75, "asOF"), (0.75, "asP"), (1.0, "asHSD")])
def test_stopping_probabilities_match_design_10000(hr, spending):
    design = group_sequential_design(information_rates=[0.3, 0.55, 0.8, 1.0], type_of_design=spending,
                                     **({"gamma_a": -4.0} if spending == "asHSD" else {}),
                                     beta=0.2, type_beta_spending="bsOF")
    res = simulate_group_sequential(gs_trial(hr, hr, design=design, max_events=250, n_randomised_max=500),
                                    n_trials=10_000, seed=2026, n_workers=2)
    print(f"\n{spending} HR {hr}:\n" + res.looks[["look", "p_efficacy", "p_efficacy_analytic", "p_futility",
                                                 "p_futility_analytic"]].to_string())
    check_against_analytic(res, n_sd=3.5)


@pytest.mark.slow
@pytest.mark.parametrize("spending", ["asOF", "asP"])
def test_type_one_error_20000(spending):
    """No futility bound: the whole alpha is spent on the efficacy bounds."""
    design = group_sequential_design(k_max=4, type_of_design=spending)
    res = simulate_group_sequential(gs_trial(1.0, 1.0, design=design, max_events=200, n_randomised_max=400),
                                    n_trials=20_000, seed=77, n_workers=2)
    p, se = res.table.loc[0, "power"], res.table.loc[0, "power_mcse"]
    print(f"\n{spending}: type I error {p:.4f} (MC SE {se:.4f})")
    assert p <= 0.025 + 2.5 * se


def test_type_one_error_small():
    res = simulate_group_sequential(gs_trial(1.0, 1.0, design=group_sequential_design(k_max=3)),
                                    n_trials=300, seed=12)
    assert res.table.loc[0, "power"] <= 0.025 + 3 * res.table.loc[0, "power_mcse"]


def test_bad_input_named():
    with pytest.raises(ParameterError, match="max_events"):
        gs_trial(max_events=400, n_randomised_max=300)
    with pytest.raises(ParameterError, match="k_max"):
        gs_trial(design=group_sequential_design(k_max=1))
    with pytest.raises(ParameterError, match="design"):
        gs_trial(design=[2.5, 2.0])
    with pytest.raises(ParameterError, match="distinct event targets"):
        gs_trial(design=group_sequential_design(information_rates=[0.41, 0.45, 1.0]), max_events=10,
                 n_randomised_max=100)
    with pytest.raises(ParameterError, match="n_trials"):
        simulate_group_sequential(gs_trial(), n_trials=0)
