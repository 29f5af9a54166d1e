"""mndtrial.analysis: analyses of one trial.

Function (ALSFRS-R slopes), CAFS / Finkelstein–Schoenfeld, and Treg pharmacodynamics, with the
lme4-matching mixed-model helper they share.
"""

from .cafs import CAFS, CAFSResult, finkelstein_schoenfeld, pairwise_scores
from .function import SlopeAnalysis, SlopeFit, SlopeResult
from .lmm import MixedModelFit, fit_random_slope_lmm
from .treg import TregAnalysis, TregResult

__all__ = ["CAFS", "CAFSResult", "MixedModelFit", "SlopeAnalysis", "SlopeFit", "SlopeResult", "TregAnalysis",
           "TregResult", "finkelstein_schoenfeld", "fit_random_slope_lmm", "pairwise_scores"]
