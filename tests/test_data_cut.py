"""Calendar-time data cuts: the fast batch cut against a slow, obvious per-participant loop on
`Trial` objects (double programming), batch/trial commutation, and a real trial folder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mndtrial.analysis import BiomarkerRule, population_mask
from mndtrial.data import Trial, cut_by_date, cut_by_event, event_cut_day, read_trial
from mndtrial.data.example import example_trial
from mndtrial.errors import ParameterError, TrialDataError
from mndtrial.sim import mirocals, simulate

RULE = BiomarkerRule(biomarker="csf_pnfh", cutoffs=[3700])


@pytest.fixture(scope="module")
def batch():
    return simulate(mirocals(n_randomised=80), n_trials=6, seed=3, first_trial=5)


def slow_cut(trial: Trial, cut_day: float) -> dict[str, pd.DataFrame | None]:
    """What a person would do: walk the participants one by one and keep what was known on day C."""
    parts, surv, visits, samples = [], [], [], []
    s_by = trial.survival.set_index("subject_id")
    alsfrs, bio = trial.alsfrs, trial.biomarkers
    for _, row in trial.participants.iterrows():
        entry = row["entry_day"]
        if entry > cut_day:
            continue
        known = cut_day - entry
        sid = row["subject_id"]
        row = row.copy()
        if "withdrawal_day" in row and entry + row["withdrawal_day"] > cut_day:
            row["withdrawal_day"] = np.nan
        parts.append(row)
        s = s_by.loc[sid].copy()
        if entry + s["time_days"] > cut_day:
            s["time_days"], s["event"], s["event_type"] = known, 0, "censored"
        surv.append(s.rename(sid))
        for table, out in ((alsfrs, visits), (bio, samples)):
            if table is not None:
                mine = table[table["subject_id"] == sid]
                out.append(mine[entry + mine["day"] <= cut_day])
    survival = pd.DataFrame(surv).rename_axis("subject_id").reset_index()
    return {"participants": pd.DataFrame(parts), "survival": survival,
            "alsfrs": pd.concat(visits) if visits else None, "biomarkers": pd.concat(samples) if samples else None}


def slow_event_day(trial: Trial, k: int, members: set[str] | None = None) -> float:
    days = []
    s_by = trial.survival.set_index("subject_id")
    for _, row in trial.participants.iterrows():
        s = s_by.loc[row["subject_id"]]
        if s["event"] == 1 and (members is None or row["subject_id"] in members):
            days.append(row["entry_day"] + s["time_days"])
    days.sort()
    return days[k - 1] if len(days) >= k else np.nan


def assert_same_tables(got: Trial, want: dict) -> None:
    for name in ("participants", "survival", "alsfrs", "biomarkers"):
        g, w = getattr(got, name), want[name]
        if w is None or len(w) == 0:
            assert g is None
            continue
        cols = [c for c in g.columns if c != "event_type"]
        g = g.sort_values(["subject_id"] + (["day", *(["analyte"] if "analyte" in g else [])] if "day" in g else []))
        w = w.sort_values(list(g.columns[:1]) + (["day", *(["analyte"] if "analyte" in w else [])] if "day" in w else []))
        for c in cols:
            gv, wv = g[c].to_numpy(), w[c].to_numpy()
            if np.issubdtype(np.asarray(gv).dtype, np.number):
                np.testing.assert_array_equal(gv.astype(float), wv.astype(float), err_msg=f"{name}.{c}")
            else:
                assert list(map(str, gv)) == list(map(str, wv)), f"{name}.{c}"
    s = got.survival.set_index("subject_id")
    assert (s.loc[s["event"] == 0, "event_type"] != "death").all()


def test_batch_cut_equals_slow_loop_trial_by_trial(batch):
    cuts = np.array([200.0, 450.0, 700.0, 900.0, 1200.0, 10_000.0])
    fast = cut_by_date(batch, cuts)
    assert fast.metadata["cut_day"]["cut_day"].tolist() == cuts.tolist()
    for j, i in enumerate(batch.trial_index):
        want = slow_cut(batch.trial(i), cuts[j])
        assert_same_tables(fast.trial(i), want)
        # cut then take one trial == take one trial then cut
        assert fast.trial(i).equals(cut_by_date(batch.trial(i), cuts[j]))


def test_event_cut_day_equals_slow_loop_overall_and_in_population(batch):
    for k in (1, 10, 25):
        fast = event_cut_day(batch, k)
        low = population_mask(RULE, "<= 3700", batch)
        fast_low = event_cut_day(batch, k, population=low)
        for j, i in enumerate(batch.trial_index):
            trial = batch.trial(i)
            assert fast[j] == slow_event_day(trial, k) or (np.isnan(fast[j]) and np.isnan(slow_event_day(trial, k)))
            members = set(RULE.assign(trial).labels.pipe(lambda s: s[s == "<= 3700"]).index)
            want = slow_event_day(trial, k, members)
            assert fast_low[j] == want or (np.isnan(fast_low[j]) and np.isnan(want))
            one_low = population_mask(RULE, "<= 3700", trial)
            assert event_cut_day(trial, k, population=one_low) == pytest.approx(want, nan_ok=True)


def test_cut_by_event_has_k_events_and_censors_after(batch):
    k = 20
    cut = cut_by_event(batch, k)
    days = event_cut_day(batch, k)
    ev = cut.survival.groupby("trial")["event"].sum().to_numpy()
    assert (ev >= k).all()  # ties on the cut day count: at least k, exactly k without ties
    for j, i in enumerate(batch.trial_index):
        p = cut.trial(i).participants
        assert (p["entry_day"] <= days[j]).all()
        s = cut.trial(i).survival_by_subject()
        assert (s["entry_day"] + s["time_days"] <= days[j]).all()


def test_short_trials_kept_whole_or_refused(batch):
    huge = 10_000
    whole = cut_by_event(batch, huge)
    assert whole.trial(batch.first_trial).equals(batch.trial(batch.first_trial))
    with pytest.raises(ParameterError, match="events"):
        cut_by_event(batch, huge, if_short="error")
    with pytest.raises(ParameterError, match="events"):
        event_cut_day(batch, 0)


def test_cut_real_trial_folder_with_entry_column(tmp_path):
    base = example_trial()
    tables = base.tables()
    rng = np.random.default_rng(0)
    tables["participants"]["entry_day"] = np.sort(rng.integers(0, 400, base.n_participants)).astype(float)
    trial = Trial(info=base.info, **tables)
    trial.write(tmp_path / "t")
    read = read_trial(tmp_path / "t")
    assert read.participants["entry_day"].tolist() == trial.participants["entry_day"].tolist()
    day = event_cut_day(read, 10)
    cut = cut_by_event(read, 10)
    assert_same_tables(cut, slow_cut(read, day))
    assert int(cut.survival["event"].sum()) >= 10


def test_missing_entry_day_is_named(batch):
    with pytest.raises(TrialDataError, match="entry_day"):
        cut_by_date(example_trial(), 100.0)
    tables = batch.trial(batch.first_trial).tables()
    tables["participants"].loc[3, "entry_day"] = np.nan
    with pytest.raises(TrialDataError, match="S0004"):
        event_cut_day(Trial(info=batch.info, **tables), 3)
    with pytest.raises(ParameterError, match="no participant"):
        cut_by_date(batch.trial(batch.first_trial), -1.0)


def test_inputs_not_modified(batch):
    before = batch.survival.copy()
    cut_by_date(batch, 300.0)
    pd.testing.assert_frame_equal(batch.survival, before)


def test_population_mask_batch_equals_trial(batch):
    rule = BiomarkerRule(biomarker="csf_pnfh", ranges=[(750, 3700)])
    mask = population_mask(rule, "(750, 3700]", batch)
    for i in batch.trial_index:
        rows = (batch.participants["trial"] == i).to_numpy()
        np.testing.assert_array_equal(mask[rows], population_mask(rule, "(750, 3700]", batch.trial(i)))
    with pytest.raises(ParameterError, match="fixed cutoffs"):
        population_mask(BiomarkerRule(biomarker="csf_pnfh", quantiles=[0.5]), "<= 1", batch)
    with pytest.raises(ParameterError, match="one of"):
        population_mask(rule, "<= 3700", batch)


def test_cli_cut_writes_the_cut_folder(tmp_path):
    from typer.testing import CliRunner

    from mndtrial.cli import app

    base = example_trial()
    tables = base.tables()
    tables["participants"]["entry_day"] = np.arange(base.n_participants, dtype=float) * 5
    Trial(info=base.info, **tables).write(tmp_path / "t")
    res = CliRunner().invoke(app, ["cut", str(tmp_path / "t"), "--events", "12", "--out", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    got = read_trial(tmp_path / "c")
    want = cut_by_event(read_trial(tmp_path / "t"), 12)
    assert got.survival.equals(want.survival) and got.participants.equals(want.participants)
    bad = CliRunner().invoke(app, ["cut", str(tmp_path / "t"), "--out", str(tmp_path / "d")])
    assert bad.exit_code != 0
