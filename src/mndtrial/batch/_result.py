"""Shared behaviour of the per-trial batch results: summary table, JSON, HTML."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["BatchResult", "json_safe"]


def json_safe(value):
    """Plain Python values for JSON: floats, ints, str, lists, None for NaN/inf."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if np.isfinite(v) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


@dataclass(frozen=True, repr=False)
class BatchResult:
    """A result with one row per trial; subclasses define `summary`."""

    trial: np.ndarray  # global trial index

    @property
    def summary(self) -> pd.DataFrame:  # pragma: no cover - every subclass overrides
        raise TypeError(f"{type(self).__name__} must define summary")

    def to_dict(self) -> dict:
        """JSON-safe: a list of per-trial records (NaN as None)."""
        return {"type": type(self).__name__,
                "trials": json_safe(self.summary.to_dict(orient="records"))}

    def __len__(self) -> int:
        return len(self.trial)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self)} trials>"

    def _repr_html_(self) -> str:
        return f"<p>{type(self).__name__}: {len(self)} trials</p>" + self.summary.head(20).to_html(index=False)
