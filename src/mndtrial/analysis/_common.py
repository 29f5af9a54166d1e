"""Small helpers shared by the function, CAFS and Treg analyses (private to `analysis`)."""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Union

import numpy as np
import pandas as pd

from ..data import Trial
from ..errors import AnalysisError, ParameterError

# A subgroup specification: a participants column whose values name the groups, or a mapping
# from a group label to its subject ids or to a boolean mask indexed by subject_id.
Subgroups = Union[str, Mapping[str, Union[Iterable[str], pd.Series]]]


class ByPopulation:
    """Indexing of a section's per-population fits (`fits`, each with a `population` label):
    `result["overall"]`, `result.overall`."""

    fits: tuple

    def __getitem__(self, population: str):
        for f in self.fits:
            if f.population == population:
                return f
        raise KeyError(f"no population {population!r}; have {[f.population for f in self.fits]}")

    @property
    def overall(self):
        return self["overall"]


def covariate_columns(values: pd.Series, name: str) -> dict[str, pd.Series]:
    """A covariate as numeric model columns: itself when numeric or boolean, else treatment-coded
    dummies named `name=level` (the first level is the reference)."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return {name: values.astype(float)}
    dummies = pd.get_dummies(values.astype(str), prefix=name, prefix_sep="=", drop_first=True, dtype=float)
    return {col: dummies[col] for col in dummies.columns}


def json_safe(value: Any) -> Any:
    """Plain Python (dict/list/float/int/str/bool/None) with NaN and infinities as None.

    A mapping with `ci_low` and `ci_high` gets one `ci: [lower, upper]` instead, the results.json
    convention (docs/results-json.md).
    """
    if isinstance(value, Mapping):
        out = {str(k): json_safe(v) for k, v in value.items()}
        if "ci_low" in out and "ci_high" in out:  # results.json writes an interval as ci: [lower, upper]
            out = {("ci" if k == "ci_low" else k): ([out["ci_low"], out["ci_high"]] if k == "ci_low" else v)
                   for k, v in out.items() if k != "ci_high"}
        return out
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, pd.DataFrame):
        return json_safe(value.reset_index().to_dict(orient="records"))
    raise TypeError(f"not JSON-safe: {type(value).__name__}")


def control_and_active(trial: Trial, analysis: str) -> tuple[str, tuple[str, ...]]:
    """The control arm and the active arms that have participants, or an AnalysisError."""
    return arms_compared(trial.info, trial.arms_with_participants, analysis)


def arms_compared(info: Any, present: set, analysis: str) -> tuple[str, tuple[str, ...]]:
    """`control_and_active` of a trial with this `TrialInfo` whose participants are in the arms `present`."""
    control = info.control_arm
    if control is None or control not in present:
        raise AnalysisError(analysis, "the trial has no placebo (control) arm with participants; "
                                      "mark one arm `control = true` in TrialInfo")
    active = tuple(a for a in info.active_arms if a in present)
    if not active:
        raise AnalysisError(analysis, f"only the control arm '{control}' has participants; "
                                      "there is nothing to compare it with")
    return control, active


def resolve_subgroups(trial: Trial, subgroups: Subgroups | None) -> dict[str, list[str]]:
    """Subgroup label → subject ids; the overall population is not included."""
    if subgroups is None:
        return {}
    participants = trial.participants
    if isinstance(subgroups, str):
        if subgroups not in participants.columns:
            raise ParameterError("subgroups", subgroups, "must be a column of the participants table")
        values = participants[subgroups]
        if values.isna().any():
            raise AnalysisError("subgroups", f"{int(values.isna().sum())} participants have no value of "
                                             f"'{subgroups}'; give them a group explicitly")
        return {f"{subgroups}={v}": participants.loc[values == v, "subject_id"].tolist()
                for v in sorted(values.unique(), key=str)}
    known = set(participants["subject_id"])
    out: dict[str, list[str]] = {}
    for label, members in subgroups.items():
        if isinstance(members, pd.Series) and members.dtype == bool:
            ids = [str(s) for s in members.index[members.to_numpy()]]
        else:
            ids = [str(s) for s in members]
        unknown = sorted(set(ids) - known)
        if unknown:
            raise ParameterError(f"subgroups[{label!r}]", unknown[:5], "subject ids must be in the trial")
        out[str(label)] = ids
    return out


def html_table(title: str, summary: pd.DataFrame, notes: Iterable[str] = ()) -> str:
    notes_html = "".join(f"<p><em>{n}</em></p>" for n in notes)
    return f"<h4>{title}</h4>{summary.to_html(float_format=lambda x: f'{x:.4g}')}{notes_html}"
