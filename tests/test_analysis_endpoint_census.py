"""results.json `trial`: all events vs the plan's endpoint events, and warnings about `event_types`.

Reference: a direct count on the survival table (by hand, independent of `endpoint_census`).
"""

from __future__ import annotations

from conftest import with_tracheostomies

from mndtrial.analysis import AnalysisPlan

OFF = "\n".join(f"[{s}]\nenabled = false" for s in ("subgroups", "function", "cafs", "treg"))


def _plan(event_types: str) -> AnalysisPlan:
    return AnalysisPlan.from_toml_text(f"event_types = {event_types}\n{OFF}")


def test_misspelt_event_type_is_named_and_unlisted_types_are_counted(example_trial):
    trial, rows = with_tracheostomies(example_trial, 5)
    surv = trial.survival
    deaths = int(((surv["event"] == 1) & (surv["event_type"] == "death")).sum())
    results = _plan('["death", "tracheostmy"]').run(trial)
    t = results.trial
    assert t["events_all"] == int(surv["event"].sum()) == deaths + 5
    assert t["endpoint_events"] == deaths
    assert t["event_types_absent"] == ["tracheostmy"]
    assert t["event_types_censored"] == {"tracheostomy": 5}
    text = " ".join(t["warnings"])
    assert "tracheostmy" in text and "tracheostomy (5 events)" in text
    # per arm, by a direct count
    arm_of = trial.participants.set_index("subject_id")["arm"]
    for arm, v in t["arms"].items():
        mine = surv.loc[surv["subject_id"].map(arm_of) == arm]
        assert v["n"] == len(mine)
        assert v["events_all"] == int(mine["event"].sum())
        assert v["endpoint_events"] == int(((mine["event"] == 1) & (mine["event_type"] == "death")).sum())
    # the survival section counts the same endpoint events
    assert results["survival"]["cox"]["unadjusted"]["events"] == deaths
    assert "warnings" in results.to_dict()["trial"]


def test_no_warning_when_every_type_is_listed(example_trial):
    trial, _ = with_tracheostomies(example_trial, 3)
    t = _plan('["death", "tracheostomy"]').run(trial).trial
    assert t["warnings"] == [] and t["event_types_absent"] == [] and t["event_types_censored"] == {}
    assert t["endpoint_events"] == t["events_all"] == int(trial.survival["event"].sum())


def test_without_event_types_every_event_is_an_endpoint_event(example_trial):
    trial, _ = with_tracheostomies(example_trial, 3)
    t = AnalysisPlan.from_toml_text(OFF).run(trial).trial
    assert t["endpoint_events"] == t["events_all"] == int(trial.survival["event"].sum())
    assert t["event_types"] is None and t["warnings"] == []
