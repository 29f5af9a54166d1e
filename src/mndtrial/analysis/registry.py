"""The registry of analysis-plan sections: how an analysis joins `AnalysisPlan` without editing it.

A *section* is one named part of a plan and of `results.json` (`survival`, `subgroups`,
`interaction`, and later `function`, `cafs`, `treg`). Each registers once, at import, with

- a pydantic config model (a subclass of `SectionConfig`, so it has `enabled`), which is the
  section's table in the plan TOML (`[survival]`, `[function]`, ...);
- `run(trial, plan, config)` returning a JSON-able value (dict/list, or an object with
  `to_dict()`), which becomes `results.json[name]`;
- optionally `summarize(output) -> {title: DataFrame}`, the tables the CLI prints (and a later
  HTML report renders) from the JSON-able output alone, so computing and printing stay apart.

The project's own sections live in the modules named in `BUILTIN_SECTION_MODULES`, imported
the first time the registry is read or written (so `import mndtrial.analysis` stays light for
callers that never build a plan, e.g. `mndtrial power`).

Example (what a new module adds, and its name in `BUILTIN_SECTION_MODULES` for a built-in one):

    >>> from mndtrial.analysis.registry import SectionConfig, register_section
    >>> class CountConfig(SectionConfig):
    ...     enabled: bool = False
    >>> def run_count(trial, plan, config):
    ...     return {"n": trial.n_participants}
    >>> _ = register_section("count_demo", CountConfig, run_count, description="participants")
    >>> from mndtrial.analysis.registry import unregister_section
    >>> unregister_section("count_demo")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import pandas as pd
from pydantic import BaseModel, ConfigDict

from ..errors import ParameterError

if TYPE_CHECKING:
    from ..data import Trial
    from .plan import AnalysisPlan

__all__ = ["SectionConfig", "Section", "register_section", "unregister_section", "registered_sections",
           "PLAN_FIELDS_RESERVED"]

# Plan-level keys; a section may not take one of these names.
PLAN_FIELDS_RESERVED = frozenset({"name", "endpoint", "event_types", "horizon_days", "at_risk_days", "alpha",
                                  "arms", "covariates", "strata", "biomarker_rules", "on_error", "sections",
                                  "trial", "plan", "errors", "provenance", "schema_version"})


class SectionConfig(BaseModel):
    """Base of every section's config: `enabled` switches the section on or off in the TOML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True


SectionRun = Callable[["Trial", "AnalysisPlan", Any], Any]
SectionSummary = Callable[[Any], dict[str, pd.DataFrame]]


@dataclass(frozen=True)
class Section:
    """A registered section: its name, config model, runner and optional summariser."""

    name: str
    config_model: type[SectionConfig]
    run: SectionRun
    summarize: SectionSummary | None = None
    description: str = ""
    order: int = 100

    def default_config(self) -> SectionConfig:
        return self.config_model()


_REGISTRY: dict[str, Section] = {}
# Modules of mndtrial.analysis whose import registers the built-in sections.
BUILTIN_SECTION_MODULES = ("joint_section", "outcome_sections", "subgroup_section", "survival_section",
                           "benefit_sections")
_builtins_loaded = False


def _load_builtin_sections() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True  # set first: the modules call register_section while they import
    from importlib import import_module

    for module in BUILTIN_SECTION_MODULES:
        import_module(f"{__package__}.{module}")


def register_section(name: str, config_model: type[SectionConfig], run: SectionRun, *,
                     summarize: SectionSummary | None = None, description: str = "", order: int = 100,
                     replace: bool = False) -> Section:
    """Add a section to every `AnalysisPlan`. Sections run, and appear in results, by `order`."""
    if getattr(run, "__module__", None) not in {f"{__package__}.{m}" for m in BUILTIN_SECTION_MODULES}:
        # a user's section meets the built-in ones' names; a built-in module registering while it
        # imports must not import the others then (one of them imports it: a circular import)
        _load_builtin_sections()
    if not name.isidentifier() or name in PLAN_FIELDS_RESERVED:
        raise ParameterError("section name", name, f"must be an identifier and not one of {sorted(PLAN_FIELDS_RESERVED)}")
    if not (isinstance(config_model, type) and issubclass(config_model, SectionConfig)):
        raise ParameterError("config_model", config_model, "must be a subclass of SectionConfig")
    if name in _REGISTRY and not replace:
        raise ParameterError("section name", name, "is already registered (pass replace=True to override)")
    section = Section(name=name, config_model=config_model, run=run, summarize=summarize,
                      description=description, order=order)
    _REGISTRY[name] = section
    return section


def unregister_section(name: str) -> None:
    """Remove a section (for tests and experiments)."""
    _load_builtin_sections()
    _REGISTRY.pop(name, None)


def registered_sections() -> dict[str, Section]:
    """The registered sections in run order (a copy)."""
    _load_builtin_sections()
    return dict(sorted(_REGISTRY.items(), key=lambda kv: (kv[1].order, kv[0])))
