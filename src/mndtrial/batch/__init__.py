"""Estimators vectorised over the many trials of a `TrialBatch` (the power engine's inner loop).

Each one equals its single-trial reference (lifelines, statsmodels) on every trial; see
`docs/power.md` for the formulas.
"""

from .cox import BatchCox, CoxBatchResult, cox_batch
from .slopes import BatchSlopes, SlopeBatchResult, slopes_batch
from .logrank import LogrankBatchResult, SurvivalAtHorizonResult, logrank_batch, survival_at_horizon
from ._survival_layout import SurvivalLayout, survival_layout

__all__ = ["BatchCox", "CoxBatchResult", "cox_batch", "LogrankBatchResult", "logrank_batch",
           "SurvivalAtHorizonResult", "survival_at_horizon", "BatchSlopes", "SlopeBatchResult", "slopes_batch",
           "SurvivalLayout", "survival_layout"]
