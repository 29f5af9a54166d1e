"""Survival rows of a batch sorted once, shared by the compiled log-rank and Cox kernels.

The numpy routes sort and pad the rows again for every test (`_layout.risk_sets`). The compiled
routes instead sort a batch's rows once by (trial, time descending, events first) — a
`SurvivalLayout`, which the power engine keeps for all the tests of one chunk — and each test then
only selects its rows (two arms, a population) and, where stratified, moves them into stratum
blocks within each trial with a stable counting pass. The result is the same order as the numpy
route's (trial, stratum, time descending, events first, then the original row order).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import math

import numpy as np
from numba import njit

from ..data import TrialBatch
from ..errors import ParameterError, Problem, TrialDataError
from ._layout import _check_aligned, _risk_order, covariate_matrix, stratum_codes, treatment_indicator

__all__ = ["SurvivalLayout", "survival_layout", "SortedRows", "sorted_rows"]


@dataclass(frozen=True, eq=False)
class SurvivalLayout:
    """A batch's survival rows in (trial, time descending, events first) order, with the columns
    the kernels read as numpy arrays; stratum codes and covariate matrices are kept once made.

    It describes `batch` as it was when built: build a new one after changing the batch's tables.
    """

    batch: TrialBatch
    order: np.ndarray  # participant rows in sorted order
    trial: np.ndarray  # 0-based trial of each participant row (participants' order)
    time: np.ndarray  # float, participants' order
    event: np.ndarray  # float, participants' order
    _kept: dict = field(default_factory=dict, repr=False)

    @property
    def n_trials(self) -> int:
        return self.batch.n_trials

    def strata(self, strata: tuple[str, ...]) -> np.ndarray:
        key = ("strata", tuple(strata))
        if key not in self._kept:
            self._kept[key] = stratum_codes(self.batch, tuple(strata))
        return self._kept[key]

    def covariates(self, covariates: tuple[str, ...]) -> np.ndarray:
        key = ("covariates", tuple(covariates))
        if key not in self._kept:
            self._kept[key] = covariate_matrix(self.batch, tuple(covariates))
        return self._kept[key]


def survival_layout(batch: TrialBatch) -> SurvivalLayout:
    """Sort `batch`'s survival rows once (see `SurvivalLayout`).

    Example:
        >>> layout = survival_layout(batch)  # doctest: +SKIP
        >>> logrank_batch(batch, layout=layout); cox_batch(batch, layout=layout)  # doctest: +SKIP
    """
    _check_aligned(batch)
    s = batch.survival
    trial = s["trial"].to_numpy() - batch.first_trial
    time = s["time_days"].to_numpy(dtype=float, na_value=np.nan)
    event = s["event"].to_numpy(dtype=float, na_value=np.nan)
    whole_days = len(time) and np.isfinite(time).all() and time.min() >= 0 and time.max() < len(time) \
        and np.array_equal(time, np.floor(time))
    if whole_days:  # the usual case: two counting passes over a small integer key, in compiled code
        key = (int(time.max()) - time.astype(np.int64)) * 2 + (event <= 0)
        order = _counting_order(trial, key, batch.n_trials, int(key.max()) + 1)
    else:  # fractional, very long or invalid times: the numpy route's sort (bad rows are refused on use)
        order = _risk_order(trial, time, event)
    return SurvivalLayout(batch=batch, order=order, trial=trial, time=time, event=event)


@njit(cache=True)
def _counting_order(trial, key, n_trials, n_keys):
    """Stable order by (trial, key): a counting sort by key, then a stable one by trial."""
    return _stable_by(trial, n_trials, _stable_by(key, n_keys, np.arange(len(key))))


@njit(cache=True)
def _stable_by(key, n_keys, rows):
    """`rows` reordered by key[rows] (values 0..n_keys-1), ties kept in their order."""
    pos = np.zeros(n_keys + 1, dtype=np.int64)
    for i in rows:
        pos[key[i] + 1] += 1
    for k in range(n_keys):
        pos[k + 1] += pos[k]
    out = np.empty(len(rows), dtype=np.int64)
    for i in rows:
        out[pos[key[i]]] = i
        pos[key[i]] += 1
    return out


@njit(cache=True)
def _select(order, keep, trial, time, event, block, group, n_trials, n_blocks):
    """The kept rows in `order`, moved into stratum blocks within each trial by a stable counting
    pass, with their columns gathered; also the number of rows with an invalid time or event."""
    n = 0
    starts = np.zeros(n_trials + 1, dtype=np.int64)
    for i in order:
        if keep[i]:
            n += 1
            starts[trial[i] + 1] += 1
    for t in range(n_trials):
        starts[t + 1] += starts[t]
    rows = np.empty(n, dtype=np.int64)
    m = 0
    for i in order:
        if keep[i]:
            rows[m] = i
            m += 1
    if n_blocks > 1:
        blocked = np.empty(n, dtype=np.int64)
        offset = np.zeros(n_blocks + 1, dtype=np.int64)
        for t in range(n_trials):
            lo, hi = starts[t], starts[t + 1]
            offset[:] = 0
            for r in range(lo, hi):
                offset[block[rows[r]] + 1] += 1
            for b in range(n_blocks):
                offset[b + 1] += offset[b]
            for r in range(lo, hi):
                b = block[rows[r]]
                blocked[lo + offset[b]] = rows[r]
                offset[b] += 1
        rows = blocked
    out_time, out_event, out_group = np.empty(n), np.empty(n), np.empty(n)
    out_block = np.empty(n, dtype=np.int64)
    n_bad = 0
    for r in range(n):
        i = rows[r]
        out_time[r], out_event[r], out_block[r], out_group[r] = time[i], event[i], block[i], group[i]
        if not (time[i] >= 0 and math.isfinite(time[i]) and (event[i] == 0 or event[i] == 1)):
            n_bad += 1
    return rows, starts, out_time, out_event, out_block, out_group, n_bad


@dataclass(frozen=True)
class SortedRows:
    """The rows one test compares, sorted by (trial, stratum, time descending, events first):
    trial t holds positions starts[t]..starts[t+1]-1."""

    rows: np.ndarray  # participant row of each position
    starts: np.ndarray  # (T + 1,)
    time: np.ndarray
    event: np.ndarray
    block: np.ndarray  # stratum code
    group: np.ndarray  # 1.0 on the active arm

    @property
    def trial(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.starts) - 1), np.diff(self.starts))


def sorted_rows(layout: SurvivalLayout | None, batch: TrialBatch, strata: tuple[str, ...] = (),
                active_arm: str | None = None, subset: np.ndarray | None = None) -> tuple[SurvivalLayout, SortedRows]:
    """The compared rows of `batch` (two arms, `subset`) in kernel order, from `layout` (built
    here when None). Refuses a missing or negative time or an event other than 0/1 among them."""
    if layout is None:
        layout = survival_layout(batch)
    elif layout.batch is not batch:
        raise ParameterError("layout", type(layout).__name__, "was built from another batch")
    group, keep = treatment_indicator(batch, active_arm, subset)
    block = layout.strata(tuple(strata))
    rows, starts, time, event, block, group, n_bad = _select(
        layout.order, keep, layout.trial, layout.time, layout.event, block, group, layout.n_trials,
        int(block.max(initial=0)) + 1)
    # A TrialBatch is not validated row by row: a NaN time would otherwise fall out of every risk
    # set and the trial's statistics would be computed without it, silently.
    if n_bad:
        raise TrialDataError([Problem(table="survival", rule="time_event",
                                      message=f"{n_bad} rows have a missing or negative time_days or an "
                                              "event other than 0/1")])
    return layout, SortedRows(rows=rows, starts=starts, time=time, event=event, block=block, group=group)
