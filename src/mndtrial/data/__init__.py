"""The trial data model: tables, validation, readers and writers."""

from .batch import TrialBatch
from .info import Arm, TrialInfo
from .io import read_trial, write_trial
from .trial import Trial, TrialSummary

__all__ = ["Arm", "Trial", "TrialBatch", "TrialInfo", "TrialSummary", "read_trial", "write_trial"]
