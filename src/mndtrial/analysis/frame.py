"""From a `Trial` to the flat table a survival model reads: time, event, arm, covariates.

Every analysis in `mndtrial.analysis` starts here, so the rules live in one place:

- the treatment comparison is one active arm against the control arm (`ArmContrast`);
- covariates are named as participant columns, optionally transformed (`log(csf_pnfh)`);
  text columns become indicator columns against a reference level, booleans become 0/1;
- participants with a missing covariate are *counted and reported* (complete-case), never
  dropped without a trace.
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np
import pandas as pd

from ..data import Trial
from ..errors import AnalysisError, ParameterError

__all__ = ["ArmContrast", "SurvivalFrame", "arm_contrast", "survival_frame", "parse_covariate",
           "baseline_values", "jsonable", "frames_reused", "joined_labels", "reused"]

TREATMENT = "treatment"
T = TypeVar("T")
_TRANSFORM = re.compile(r"^\s*(log|log2|log10|sqrt)\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$")
_NAME = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")
_FUNCTIONS = {"log": np.log, "log2": np.log2, "log10": np.log10, "sqrt": np.sqrt}


@dataclass(frozen=True)
class ArmContrast:
    """The comparison an analysis makes: `active` (treatment = 1) against `control` (0)."""

    control: str
    active: str

    def to_dict(self) -> dict[str, str]:
        return {"control": self.control, "active": self.active}


def arm_contrast(trial: Trial, active: str | None = None, control: str | None = None,
                 analysis: str = "survival") -> ArmContrast:
    """Pick the two arms to compare; a trial with one arm cannot be compared.

    Without names, the control is `trial.info.control_arm` (or the only non-active arm) and the
    active arm is the only other arm; with three or more arms `active` must be named.

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> arm_contrast(example_trial())
        ArmContrast(control='placebo', active='il2_2miu')
    """
    arms = list(trial.info.arm_names)
    present = trial.arms_with_participants
    arms = [a for a in arms if a in present]
    if len(arms) < 2:
        raise AnalysisError(analysis, f"the trial has a single arm ({arms[0] if arms else 'none'}); "
                                      "a treatment comparison needs two arms")
    for name, value in (("arms.active", active), ("arms.control", control)):
        if value is not None and value not in arms:
            raise ParameterError(name, value, f"must be one of the trial's arms {arms}")
    if control is None:
        control = trial.info.control_arm
        if control is None or control not in arms:
            others = [a for a in arms if a != active]
            if len(others) != 1:
                raise ParameterError("arms.control", None, f"the trial marks no control arm among {arms}; name one")
            control = others[0]
    if active is None:
        others = [a for a in arms if a != control]
        if len(others) != 1:
            raise ParameterError("arms.active", None,
                                 f"the trial has {len(arms)} arms {arms}; name the active arm to compare with {control!r}")
        active = others[0]
    if active == control:
        raise ParameterError("arms.active", active, "must differ from the control arm")
    return ArmContrast(control=control, active=active)


@dataclass(frozen=True)
class Covariate:
    """A covariate as written in a plan: a participant column, optionally transformed."""

    text: str
    column: str
    transform: str | None

    @property
    def name(self) -> str:
        return self.column if self.transform is None else f"{self.transform}_{self.column}"


def parse_covariate(text: str) -> Covariate:
    """`"age"` or `"log(csf_pnfh)"` → a `Covariate`; anything else is a `ParameterError`."""
    m = _TRANSFORM.match(text)
    if m:
        return Covariate(text=text, column=m.group(2), transform=m.group(1))
    m = _NAME.match(text)
    if m:
        return Covariate(text=text, column=m.group(1), transform=None)
    raise ParameterError("covariates", text, "must be a column name or log(x), log2(x), log10(x), sqrt(x)")


def baseline_values(trial: Trial, name: str, participants: pd.DataFrame | None = None,
                    parameter: str = "covariate") -> pd.Series:
    """Baseline value of `name` per participant (index: subject_id), NaN where not measured.

    A participants column wins; otherwise the last measurement at day <= 0 in the biomarkers
    table (the baseline sample). A name found in neither is a `ParameterError` on `parameter`
    (the plan setting that named it: covariates, strata).
    """
    def read(*columns: str) -> pd.DataFrame:  # only the columns needed, not a copy of the whole table
        return trial.participant_columns(*columns) if participants is None else participants[list(columns)]

    if name == "subject_id":
        raise ParameterError(parameter, name, ID_NOT_A_VALUE)
    names = trial.participant_column_names if participants is None else tuple(participants.columns)
    if name in names:
        return read("subject_id", name).set_index("subject_id")[name]
    bio = trial.biomarkers
    if bio is not None and name in set(bio["analyte"]):
        base = bio.loc[(bio["analyte"] == name) & (bio["day"] <= 0)].sort_values(["subject_id", "day"])
        last = base.groupby("subject_id")["value"].last()
        return last.reindex(read("subject_id")["subject_id"]).rename(name)
    raise ParameterError(parameter, name, NO_BASELINE)


ID_NOT_A_VALUE = "is the participant identifier, not a baseline value a model or a subgroup can use"
NO_BASELINE = "is neither a participants column nor an analyte with a baseline (day <= 0) measurement in the biomarkers table"


def has_baseline_values(trial: Trial, name: str) -> bool:
    """Whether `baseline_values(trial, name)` finds `name` (a participants column or an analyte),
    without reading the values (the participant identifier is not one)."""
    if name == "subject_id":
        return False
    if name in trial.participant_column_names:
        return True
    bio = trial.biomarkers
    return bio is not None and name in set(bio["analyte"])


def _numeric(values: pd.Series, cov: Covariate) -> pd.Series:
    if pd.api.types.is_bool_dtype(values.dtype):
        out = values.astype("Float64").astype(float)
    elif pd.api.types.is_numeric_dtype(values.dtype):
        out = values.astype(float)
    else:
        raise ParameterError("covariates", cov.text, f"a transform needs a numeric column; '{cov.column}' is text")
    if cov.transform is None:
        return out
    positive_needed = cov.transform.startswith("log")
    bad = (out <= 0) if positive_needed else (out < 0)
    if bool(bad.fillna(False).any()):
        n = int(bad.fillna(False).sum())
        raise AnalysisError("covariates", f"{cov.text}: {n} participant(s) have values "
                                          f"{'<= 0' if positive_needed else '< 0'} where the transform is undefined")
    return pd.Series(_FUNCTIONS[cov.transform](out.to_numpy()), index=out.index, name=cov.name)


def encode_covariate(values: pd.Series, cov: Covariate) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Model columns for one covariate and a description of the coding (reference level...)."""
    is_text = values.dtype == object or isinstance(values.dtype, pd.CategoricalDtype) \
        or pd.api.types.is_string_dtype(values.dtype)
    if is_text and cov.transform is None:
        present = values.dropna().astype(str)
        counts = present.value_counts()
        # The most frequent level is the reference (ties: alphabetical), so each indicator compares
        # a smaller group with the bulk of the trial and its estimate is as stable as it can be.
        levels = sorted(counts.index, key=lambda lv: (-counts[lv], lv))
        cols = {f"{cov.column}[{lv}]": (values.astype(object) == lv).astype(float).where(values.notna())
                for lv in levels[1:]}
        frame = pd.DataFrame(cols, index=values.index)
        return frame, {"covariate": cov.text, "kind": "categorical", "reference": levels[0] if levels else None,
                       "levels": levels}
    numeric = _numeric(values, cov)
    return numeric.rename(cov.name).to_frame(), {"covariate": cov.text, "kind": "numeric", "column": cov.name}


@dataclass(frozen=True)
class SurvivalFrame:
    """The model table: `subject_id`, `time_days`, `event`, `treatment` (0/1), covariates, strata.

    `excluded` counts participants left out because a covariate or stratum was missing, by
    column; `n_total` is every participant of the two compared arms.
    """

    data: pd.DataFrame
    contrast: ArmContrast
    terms: tuple[str, ...]
    strata: tuple[str, ...]
    coding: tuple[dict[str, Any], ...]
    n_total: int
    excluded: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.data)

    @property
    def events(self) -> int:
        return int(self.data["event"].sum())


def endpoint_events(trial: Trial, event_types: Sequence[str] | None) -> pd.DataFrame:
    """participants + survival with `event` redefined by `event_types` (others censored at their time)."""
    df = trial.survival_by_subject()
    if event_types is None:
        return df
    if "event_type" not in df.columns:
        raise ParameterError("event_types", list(event_types), "the survival table has no 'event_type' column")
    events = df.loc[df["event"] == 1]
    untyped = int(events["event_type"].isna().sum())
    if untyped:
        raise AnalysisError("endpoint", f"{untyped} event(s) have no event_type, so event_types "
                                        f"{list(event_types)} cannot tell whether they count")
    # A listed type that no event has leaves fewer (perhaps no) endpoint events: that is the
    # census's warning, not an error here; an analysis that needs events says so itself.
    df["event"] = ((df["event"] == 1) & df["event_type"].isin(list(event_types))).astype("int64")
    return df


# (trial, frame) by the arguments that make it; set only inside `frames_reused()`
_REUSED: ContextVar[dict | None] = ContextVar("mndtrial_survival_frames", default=None)


@contextmanager
def frames_reused() -> Iterator[None]:
    """Inside this block `survival_frame` builds each frame once per trial and arguments.

    `AnalysisPlan.run` runs its sections inside it: the survival, subgroup and interaction
    sections read the same frames. A frame is read, never changed, by every analysis; a
    `Trial` is not changed after validation. Failures are not kept (each analysis reports its own).

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> trial = example_trial()
        >>> with frames_reused():
        ...     survival_frame(trial) is survival_frame(trial)
        True
    """
    token = _REUSED.set({})
    try:
        yield
    finally:
        _REUSED.reset(token)


def reused(key: tuple, compute: Callable[[], T], *alive: Any) -> T:
    """`compute()`, once per `key` inside `frames_reused()` (every call outside it).

    For what a plan run asks for again in another section (a subgroup assignment, a subgroup's
    Cox fit): the value is shared, so it must be read and never changed. `alive` are kept with it
    (a trial whose `id` is in the key, so that the id is not reused). A failure is not kept.

    Example:
        >>> with frames_reused():
        ...     reused(("answer",), lambda: [42]) is reused(("answer",), lambda: [42])
        True
    """
    cache = _REUSED.get()
    if cache is None:
        return compute()
    key = ("reused", *key)
    if key not in cache:
        cache[key] = (alive, compute())
    return cache[key][1]


def survival_frame(trial: Trial, covariates: Iterable[str] = (), strata: Iterable[str] = (),
                   contrast: ArmContrast | None = None, event_types: Sequence[str] | None = None,
                   analysis: str = "survival") -> SurvivalFrame:
    """The table a Cox model or log-rank test reads, for the two arms of `contrast`.

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> sf = survival_frame(example_trial(), ["log(csf_pnfh)", "onset_site"], strata=["country"])
        >>> sf.terms
        ('treatment', 'log_csf_pnfh', 'onset_site[bulbar]')
    """
    covariates, strata = tuple(covariates), tuple(strata)
    contrast = contrast or arm_contrast(trial, analysis=analysis)
    reused = _REUSED.get()
    key = (id(trial), covariates, strata, contrast, None if event_types is None else tuple(event_types))
    if reused is not None and key in reused:
        return reused[key][1]
    frame = _survival_frame(trial, covariates, strata, contrast, event_types, analysis)
    if reused is not None:
        reused[key] = (trial, frame)  # the trial kept alive with it, so that its id is not reused
    return frame


def _survival_frame(trial: Trial, covariates: tuple[str, ...], strata: tuple[str, ...], contrast: ArmContrast,
                    event_types: Sequence[str] | None, analysis: str) -> SurvivalFrame:
    df = endpoint_events(trial, event_types)
    df = df.loc[df["arm"].isin([contrast.control, contrast.active])].reset_index(drop=True)
    out = pd.DataFrame({"subject_id": df["subject_id"], "time_days": df["time_days"].astype(float),
                        "event": df["event"].astype(int),
                        TREATMENT: (df["arm"] == contrast.active).astype(float)})
    terms: list[str] = [TREATMENT]
    coding: list[dict[str, Any]] = [{"covariate": TREATMENT, "kind": "arm", "reference": contrast.control,
                                     "active": contrast.active}]
    missing = pd.Series(False, index=df.index)
    excluded: dict[str, int] = {}
    covariates = list(covariates)
    for text in covariates:
        cov = parse_covariate(text)
        if sum(parse_covariate(other).name == cov.name for other in covariates) > 1:
            raise ParameterError("covariates", covariates, f"'{text}' is listed twice (as term '{cov.name}')")
        values = baseline_values(trial, cov.column, df).set_axis(df.index)
        cols, code = encode_covariate(values, cov)
        if cols.shape[1] == 0:
            raise AnalysisError(analysis, f"covariate {text!r} has a single level in these data and cannot be estimated")
        na = values.isna()
        if na.any():
            excluded[cov.column] = int(na.sum())
        missing |= na
        for c in cols.columns:
            out[c] = cols[c]
            terms.append(c)
        coding.append(code)
    strata = tuple(strata)
    for s in strata:
        values = baseline_values(trial, s, df, parameter="strata").set_axis(df.index)
        na = values.isna()
        if na.any():
            excluded[s] = int(na.sum())
        missing |= na
        out[f"stratum:{s}"] = values.astype(object).where(values.notna())
    data = out.loc[~missing].reset_index(drop=True)
    if len(data) == 0:
        raise AnalysisError(analysis, "no participant has every covariate and stratum "
                                      f"({', '.join(list(excluded)) or 'none'} missing)")
    return SurvivalFrame(data=data, contrast=contrast, terms=tuple(terms),
                         strata=tuple(f"stratum:{s}" for s in strata), coding=tuple(coding),
                         n_total=len(df), excluded=excluded)


def joined_labels(table: pd.DataFrame, columns: Sequence[str], sep: str) -> np.ndarray:
    """Each row's values of `columns` as text joined by `sep` (a stratum's key): the result of
    `table[columns].astype(str).agg(sep.join, axis=1)`, without a Python call per row through pandas.

    Example:
        >>> joined_labels(pd.DataFrame({"a": ["UK", "FR"], "b": [1, 2]}), ["a", "b"], " / ")
        array(['UK / 1', 'FR / 2'], dtype=object)
    """
    texts = [table[c].astype(str).tolist() for c in columns]
    out = np.empty(len(table), dtype=object)
    out[:] = [sep.join(row) for row in zip(*texts)]
    return out


def jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars become Python numbers, NaN/inf become None."""
    kind = type(value)
    if kind is float:  # the plain types first: most of a results tree (no isinstance chain for them)
        return value if math.isfinite(value) else None
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [jsonable(r) for r in value.reset_index().to_dict(orient="records")]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if value is pd.NA or value is None:
        return None
    return value
