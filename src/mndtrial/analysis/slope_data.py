"""The ALSFRS-R slope analysis's data as arrays, read once per trial; each population a subset.

`SlopeAnalysis` fits one mixed model per population: the whole trial, each subgroup, the
participants of each interaction test (the plan's function section: 10 models on a
300-participant trial). Selecting a `Trial` per population and building its visit table in
pandas (`function.slope_frame`) cost more than the fits; here the tables are read once and a
population is a mask over them. Rows keep the tables' order, as `Trial.select` keeps it, so a
population's model has the same rows, in the same order, as on the selected trial: the same
numbers to the last bit (tests/test_function_arrays.py holds the two routes to that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..data import Trial
from ..data.schema import DAYS_PER_MONTH
from ..errors import AnalysisError, ParameterError
from ._common import arms_compared

__all__ = ["SlopeData", "SlopePopulation", "SlopeVisits"]

ANALYSIS = "ALSFRS-R slope"


@dataclass(frozen=True)
class SlopeVisits:
    """One population's visits from day 0 to the horizon (`slope_frame`'s rows) as arrays."""

    subject_id: np.ndarray
    day: np.ndarray
    total: np.ndarray
    arm: np.ndarray
    participant_row: np.ndarray  # each visit's row in `SlopeData.participants`
    excluded: dict[str, int]
    group: np.ndarray  # each visit's participant, numbered in the sorted order of the subject ids

    @property
    def months(self) -> np.ndarray:
        return self.day / DAYS_PER_MONTH

    def frame(self, data: "SlopeData") -> pd.DataFrame:
        """`slope_frame`'s table of these visits (with the covariates), for covariate coding."""
        frame = pd.DataFrame({"subject_id": self.subject_id, "day": self.day, "total": self.total})
        frame["arm"] = data.participants["arm"].iloc[self.participant_row].set_axis(frame.index)
        for column in dict.fromkeys(c for c in data.covariates if c not in ("subject_id", "day", "total")):
            frame[column] = data.participants[column].iloc[self.participant_row].set_axis(frame.index)
        frame["months"] = self.months
        return frame


class SlopeData:
    """A trial's participants, survival events and ALSFRS-R visits as arrays.

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> data = SlopeData(example_trial())
        >>> len(data.population(None).visits(None).day) == len(example_trial().alsfrs)
        True
    """

    def __init__(self, trial: Trial, covariates: Sequence[str] = ()):
        self.info = trial.info
        names = trial.participant_column_names
        self.covariates = tuple(covariates)
        self.missing_covariates = [c for c in covariates if c not in names]
        self.participants = trial.participant_columns(
            *dict.fromkeys(("subject_id", "arm", *(c for c in covariates if c in names))))
        self.subjects = pd.Index(self.participants["subject_id"])
        self.arm = self.participants["arm"].to_numpy()
        # participants numbered in the sorted order of their ids: the mixed model's groups, which it
        # numbers in sorted order, as integers (a sort of ids per model, not per population)
        self.subject_order = np.unique(self.participants["subject_id"].to_numpy(), return_inverse=True)[1].ravel()
        survival = trial.survival
        self.survival_subjects = pd.Index(survival["subject_id"])
        self.survival_event = survival["event"].to_numpy()
        alsfrs = trial.alsfrs
        if alsfrs is None:
            alsfrs = pd.DataFrame({"subject_id": [], "day": [], "total": []})
        self.visit_subjects = pd.Index(alsfrs["subject_id"])
        self.visit_subject = alsfrs["subject_id"].to_numpy()
        self.visit_day = alsfrs["day"].to_numpy()
        self.visit_total = alsfrs["total"].to_numpy()
        self.visit_row = self.subjects.get_indexer(self.visit_subject)  # -1: not a participant (dropped)

    def population(self, subject_ids: Iterable[str] | None) -> "SlopePopulation":
        """The participants `subject_ids` (None: all), as `Trial.select(subject_ids)` has them."""
        if subject_ids is None:
            return SlopePopulation(self, None)
        return SlopePopulation(self, pd.Index(list(subject_ids)))


class SlopePopulation:
    """One population of a `SlopeData`: the checks and visits of `slope_frame` on its trial."""

    def __init__(self, data: SlopeData, keep: pd.Index | None):
        self.data = data
        self.keep = keep
        self.member = np.ones(len(data.arm), bool) if keep is None else data.subjects.isin(keep)

    def arms(self, analysis: str) -> tuple[str, tuple[str, ...]]:
        """`control_and_active` of the selected trial."""
        return arms_compared(self.data.info, set(self.data.arm[self.member]), analysis)

    def visits(self, horizon_days: float | None) -> SlopeVisits:
        """The visits from day 0 to the horizon; the same `AnalysisError`s, in the same order, as
        `slope_frame` on the selected trial."""
        d = self.data
        in_table = np.ones(len(d.visit_day), bool) if self.keep is None else d.visit_subjects.isin(self.keep)
        if not in_table.any():
            raise AnalysisError(ANALYSIS, "the trial has no alsfrs table")
        self.arms(ANALYSIS)
        if d.missing_covariates:
            raise ParameterError("covariates", d.missing_covariates, "must be columns of the participants table")
        day = d.visit_day
        before = in_table & (day < 0)
        after = in_table & (day > horizon_days) if horizon_days is not None else np.zeros(len(day), bool)
        excluded = {"visits_before_randomisation": int(before.sum()), "visits_after_horizon": int(after.sum())}
        row = d.visit_row
        keep = in_table & ~before & ~after & (row >= 0)
        keep[keep] = self.member[row[keep]]  # the inner join to the selected participants
        visits = SlopeVisits(subject_id=d.visit_subject[keep], day=day[keep], total=d.visit_total[keep],
                             arm=d.arm[row[keep]], participant_row=row[keep], excluded=excluded,
                             group=d.subject_order[row[keep]])
        if len(visits.day) == 0:
            raise AnalysisError(ANALYSIS, "no ALSFRS-R visits between day 0 and the horizon")
        if (visits.day > 0).sum() == 0:
            event = d.survival_event if self.keep is None else d.survival_event[d.survival_subjects.isin(self.keep)]
            if (event == 1).all():
                raise AnalysisError(ANALYSIS, "all participants died before the first follow-up visit: no "
                                              "ALSFRS-R was recorded after baseline, so no slope exists")
            raise AnalysisError(ANALYSIS, "only one visit (baseline) per participant: a slope needs "
                                          "ALSFRS-R at two or more visits")
        if pd.Series(visits.day).nunique() < 2:
            raise AnalysisError(ANALYSIS, "only one visit day in the ALSFRS-R table: a slope needs two or more")
        return visits
