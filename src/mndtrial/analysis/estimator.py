"""The shape every single-trial estimator shares (scikit-learn / lifelines style).

Configure in `__init__`, `fit(trial)` sets `result_` (a frozen results object) and returns self;
`summary`, `to_dict()` and notebook display delegate to the result. Asking a model that was never
fitted for its results is an error that says so, not a bare AttributeError.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..errors import AnalysisError

__all__ = ["FittedEstimator", "NotFittedError"]


class NotFittedError(AnalysisError, AttributeError):
    """An estimator's results were asked for before `fit(trial)`."""


class FittedEstimator:
    def _fitted(self) -> Any:
        try:
            return self.result_  # type: ignore[attr-defined]
        except AttributeError:
            raise NotFittedError(type(self).__name__, "not fitted yet: call fit(trial) first") from None

    @property
    def summary(self) -> pd.DataFrame:
        return self._fitted().summary

    def to_dict(self) -> dict[str, Any]:
        return self._fitted().to_dict()

    def _repr_html_(self) -> str:
        if not hasattr(self, "result_"):
            return f"<p>{type(self).__name__} (not fitted)</p>"
        return self.result_._repr_html_()  # type: ignore[attr-defined]
