"""`CohortCalibration`: the calibrated parameters, each with its source, and the parameter file."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..parameters import SimParameters, load_parameters
from .estimate import Estimate

__all__ = ["CohortCalibration", "to_toml"]

CALIBRATED_SECTIONS = ("cohort", "trajectory", "survival", "dropout", "measurement")


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def to_toml(params: SimParameters, header: str = "") -> str:
    """A parameter file in the layout of the shipped parameters.toml (inline value/source tables)."""
    lines = [f"# {h}" if h else "#" for h in header.splitlines()]

    def section(name: str, values: dict, sources: dict) -> None:
        leaves = [(k, v) for k, v in values.items() if not isinstance(v, dict)]
        if leaves:
            lines.extend(["", f"[{name}]"])
            for k, v in leaves:
                lines.append(f"{k} = {{ value = {_toml_value(v)}, source = {_toml_value(sources[k])} }}")
        for k, v in values.items():
            if isinstance(v, dict):
                section(f"{name}.{k}", v, sources[k])

    for name, values in params.values.items():
        section(name, values, params.sources[name])
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class CohortCalibration:
    """The cohort model fitted to a trial.

    `parameters` is a complete `SimParameters` (estimated values where the data inform them, the
    defaults elsewhere); `estimates` carries each estimate's SE, estimator and n; `kept` says why
    each remaining natural-history parameter keeps its default.
    """

    parameters: SimParameters
    estimates: tuple[Estimate, ...]
    kept: dict[str, str]
    dataset: dict[str, Any]
    dropout_route: str
    latent_pnfh: bool
    defaults: SimParameters = field(default_factory=load_parameters, repr=False)

    def estimate(self, parameter: str) -> Estimate:
        for e in self.estimates:
            if e.parameter == parameter:
                return e
        raise KeyError(parameter)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per natural-history parameter: value, SE, default, status, how (or why kept)."""
        rows = []
        by_name = {e.parameter: e for e in self.estimates}
        for section in CALIBRATED_SECTIONS:
            for key, default in self.defaults.section(section).items():
                name = f"{section}.{key}"
                e = by_name.get(name)
                rows.append({"parameter": name, "value": e.value if e else default, "se": e.se if e else float("nan"),
                             "default": default, "status": "estimated" if e else "default kept",
                             "how": e.estimator if e else self.kept.get(name, ""), "n": e.n if e else 0})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        s = self.summary
        records = [{k: (None if isinstance(v, float) and math.isnan(v) else
                        (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v))
                    for k, v in r.items()} for r in s.to_dict(orient="records")]
        return {"dataset": self.dataset, "dropout_route": self.dropout_route, "latent_pnfh": self.latent_pnfh,
                "parameters": records}

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False, float_format=lambda x: f"{x:.4g}")

    def to_toml(self) -> str:
        d = self.dataset
        files = "\n".join(f"  {name}  sha256 {h}" for name, h in sorted(d.get("files", {}).items()))
        header = (f"mndtrial parameter file calibrated from {d['name']} ({d['selection']}): "
                  f"{d['n_participants']} participants, {d['deaths']} deaths, {d['visits']} ALSFRS-R visits after "
                  f"baseline.\nData set digest sha256 {d['digest']}" + (f"; files:\n{files}" if files else "") +
                  "\nEach calibrated value's source names the data set, the estimator, its SE and n; values the data "
                  "cannot inform\nkeep the shipped default, marked 'default kept (reason)'. [drug] and [designs.*] are "
                  "not natural history:\nthey are the shipped defaults. Load with mndtrial.sim.load_parameters(path) or "
                  "--parameters.")
        return to_toml(self.parameters, header)

    def write(self, path: str | Path) -> Path:
        """Write the parameter file; it loads with `load_parameters(path)`."""
        path = Path(path)
        if path.parent != Path(""):
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_toml(), encoding="utf-8")
        return path
