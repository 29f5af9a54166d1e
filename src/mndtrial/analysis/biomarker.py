"""`BiomarkerRule`: subgroups of a trial defined by a baseline biomarker (or any numeric column).

Three ways to cut, one per rule:

- `cutoffs = [3700]` → `<= 3700` and `> 3700` (intervals closed on the right, as in MIROCALS'
  CSF-pNfH ≤ 3700 vs > 3700 pg/mL);
- `quantiles = [0.5]` (median) or `[1/3, 2/3]` (tertiles) → cut-offs at the trial's own sample
  quantiles (numpy's default, R `quantile(type = 7)`), reported in the result;
- `ranges = [[750, 3700]]` → the named intervals `(750, 3700]`; everyone else is `outside ranges`.

A participant without a value is in the group `missing`: counted and reported, never dropped.

Example:
    >>> from mndtrial.data.example import example_trial
    >>> groups = BiomarkerRule(biomarker="csf_pnfh", cutoffs=[3700]).assign(example_trial())
    >>> groups.counts()
    {'<= 3700': 45, '> 3700': 15, 'missing': 0}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..data import Trial
from ..errors import AnalysisError, ParameterError
from .frame import baseline_values, reused

__all__ = ["BiomarkerRule", "GroupAssignment", "MISSING", "OUTSIDE"]

MISSING = "missing"
OUTSIDE = "outside ranges"


def _fmt(x: float) -> str:
    return f"{x:g}" if math.isfinite(x) else ("inf" if x > 0 else "-inf")


@dataclass(frozen=True)
class GroupAssignment:
    """Each participant's subgroup (`labels`, indexed by subject_id) and how it was made."""

    variable: str
    rule: str
    labels: pd.Series
    levels: tuple[str, ...]
    cut_points: tuple[float, ...] = ()

    def counts(self) -> dict[str, int]:
        vc = self.labels.value_counts()
        return {lv: int(vc.get(lv, 0)) for lv in self.levels}

    def to_dict(self) -> dict[str, Any]:
        return {"variable": self.variable, "rule": self.rule, "levels": list(self.levels),
                "cut_points": list(self.cut_points), "counts": self.counts()}


class BiomarkerRule(BaseModel):
    """How to split participants by a baseline biomarker; exactly one of cutoffs/quantiles/ranges."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    biomarker: str = Field(min_length=1, description="participants column or baseline analyte, e.g. csf_pnfh")
    name: str | None = Field(default=None, description="label in the results (default: derived from the rule)")
    cutoffs: tuple[float, ...] | None = None
    quantiles: tuple[float, ...] | None = None
    ranges: tuple[tuple[float, float], ...] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "BiomarkerRule":
        given = [k for k in ("cutoffs", "quantiles", "ranges") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of cutoffs, quantiles, ranges (got {given or 'none'})")
        values = getattr(self, given[0])
        if len(values) == 0:
            raise ValueError(f"{given[0]} must not be empty")
        if self.cutoffs is not None and (list(self.cutoffs) != sorted(set(self.cutoffs))
                                         or not all(math.isfinite(c) for c in self.cutoffs)):
            raise ValueError("cutoffs must be finite and strictly increasing")
        if self.quantiles is not None and (list(self.quantiles) != sorted(set(self.quantiles))
                                           or not all(0 < q < 1 for q in self.quantiles)):
            raise ValueError("quantiles must be strictly increasing and inside (0, 1)")
        if self.ranges is not None:
            spans = sorted(self.ranges)
            if any(not lo < hi for lo, hi in spans):  # `not <` also refuses a NaN bound
                raise ValueError("each range must have lower < upper")
            if any(a[1] > b[0] for a, b in zip(spans, spans[1:])):
                raise ValueError(f"ranges overlap: {spans}")
        return self

    @property
    def kind(self) -> str:
        return "cutoffs" if self.cutoffs is not None else "quantiles" if self.quantiles is not None else "ranges"

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.cutoffs is not None:
            return f"{self.biomarker} cut at {', '.join(_fmt(c) for c in self.cutoffs)}"
        if self.quantiles is not None:
            return f"{self.biomarker} quantiles {', '.join(f'{q:.3g}' for q in self.quantiles)}"
        return f"{self.biomarker} ranges " + ", ".join(f"({_fmt(lo)}, {_fmt(hi)}]" for lo, hi in self.ranges)

    def values(self, trial: Trial) -> pd.Series:
        """The biomarker per participant (index subject_id); NaN where missing."""
        v = baseline_values(trial, self.biomarker, parameter="biomarker_rules.biomarker")
        if not (pd.api.types.is_numeric_dtype(v.dtype) or pd.api.types.is_bool_dtype(v.dtype)):
            raise ParameterError("biomarker_rules.biomarker", self.biomarker,
                                 "is a text column; a biomarker rule cuts numbers (text columns are "
                                 "subgroups through [subgroups] columns)")
        return pd.Series(v.to_numpy(dtype=float, na_value=np.nan),
                         index=trial.participant_columns("subject_id")["subject_id"], name=self.biomarker)

    def assign(self, trial: Trial) -> GroupAssignment:
        """Every participant's group; `AnalysisError` if the biomarker is missing for everyone.

        Made once per trial in a plan run (`frames_reused`): the subgroup, interaction and
        function sections assign the same rules."""
        return reused(("biomarker rule", id(trial), self), lambda: self._assign(trial), trial)

    def _assign(self, trial: Trial) -> GroupAssignment:
        values = self.values(trial)
        present = values.dropna()
        if present.empty:
            raise AnalysisError(f"biomarker rule '{self.label}'",
                                f"{self.biomarker} is missing for all {len(values)} participants")
        x = values.to_numpy()
        labels = np.full(len(x), MISSING, dtype=object)  # filled in numpy: pandas' masked setitem is slow
        if self.ranges is not None:
            labels[~np.isnan(x)] = OUTSIDE
            levels = []
            for lo, hi in sorted(self.ranges):
                lab = f"({_fmt(lo)}, {_fmt(hi)}]"
                labels[(x > lo) & (x <= hi)] = lab
                levels.append(lab)
            levels.append(OUTSIDE)
            cuts: tuple[float, ...] = ()
        else:
            if self.quantiles is not None:
                cuts = tuple(float(c) for c in np.quantile(present.to_numpy(), self.quantiles))
                if len(set(cuts)) < len(cuts):
                    raise AnalysisError(f"biomarker rule '{self.label}'",
                                        f"tied quantiles {cuts}: too few distinct values of {self.biomarker}")
            else:
                cuts = tuple(self.cutoffs)
            edges = [-math.inf, *cuts, math.inf]
            levels = []
            for i, (lo, hi) in enumerate(zip(edges, edges[1:])):
                lab = f"<= {_fmt(hi)}" if i == 0 else f"> {_fmt(lo)}" if i == len(edges) - 2 \
                    else f"({_fmt(lo)}, {_fmt(hi)}]"
                labels[(x > lo) & (x <= hi)] = lab
                levels.append(lab)
        levels.append(MISSING)
        return GroupAssignment(variable=self.biomarker, rule=self.label,
                               labels=pd.Series(labels, index=values.index, dtype=object, name=self.label),
                               levels=tuple(levels),
                               cut_points=cuts)


def categorical_groups(trial: Trial, column: str) -> GroupAssignment:
    """Subgroups by a text column (onset site, sex, country); missing values form `missing`."""
    return reused(("categorical groups", id(trial), column), lambda: _categorical_groups(trial, column), trial)


def _categorical_groups(trial: Trial, column: str) -> GroupAssignment:
    if column not in trial.participant_column_names:
        raise AnalysisError(f"subgroups by {column}", f"the participants table has no column '{column}'")
    raw = trial.participant_columns("subject_id", column).set_index("subject_id")[column]
    labels = raw.astype(object).where(raw.notna(), MISSING).astype(str)
    levels = tuple(sorted(set(labels) - {MISSING})) + (MISSING,)
    return GroupAssignment(variable=column, rule=column, labels=labels.rename(column), levels=levels)
