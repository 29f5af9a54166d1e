"""mndtrial.sim: in-silico ALS trials (virtual cohort, IL-2 → Treg → effect, designs, simulate).

Example:
    >>> from mndtrial.sim import mirocals, simulate
    >>> batch = simulate(mirocals(), n_trials=3, seed=2026)
    >>> trial = batch.trial(0)          # a validated mndtrial.data.Trial
"""

from .._lazy import lazy_names
from .cohort import CohortModel, Eligibility
from .design import PRESETS, ArmSpec, Design, Enrichment, imodals, mirocals, preset
from .drug import DrugModel, EffectFunction, no_effect
from .parameters import SimParameters, load_parameters
from .simulate import TABLES, TRIALS_PER_BLOCK, simulate, simulate_chunk

__all__ = ["ArmSpec", "CohortCalibration", "CohortModel", "Design", "DrugModel", "EffectFunction", "Eligibility", "Enrichment",
           "PRESETS", "SimParameters", "TABLES", "TRIALS_PER_BLOCK", "calibrate", "imodals", "load_parameters", "mirocals",
           "no_effect", "preset", "simulate", "simulate_chunk"]


# The cohort calibration (scipy.stats, scipy.optimize: about a second) is imported on first use
# (PEP 562): simulating trials never needs it.
__getattr__, __dir__ = lazy_names(__name__, globals(), {"CohortCalibration": "fit_cohort", "calibrate": "fit_cohort"})
