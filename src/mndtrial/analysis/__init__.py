"""Analyses of one trial: survival (KM, log-rank, Cox, horizon, RMST), biomarker subgroups, plans;
ALSFRS-R slopes (function), CAFS / Finkelstein–Schoenfeld, and Treg pharmacodynamics.

Sections of an `AnalysisPlan` register themselves when their module is imported; a new built-in
section module is named in `registry.BUILTIN_SECTION_MODULES` (see `registry.py` and
docs/analysis-plan.md).
"""

from .._lazy import lazy_names

# Names are imported on first use (PEP 562): the analysis stack (pydantic plans, lifelines-backed
# sections, scipy) costs about a second to import, and callers that need one module of it (the
# power engine's `distributions`) must not pay for the rest. The plan sections register
# themselves when the registry is first read (`registry.BUILTIN_SECTION_MODULES`).
_LAZY = {
    "BiomarkerRule": "biomarker",
    **dict.fromkeys(("CAFS", "CAFSResult", "finkelstein_schoenfeld", "pairwise_scores"), "cafs"),
    **dict.fromkeys(("CoxModel", "CoxResult", "fit_cox"), "cox"),
    **dict.fromkeys(("ArmContrast", "arm_contrast", "survival_frame"), "frame"),
    **dict.fromkeys(("SlopeAnalysis", "SlopeFit", "SlopeResult"), "function"),
    **dict.fromkeys(("JointFit", "JointModel", "JointResult"), "joint"),
    **dict.fromkeys(("ArmComparison", "difference_of_rmst_test", "rmst", "rmst_test", "survival_at_horizon"),
                    "horizon"),
    **dict.fromkeys(("KaplanMeierResult", "kaplan_meier"), "km"),
    **dict.fromkeys(("MixedModelFit", "fit_random_slope_lmm"), "lmm"),
    **dict.fromkeys(("LogRankResult", "logrank", "logrank_test"), "logrank"),
    "population_mask": "population",
    **dict.fromkeys(("SectionConfig", "register_section", "registered_sections"), "registry"),
    **dict.fromkeys(("AnalysisPlan", "AnalysisResults"), "plan"),
    **dict.fromkeys(("TregAnalysis", "TregResult"), "treg"),
}

__getattr__, __dir__ = lazy_names(__name__, globals(), _LAZY, submodules=True)

__all__ = [
    "AnalysisPlan", "AnalysisResults", "ArmComparison", "ArmContrast", "BiomarkerRule", "CAFS", "CAFSResult",
    "CoxModel", "CoxResult", "JointFit", "JointModel", "JointResult", "KaplanMeierResult", "LogRankResult", "MixedModelFit", "SectionConfig",
    "SlopeAnalysis", "SlopeFit", "SlopeResult", "TregAnalysis", "TregResult", "arm_contrast",
    "difference_of_rmst_test", "finkelstein_schoenfeld", "fit_cox", "fit_random_slope_lmm", "kaplan_meier",
    "logrank", "logrank_test", "pairwise_scores", "population_mask", "register_section", "registered_sections", "rmst", "rmst_test",
    "survival_at_horizon", "survival_frame",
]
