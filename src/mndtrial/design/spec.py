"""A design declared once as data: a TOML file (or dict) with a [design] table and optional
[survival] (sample size from hazards, accrual, follow-up) or [events] (a given maximum) tables.

    [design]
    information_rates = [0.3, 0.6, 1.0]
    type_of_design = "asOF"
    beta = 0.1
    type_beta_spending = "bsOF"

    [survival]
    hazard_ratio = 0.7
    median_control_months = 24
    accrual_time = [0]
    accrual_intensity = 20
    follow_up_time = 12

Two optional tables say how the trial is analysed at its looks (`mndtrial interim`):

    [analysis]
    test = "group_sequential"     # or "inverse_normal": stages combined with pre-specified weights
    strata = ["onset_site"]       # stratified log-rank (participants columns); default none
    hazard_ratio = 0.7            # the design effect for conditional power (default: [survival]'s,
                                  # else the effect the design is powered for at max_events)

    [enrichment]                  # adaptive enrichment: S = one group of a BiomarkerRule, F = all
    biomarker = "csf_pnfh"
    cutoffs = [3700]
    group = "<= 3700"
    intersection_test = "simes"   # bonferroni, simes, sidak, spiessens_debois
    success_criterion = "all"     # or "at_least_one"

Keys are the arguments of `group_sequential_design` and `sample_size_survival`; an unknown key is
refused by name.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.toml_errors import check_keys, located, read_toml
from ..errors import ParameterError
from .boundaries import GroupSequentialDesign, group_sequential_design
from .samplesize import SurvivalSampleSize, sample_size_survival

__all__ = ["DesignSpec", "EnrichmentSpec", "ANALYSIS_TESTS", "design_from_dict", "load_design"]

_DESIGN_KEYS = set(inspect.signature(group_sequential_design).parameters)
_SURVIVAL_KEYS = set(inspect.signature(sample_size_survival).parameters) - {"design"}
_EVENTS_KEYS = {"max_events", "allocation_ratio"}
_ANALYSIS_KEYS = {"test", "strata", "hazard_ratio"}
_ENRICHMENT_KEYS = {"biomarker", "cutoffs", "group", "intersection_test", "success_criterion"}
ANALYSIS_TESTS = ("group_sequential", "inverse_normal")


@dataclass(frozen=True)
class EnrichmentSpec:
    """The subpopulation S of an adaptive-enrichment design (F is everyone) and its closed test."""

    biomarker: str
    cutoffs: tuple[float, ...]
    group: str
    intersection_test: str = "simes"
    success_criterion: str = "all"


@dataclass(frozen=True)
class DesignSpec:
    """A declared design: the boundaries, and the events (given or from a survival sample size)."""

    design: GroupSequentialDesign
    sample_size: SurvivalSampleSize | None = None
    max_events: float | None = None
    allocation_ratio: float = 1.0
    test: str = "group_sequential"
    strata: tuple[str, ...] = ()
    hazard_ratio: float | None = None
    enrichment: EnrichmentSpec | None = None

    @property
    def events(self) -> float | None:
        return self.sample_size.max_events if self.sample_size is not None else self.max_events


def _check_keys(table: str, given: dict, allowed: set) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ParameterError(f"[{table}].{unknown[0]}", given[unknown[0]], f"unknown key; allowed: {', '.join(sorted(allowed))}")


def design_from_dict(spec: dict[str, Any]) -> DesignSpec:
    """Build a `DesignSpec` from a parsed TOML document.

    >>> s = design_from_dict({"design": {"k_max": 2}, "events": {"max_events": 300}})
    >>> s.events
    300.0
    """
    _check_keys("top level", spec, {"design", "survival", "events", "analysis", "enrichment"})
    if "design" not in spec:
        raise ParameterError("[design]", None, "a design file needs a [design] table")
    _check_keys("design", spec["design"], _DESIGN_KEYS)
    design = group_sequential_design(**spec["design"])
    if "survival" in spec and "events" in spec:
        raise ParameterError("[events]", spec["events"], "give [survival] or [events], not both")
    extra = _analysis(spec.get("analysis", {}), spec.get("enrichment"))
    if "survival" in spec:
        _check_keys("survival", spec["survival"], _SURVIVAL_KEYS)
        ss = sample_size_survival(design, **spec["survival"])
        return DesignSpec(design, ss, allocation_ratio=ss.allocation_ratio, **extra)
    if "events" in spec:
        _check_keys("events", spec["events"], _EVENTS_KEYS)
        ev = spec["events"]
        if "max_events" not in ev or not float(ev["max_events"]) > 0:
            raise ParameterError("[events].max_events", ev.get("max_events"), "must be given and positive")
        return DesignSpec(design, None, float(ev["max_events"]), float(ev.get("allocation_ratio", 1.0)), **extra)
    return DesignSpec(design, **extra)


def _analysis(analysis: dict, enrichment: dict | None) -> dict:
    _check_keys("analysis", analysis, _ANALYSIS_KEYS)
    test = analysis.get("test", "inverse_normal" if enrichment is not None else "group_sequential")
    if test not in ANALYSIS_TESTS:
        raise ParameterError("[analysis].test", test, f"must be one of {', '.join(ANALYSIS_TESTS)}")
    strata = analysis.get("strata", [])
    if isinstance(strata, str) or not all(isinstance(v, str) for v in strata):
        raise ParameterError("[analysis].strata", strata, "must be a list of participants column names")
    hr = analysis.get("hazard_ratio")
    if hr is not None and not (isinstance(hr, (int, float)) and 0 < hr):
        raise ParameterError("[analysis].hazard_ratio", hr, "must be a positive number")
    out = {"test": test, "strata": tuple(strata), "hazard_ratio": None if hr is None else float(hr)}
    if enrichment is not None:
        _check_keys("enrichment", enrichment, _ENRICHMENT_KEYS)
        if test != "inverse_normal":
            raise ParameterError("[analysis].test", test, "an adaptive-enrichment design combines stages by the "
                                                          "inverse-normal method ('inverse_normal')")
        missing = [k for k in ("biomarker", "cutoffs", "group") if k not in enrichment]
        if missing:
            raise ParameterError(f"[enrichment].{missing[0]}", None, "biomarker, cutoffs and group are needed")
        from .closed_testing import INTERSECTION_METHODS
        method = enrichment.get("intersection_test", "simes")
        if method not in INTERSECTION_METHODS:
            raise ParameterError("[enrichment].intersection_test", method, f"must be one of {INTERSECTION_METHODS}")
        crit = enrichment.get("success_criterion", "all")
        if crit not in ("all", "at_least_one"):
            raise ParameterError("[enrichment].success_criterion", crit, "must be 'all' or 'at_least_one'")
        out["enrichment"] = EnrichmentSpec(str(enrichment["biomarker"]),
                                           tuple(float(c) for c in enrichment["cutoffs"]),
                                           str(enrichment["group"]), method, crit)
    return out


def _key_path(parameter: str, spec: dict[str, Any]) -> list[str]:
    """Where in the file a `ParameterError`'s parameter sits: '[events].max_events' or a bare key
    of one of the tables."""
    m = re.fullmatch(r"\[(\w+)\](?:\.(\w+))?", parameter)
    if m:
        return [g for g in m.groups() if g]
    for table in ("design", "survival", "events", "analysis", "enrichment"):
        if isinstance(spec.get(table), dict) and parameter in spec[table]:
            return [table, parameter]
    return []


def load_design(path: str | Path) -> DesignSpec:
    """Read a design TOML file (see the module docstring); an error names the file, line and key."""
    spec, text = read_toml(path, "design file")
    schema = {"design": dict.fromkeys(_DESIGN_KEYS), "survival": dict.fromkeys(_SURVIVAL_KEYS),
              "events": dict.fromkeys(_EVENTS_KEYS), "analysis": dict.fromkeys(_ANALYSIS_KEYS),
              "enrichment": dict.fromkeys(_ENRICHMENT_KEYS)}
    check_keys(spec, schema, str(path), text)
    try:
        return design_from_dict(spec)
    except ParameterError as exc:
        raise located(exc, _key_path(exc.parameter, spec), str(path), text, exc.parameter) from None
