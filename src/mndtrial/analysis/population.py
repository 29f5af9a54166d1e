"""A pre-specified population (e.g. low neurofilament) as a boolean mask over participant rows.

A confirmatory design names its populations before the data exist, so a population is one group
of a `BiomarkerRule` with fixed cut-offs or ranges (not quantiles, which the data would move).
The mask works on one `Trial` and on a `TrialBatch` alike, and feeds the data cuts
(`mndtrial.data.cut`) and the batch estimators' `subset`.

Example:
    >>> from mndtrial.data.example import example_trial
    >>> rule = BiomarkerRule(biomarker="csf_pnfh", cutoffs=[3700])
    >>> int(population_mask(rule, "<= 3700", example_trial()).sum())
    45
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..data import Trial, TrialBatch
from ..errors import ParameterError
from .biomarker import BiomarkerRule

__all__ = ["population_mask", "population_groups"]


def population_groups(rule: BiomarkerRule) -> dict[str, tuple[float, float]]:
    """The groups a fixed rule defines, each as its interval (lower, upper]."""
    if rule.quantiles is not None:
        raise ParameterError("population", rule.label, "a pre-specified population needs fixed cutoffs or "
                                                       "ranges, not sample quantiles")
    if rule.ranges is not None:
        return {f"({_fmt(lo)}, {_fmt(hi)}]": (lo, hi) for lo, hi in sorted(rule.ranges)}
    edges = [-math.inf, *rule.cutoffs, math.inf]
    out = {}
    for i, (lo, hi) in enumerate(zip(edges, edges[1:])):
        label = f"<= {_fmt(hi)}" if i == 0 else f"> {_fmt(lo)}" if i == len(edges) - 2 else f"({_fmt(lo)}, {_fmt(hi)}]"
        out[label] = (lo, hi)
    return out


def _fmt(x: float) -> str:
    return f"{x:g}" if math.isfinite(x) else ("inf" if x > 0 else "-inf")


def population_mask(rule: BiomarkerRule, group: str, data: Trial | TrialBatch) -> np.ndarray:
    """True for the participant rows in `group` of `rule` (a participant without the biomarker is in
    no group). For a `Trial`, in `participants` row order; for a batch, over its participant rows."""
    groups = population_groups(rule)
    if group not in groups:
        raise ParameterError("population.group", group, f"must be one of {list(groups)} for rule '{rule.label}'")
    if isinstance(data, Trial):
        labels = rule.assign(data).labels
        return (labels.reindex(data.participants["subject_id"]) == group).to_numpy()
    if not isinstance(data, TrialBatch):
        raise ParameterError("data", type(data).__name__, "must be a mndtrial Trial or TrialBatch")
    if rule.biomarker not in data.participants.columns:
        raise ParameterError("population.biomarker", rule.biomarker, "is not a participants column of the batch")
    values = pd.to_numeric(data.participants[rule.biomarker], errors="raise").to_numpy(dtype=float, na_value=np.nan)
    lo, hi = groups[group]
    return (values > lo) & (values <= hi)
