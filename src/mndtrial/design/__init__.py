"""Confirmatory designs: pure statistics for group-sequential and adaptive-enrichment trials.

No simulation here (that is `mndtrial.power`): combination tests, closed testing of a
subpopulation and the full population, spending functions, group-sequential boundaries by
numerical integration, sample size for survival, conditional power and repeated confidence
intervals. See docs/design.md.
"""

from .boundaries import (DESIGN_TYPES, GroupSequentialDesign, group_sequential_design, hazard_ratio_at_bound,
                         z_for_hazard_ratio)
from .closed_testing import (INTERSECTION_METHODS, ClosedTestResult, bivariate_normal_equal_cdf,
                             closed_test, intersection_p, spiessens_debois_correlation)
from .combination import inverse_normal_p, inverse_normal_weights, inverse_normal_z, p_to_z, z_to_p
from .recursion import crossing_probabilities
from .spending import ALPHA_SPENDING_TYPES, BETA_SPENDING_TYPES, spending_values

__all__ = ["DESIGN_TYPES", "GroupSequentialDesign", "group_sequential_design", "hazard_ratio_at_bound",
           "z_for_hazard_ratio", "INTERSECTION_METHODS", "ClosedTestResult", "bivariate_normal_equal_cdf",
           "closed_test", "intersection_p", "spiessens_debois_correlation", "inverse_normal_p",
           "inverse_normal_weights", "inverse_normal_z", "p_to_z", "z_to_p", "crossing_probabilities",
           "ALPHA_SPENDING_TYPES", "BETA_SPENDING_TYPES", "spending_values"]
