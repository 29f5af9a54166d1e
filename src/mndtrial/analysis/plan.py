"""`AnalysisPlan`: what to analyse, declared in TOML; `AnalysisPlan.run(trial)` → `AnalysisResults`.

The plan has a few trial-wide settings (endpoint, horizon, arms, covariates, strata, biomarker
rules, at-risk days) and one table per *section* (`[survival]`, `[subgroups]`, ...). Sections
come from the registry (`mndtrial.analysis.registry`), so new analyses join the plan without
editing this file. See docs/analysis-plan.md and docs/results-json.md.

Example:
    >>> from mndtrial.data.example import example_trial
    >>> plan = AnalysisPlan.from_toml_text('''
    ... horizon_days = 540
    ... covariates = ["log(csf_pnfh)"]
    ... [subgroups]
    ... enabled = false
    ... ''')
    >>> results = plan.run(example_trial())
    >>> sorted(results.to_dict()["survival"]["cox"])
    ['adjusted', 'stratified', 'unadjusted']
"""

from __future__ import annotations

import functools
import json
import math
import sys
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Literal, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..data import Trial
from ..data.toml_errors import check_keys, did_you_mean, located, read_toml, schema_of
from ..errors import AnalysisError, ConfigFileError, ParameterError
from .biomarker import BiomarkerRule
from .endpoint_census import endpoint_census
from .frame import (ID_NOT_A_VALUE, NO_BASELINE, ArmContrast, arm_contrast, frames_reused, has_baseline_values, jsonable,
                    parse_covariate)
from .numbers import arm_labels
from .registry import SectionConfig, registered_sections
from .tidy import format_tidy, relabel_arms, tidy_summary

__all__ = ["ArmsConfig", "AnalysisPlan", "AnalysisResults", "SCHEMA_VERSION", "result_warnings"]

SCHEMA_VERSION = 1
T = TypeVar("T")


class _SectionInvalid(ValueError):
    """A section's table failed its model; carried through pydantic so the plan can name the key."""

    def __init__(self, section: str, exc: ValidationError):
        first = exc.errors()[0]
        self.path = (section, *first["loc"])
        self.value = first.get("input")
        self.msg = first["msg"]
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        super().__init__(f"section '{section}': {problems}")


def _first_problem(exc: ValidationError) -> tuple[tuple, Any, str]:
    """(key path, value, rule in words) of the first error pydantic found, on one line."""
    first = exc.errors()[0]
    path, value, msg = tuple(first["loc"]), first.get("input"), first["msg"]
    inner = (first.get("ctx") or {}).get("error")
    if isinstance(inner, _SectionInvalid):
        path, value, msg = inner.path, inner.value, inner.msg
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ").replace("Input should be", "must be").replace("a valid tuple", "an array [...]")
    if isinstance(value, dict):
        value = None  # the table itself: its path names it
    return path, value, msg.replace("\r", "\\r").replace("\n", "\\n")


class ArmsConfig(BaseModel):
    """Which arms to compare (None: the trial's control arm and its only other arm)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    control: str | None = None
    active: str | None = None


class AnalysisPlan(BaseModel):
    """A declared analysis: trial-wide settings plus one config per registered section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "analysis"
    endpoint: str = Field(default="death", description="what an event in the survival table is (a label)")
    event_types: tuple[str, ...] | None = Field(
        default=None, description="count only these survival.event_type values as events (others censored)")
    horizon_days: float | None = Field(default=None, gt=0, allow_inf_nan=False,
                                       description="default: the trial's horizon_days")
    at_risk_days: tuple[float, ...] | None = Field(default=None, description="default: every 90 days to the horizon")
    alpha: float = Field(default=0.05, gt=0, lt=1)
    arms: ArmsConfig = ArmsConfig()
    covariates: tuple[str, ...] = ()
    strata: tuple[str, ...] | None = Field(default=None, description="default: the trial's strata")
    biomarker_rules: tuple[BiomarkerRule, ...] = ()
    on_error: Literal["raise", "record"] = "raise"
    sections: dict[str, SectionConfig] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _collect_sections(cls, data: Any) -> Any:
        """Top-level tables named after a registered section go to `sections`, validated by its model."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        registry = registered_sections()
        sections = data.pop("sections", None) or {}
        if not isinstance(sections, dict):
            raise ValueError(f"sections must be a table of section settings, not {type(sections).__name__}")
        sections = dict(sections)
        for key in list(data):
            if key in registry:
                sections[key] = data.pop(key)
            elif key not in cls.model_fields:
                known = [*cls.model_fields, *registry]
                raise ValueError(f"unknown setting '{key}'" + (did_you_mean(str(key), known) or
                                 f"; plan settings are {sorted(cls.model_fields)} and sections are {sorted(registry)}"))
        parsed: dict[str, SectionConfig] = {}
        for key, raw in sections.items():
            if key not in registry:
                raise ValueError(f"unknown section '{key}'" + (did_you_mean(str(key), registry) or
                                                             f"; registered sections are {sorted(registry)}"))
            model = registry[key].config_model
            if isinstance(raw, model):
                parsed[key] = raw
                continue
            try:
                parsed[key] = model.model_validate(raw or {})
            except ValidationError as exc:
                raise _SectionInvalid(key, exc) from None
        data["sections"] = parsed
        return data

    @field_validator("covariates")
    @classmethod
    def _covariates_parse(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for text in v:
            parse_covariate(text)
        return v

    @field_validator("at_risk_days")
    @classmethod
    def _days_non_negative(cls, v: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if v is not None and any(not math.isfinite(d) or d < 0 for d in v):
            raise ValueError("at_risk_days must be finite and >= 0")
        return v

    # -- reading and writing -----------------------------------------------------------------
    @classmethod
    def toml_schema(cls) -> dict[str, Any]:
        """The keys a plan file may hold: the plan's settings and each registered section's table."""
        schema = dict(schema_of(cls) or {})
        tables = {name: schema_of(s.config_model) for name, s in registered_sections().items()}
        return {**schema, **tables, "sections": tables}

    @classmethod
    def _validated(cls, data: Any, file: str | None = None, text: str = "") -> "AnalysisPlan":
        """The plan, or one `ParameterError` for the first bad setting (a `ConfigFileError` at its
        line when the plan comes from `file`)."""
        if not isinstance(data, dict):
            raise ParameterError("plan", type(data).__name__, "must be a table of settings")
        try:
            check_keys(data, cls.toml_schema(), file or "plan", text)
        except ConfigFileError as exc:
            if file is not None:
                raise
            raise ParameterError(exc.parameter, exc.value, exc.rule) from None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            path, value, rule = _first_problem(exc)
            name = ".".join(str(p) for p in path) or "plan"
            error = ParameterError(name, value, rule)
            raise (error if file is None else located(error, path, file, text)) from None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AnalysisPlan":
        """Validate a plan; a problem becomes one `ParameterError` naming the bad setting."""
        return cls._validated(data)

    @classmethod
    def from_toml_text(cls, text: str) -> "AnalysisPlan":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ParameterError("plan", "TOML", f"is not valid TOML: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_toml(cls, path: str | Path) -> "AnalysisPlan":
        """Read a plan file: a plan, or a `ConfigFileError` (a `ParameterError`) naming the file, the
        line and the setting at fault, with the nearest known name for a misspelt one."""
        data, text = read_toml(path, "analysis plan")
        return cls._validated(data, str(path), text)

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain data, every registered section included with its effective config."""
        out = self.model_dump(mode="json", exclude={"sections"})
        for name in registered_sections():
            out[name] = self.section(name).model_dump(mode="json")
        return out

    def to_toml(self) -> str:
        import tomli_w

        def drop_none(x: Any) -> Any:
            if isinstance(x, dict):
                return {k: drop_none(v) for k, v in x.items() if v is not None}
            if isinstance(x, list):
                return [drop_none(v) for v in x]
            return x

        return tomli_w.dumps(drop_none(self.to_dict()))

    # -- resolved settings (plan, else trial) ------------------------------------------------
    def section(self, name: str) -> SectionConfig:
        """The config of a section: as declared, else the section's defaults."""
        registry = registered_sections()
        if name not in registry:
            raise ParameterError("section", name, f"is not registered; registered are {sorted(registry)}")
        return self.sections.get(name) or registry[name].default_config()

    def enabled_sections(self) -> tuple[str, ...]:
        """The sections this plan runs, in run (registry) order: the blocks its results will hold.

        Example:
            >>> "cafs" in AnalysisPlan.from_dict({"cafs": {"enabled": False}}).enabled_sections()
            False
        """
        return tuple(name for name in registered_sections() if self.section(name).enabled)

    def contrast(self, trial: Trial, analysis: str = "plan") -> ArmContrast:
        return arm_contrast(trial, self.arms.active, self.arms.control, analysis=analysis)

    def horizon(self, trial: Trial) -> float:
        """The horizon (plan, else trial); a `ParameterError` when neither declares one."""
        horizon = self.horizon_or_none(trial)
        if horizon is None:
            raise ParameterError("horizon_days", None, "set it in the plan (the trial declares no horizon_days)")
        return float(horizon)

    def horizon_or_none(self, trial: Trial) -> float | None:
        """The horizon, or None when neither the plan nor the trial declares one."""
        horizon = self.horizon_days if self.horizon_days is not None else trial.info.horizon_days
        return None if horizon is None else float(horizon)

    def strata_for(self, trial: Trial) -> tuple[str, ...]:
        return tuple(self.strata) if self.strata is not None else tuple(trial.info.strata)

    def at_risk_for(self, trial: Trial) -> tuple[float, ...]:
        if self.at_risk_days is not None:
            return tuple(float(d) for d in self.at_risk_days)
        horizon = self.horizon_or_none(trial)
        if horizon is None:
            horizon = float(trial.survival["time_days"].max())
        return tuple(float(d) for d in np.arange(0.0, horizon + 1e-9, 90.0))

    def attempt(self, analysis: str, compute: Callable[[], T]) -> T | dict[str, Any]:
        """Run one analysis; with `on_error = "record"` an `AnalysisError` becomes `{"error": ...}`."""
        try:
            return compute()
        except AnalysisError as exc:
            if self.on_error == "raise":
                raise
            return {"error": {"analysis": exc.analysis, "reason": exc.reason}}

    def check_trial(self, trial: Trial) -> None:
        """Refuse, before anything runs, a plan that names what the trial does not have.

        A biomarker rule, covariate or stratum naming a column the trial lacks (`csf_xyz`) is a
        `ParameterError` on that setting, listing what the trial has, rather than a footnote in
        each subgroup table of an otherwise finished run.

        Example:
            >>> from mndtrial.data.example import example_trial
            >>> plan = AnalysisPlan.from_dict({"biomarker_rules": [{"biomarker": "csf_xyz", "cutoffs": [3700]}]})
            >>> plan.check_trial(example_trial())
            Traceback (most recent call last):
            ...
            mndtrial.errors.ParameterError: parameter 'biomarker_rules[0].biomarker' = 'csf_xyz': ...
        """
        named = [(f"biomarker_rules[{i}].biomarker", rule.biomarker) for i, rule in enumerate(self.biomarker_rules)]
        named += [("covariate", parse_covariate(text).column) for text in self.covariates]
        named += [("strata", s) for s in self.strata or ()]
        for parameter, column in named:
            if column == "subject_id":
                raise ParameterError(parameter, column, ID_NOT_A_VALUE)
            if not has_baseline_values(trial, column):
                bio = trial.biomarkers
                analytes = sorted(set(bio["analyte"])) if bio is not None else []
                raise ParameterError(parameter, column, f"{NO_BASELINE}; participants columns are "
                                                        f"{list(trial.participants.columns)}, analytes "
                                                        f"{analytes}") from None

    # -- running ------------------------------------------------------------------------------
    def run(self, trial: Trial, on_section: Callable[[str, Any], None] | None = None) -> "AnalysisResults":
        """Run every enabled section on the trial, in registry order.

        `on_section(name, output)`, when given, is called as each section ends, with the output
        that becomes `results.sections[name]` (results.json's block): a report can start on the
        survival figures while the function models are still being fitted (`report.background`).

        When the plan's `event_types` leave no endpoint event at all (`["deth"]`, a typo), the run
        still goes on, as for any other `event_types` warning: the warning says so, and each
        analysis that needs events is recorded as not computed instead of stopping the run.
        """
        self.check_trial(trial)
        census = endpoint_census(trial, self.event_types)
        runner = self
        if self.event_types is not None and census["endpoint_events"] == 0 and census["events_all"] > 0:
            census["warnings"].append(f"event_types {list(self.event_types)} leave no endpoint events: "
                                      "analyses that need events are recorded as not computed")
            runner = self.model_copy(update={"on_error": "record"})
        outputs: dict[str, Any] = {}
        with frames_reused():  # the sections read the same survival frames: each is built once
            registry = registered_sections()
            for name in self.enabled_sections():
                result = runner.attempt(name, lambda s=registry[name], c=self.section(name): s.run(trial, runner, c))
                outputs[name] = jsonable(_plain(result))
                if on_section is not None:
                    on_section(name, outputs[name])
        contrast = None
        try:
            contrast = self.contrast(trial).to_dict()
        except (AnalysisError, ParameterError):
            pass
        # `events_all` counts every event in the survival table; `endpoint_events` only those the
        # plan's event_types count (the same number when event_types is not set)
        trial_info = {"name": trial.info.name, "n_participants": trial.n_participants, **census,
                      "compared": contrast, "arm_labels": arm_labels(trial.info)}
        return AnalysisResults(plan=self, trial=jsonable(trial_info), sections=outputs,
                               provenance=_provenance())


def result_warnings(data: Any, path: str = "") -> dict[str, list[str]]:
    """Every non-empty `warnings` / `problems` list (or `*_warnings`, `*_problems`) in results.json, by path.

    A list entry is named by its `rule`/`variable` and `level` (or `biomarker`) when it has them,
    so `subgroups[3]` reads `subgroups[serum_nfl cut at 90 = > 90]`.

    Example:
        >>> result_warnings({"survival": {"cox": {"adjusted": {"warnings": ["w"]}}}, "trial": {"warnings": []}})
        {'survival.cox.adjusted': ['w']}
    """
    found: dict[str, list[str]] = {}

    def walk(x: Any, where: str) -> None:
        if isinstance(x, dict):
            for key, value in x.items():
                key = str(key)
                if isinstance(value, list) and any(key == k or key.endswith(f"_{k}") for k in _WARNING_KEYS):
                    if value:
                        found.setdefault(where or key, []).extend(str(v) for v in value)
                else:
                    walk(value, f"{where}.{key}" if where else key)
        elif isinstance(x, list):
            for i, item in enumerate(x):
                walk(item, f"{where}[{_entry_name(item, i)}]")

    walk(data, path)
    return found


_WARNING_KEYS = ("warnings", "problems")
_PLAIN_SCALARS = frozenset({float, int, str, bool, type(None)})


def _entry_name(item: Any, index: int) -> str:
    if isinstance(item, dict):
        name = item.get("rule") or item.get("variable") or item.get("biomarker")
        if name is not None:
            return f"{name} = {item['level']}" if item.get("level") is not None else str(name)
    return str(index)


def _plain(value: Any) -> Any:
    if type(value) in _PLAIN_SCALARS:
        return value
    if hasattr(value, "to_dict") and not isinstance(value, (dict, pd.DataFrame)):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _provenance() -> dict[str, Any]:
    return {"created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), "versions": dict(_versions())}


_OWN_VERSION = ("scipy", "numpy", "pandas")  # whose __version__ is their distribution's version


@functools.cache
def _versions() -> dict[str, str | None]:
    """Installed versions, read once a process (the package metadata lookup costs ~10 ms a package)."""
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for pkg in ("mndtrial", "lifelines", "statsmodels", "scipy", "numpy", "pandas"):
        loaded = getattr(sys.modules.get(pkg), "__version__", None) if pkg in _OWN_VERSION else None
        if isinstance(loaded, str):  # the imported package says it itself
            versions[pkg] = loaded
            continue
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    return versions


def _open_ranges(rule: Any) -> Any:
    # results.json writes an open range bound as null (JSON has no infinity): [3700, null] is (3700, inf]
    if not isinstance(rule, dict) or not rule.get("ranges"):
        return rule
    ranges = [[-np.inf if lo is None else lo, np.inf if hi is None else hi] for lo, hi in rule["ranges"]]
    return {**rule, "ranges": ranges}


def ci_label(alpha: float) -> str:
    """'95% CI' for alpha = 0.05, '90% CI' for 0.1: the level every interval of the plan is at."""
    return f"{100 * (1 - alpha):.10g}% CI"


def _relabel_ci(table: pd.DataFrame, alpha: float) -> pd.DataFrame:
    # section summaries name their interval columns "95% CI"; every interval is at 1 - alpha
    label = ci_label(alpha)
    if label == "95% CI":
        return table
    return table.rename(columns=lambda c: c.replace("95% CI", label) if isinstance(c, str) else c)


@dataclass(frozen=True, repr=False)
class AnalysisResults:
    """Everything a plan computed: one JSON-able output per section, plus trial facts and provenance."""

    plan: AnalysisPlan
    trial: dict[str, Any]
    sections: dict[str, Any]
    provenance: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.sections[name]

    def errors(self) -> dict[str, Any]:
        """Analyses that failed (only with `on_error = "record"`), by JSON path."""
        found: dict[str, Any] = {}

        def walk(x: Any, path: str) -> None:
            if isinstance(x, dict):
                if set(x) == {"error"}:
                    found[path] = x["error"]
                    return
                for k, v in x.items():
                    walk(v, f"{path}.{k}" if path else k)

        walk(self.sections, "")
        return found

    def warnings(self) -> dict[str, list[str]]:
        """Every warning a section recorded, by where it is in results.json (see `result_warnings`)."""
        return result_warnings(self.sections)

    def to_dict(self) -> dict[str, Any]:
        # JSON has no infinity: an open range bound (`ranges = [[3700, inf]]`) is written null there,
        # as every other non-finite number in results.json; OUT/plan.toml keeps `inf`.
        return {"schema_version": SCHEMA_VERSION, "trial": self.trial, "plan": jsonable(self.plan.to_dict()),
                **self.sections, "provenance": self.provenance}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AnalysisResults":
        """Read back `to_dict()` (a saved results.json): the plan, trial facts, sections and provenance.

        The numbers are taken as saved, nothing is recomputed; an open range bound written `null`
        in JSON becomes infinite again in the plan.
        """
        if not isinstance(data, dict) or "plan" not in data or "trial" not in data:
            raise ParameterError("results", type(data).__name__, "is not a results.json (no 'plan' and 'trial' keys)")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ParameterError("results.schema_version", data.get("schema_version"),
                                 f"this mndtrial reads schema_version {SCHEMA_VERSION}")
        plan = dict(data["plan"])
        plan["biomarker_rules"] = [_open_ranges(r) for r in plan.get("biomarker_rules") or []]
        sections = {k: v for k, v in data.items() if k not in ("schema_version", "trial", "plan", "provenance")}
        return cls(plan=AnalysisPlan.from_dict(plan), trial=data["trial"], sections=sections,
                   provenance=dict(data.get("provenance") or {}))

    @classmethod
    def read_json(cls, path: str | Path) -> "AnalysisResults":
        """`from_dict` of a results.json file."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"results file {path} does not exist")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ParameterError("results", str(path), f"is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    def write_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n", encoding="utf-8")
        return path

    def summary_tables(self) -> dict[str, pd.DataFrame]:
        """Each section's printable tables (from the section's `summarize`), titled 'section: table'."""
        tables: dict[str, pd.DataFrame] = {}
        registry = registered_sections()
        for name, output in self.sections.items():
            section = registry.get(name)
            if section is None or section.summarize is None:
                continue
            if isinstance(output, dict) and set(output) == {"error"}:
                tables[f"{name}: error"] = pd.DataFrame([output["error"]])
                continue
            for title, table in section.summarize(output).items():
                # arms by their display labels (trial info `label`, e.g. "IL-2 2 MIU") when known
                table = relabel_arms(table, self.trial.get("arm_labels") or {})
                tables[f"{name}: {title}"] = _relabel_ci(table, self.plan.alpha)
        return tables

    @property
    def summary(self) -> pd.DataFrame:
        """The headline estimates, one tidy row each: section, population, estimand, estimate,
        ci_lower, ci_upper (at 1 - plan.alpha), p (numbers; see `mndtrial.analysis.tidy`).

        Every detail stays in `summary_tables()`; `print_summary()`, `to_markdown()` and
        `to_latex()` show this frame with publication formatting.
        """
        return tidy_summary(self.to_dict())

    def formatted_summary(self) -> pd.DataFrame:
        """`summary` as text: HR to 2 decimals with CI, p as '< 0.001', medians 'NR' when not reached."""
        table = relabel_arms(tidy_summary(self.to_dict()), self.trial.get("arm_labels") or {})
        return format_tidy(table, ci_label(self.plan.alpha))

    def print_summary(self) -> None:
        """Print the headline estimates as a plain-text table (lifelines' `print_summary` habit)."""
        print(self._headline())
        print(self.formatted_summary().to_string(index=False))

    def to_markdown(self) -> str:
        """The formatted summary as a Markdown table (for a README, an issue, a Quarto document)."""
        return self.formatted_summary().to_markdown(index=False)

    def to_latex(self) -> str:
        """The formatted summary as a LaTeX tabular (booktabs rules), for a manuscript."""
        return self.formatted_summary().to_latex(index=False, escape=True)

    def _headline(self) -> str:
        t = self.trial
        n_warn = sum(map(len, self.warnings().values()))
        return (f"Analysis '{self.plan.name}' of trial '{t.get('name')}': {t.get('n_participants')} participants, "
                f"{t.get('endpoint_events', '?')} endpoint events; sections: {', '.join(self.sections)}"
                + (f"; {n_warn} warning(s)" if n_warn else ""))

    def __repr__(self) -> str:
        return f"<AnalysisResults: {self._headline()}; .summary has {len(self.summary)} rows>"

    def _repr_html_(self) -> str:
        import html

        parts = [f"<p>{html.escape(self._headline())}</p>", self.formatted_summary().to_html(index=False),
                 "<details><summary>Every table (summary_tables())</summary>"]
        for title, table in self.summary_tables().items():
            parts.append(f"<h4>{html.escape(title)}</h4>" + table.to_html(index=False))
        return "\n".join(parts) + "</details>"
