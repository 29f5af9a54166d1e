"""Adaptive-enrichment simulation: double programming of the trial mechanics (who is randomised,
the cut days, the log-rank increments) and of the selection / closed-testing decisions by slow,
obvious loops; reproducibility over chunking; type I error under the global and partial nulls."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal, norm

from mndtrial.design.selection import SelectionRule
from mndtrial.errors import ParameterError
from mndtrial.power.enrichment import AdaptiveEnrichmentDesign, enrichment_chunk, simulate_enrichment
from mndtrial.power.enrichment_pool import ExponentialPool

CRIT = (2.79651, 1.977431)  # rpact getDesignInverseNormal(kMax = 2, typeOfDesign = "OF"), t = (0.5, 1)


def design(**kw) -> AdaptiveEnrichmentDesign:
    pool = kw.pop("pool", ExponentialPool(hazard_ratio_s=0.7, hazard_ratio_r=0.9, arrivals_per_day=0.8,
                                          log_pnfh_mean=np.log(3700), dropout_per_year=0.05))
    base = dict(n_randomised_max=300, events=(60, 120), critical_z=CRIT)
    base.update(kw)
    return AdaptiveEnrichmentDesign(pool, **base)


# -- slow, obvious re-implementation of one trial -----------------------------------------------
def slow_logrank(rows: list[dict], day: float) -> tuple[float, float, int]:
    """O - E (active arm) and its variance at calendar day `day`, one distinct time at a time."""
    data = []
    for r in rows:
        if r["entry"] > day:
            continue
        seen = day - r["entry"]
        if r["event"] and r["entry"] + r["time"] <= day:
            data.append((r["time"], 1, r["active"]))
        else:
            data.append((min(r["time"], seen), 0, r["active"]))
    u = v = 0.0
    deaths = 0
    for t in sorted({t for t, e, _ in data if e}):
        at_risk = [(e, a) for tt, e, a in data if tt >= t]
        n = len(at_risk)
        n1 = sum(a for _, a in at_risk)
        d = sum(1 for tt, e, _ in data if tt == t and e)
        d1 = sum(1 for tt, e, a in data if tt == t and e and a)
        deaths += d
        u += d1 - d * n1 / n
        if n > 1:
            v += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    return u, v, deaths


def slow_event_day(rows: list[dict], k: int) -> float:
    days = sorted(r["entry"] + r["time"] for r in rows if r["event"])
    return days[k - 1] if len(days) >= k else np.nan


def slow_trial(d: AdaptiveEnrichmentDesign, pool_trial, selection_s_only: bool, t1_expected: float) -> dict:
    """Re-run one trial's mechanics with plain loops over the participants of its pool."""
    p = pool_trial.survival_by_subject().sort_values("subject_id")
    cut = d.population.cutoffs[0]
    rows = [{"entry": e, "time": t, "event": ev == 1, "active": a == "active", "s": pn <= cut, "i": i}
            for i, (e, t, ev, a, pn) in enumerate(zip(p["entry_day"], p["time_days"], p["event"], p["arm"],
                                                       p["csf_pnfh"]))]
    d1, d2 = d.events
    stage1 = rows[:d.n_randomised_max]
    t1 = slow_event_day(stage1, d1)
    s_rows = [r for r in stage1 if r["s"]]
    r_rows = [r for r in stage1 if not r["s"]]
    u_s, v_s, e_s = slow_logrank(s_rows, t1)
    u_r, v_r, _ = slow_logrank(r_rows, t1)
    out = {"t1": t1, "z1_s": -u_s / np.sqrt(v_s), "z1_f": -(u_s + u_r) / np.sqrt(v_s + v_r)}
    if selection_s_only:
        randomised = [r for r in stage1 if r["entry"] <= t1]
        for r in rows:
            if len(randomised) == d.n_randomised_max:
                break
            if r["entry"] > t1 and r["s"]:
                randomised.append(r)
        counted = [r for r in randomised if r["s"]]
        t2 = slow_event_day(counted, e_s + d2 - d1)
        u2, v2, _ = slow_logrank(counted, t2)
        out.update(t2=t2, z2_s=-(u2 - u_s) / np.sqrt(v2 - v_s), n_randomised=sum(r["entry"] <= t2 for r in randomised))
    else:
        t2 = slow_event_day(stage1, d2)
        u2s, v2s, _ = slow_logrank(s_rows, t2)
        u2r, v2r, _ = slow_logrank(r_rows, t2)
        out.update(t2=t2, z2_f=-((u2s + u2r) - (u_s + u_r)) / np.sqrt(v2s + v2r - v_s - v_r),
                   z2_s=-(u2s - u_s) / np.sqrt(v2s - v_s))
    assert t1 == pytest.approx(t1_expected)
    return out


def test_trial_mechanics_equal_slow_loop():
    d = design(selection=SelectionRule(kind="best"))
    trials = enrichment_chunk(d, 0, 24, seed=11)
    pools = d.pool.simulate_pool(0, 24, 11, d.candidates_per_trial)
    s_only = trials[trials["decision"] == "S only"].head(3)
    others = trials[trials["decision"].isin(["F only", "both"])].head(2)
    assert len(s_only) == 3 and len(others) == 2
    for _, row in list(s_only.iterrows()) + list(others.iterrows()):
        slow = slow_trial(d, pools.trial(int(row["trial"])), row["decision"] == "S only", row["interim_day"])
        assert row["z1_s"] == pytest.approx(slow["z1_s"], rel=1e-10)
        assert row["z1_f"] == pytest.approx(slow["z1_f"], rel=1e-10)
        assert row["final_day"] == slow["t2"]
        if row["decision"] == "S only":
            assert row["z2_s"] == pytest.approx(slow["z2_s"], rel=1e-10)
            assert row["n_randomised"] == slow["n_randomised"]
        else:
            assert row["z2_f"] == pytest.approx(slow["z2_f"], rel=1e-10)


# -- slow, obvious selection and closed test ----------------------------------------------------
def slow_select(rule: SelectionRule, hr: list[float], z: list[float]) -> list[bool]:
    effect = [1 / h for h in hr] if rule.measure == "hazard_ratio" else list(z)
    if rule.kind == "all":
        keep = [True, True]
    elif rule.kind == "best":
        keep = [effect[0] >= effect[1], effect[1] > effect[0]]
    else:
        keep = [max(effect) - e <= rule.epsilon for e in effect]
    if rule.threshold is not None:
        for g in range(2):
            if (rule.measure == "hazard_ratio" and hr[g] >= rule.threshold) or \
                    (rule.measure == "z" and z[g] <= rule.threshold):
                keep[g] = False
    return keep


def slow_intersection(p_s: float, p_f: float, method: str, rho: float) -> float:
    ps = [p for p in (p_s, p_f) if not np.isnan(p)]
    if len(ps) == 1:
        return ps[0]
    lo, hi = min(ps), max(ps)
    if method == "bonferroni":
        return min(1.0, 2 * lo)
    if method == "simes":
        return min(2 * lo, hi)
    zmax = norm.isf(lo)
    return 1 - multivariate_normal(mean=[0, 0], cov=[[1, rho], [rho, 1]]).cdf([zmax, zmax])


def slow_decisions(d: AdaptiveEnrichmentDesign, row) -> tuple[str, bool, bool]:
    w1, w2 = d.weights
    c1, c2 = d.critical_z
    z1 = [row["z1_s"], row["z1_f"]]
    p1 = [norm.sf(z) for z in z1]
    rho1 = np.sqrt(row["v1_s"] / row["v1_f"])
    keep = slow_select(d.selection, [row["hr1_s"], row["hr1_f"]], z1)
    q1 = {"S": p1[0], "F": p1[1], "SF": slow_intersection(p1[0], p1[1], d.intersection_test, rho1)}
    zc1 = {h: norm.isf(q) for h, q in q1.items()}
    rej1 = {h: zc1[h] >= c1 for h in q1}
    reject = [rej1["S"] and rej1["SF"], rej1["F"] and rej1["SF"]]
    success = all(reject) if d.success_criterion == "all" else any(reject)
    futile = [zc1["S"] <= d.futility_z or zc1["SF"] <= d.futility_z,
              zc1["F"] <= d.futility_z or zc1["SF"] <= d.futility_z]
    if success:
        return "stop efficacy", reject[0], reject[1]
    if all(futile) or not any(keep):
        return "stop futility", reject[0], reject[1]
    decision = "both" if all(keep) else "S only" if keep[0] else "F only"
    p2 = [norm.sf(row["z2_s"]) if keep[0] else np.nan, norm.sf(row["z2_f"]) if keep[1] else np.nan]
    rho2 = np.sqrt(row["v2_s"] / row["v2_f"]) if all(keep) else np.nan
    q2 = {"S": p2[0], "F": p2[1], "SF": slow_intersection(p2[0], p2[1], d.intersection_test, rho2)}
    rej = {}
    for h in q2:
        combined = (w1 * zc1[h] + w2 * norm.isf(q2[h])) / np.sqrt(w1 ** 2 + w2 ** 2) if not np.isnan(q2[h]) else np.nan
        rej[h] = rej1[h] or (combined >= c2)
    return decision, bool(rej["S"] and rej["SF"]), bool(rej["F"] and rej["SF"])


@pytest.mark.parametrize("settings", [
    dict(selection=SelectionRule(kind="epsilon", epsilon=0.15, threshold=1.05), intersection_test="simes",
         futility_z=0.0),
    dict(selection=SelectionRule(kind="best", measure="z", threshold=-0.5), intersection_test="spiessens_debois",
         success_criterion="at_least_one"),
    dict(selection=SelectionRule(kind="all"), intersection_test="bonferroni", futility_z=-0.2),
])
def test_decisions_equal_slow_loop(settings):
    d = design(pool=ExponentialPool(hazard_ratio_s=0.75, hazard_ratio_r=0.95, arrivals_per_day=2,
                                    log_pnfh_mean=np.log(3700)), **settings)
    trials = simulate_enrichment(d, n_trials=300, seed=5).trials
    assert trials["decision"].nunique() >= 3  # the loop meets several branches
    for _, row in trials.iterrows():
        decision, rej_s, rej_f = slow_decisions(d, row)
        assert (decision, rej_s, rej_f) == (row["decision"], row["reject_s"], row["reject_f"]), int(row["trial"])


def test_same_trials_whatever_the_chunking():
    d = design()
    one = simulate_enrichment(d, n_trials=40, seed=9, chunk_size=40).trials
    many = simulate_enrichment(d, n_trials=40, seed=9, chunk_size=7).trials
    assert one.equals(many)


def test_s_only_recruits_only_s_after_the_interim():
    d = design(selection=SelectionRule(kind="user", function=lambda hr, z: np.tile([True, False], (len(hr), 1))),
               pool=ExponentialPool(hazard_ratio_s=0.8, arrivals_per_day=0.3, log_pnfh_mean=np.log(3700)))
    trials = simulate_enrichment(d, n_trials=30, seed=2).trials
    go = trials[trials["decision"] == "S only"]
    assert len(go) > 20
    # recruitment was still open at the interim, so S-only trials screen more and randomise more S
    assert (go["n_screened"] > go["n_randomised"]).all()
    assert (go["n_randomised_s"] / go["n_randomised"]).mean() > 0.6
    assert (go["final_events_s"] == go["interim_events_s"] + 60).mean() > 0.9  # ties on a day may add one


def test_event_reestimation_closed_form():
    from mndtrial.power.enrichment import EventReestimation

    w = np.sqrt([0.5, 0.5])
    rule = EventReestimation(conditional_power=0.8, min_events=50, max_events=400)
    p1 = np.array([[0.02, 0.04], [0.3, 0.2], [0.9, 0.95]])
    hr1 = np.array([[0.7, 0.8], [0.9, 0.95], [1.2, 1.3]])
    sel = np.array([[True, False], [True, True], [True, False]])
    got = rule.stage2_events(p1, hr1, sel, 1.977431, w)
    # by hand: c* = (c2 - sqrt(.5) z(1 - 2 p_min)) / sqrt(.5); d = 4 (c* + z_.8)^2 / log(HR)^2
    c = [(1.977431 - np.sqrt(0.5) * norm.isf(2 * pm)) / np.sqrt(0.5) for pm in (0.02, 0.2)]
    want0 = 4 * (c[0] + norm.ppf(0.8)) ** 2 / np.log(0.7) ** 2
    want1 = 4 * (c[1] + norm.ppf(0.8)) ** 2 / np.log(0.95) ** 2  # the least favourable selected HR
    assert got.tolist() == [int(np.ceil(min(max(want0, 50), 400))), int(np.ceil(min(max(want1, 50), 400))), 400]
    fixed = EventReestimation(conditional_power=0.9, min_events=1, max_events=10_000, hazard_ratio=0.75)
    want = 4 * (c[0] + norm.ppf(0.9)) ** 2 / np.log(0.75) ** 2
    assert fixed.stage2_events(p1[:1], hr1[:1], sel[:1], 1.977431, w).tolist() == [int(np.ceil(want))]


def test_reestimated_targets_are_used():
    from mndtrial.power.enrichment import EventReestimation

    d = design(reestimation=EventReestimation(conditional_power=0.8, min_events=30, max_events=90),
               pool=ExponentialPool(hazard_ratio_s=0.8, arrivals_per_day=0.8, log_pnfh_mean=np.log(3700)),
               n_randomised_max=400)
    t = simulate_enrichment(d, n_trials=40, seed=8).trials
    go = t[~t["decision"].str.startswith("stop")]
    assert go["stage2_events_planned"].between(30, 90).all() and go["stage2_events_planned"].nunique() > 3
    s_only = go[go["decision"] == "S only"]
    f = go[go["decision"] != "S only"]
    assert ((s_only["final_events_s"] - s_only["interim_events_s"] - s_only["stage2_events_planned"]).between(0, 1)).all()
    assert ((f["final_events_f"] - 60 - f["stage2_events_planned"]).between(0, 1)).all()


def test_bad_design_is_refused():
    pool = ExponentialPool()
    with pytest.raises(ParameterError, match="events"):
        AdaptiveEnrichmentDesign(pool, n_randomised_max=300, events=(120, 60), critical_z=CRIT)
    with pytest.raises(ParameterError, match="population_group"):
        AdaptiveEnrichmentDesign(pool, n_randomised_max=300, events=(60, 120), critical_z=CRIT,
                                 population_group="< 3700")
    with pytest.raises(ParameterError, match="intersection_test"):
        AdaptiveEnrichmentDesign(pool, n_randomised_max=300, events=(60, 120), critical_z=CRIT,
                                 intersection_test="holm")
    with pytest.raises(ParameterError, match="selection.epsilon"):
        SelectionRule(kind="epsilon")


# -- family-wise type I error -------------------------------------------------------------------
NULLS = {  # (hazard ratio in S, in the complement R); prevalence of S 0.5, equal control hazards
    "global": (1.0, 1.0),
    "H_S true (effect only in R)": (1.0, 0.7),
    # H_F true: benefit in S offset by harm in R so that F's stratified log-rank has no drift
    # (slightly on the harmful side: equal events would need log HR_R = -log HR_S)
    "H_F true (effect only in S, harm in R)": (0.75, 1.36),
}


def fwer(hr_s: float, hr_r: float, n_trials: int, seed: int) -> tuple[float, float, dict]:
    d = design(pool=ExponentialPool(hazard_ratio_s=hr_s, hazard_ratio_r=hr_r, median_control_r_days=900,
                                    arrivals_per_day=2, log_pnfh_mean=np.log(3700)),
               selection=SelectionRule(kind="epsilon", epsilon=0.1), intersection_test="simes",
               events=(100, 200), n_randomised_max=500, success_criterion="at_least_one")
    t = simulate_enrichment(d, n_trials=n_trials, seed=seed, n_workers=None if n_trials > 2000 else 1).trials
    false = np.zeros(len(t), dtype=bool)
    if hr_s == 1.0:
        false |= t["reject_s"].to_numpy()
    if hr_r >= 1.0 and hr_s * hr_r >= 1.0:
        false |= t["reject_f"].to_numpy()
    p = false.mean()
    return p, np.sqrt(0.025 * 0.975 / len(t)), t["decision"].value_counts(normalize=True).to_dict()


@pytest.mark.parametrize("name", list(NULLS))
def test_familywise_error_small(name):
    p, se, _ = fwer(*NULLS[name], n_trials=400, seed=21)
    assert p <= 0.025 + 3 * se


@pytest.mark.slow
@pytest.mark.parametrize("name", list(NULLS))
def test_familywise_error_20000(name):
    p, se, decisions = fwer(*NULLS[name], n_trials=20_000, seed=2026)
    print(f"\n{name}: FWER {p:.4f} (MC SE {se:.4f}); interim decisions {decisions}")
    assert p <= 0.025 + 2.5 * se, (p, decisions)


def test_als_simulator_as_pool():
    """The ALS simulator's participants as the pool: recruitment still open at the interim, so an
    S-only decision screens out non-S candidates and the S share of the randomised rises."""
    from dataclasses import replace

    from mndtrial.power.enrichment_pool import SimPool
    from mndtrial.sim import mirocals

    pool = SimPool(replace(mirocals(), horizon_days=2500.0), arrivals_per_day=0.15)
    d = AdaptiveEnrichmentDesign(pool, n_randomised_max=200, events=(40, 80), critical_z=CRIT,
                                 selection=SelectionRule(kind="user", function=lambda hr, z: np.tile([True, False],
                                                                                                    (len(hr), 1))))
    t = simulate_enrichment(d, n_trials=8, seed=4).trials
    go = t[t["decision"] == "S only"]
    assert len(go) >= 6
    assert (go["n_screened"] > go["n_randomised"]).all()
    share = go["n_randomised_s"] / go["n_randomised"]
    stage1_share = go["interim_events_s"] / go["interim_events_f"]  # at least as rich in S as the events
    assert (share > 0.5).all() and share.mean() > stage1_share.mean() - 0.1
    assert (go["final_events_s"] >= go["interim_events_s"] + 40).all()
