"""Analyses of one trial: survival (KM, log-rank, Cox, horizon, RMST), biomarker subgroups, plans.

Sections of an `AnalysisPlan` register themselves when their module is imported below; a new
section module needs one import line here (see `registry.py` and docs/analysis-plan.md).
"""

from .biomarker import BiomarkerRule
from .cox import CoxModel, CoxResult, fit_cox
from .frame import ArmContrast, arm_contrast, survival_frame
from .horizon import ArmComparison, difference_of_rmst_test, rmst, rmst_test, survival_at_horizon
from .km import KaplanMeierResult, kaplan_meier
from .logrank import LogRankResult, logrank, logrank_test
from .registry import SectionConfig, register_section, registered_sections
from .plan import AnalysisPlan, AnalysisResults

# Plan sections (each registers itself on import).
from . import subgroup_section, survival_section  # noqa: E402,F401

__all__ = [
    "AnalysisPlan", "AnalysisResults", "ArmComparison", "ArmContrast", "BiomarkerRule", "CoxModel", "CoxResult",
    "KaplanMeierResult", "LogRankResult", "SectionConfig", "arm_contrast", "difference_of_rmst_test", "fit_cox",
    "kaplan_meier", "logrank", "logrank_test", "register_section", "registered_sections", "rmst", "rmst_test",
    "survival_at_horizon", "survival_frame",
]
