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

__all__ = ["DesignSpec", "design_from_dict", "load_design"]

_DESIGN_KEYS = set(inspect.signature(group_sequential_design).parameters)
_SURVIVAL_KEYS = set(inspect.signature(sample_size_survival).parameters) - {"design"}
_EVENTS_KEYS = {"max_events", "allocation_ratio"}


@dataclass(frozen=True)
class DesignSpec:
    """A declared design: the boundaries, and the events (given or from a survival sample size)."""

    design: GroupSequentialDesign
    sample_size: SurvivalSampleSize | None = None
    max_events: float | None = None
    allocation_ratio: float = 1.0

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
    _check_keys("top level", spec, {"design", "survival", "events"})
    if "design" not in spec:
        raise ParameterError("[design]", None, "a design file needs a [design] table")
    _check_keys("design", spec["design"], _DESIGN_KEYS)
    design = group_sequential_design(**spec["design"])
    if "survival" in spec and "events" in spec:
        raise ParameterError("[events]", spec["events"], "give [survival] or [events], not both")
    if "survival" in spec:
        _check_keys("survival", spec["survival"], _SURVIVAL_KEYS)
        ss = sample_size_survival(design, **spec["survival"])
        return DesignSpec(design, ss, allocation_ratio=ss.allocation_ratio)
    if "events" in spec:
        _check_keys("events", spec["events"], _EVENTS_KEYS)
        ev = spec["events"]
        if "max_events" not in ev or not float(ev["max_events"]) > 0:
            raise ParameterError("[events].max_events", ev.get("max_events"), "must be given and positive")
        return DesignSpec(design, None, float(ev["max_events"]), float(ev.get("allocation_ratio", 1.0)))
    return DesignSpec(design)


def _key_path(parameter: str, spec: dict[str, Any]) -> list[str]:
    """Where in the file a `ParameterError`'s parameter sits: '[events].max_events' or a bare key
    of one of the tables."""
    m = re.fullmatch(r"\[(\w+)\](?:\.(\w+))?", parameter)
    if m:
        return [g for g in m.groups() if g]
    for table in ("design", "survival", "events"):
        if isinstance(spec.get(table), dict) and parameter in spec[table]:
            return [table, parameter]
    return []


def load_design(path: str | Path) -> DesignSpec:
    """Read a design TOML file (see the module docstring); an error names the file, line and key."""
    spec, text = read_toml(path, "design file")
    schema = {"design": dict.fromkeys(_DESIGN_KEYS), "survival": dict.fromkeys(_SURVIVAL_KEYS),
              "events": dict.fromkeys(_EVENTS_KEYS)}
    check_keys(spec, schema, str(path), text)
    try:
        return design_from_dict(spec)
    except ParameterError as exc:
        raise located(exc, _key_path(exc.parameter, spec), str(path), text, exc.parameter) from None
