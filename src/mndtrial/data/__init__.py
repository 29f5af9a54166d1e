"""The trial data model: tables, validation, readers and writers."""

from .batch import TrialBatch
from .info import Arm, TrialInfo
from .io import read_trial, write_trial
from .trial import Trial, TrialSummary
from .cut import cut_by_date, cut_by_event, event_cut_day

__all__ = ["Arm", "Trial", "TrialBatch", "TrialInfo", "TrialSummary", "cut_by_date", "cut_by_event",
           "event_cut_day", "read_trial", "write_trial"]
