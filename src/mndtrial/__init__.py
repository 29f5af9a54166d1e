"""mndtrial: analyse, simulate and design biomarker-driven clinical trials in MND / ALS."""

from importlib.metadata import PackageNotFoundError, version

from .data import Arm, Trial, TrialBatch, TrialInfo, read_trial, write_trial
from .errors import AnalysisError, ParameterError, Problem, TrialDataError

try:
    __version__ = version("mndtrial")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.1.0"

__all__ = [
    "AnalysisError", "Arm", "ParameterError", "Problem", "Trial", "TrialBatch", "TrialDataError",
    "TrialInfo", "__version__", "read_trial", "write_trial",
]
