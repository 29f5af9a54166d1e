"""CAFS / Finkelstein–Schoenfeld: a hand-worked example, Gehan's test, a naive double loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.statistics import logrank_test
from scipy import stats

import mndtrial.analysis.cafs as cafs_module
from mndtrial.analysis.cafs import CAFS, finkelstein_schoenfeld, pairwise_scores
from mndtrial.data import Arm, Trial, TrialInfo
from mndtrial.errors import AnalysisError

INFO = TrialInfo(arms=(Arm(name="placebo", control=True), Arm(name="active")), horizon_days=360.0)


def hand_trial() -> Trial:
    """Six participants, horizon 360 days, ALSFRS-R 40 at baseline.

    A active  died day 100           visit d90 -2
    B active  alive at 360           visits d90 -1, d180 -3, d360 -6
    C active  lost (censored) d200   visits d90 -2, d180 -5
    D placebo died day 250           visits d90 -3, d180 -8
    E placebo alive at 360           visits d90 -1, d180 -4, d360 -10
    F placebo died day 100           visit d90 -1

    Pairs (winner): A-B B, A-C C (C known alive after A died), A-D D, A-E E, A-F tie (same day);
    B-C function at d200: B -3 vs C -5 -> B; B-D B; B-E both alive: -6 vs -10 -> B; B-F B;
    C-D function at d200 (D died after C was lost): C -5 vs D -8 -> C; C-E at d200: -5 vs -4 -> E;
    C-F C; D-E E; D-F D; E-F E.
    U: A -4, B 5, C 1, D -1, E 3, F -4 (sum 0).
    """
    ids = list("ABCDEF")
    participants = pd.DataFrame({"subject_id": ids, "arm": ["active"] * 3 + ["placebo"] * 3})
    survival = pd.DataFrame({"subject_id": ids, "time_days": [100.0, 360, 200, 250, 360, 100],
                             "event": [1, 0, 0, 1, 0, 1]})
    changes = {"A": {90: -2}, "B": {90: -1, 180: -3, 360: -6}, "C": {90: -2, 180: -5},
               "D": {90: -3, 180: -8}, "E": {90: -1, 180: -4, 360: -10}, "F": {90: -1}}
    rows = [(s, 0.0, 40.0) for s in ids]
    rows += [(s, float(day), 40.0 + c) for s, visits in changes.items() for day, c in visits.items()]
    return Trial(participants, survival, pd.DataFrame(rows, columns=["subject_id", "day", "total"]), info=INFO)


def test_hand_worked_example():
    res = CAFS().fit(hand_trial()).result_
    scores = res.scores.set_index("subject_id")["score"]
    assert scores.to_dict() == {"A": -4, "B": 5, "C": 1, "D": -1, "E": 3, "F": -4}
    row = res.comparisons.loc["active"]
    # ranks: A,F 1.5; D 3; C 4; E 5; B 6
    assert row["mean_rank_active"] == pytest.approx(11.5 / 3)
    assert row["mean_rank_control"] == pytest.approx(9.5 / 3)
    # T = -4 + 5 + 1; Var = 3*3/(6*5) * (16+25+1+1+9+16) = 20.4
    assert row["fs_T"] == 2
    assert row["fs_var_T"] == pytest.approx(20.4)
    assert row["fs_z"] == pytest.approx(2 / np.sqrt(20.4))
    # Mann-Whitney by hand: U1 = 11.5 - 6 = 5.5, mean 4.5, tie-corrected variance
    # 9/12 * (7 - (2^3-2)/(6*5)) = 5.1, continuity-corrected z = 0.5/sqrt(5.1)
    assert row["mann_whitney_u"] == 5.5
    assert row["mann_whitney_p"] == pytest.approx(2 * stats.norm.sf(0.5 / np.sqrt(5.1)), rel=1e-12)


def gehan_trial(seed: int, n: int = 80) -> Trial:
    """Deaths before the horizon; survivors censored at the horizon with no post-baseline visit,
    so every pair is decided by survival (or tied) exactly as in Gehan's test."""
    rng = np.random.default_rng(seed)
    ids = [f"G{i}" for i in range(n)]
    arm = np.where(np.arange(n) % 2 == 0, "active", "placebo")
    death = np.round(rng.exponential(np.where(arm == "active", 500, 300)))  # ties on whole days
    died = death < 360
    time = np.where(died, np.maximum(death, 1), 360.0)
    rows = [(s, 0.0, 40.0) for s in ids]
    rows += [(s, float(d), 30.0) for s, t, dd in zip(ids, time, died) if dd for d in (30.0,) if d < t]
    return Trial(pd.DataFrame({"subject_id": ids, "arm": arm}),
                 pd.DataFrame({"subject_id": ids, "time_days": time, "event": died.astype(int)}),
                 pd.DataFrame(rows, columns=["subject_id", "day", "total"]), info=INFO)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_survival_decided_pairs_equal_gehan(seed):
    trial = gehan_trial(seed)
    res = CAFS().fit(trial).result_.comparisons.loc["active"]
    s = trial.survival.merge(trial.participants, on="subject_id")
    g1 = (s["arm"] == "active").to_numpy()
    t, e = s["time_days"].to_numpy(), s["event"].to_numpy()
    # Gehan = weighted log-rank with weight n_t (Mantel 1967): U = -Σ n_t (O1 - E1)
    numerator, variance = 0.0, 0.0
    for time in np.unique(t[e == 1]):
        at_risk = t >= time
        n_t, n1_t = at_risk.sum(), (at_risk & g1).sum()
        d_t, d1_t = ((t == time) & (e == 1)).sum(), ((t == time) & (e == 1) & g1).sum()
        numerator += n_t * (d1_t - n1_t * d_t / n_t)
        if n_t > 1:
            variance += n_t ** 2 * n1_t * (n_t - n1_t) * d_t * (n_t - d_t) / (n_t ** 2 * (n_t - 1))
    assert res["fs_T"] == pytest.approx(-numerator, abs=1e-9)
    # the same numerator is lifelines' Gehan-Breslow (wilcoxon) statistic
    lifelines_stat = logrank_test(t[g1], t[~g1], e[g1], e[~g1], weightings="wilcoxon").test_statistic
    assert numerator ** 2 / variance == pytest.approx(lifelines_stat, rel=1e-9)


def naive_scores(trial: Trial, horizon: float, arms: tuple[str, str]) -> dict[str, int]:
    """The rules of docs/cafs.md written as a plain double loop over pairs."""
    p = trial.participants.set_index("subject_id")
    s = trial.survival.set_index("subject_id")
    a = trial.alsfrs
    people = [i for i in p.index if p.loc[i, "arm"] in arms]
    info = {}
    for i in people:
        t, e = s.loc[i, "time_days"], s.loc[i, "event"]
        base = a[(a.subject_id == i) & (a.day <= 0)].sort_values("day")["total"]
        baseline = base.iloc[-1] if len(base) else p.loc[i].get("alsfrs_r_baseline", np.nan)
        visits = a[(a.subject_id == i) & (a.day > 0) & (a.day <= horizon)]
        info[i] = (min(t, horizon), bool(e == 1 and t <= horizon), baseline,
                   list(zip(visits["day"], visits["total"])))

    def change(i, until):
        t, d, baseline, visits = info[i]
        before = [(day, tot) for day, tot in visits if day <= until]
        if not before or pd.isna(baseline):
            return None
        return max(before)[1] - baseline

    scores = {}
    for i in people:
        total = 0
        for j in people:
            if i == j:
                continue
            ti, di = info[i][:2]
            tj, dj = info[j][:2]
            if dj and (ti > tj or (ti == tj and not di)):
                total += 1
            elif di and (tj > ti or (ti == tj and not dj)):
                total -= 1
            elif di and dj:
                pass
            else:
                ci, cj = change(i, min(ti, tj)), change(j, min(ti, tj))
                if ci is not None and cj is not None:
                    total += int(ci > cj) - int(ci < cj)
        scores[i] = total
    return scores


def random_trial(seed: int, n: int = 70) -> Trial:
    rng = np.random.default_rng(seed)
    ids = [f"R{i}" for i in range(n)]
    arm = rng.choice(["placebo", "il2_1miu", "il2_2miu"], n)
    time = np.round(rng.uniform(20, 500, n) / 30) * 30  # ties and follow-up beyond the horizon
    event = rng.random(n) < 0.5
    baseline = np.clip(np.round(rng.normal(38, 4, n)), 20, 47)
    rows = []
    for i, s in enumerate(ids):
        if rng.random() < 0.9:  # some participants have no day-0 visit: the baseline column is used
            rows.append((s, float(rng.choice([0, -7])), baseline[i]))
        for day in (30, 90, 150, 240, 330, 420):
            day = day + int(rng.integers(-3, 4))
            if day <= time[i] and rng.random() < 0.8:
                rows.append((s, float(day), float(np.clip(baseline[i] - rng.integers(0, 12), 0, 48))))
    participants = pd.DataFrame({"subject_id": ids, "arm": arm, "alsfrs_r_baseline": baseline,
                                 "onset_site": rng.choice(["limb", "bulbar"], n)})
    participants.loc[rng.choice(n, 3, replace=False), "alsfrs_r_baseline"] = np.nan
    info = TrialInfo(arms=(Arm(name="placebo", control=True), Arm(name="il2_1miu", dose_miu=1.0),
                           Arm(name="il2_2miu", dose_miu=2.0)), horizon_days=360.0)
    return Trial(participants, pd.DataFrame({"subject_id": ids, "time_days": time, "event": event.astype(int)}),
                 pd.DataFrame(rows, columns=["subject_id", "day", "total"]), info=info)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("use_table", [True, False])
def test_matches_naive_double_loop(seed, use_table, monkeypatch):
    if not use_table:
        monkeypatch.setattr(cafs_module, "MAX_TABLE_CELLS", 0)
    trial = random_trial(seed)
    res = CAFS().fit(trial).result_
    for arm in ("il2_1miu", "il2_2miu"):
        expected = naive_scores(trial, 360.0, ("placebo", arm))
        got = res.scores[res.scores["comparison"] == arm].set_index("subject_id")["score"].to_dict()
        assert got == expected
        s = pd.Series(expected)
        active = trial.participants.set_index("subject_id").loc[s.index, "arm"].eq(arm).to_numpy()
        n, n1 = len(s), active.sum()
        var = n1 * (n - n1) / (n * (n - 1)) * (s ** 2).sum()
        assert res.comparisons.loc[arm, "fs_T"] == s[active].sum()
        assert res.comparisons.loc[arm, "fs_var_T"] == pytest.approx(var)


def test_stratified_sums_strata():
    trial = random_trial(7)
    res = CAFS(strata=["onset_site"]).fit(trial).result_.comparisons.loc["il2_2miu"]
    T = var = 0.0
    for site in ("bulbar", "limb"):
        ids = trial.participants.query("onset_site == @site")["subject_id"]
        part = CAFS().fit(trial.select(ids)).result_.comparisons.loc["il2_2miu"]
        T, var = T + part["fs_T"], var + part["fs_var_T"]
    assert res["fs_T"] == T
    assert res["fs_var_T"] == pytest.approx(var)
    assert res["fs_z"] == pytest.approx(T / np.sqrt(var))


def test_stratified_mann_whitney_is_labelled_as_the_pooled_test_it_is():
    # reference: scipy's Mann-Whitney on the pooled within-stratum scores reproduces mann_whitney_p,
    # so it is not a stratified test, and the results and the plan's summary must not call it one
    from mndtrial.analysis.outcome_sections import summarize_cafs

    trial = random_trial(7)
    result = CAFS(strata=["onset_site"]).fit(trial).result_
    scores = result.scores.query("comparison == 'il2_2miu'")
    active = (scores["arm"] == "il2_2miu").to_numpy()
    pooled = stats.mannwhitneyu(scores["score"][active], scores["score"][~active], method="asymptotic",
                                use_continuity=True)
    assert result.comparisons.loc["il2_2miu", "mann_whitney_p"] == pytest.approx(pooled.pvalue, rel=1e-12)
    out = result.to_dict()
    assert "pooled over within-stratum scores" in out["mann_whitney_scope"]
    assert "not a stratified" in out["mann_whitney_scope"]
    unstratified = CAFS().fit(trial).result_.to_dict()
    assert "pooled" not in unstratified["mann_whitney_scope"]
    table = summarize_cafs({"unstratified": unstratified, "stratified": out})["CAFS"]
    assert list(dict.fromkeys(table["test"])) == ["unstratified", "stratified (FS by stratum; Mann-Whitney pooled)"]


def _van_elteren_by_hand(scores, active, strata):
    # textbook form: U_s from scipy per stratum, tie-corrected variance n1 n0/12 (n+1 − Σ(t³−t)/(n(n−1)))
    T = E = V = 0.0
    for s in np.unique(strata):
        m = strata == s
        a, c = scores[m & active], scores[m & ~active]
        n1, n0 = len(a), len(c)
        n = n1 + n0
        u = stats.mannwhitneyu(a, c, method="asymptotic").statistic
        w = u + n1 * (n1 + 1) / 2
        t = np.unique(scores[m], return_counts=True)[1].astype(float)
        T += w / (n + 1)
        E += n1 / 2
        V += n1 * n0 / 12 * (n + 1 - (t ** 3 - t).sum() / (n * (n - 1))) / (n + 1) ** 2
    return (T - E) / np.sqrt(V)


def test_van_elteren_against_textbook_form_scipy_and_permutation():
    from mndtrial.analysis.cafs import van_elteren

    trial = random_trial(7)
    result = CAFS(strata=["onset_site"]).fit(trial).result_
    sc = result.scores.query("comparison == 'il2_2miu'")
    scores, active, strata = sc["score"].to_numpy(float), (sc["arm"] == "il2_2miu").to_numpy(), sc["stratum"].to_numpy()
    ve = van_elteren(scores, active, strata)
    assert ve["z"] == pytest.approx(_van_elteren_by_hand(scores, active, strata), rel=1e-10)
    row = result.comparisons.loc["il2_2miu"]
    assert row["van_elteren_z"] == ve["z"] and row["van_elteren_p"] == pytest.approx(2 * stats.norm.sf(abs(ve["z"])))
    # one stratum: scipy's Mann-Whitney without continuity correction
    one = van_elteren(scores, active, np.zeros(len(scores)))
    mw = stats.mannwhitneyu(scores[active], scores[~active], method="asymptotic", use_continuity=False)
    assert one["p"] == pytest.approx(mw.pvalue, rel=1e-10)
    # the permutation distribution (arms shuffled within strata) of Z has mean 0 and variance 1
    rng = np.random.default_rng(3)
    zs = []
    for _ in range(3000):
        perm = active.copy()
        for s in np.unique(strata):
            idx = np.flatnonzero(strata == s)
            perm[idx] = rng.permutation(active[idx])
        zs.append(van_elteren(scores, perm, strata)["z"])
    assert abs(np.mean(zs)) < 0.07 and abs(np.var(zs) - 1) < 0.09
    assert CAFS().fit(trial).result_.comparisons.loc["il2_2miu", "van_elteren_p"] is None


def test_finkelstein_schoenfeld_formula_against_permutation_variance():
    """Var(T) is the exact permutation variance of T given the scores (scores sum to zero)."""
    rng = np.random.default_rng(5)
    scores = rng.integers(-10, 11, 9).astype(float)
    scores -= scores.mean()
    active = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0], bool)
    from itertools import combinations
    totals = [scores[list(c)].sum() for c in combinations(range(9), 4)]
    assert finkelstein_schoenfeld(scores, active)["var_T"] == pytest.approx(np.var(totals))


def test_pairwise_scores_are_antisymmetric_and_sum_to_zero():
    rng = np.random.default_rng(11)
    n = 300
    t = np.round(rng.uniform(10, 400, n))
    d = rng.random(n) < 0.4
    owner = np.repeat(np.arange(n), 4)
    day = np.tile([30.0, 90, 180, 270], n)
    change = -rng.integers(0, 15, 4 * n).astype(float)
    assert pairwise_scores(t, d, owner, day, change).sum() == 0


def test_degenerate_inputs():
    trial = hand_trial()
    with pytest.raises(AnalysisError, match="no placebo"):
        CAFS().fit(Trial(trial.participants, trial.survival, trial.alsfrs,
                         info=TrialInfo(arms=(Arm(name="placebo"), Arm(name="active")))))
    only_baseline = trial.alsfrs.query("day == 0")
    with pytest.raises(AnalysisError, match="only one visit"):
        CAFS().fit(Trial(trial.participants, trial.survival, only_baseline, info=INFO))
    dead = trial.survival.assign(time_days=10.0, event=1)
    with pytest.raises(AnalysisError, match="all participants died before the first follow-up"):
        CAFS().fit(Trial(trial.participants, dead, only_baseline, info=INFO))
    flat = trial.alsfrs.assign(total=40.0)
    alive = trial.survival.assign(time_days=360.0, event=0)
    with pytest.raises(AnalysisError, match="every pair"):
        CAFS().fit(Trial(trial.participants, alive, flat, info=INFO))
    with pytest.raises(AnalysisError, match="no alsfrs"):
        CAFS().fit(Trial(trial.participants, trial.survival, info=INFO))


def test_plan_event_types_decide_what_counts_as_a_death_in_cafs(example_trial):
    # The plan's event_types (e.g. death only, from a death-or-tracheostomy table) must define the
    # CAFS deaths as it does the survival analyses'. Reference: the same trial with the
    # tracheostomies recoded to censorings by hand, analysed with every event counted.
    from mndtrial.analysis import AnalysisPlan

    from conftest import with_tracheostomies

    trial, tracheo = with_tracheostomies(example_trial, 6)
    t = trial.tables()
    recoded = t["survival"].copy()
    recoded.loc[tracheo, "event"] = 0
    recoded.loc[tracheo, "event_type"] = "censored"
    by_hand = Trial(t["participants"], recoded, t["alsfrs"], t["biomarkers"], info=example_trial.info)

    expected = CAFS().fit(by_hand).result_.comparisons
    got = CAFS(event_types=["death"]).fit(trial).result_.comparisons
    pd.testing.assert_frame_equal(got, expected)
    assert CAFS().fit(trial).result_.comparisons["fs_T"].iloc[0] != expected["fs_T"].iloc[0]

    plan = AnalysisPlan.from_toml_text('event_types = ["death"]\nstrata = ["country"]\n'
                                       '[function]\nenabled = false\n[treg]\nenabled = false\n')
    out = plan.run(trial)["cafs"]
    ref = plan.run(by_hand)["cafs"]
    assert out == ref
