"""What the plan's `event_types` make of the trial's events (results.json `trial.*events*`, `trial.warnings`).

A misspelt `event_types` entry (`"tracheostmy"`) would otherwise censor that type's events without
a word. A pre-specified type may legitimately be absent from a trial, so this is a warning, not an
error: every listed type that no event has, and every type that occurs but is not listed (its
events are censored), is named with its count.

Example:
    >>> from mndtrial.data.example import example_trial
    >>> census = endpoint_census(example_trial(), None)
    >>> census["events_all"] == census["endpoint_events"]
    True
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from ..data import Trial

__all__ = ["endpoint_census"]


def endpoint_census(trial: Trial, event_types: Sequence[str] | None) -> dict[str, Any]:
    """All events and endpoint events (overall and per arm), plus warnings about `event_types`.

    Counts are made directly from the survival table so that they are reported even when an
    analysis later refuses the endpoint (e.g. untyped events with `event_types` set).
    """
    df = trial.survival_by_subject()
    is_event = df["event"] == 1
    has_type = "event_type" in df.columns
    if event_types is None:
        is_endpoint = is_event
    elif has_type:
        is_endpoint = is_event & df["event_type"].isin(list(event_types))
    else:
        is_endpoint = pd.Series(False, index=df.index)
    order = [a for a in trial.info.arm_names if a in set(df["arm"])]
    per_arm = {arm: {"n": int((df["arm"] == arm).sum()), "events_all": int((is_event & (df["arm"] == arm)).sum()),
                     "endpoint_events": int((is_endpoint & (df["arm"] == arm)).sum())}
               for arm in order + sorted(set(df["arm"]) - set(order), key=str)}
    out: dict[str, Any] = {"events_all": int(is_event.sum()), "endpoint_events": int(is_endpoint.sum()),
                           "event_types": None if event_types is None else list(event_types),
                           "arms": per_arm, "warnings": []}
    if event_types is None:
        return out
    warnings: list[str] = out["warnings"]
    if not has_type:
        warnings.append(f"event_types {list(event_types)} is set but the survival table has no event_type column")
        return out
    typed = df.loc[is_event, "event_type"]
    counts = typed.dropna().astype(str).value_counts()
    absent = [t for t in event_types if t not in counts.index]
    unlisted = {str(t): int(n) for t, n in sorted(counts.items()) if t not in set(event_types)}
    untyped = int(typed.isna().sum())
    out["event_types_absent"] = absent
    out["event_types_censored"] = unlisted
    if absent:
        warnings.append(f"event_types lists {absent} but no event in the trial has "
                        f"{'this type' if len(absent) == 1 else 'these types'} (a typo?); "
                        f"the trial's event types are {sorted(counts.index)}")
    if unlisted:
        listed = ", ".join(f"{t} ({n} event{'s' if n != 1 else ''})" for t, n in unlisted.items())
        warnings.append(f"events of types not in event_types are censored: {listed}")
    if untyped:
        warnings.append(f"{untyped} event(s) have no event_type")
    return out
