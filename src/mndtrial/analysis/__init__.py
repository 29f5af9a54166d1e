"""Analyses of one trial: survival (KM, log-rank, Cox, horizon, RMST), biomarker subgroups, plans;
ALSFRS-R slopes (function), CAFS / Finkelstein–Schoenfeld, and Treg pharmacodynamics.

Sections of an `AnalysisPlan` register themselves when their module is imported below; a new
section module needs one import line here (see `registry.py` and docs/analysis-plan.md).
"""

from .biomarker import BiomarkerRule
from .cafs import CAFS, CAFSResult, finkelstein_schoenfeld, pairwise_scores
from .cox import CoxModel, CoxResult, fit_cox
from .frame import ArmContrast, arm_contrast, survival_frame
from .function import SlopeAnalysis, SlopeFit, SlopeResult
from .horizon import ArmComparison, difference_of_rmst_test, rmst, rmst_test, survival_at_horizon
from .km import KaplanMeierResult, kaplan_meier
from .lmm import MixedModelFit, fit_random_slope_lmm
from .logrank import LogRankResult, logrank, logrank_test
from .population import population_mask
from .registry import SectionConfig, register_section, registered_sections
from .plan import AnalysisPlan, AnalysisResults
from .treg import TregAnalysis, TregResult

# The joint model (off in a plan by default; its modules cost more to import than `mndtrial analyze`
# of a default plan takes to run them all) is imported on first use of these names.
_LAZY = {"JointFit": ".joint", "JointModel": ".joint", "JointResult": ".joint"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Plan sections (each registers itself on import).
from . import joint_section, outcome_sections, subgroup_section, survival_section  # noqa: E402,F401
from . import benefit_sections  # noqa: E402,F401

__all__ = [
    "AnalysisPlan", "AnalysisResults", "ArmComparison", "ArmContrast", "BiomarkerRule", "CAFS", "CAFSResult",
    "CoxModel", "CoxResult", "JointFit", "JointModel", "JointResult", "KaplanMeierResult", "LogRankResult", "MixedModelFit", "SectionConfig",
    "SlopeAnalysis", "SlopeFit", "SlopeResult", "TregAnalysis", "TregResult", "arm_contrast",
    "difference_of_rmst_test", "finkelstein_schoenfeld", "fit_cox", "fit_random_slope_lmm", "kaplan_meier",
    "logrank", "logrank_test", "pairwise_scores", "population_mask", "register_section", "registered_sections", "rmst", "rmst_test",
    "survival_at_horizon", "survival_frame",
]
