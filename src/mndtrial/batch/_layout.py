"""Turning a `TrialBatch` into padded per-trial numpy arrays the batch estimators share.

Trials differ in size, so every per-participant quantity is laid out as a `(n_trials, width)`
array, one row per trial, padded with rows that carry no weight. Survival estimators further sort
each trial's rows by (stratum, time descending) so that risk sets are prefix sums along a row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data import TrialBatch
from ..errors import AnalysisError, ParameterError, Problem, TrialDataError

__all__ = ["SurvivalArrays", "survival_arrays", "RiskSets", "risk_sets", "covariate_matrix",
           "treatment_indicator", "stratum_codes", "seg_sum", "padded_width"]


def treatment_indicator(batch: TrialBatch, active_arm: str | None = None,
                        subset: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(1 for `active_arm`, 0 for the control) per participant row, and the rows compared: those
    in the two arms and in `subset` (a boolean mask over participant rows, e.g. a biomarker group).

    With two arms the active arm is the one that is not the control; with more, it must be named
    (participants of the other active arms are then left out of the comparison, explicitly).
    """
    info = batch.info
    control = info.control_arm
    if control is None:
        raise ParameterError("info.arms", info.arm_names, "one arm must be marked as the control")
    actives = info.active_arms
    if active_arm is None:
        if len(actives) != 1:
            raise ParameterError("active_arm", None, f"name one of {list(actives)} (the design has several)")
        active_arm = actives[0]
    elif active_arm not in actives:
        raise ParameterError("active_arm", active_arm, f"must be one of {list(actives)}")
    arm = batch.participants["arm"]
    if isinstance(arm.dtype, pd.CategoricalDtype):  # compare integer codes, not strings
        codes, cats = arm.cat.codes.to_numpy(), list(arm.cat.categories)
        is_active = codes == (cats.index(active_arm) if active_arm in cats else -2)
        is_control = codes == (cats.index(control) if control in cats else -2)
    else:
        values = arm.to_numpy()
        is_active, is_control = values == active_arm, values == control
    keep = is_active | is_control
    if subset is not None:
        subset = np.asarray(subset, dtype=bool)
        if subset.shape != keep.shape:
            raise ParameterError("subset", subset.shape, f"must be a mask of {keep.shape[0]} participant rows")
        keep = keep & subset
    return is_active.astype(float), keep


def _check_aligned(batch: TrialBatch) -> None:
    p, s = batch.participants, batch.survival
    same = len(p) == len(s) and np.array_equal(p["trial"].to_numpy(), s["trial"].to_numpy()) \
        and np.array_equal(p["subject"].to_numpy(), s["subject"].to_numpy())
    if not same:
        raise TrialDataError([Problem(table="survival", rule="aligned_rows",
                                      message="the batch survival table must have exactly one row per "
                                              "participant, in the participants table's order")])


_LOG = re.compile(r"^log\((\w+)\)$")
_LEVEL = re.compile(r"^(\w+)\s*==\s*(\w+)$")


def covariate_matrix(batch: TrialBatch, covariates: tuple[str, ...]) -> np.ndarray:
    """Design columns from the participants table: `age`, `log(csf_pnfh)`, `onset_site==bulbar`.

    Missing values are refused (`AnalysisError`); the caller may restrict rows first.
    """
    p = batch.participants
    cols = []
    for spec in covariates:
        m_log, m_lvl = _LOG.match(spec), _LEVEL.match(spec)
        name = m_log.group(1) if m_log else m_lvl.group(1) if m_lvl else spec
        if name not in p.columns:
            raise ParameterError("covariates", spec, f"'{name}' is not a participants column")
        if m_lvl:
            values = (p[name].astype(str).to_numpy() == m_lvl.group(2)).astype(float)
            values[p[name].isna().to_numpy()] = np.nan
        else:
            values = pd.to_numeric(p[name], errors="raise").to_numpy(dtype=float, na_value=np.nan)
            if m_log:
                with np.errstate(divide="ignore", invalid="ignore"):
                    values = np.where(values > 0, np.log(values), np.nan)
        cols.append(values)
    return np.column_stack(cols) if cols else np.empty((len(p), 0))


def stratum_codes(batch: TrialBatch, strata: tuple[str, ...]) -> np.ndarray:
    """Integer code of each participant's stratum (the combination of the named columns)."""
    p = batch.participants
    if not strata:
        return np.zeros(len(p), dtype=np.int64)
    for s in strata:
        if s not in p.columns:
            raise ParameterError("strata", s, "is not a participants column")
        if p[s].isna().any():
            raise AnalysisError("stratification", f"stratum column '{s}' has missing values")
    # The groupby(sort=True, observed=True).ngroup() numbering (strata in sorted order of their
    # values), from per-column factorised codes: a few times faster than pandas' groupby.
    key = np.zeros(len(p), dtype=np.int64)
    for s in strata:
        codes, uniques = pd.factorize(p[s], sort=True)
        key = key * len(uniques) + codes
    return np.unique(key, return_inverse=True)[1].ravel().astype(np.int64)


@dataclass(frozen=True)
class SurvivalArrays:
    """Flat per-participant survival data of the rows kept, with 0-based trial codes."""

    trial: np.ndarray  # int, 0..n_trials-1, non-decreasing
    time: np.ndarray
    event: np.ndarray  # float 0/1
    group: np.ndarray  # float 0/1: the active arm
    n_trials: int


def survival_arrays(batch: TrialBatch, active_arm: str | None = None,
                    subset: np.ndarray | None = None) -> tuple[SurvivalArrays, np.ndarray]:
    """Survival rows of the two compared arms (and `subset`, a boolean mask over participants).

    Returns the arrays and the boolean mask of participant rows they came from.
    """
    _check_aligned(batch)
    group, keep = treatment_indicator(batch, active_arm, subset)
    s = batch.survival
    time = s["time_days"].to_numpy(dtype=float, na_value=np.nan)[keep]
    event = s["event"].to_numpy(dtype=float, na_value=np.nan)[keep]
    # A TrialBatch is not validated row by row: a NaN time would otherwise fall out of every risk
    # set and the trial's statistics would be computed without it, silently.
    bad = ~((time >= 0) & np.isfinite(time) & ((event == 0) | (event == 1)))
    if bad.any():
        raise TrialDataError([Problem(table="survival", rule="time_event",
                                      message=f"{int(bad.sum())} rows have a missing or negative time_days or an "
                                              "event other than 0/1")])
    arrays = SurvivalArrays(trial=s["trial"].to_numpy()[keep] - batch.first_trial, time=time, event=event,
                            group=group[keep], n_trials=batch.n_trials)
    return arrays, keep


def padded_width(longest: int) -> int:
    """Row width for `longest` rows: 128 · 2^k.

    numpy sums a row pairwise, halving it at multiples of 8 above 128 elements; with widths of
    128 · 2^k the trailing zero padding always fills whole halves, so a trial's sums — and hence
    its estimates — are bit-identical whatever other trials share its chunk.
    """
    width = 128
    while width < longest:
        width *= 2
    return width


def pad_index(trial: np.ndarray, n_trials: int, order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(index, valid): `index[t, j]` is the flat row of the j-th row of trial t (in `order`)."""
    counts = np.bincount(trial, minlength=n_trials)
    width = padded_width(int(counts.max()) if len(counts) else 0)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    if order is None:
        order = np.arange(len(trial))
    pos = np.arange(len(trial)) - starts[trial[order]]
    index = np.zeros((n_trials, width), dtype=np.int64)
    valid = np.zeros((n_trials, width), dtype=bool)
    index[trial[order], pos] = order
    valid[trial[order], pos] = True
    return index, valid


def seg_sum(csum0: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Sum over positions start..end (inclusive) along axis 1, from a zero-led cumulative sum."""
    take = np.take_along_axis
    if csum0.ndim == 2:
        return take(csum0, end + 1, axis=1) - take(csum0, start, axis=1)
    e = (end + 1)[..., None]
    s = start[..., None]
    return take(csum0, e, axis=1) - take(csum0, s, axis=1)


def cumsum0(x: np.ndarray) -> np.ndarray:
    """Cumulative sum along axis 1 with a leading zero (so sums over ranges are differences)."""
    pad = [(0, 0)] * x.ndim
    pad[1] = (1, 0)
    return np.pad(np.cumsum(x, axis=1), pad)


@dataclass(frozen=True)
class RiskSets:
    """Padded rows sorted within each trial by (block, time descending, events first).

    A block is a stratum (or an arm, for Kaplan–Meier); the risk set of a row is every row of its
    block from the block's start to the end of the row's tie (all rows with time >= its time).
    """

    index: np.ndarray  # (T, W) flat row
    valid: np.ndarray  # (T, W)
    time: np.ndarray  # (T, W), -inf on padding
    event: np.ndarray  # (T, W), 0 on padding
    block_start: np.ndarray  # (T, W) position of the block's first row
    tie_start: np.ndarray  # (T, W) position of the first row with the same (block, time)
    tie_end: np.ndarray  # (T, W) position of the last row with the same (block, time)
    first_of_tie: np.ndarray  # (T, W) bool: the row that represents its distinct time
    tie_rank: np.ndarray  # (T, W) rank of an event row among the tied events (0, 1, ...)
    tie_events: np.ndarray  # (T, W) number of events tied at the row's time in its block

    def gather(self, flat: np.ndarray, fill: float = 0.0) -> np.ndarray:
        out = flat[self.index]
        out[~self.valid] = fill
        return out


def _risk_order(trial_block: np.ndarray, time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Stable order by (trial and block, time descending, events first).

    Whole-day times (the usual case) fold into one integer key, sorted once — the same order as
    the three-key lexsort, which is the fallback for fractional times or very large keys.
    """
    if len(time) and time.min() >= 0 and time.max() < 2 ** 30 and np.array_equal(time, np.floor(time)):
        t_max = int(time.max())
        if (int(trial_block.max()) + 1) * (t_max + 1) < 2 ** 61:
            key = (trial_block * (t_max + 1) + (t_max - time.astype(np.int64))) * 2 + (event <= 0)
            return np.argsort(key, kind="stable")
    return np.lexsort((-event, -time, trial_block))


def risk_sets(trial: np.ndarray, block: np.ndarray, time: np.ndarray, event: np.ndarray,
              n_trials: int) -> RiskSets:
    """Build the sorted, padded layout of survival rows (see `RiskSets`)."""
    order = _risk_order(trial * (int(block.max(initial=0)) + 1) + block, time, event)
    index, valid = pad_index(trial, n_trials, order)
    width = index.shape[1]
    t = np.where(valid, time[index], -np.inf)
    e = np.where(valid, event[index], 0.0)
    b = np.where(valid, block[index], np.iinfo(np.int64).max)
    pos = np.broadcast_to(np.arange(width), t.shape)
    new_block = np.ones_like(valid)
    new_block[:, 1:] = b[:, 1:] != b[:, :-1]
    new_tie = new_block.copy()
    new_tie[:, 1:] |= t[:, 1:] != t[:, :-1]
    block_start = np.maximum.accumulate(np.where(new_block, pos, 0), axis=1)
    tie_start = np.maximum.accumulate(np.where(new_tie, pos, 0), axis=1)
    last_of_tie = np.ones_like(valid)
    last_of_tie[:, :-1] = new_tie[:, 1:]
    tie_end = np.minimum.accumulate(np.where(last_of_tie, pos, width)[:, ::-1], axis=1)[:, ::-1]
    ce = cumsum0(e)
    tie_events = seg_sum(ce, tie_start, tie_end)
    tie_rank = np.where(e > 0, pos - tie_start, 0).astype(float)
    return RiskSets(index=index, valid=valid, time=t, event=e, block_start=block_start,
                    tie_start=tie_start, tie_end=tie_end, first_of_tie=new_tie & valid,
                    tie_rank=tie_rank, tie_events=tie_events)
