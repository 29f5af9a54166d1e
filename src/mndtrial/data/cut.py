"""Data cuts in calendar time: the trial as a data monitoring committee would see it on a date.

A trial's participants enter on calendar days (`participants.entry_day`, counted from a fixed
study origin); their survival, visits and samples are counted from their own randomisation. A cut
at calendar day C keeps what was known on C (the rules of simtrial's `cut_data_by_date`):

- participants randomised after C are removed (those randomised on C stay, with 0 days' follow-up);
- survival is censored at C: time = min(time_days, C - entry_day), and an event after C is none;
- ALSFRS-R visits and biomarker samples after C (day > C - entry_day) are dropped;
- a `withdrawal_day` after C is unknown on C and becomes missing.

`event_cut_day` finds the day of the k-th endpoint event (overall, or among the participants of
a population given as a boolean mask over participant rows — `mndtrial.analysis.population_mask`
makes one from a `BiomarkerRule`); `cut_by_event` cuts there. Both work on one `Trial` and,
vectorised over trials, on a `TrialBatch` (one cut day per trial).

Example:
    >>> import pandas as pd
    >>> from mndtrial.data import Trial
    >>> p = pd.DataFrame({"subject_id": ["a", "b", "c"], "arm": ["placebo", "il2", "il2"],
    ...                   "entry_day": [0.0, 10.0, 50.0]})
    >>> s = pd.DataFrame({"subject_id": ["a", "b", "c"], "time_days": [30.0, 25.0, 5.0], "event": [1, 1, 1]})
    >>> trial = Trial(p, s)
    >>> event_cut_day(trial, events=2)  # a dies on day 30, b on day 35, c on day 55
    35.0
    >>> cut_by_date(trial, 32.0).survival[["subject_id", "time_days", "event"]].values.tolist()
    [['a', 30.0, 1], ['b', 22.0, 0]]
"""

from __future__ import annotations

from typing import Literal, Union, overload

import numpy as np
import pandas as pd

from ..errors import ParameterError, Problem, TrialDataError
from .batch import TrialBatch
from .trial import Trial

__all__ = ["ENTRY", "event_cut_day", "cut_by_date", "cut_by_event", "calendar_event_days"]

ENTRY = "entry_day"
Data = Union[Trial, TrialBatch]


# -- inputs -------------------------------------------------------------------------------------
def _entry(participants: pd.DataFrame, ids) -> np.ndarray:
    if ENTRY not in participants.columns:
        raise TrialDataError([Problem(table="participants", column=ENTRY, rule="required_for_cut",
                                      message="a calendar-time cut needs each participant's calendar day of "
                                              "randomisation (column 'entry_day')")])
    entry = pd.to_numeric(participants[ENTRY], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(entry)
    if bad.any():
        raise TrialDataError([Problem(table="participants", column=ENTRY, rule="required_for_cut",
                                      message="entry_day is missing or not a finite number",
                                      subject_id=str(ids(r)), value=participants[ENTRY].iat[r], row=int(r))
                              for r in np.flatnonzero(bad)])
    return entry


def _population(population, n: int, index: pd.Index | None) -> np.ndarray | None:
    if population is None:
        return None
    if isinstance(population, pd.Series) and index is not None and not population.index.equals(pd.RangeIndex(n)):
        if not population.index.is_unique or not index.isin(population.index).all():
            raise ParameterError("population", "Series", "a Series must be indexed by every subject_id once")
        population = population.reindex(index)
    mask = np.asarray(population)
    if mask.dtype != bool or mask.shape != (n,):
        raise ParameterError("population", f"{mask.dtype}{mask.shape}",
                             f"must be a boolean mask over the {n} participant rows")
    return mask


def _survival_columns(data: Data) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Participants, their survival rows in the same order, entry day, time and event."""
    if isinstance(data, Trial):
        p, s = data.participants, data.survival
        s = s.set_index("subject_id").loc[p["subject_id"]].reset_index()
        def ids(r):
            return p["subject_id"].iat[r]
    elif isinstance(data, TrialBatch):
        p, s = data.participants, data.survival
        if not (len(p) == len(s) and np.array_equal(p["trial"].to_numpy(), s["trial"].to_numpy())
                and np.array_equal(p["subject"].to_numpy(), s["subject"].to_numpy())):
            raise TrialDataError([Problem(table="survival", rule="aligned_rows",
                                          message="the batch survival table must have one row per participant, "
                                                  "in the participants table's order")])
        def ids(r):  # only made for an error message
            return f"trial {p['trial'].iat[r]}, subject {p['subject'].iat[r]}"
    else:
        raise ParameterError("data", type(data).__name__, "must be a mndtrial Trial or TrialBatch")
    entry = _entry(p, ids)
    time = s["time_days"].to_numpy(dtype=float)
    event = s["event"].to_numpy(dtype=float) == 1
    return p, s, entry, time, event


# -- when ---------------------------------------------------------------------------------------
def calendar_event_days(data: Data, population=None) -> np.ndarray:
    """Calendar day of each participant's endpoint event (entry_day + time_days); NaN if censored
    or outside the population. One value per participant row."""
    p, _, entry, time, event = _survival_columns(data)
    index = pd.Index(p["subject_id"]) if isinstance(data, Trial) else None
    mask = _population(population, len(p), index)
    keep = event if mask is None else event & mask
    return np.where(keep, entry + time, np.nan)


@overload
def event_cut_day(data: Trial, events: int, population=None) -> float: ...
@overload
def event_cut_day(data: TrialBatch, events: int, population=None) -> np.ndarray: ...


def event_cut_day(data, events, population=None):
    """Calendar day on which the `events`-th endpoint event occurs (in `population`, a boolean
    mask over participant rows or a boolean Series by subject_id; default everyone).

    NaN where the data hold fewer events. A float for a `Trial`; for a `TrialBatch`, an array with
    one day per trial (in `batch.trial_index` order), and `events` may then differ per trial.
    """
    target = np.asarray(events)
    if isinstance(data, TrialBatch) and target.ndim == 1:
        if target.shape != (data.n_trials,):
            raise ParameterError("events", f"array of {target.shape[0]}", f"needs one target per trial ({data.n_trials})")
    elif target.ndim != 0 or isinstance(events, bool):
        raise ParameterError("events", events, "must be a whole number >= 1 (for a batch: or one per trial)")
    if not np.issubdtype(target.dtype, np.integer) or np.any(target < 1):
        raise ParameterError("events", events, "must be whole numbers >= 1")
    days = calendar_event_days(data, population)
    if isinstance(data, Trial):
        happened = np.sort(days[np.isfinite(days)])
        return float(happened[events - 1]) if len(happened) >= events else float("nan")
    trial = data.participants["trial"].to_numpy() - data.first_trial
    has = np.isfinite(days)
    t, d = trial[has], days[has]
    # Each trial's event days in a row of a padded table (rows are short: sorting them is cheap).
    counts = np.bincount(t, minlength=data.n_trials)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    order = np.argsort(t, kind="stable")
    table = np.full((data.n_trials, max(int(counts.max(initial=0)), 1)), np.inf)
    table[t[order], np.arange(len(t)) - starts[t[order]]] = d[order]
    table.sort(axis=1)
    target = np.broadcast_to(target, (data.n_trials,))
    reached = counts >= target
    out = np.full(data.n_trials, np.nan)
    out[reached] = table[np.flatnonzero(reached), target[reached] - 1]
    return out


# -- cutting ------------------------------------------------------------------------------------
def _censor(s: pd.DataFrame, time: np.ndarray, event: np.ndarray, entry: np.ndarray, cut: np.ndarray) -> pd.DataFrame:
    # Compared on the calendar scale, as event_cut_day finds days: (e + t) - e may differ from t.
    after = entry + time > cut
    follow = cut - entry
    s = s.copy()
    s["time_days"] = np.where(after, follow, time)
    s["event"] = np.where(after, 0, event.astype(np.int64)).astype(s["event"].dtype)
    if "event_type" in s.columns and after.any():
        col = s["event_type"]
        if isinstance(col.dtype, pd.CategoricalDtype) and "censored" not in col.cat.categories:
            col = col.cat.add_categories(["censored"])
        s["event_type"] = col.where(~after, "censored")
    return s


def _withdrawal(p: pd.DataFrame, entry: np.ndarray, cut: np.ndarray) -> pd.DataFrame:
    if "withdrawal_day" in p.columns:
        w = pd.to_numeric(p["withdrawal_day"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        p = p.assign(withdrawal_day=np.where(entry + w > cut, np.nan, w))
    return p


@overload
def cut_by_date(data: Trial, cut_day: float) -> Trial: ...
@overload
def cut_by_date(data: TrialBatch, cut_day: float | np.ndarray) -> TrialBatch: ...


def cut_by_date(data, cut_day):
    """The data known on calendar day `cut_day` (for a batch: one day, or one per trial; +inf
    keeps everything). Inputs are not modified."""
    p, s, entry, time, event = _survival_columns(data)
    if isinstance(data, Trial):
        cut = float(cut_day)
        if np.isnan(cut):
            raise ParameterError("cut_day", cut_day, "must be a calendar day (not NaN)")
        cuts = np.full(len(entry), cut)
        keep = entry <= cut
        if not keep.any():
            raise ParameterError("cut_day", cut_day, f"no participant was randomised on or before it "
                                                     f"(first entry_day {entry.min():g})")
        entry_of = pd.Series(np.where(keep, entry, np.inf), index=p["subject_id"])
        tables = {"participants": _withdrawal(p, entry, cuts)[keep],
                  "survival": _censor(s, time, event, entry, cuts)[keep]}
        for name in ("alsfrs", "biomarkers"):
            df = getattr(data, name)
            if df is not None:
                df = df.loc[df["subject_id"].map(entry_of).to_numpy(dtype=float) + df["day"].to_numpy(dtype=float) <= cut]
            tables[name] = None if df is None or len(df) == 0 else df
        info = data.info.restricted_to(set(tables["participants"]["arm"]))
        return Trial(info=info, **tables)
    cut = np.broadcast_to(np.asarray(cut_day, dtype=float), (data.n_trials,))
    if np.isnan(cut).any():
        raise ParameterError("cut_day", cut_day, "must be calendar days (not NaN); +inf keeps a trial whole")
    trial = p["trial"].to_numpy()
    cuts = cut[trial - data.first_trial]
    keep = entry <= cuts
    out = {"participants": _withdrawal(p, entry, cuts)[keep].reset_index(drop=True),
           "survival": _censor(s, time, event, entry, cuts)[keep].reset_index(drop=True)}
    key = _keys(p)
    order = np.argsort(key, kind="stable")
    for name in ("alsfrs", "biomarkers"):
        df = getattr(data, name)
        if df is not None:
            k = _keys(df)
            row = order[np.minimum(np.searchsorted(key, k, sorter=order), len(key) - 1)]
            if len(k) and not np.array_equal(key[row], k):
                raise TrialDataError([Problem(table=name, rule="not_randomised",
                                              message="rows whose (trial, subject) is not in participants")])
            # Visits of a participant randomised after the cut go with them (even screening ones).
            rows = keep[row] & (entry[row] + df["day"].to_numpy(dtype=float) <= cuts[row])
            df = df.loc[rows].reset_index(drop=True)
        out[name] = df
    meta = dict(data.metadata)
    meta["cut_day"] = pd.DataFrame({"trial": data.trial_index, "cut_day": cut})
    return TrialBatch(info=data.info, n_trials=data.n_trials, first_trial=data.first_trial, metadata=meta, **out)


def _keys(df: pd.DataFrame) -> np.ndarray:
    return df["trial"].to_numpy().astype(np.int64) * (1 << 32) + df["subject"].to_numpy().astype(np.int64)


def cut_by_event(data: Data, events: int, population=None,
                 if_short: Literal["end", "error"] = "end") -> Data:
    """Cut at the day of the `events`-th endpoint event (in `population`; see `event_cut_day`).

    A trial with fewer events is kept whole (`if_short="end"`: the analysis waits for the end of
    follow-up) or refused (`"error"`).
    """
    if if_short not in ("end", "error"):
        raise ParameterError("if_short", if_short, "must be 'end' or 'error'")
    day = np.asarray(event_cut_day(data, events, population), dtype=float)
    short = np.isnan(day)
    if short.any() and if_short == "error":
        where = "" if isinstance(data, Trial) else f" in trials {list(data.trial_index[short][:10])}"
        raise ParameterError("events", events, f"more than the endpoint events in the data{where}")
    day = np.where(short, np.inf, day)
    return cut_by_date(data, float(day) if isinstance(data, Trial) else day)
