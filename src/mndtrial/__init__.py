"""mndtrial: analyse, simulate and design biomarker-driven clinical trials in MND / ALS."""

from importlib import import_module

from .errors import AnalysisError, ParameterError, Problem, TrialDataError

# The data model needs pandas (about a second to import); `mndtrial --help` and other light
# commands must not pay for it, so these names are imported on first use (PEP 562).
_LAZY = {name: ".data" for name in ("Arm", "Trial", "TrialBatch", "TrialInfo", "read_trial", "write_trial")}


def _version() -> str:
    # importlib.metadata (and the email parser under it) costs ~50 ms: read on first use only
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mndtrial")
    except PackageNotFoundError:  # running from a source tree without installation
        return "0.1.0"


def __getattr__(name: str):
    if name == "__version__":
        value = _version()
        globals()[name] = value
        return value
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mndtrial' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"__version__"})


__all__ = [
    "AnalysisError", "Arm", "ParameterError", "Problem", "Trial", "TrialBatch", "TrialDataError",
    "TrialInfo", "__version__", "read_trial", "write_trial",
]
