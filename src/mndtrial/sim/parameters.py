"""The simulator's default parameters: one documented data file, loadable and overridable.

`parameters.toml` (shipped with the package) holds every default value with its source. Each
entry is `{ value = ..., source = "..." }`; `load_parameters` returns the values and keeps the
sources beside them so reports and docs can show where each number came from.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from ..data.toml_errors import ANY_KEY, check_keys, located, read_toml
from ..errors import ParameterError

__all__ = ["SimParameters", "load_parameters", "DEFAULT_PARAMETERS_FILE"]

DEFAULT_PARAMETERS_FILE = "parameters.toml"


@dataclass(frozen=True)
class SimParameters:
    """Parameter values by section (`values["cohort"]["age_mean_years"]`) and their sources.

    Example:
        >>> p = load_parameters(overrides={"cohort.age_mean_years": 58.0})
        >>> p.section("cohort")["age_mean_years"]
        58.0
        >>> p.source("survival.weibull_shape")
        'E:L54 Weibull shape about 2.0 (1.93-2.15)'
    """

    values: dict[str, Any]
    sources: dict[str, Any] = field(default_factory=dict)

    def section(self, dotted: str) -> dict[str, Any]:
        """A copy of one section's values (`"cohort"`, `"designs.mirocals"`)."""
        node = self.values
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ParameterError("section", dotted, f"no parameter section {dotted!r}")
            node = node[part]
        return copy.deepcopy(node)

    def source(self, dotted: str) -> str:
        node = self.sources
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ParameterError("parameter", dotted, "unknown parameter")
            node = node[part]
        return node

    def table(self):
        """All parameters as a DataFrame: parameter, value, source (for docs and reports)."""
        import pandas as pd

        rows = []

        def walk(values, sources, prefix):
            for key, v in values.items():
                name = f"{prefix}{key}"
                if isinstance(v, dict):
                    walk(v, sources[key], name + ".")
                else:
                    rows.append({"parameter": name, "value": v, "source": sources[key]})

        walk(self.values, self.sources, "")
        return pd.DataFrame(rows)


def _split(raw: dict, where: str) -> tuple[dict, dict]:
    values: dict[str, Any] = {}
    sources: dict[str, Any] = {}
    for key, entry in raw.items():
        name = f"{where}.{key}" if where else key
        if isinstance(entry, dict) and "value" in entry:
            if set(entry) - {"value", "source"} or not isinstance(entry.get("source"), str):
                raise ParameterError(name, entry, "an entry must be { value = ..., source = \"...\" }")
            values[key], sources[key] = entry["value"], entry["source"]
        elif isinstance(entry, dict):
            values[key], sources[key] = _split(entry, name)
        else:
            raise ParameterError(name, entry, "every value needs a source: write { value = ..., source = \"...\" }")
    return values, sources


def _set(values: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = values
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            raise ParameterError(dotted, value, "unknown parameter (no such section)")
        node = node[part]
    if parts[-1] not in node or isinstance(node[parts[-1]], dict):
        raise ParameterError(dotted, value, "unknown parameter")
    old = node[parts[-1]]
    if isinstance(old, bool) != isinstance(value, bool) or \
            (isinstance(old, (int, float)) and not isinstance(value, (int, float))):
        raise ParameterError(dotted, value, f"must be of the same kind as the default ({type(old).__name__})")
    node[parts[-1]] = value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _check_layout(values: dict, defaults: dict, prefix: str) -> None:
    """A user's parameter file must have every parameter of the shipped file, of the same kind
    (a missing one would otherwise surface as a KeyError deep inside the simulator). Extra
    sections (e.g. another `[designs.<name>]`) are allowed."""
    missing = []
    for key, default in defaults.items():
        name = f"{prefix}{key}"
        if key not in values:
            if prefix == "designs.":
                continue  # a file may define only the designs it needs
            missing.append(name)
        elif isinstance(default, dict):
            if not isinstance(values[key], dict):
                raise ParameterError(name, values[key], "must be a section, as in the shipped parameters.toml")
            _check_layout(values[key], default, name + ".")
        elif _kind(values[key]) != _kind(default):
            raise ParameterError(name, values[key], f"must be a {_kind(default)}, as in the shipped parameters.toml")
    if missing:
        raise ParameterError(", ".join(missing), None,
                             "missing from the parameter file (it needs every parameter of the shipped "
                             "parameters.toml)")


def _layout_schema(values: dict, prefix: str = "") -> dict:
    """The keys of the shipped file, nested; each entry a leaf. Further designs may be added."""
    schema = {k: (_layout_schema(v, f"{prefix}{k}.") if isinstance(v, dict) else None) for k, v in values.items()}
    if prefix == "designs.":
        schema[ANY_KEY] = None
    return schema


def _read_user_file(path: Path) -> tuple[dict, dict]:
    """A user's parameter file, checked against the shipped layout; an error is one line naming
    the file, the line and the key (with the nearest known name for a misspelt one)."""
    raw, text = read_toml(path, "parameter file")
    defaults = load_parameters().values
    check_keys(raw, _layout_schema(defaults), str(path), text)
    try:
        values, sources = _split(raw, "")
        _check_layout(values, defaults, "")
    except ParameterError as exc:
        raise located(exc, exc.parameter.split(", ")[0].split("."), str(path), text, exc.parameter) from None
    return values, sources


def load_parameters(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> SimParameters:
    """Read the parameter file (the shipped defaults if `path` is None) and apply overrides.

    `overrides` maps dotted names to new values, e.g. `{"survival.weibull_shape": 2.1}`; an unknown
    name is refused rather than ignored.
    """
    if path is None:
        text = resources.files("mndtrial.sim").joinpath(DEFAULT_PARAMETERS_FILE).read_text(encoding="utf-8")
        values, sources = _split(tomllib.loads(text), "")
    else:
        values, sources = _read_user_file(Path(path))
    for dotted, value in (overrides or {}).items():
        _set(values, dotted, value)
        node = sources
        for part in dotted.split(".")[:-1]:
            node = node[part]
        node[dotted.split(".")[-1]] = "user override"
    return SimParameters(values=values, sources=sources)
