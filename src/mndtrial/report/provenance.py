"""Provenance: what produced an output, so that a number can be traced and reproduced.

Every output of mndtrial (`results.json`, power tables, the HTML reports) carries a provenance
record: the mndtrial version, a SHA-256 hash of every input file, the analysis plan, the seed,
the versions of the libraries that did the statistics, the date, Python and the platform, and
the call that reproduces the output (printed in the manner of rpact, which prints the R call
behind each result).
"""

from __future__ import annotations

import hashlib
import html
import math
import platform
import shlex
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

if TYPE_CHECKING:  # pandas is imported where a summary table is made: `mndtrial analyze` forks before it
    import pandas as pd

__all__ = ["Provenance", "collect_provenance", "sha256_file", "hash_inputs", "results_with_provenance", "DEPENDENCIES"]

# The libraries whose versions can change a number in an output.
DEPENDENCIES = ("numpy", "scipy", "pandas", "pyarrow", "lifelines", "statsmodels", "matplotlib",
                "pydantic", "dask", "distributed")

_CHUNK_BYTES = 1 << 20


def sha256_file(path: str | Path) -> str:
    """The SHA-256 hex digest of a file's bytes (read in chunks, so large files are fine).

    Example:
        >>> import tempfile, os
        >>> with tempfile.NamedTemporaryFile(delete=False) as f:
        ...     _ = f.write(b"abc")
        >>> sha256_file(f.name)[:16]
        'ba7816bf8f01cfea'
        >>> os.unlink(f.name)
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_inputs(paths: str | Path | Iterable[str | Path]) -> dict[str, str]:
    """SHA-256 of each input file; a folder contributes every file inside it (recursively).

    Keys are the paths as given (files inside a folder: folder/relative path, '/'-separated), in
    sorted order, so the same inputs always give the same record.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: dict[str, str] = {}
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(x for x in p.rglob("*") if x.is_file()):
                out[(p / f.relative_to(p)).as_posix()] = sha256_file(f)
        elif p.is_file():
            out[p.as_posix()] = sha256_file(p)
        else:
            raise FileNotFoundError(f"input to hash does not exist: {p}")
    return dict(sorted(out.items()))


def _installed_version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _mndtrial_version() -> str:
    from .. import __version__

    return __version__


def _jsonable(value: Any) -> Any:
    """Plans arrive as dicts, pydantic models or dataclasses; keep them as plain JSON values."""
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no inf/NaN (an open biomarker range, `[3700, inf]`, is [3700, null])
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "to_dict"):
        return _jsonable(value.to_dict())
    if hasattr(value, "model_dump"):
        return _jsonable(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return value.as_posix()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


@dataclass(frozen=True)
class Provenance:
    """Where an output came from. Build it with `collect_provenance`.

    `command` is the call that reproduces the output, as an argument list (a `mndtrial ...`
    command line) or a text (a Python call); `reproduce()` prints it ready to paste.
    """

    mndtrial_version: str
    created_utc: str
    python: str
    platform: str
    dependencies: dict[str, str | None]
    inputs: dict[str, str] = field(default_factory=dict)
    plan: Any = None
    seed: int | None = None
    command: tuple[str, ...] | str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def reproduce(self) -> str | None:
        """The call that reproduces this output (shell-quoted when it is a command line)."""
        if self.command is None:
            return None
        if isinstance(self.command, str):
            return self.command
        return shlex.join(self.command)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: the `provenance` block of results.json and power outputs."""
        return {
            "mndtrial_version": self.mndtrial_version,
            "created_utc": self.created_utc,
            "python": self.python,
            "platform": self.platform,
            "dependencies": dict(self.dependencies),
            "inputs_sha256": dict(self.inputs),
            "plan": _jsonable(self.plan),
            "seed": self.seed,
            "command": self.reproduce(),
            "extra": _jsonable(self.extra),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Provenance":
        """Read back the block written by `to_dict` (e.g. from a results.json)."""
        return cls(mndtrial_version=d["mndtrial_version"], created_utc=d["created_utc"],
                   python=d["python"], platform=d["platform"], dependencies=dict(d["dependencies"]),
                   inputs=dict(d.get("inputs_sha256", {})), plan=d.get("plan"), seed=d.get("seed"),
                   command=d.get("command"), extra=dict(d.get("extra") or {}))

    @property
    def summary(self) -> pd.DataFrame:
        """One row per fact (item, value), for display."""
        rows = [("mndtrial", self.mndtrial_version), ("created (UTC)", self.created_utc),
                ("python", self.python), ("platform", self.platform),
                ("seed", "" if self.seed is None else str(self.seed)),
                ("reproduce with", self.reproduce() or "")]
        rows += [(f"input {name}", f"sha256:{digest}") for name, digest in self.inputs.items()]
        rows += [(name, v) for name, v in self.dependencies.items() if v is not None]
        import pandas as pd

        return pd.DataFrame(rows, columns=["item", "value"]).set_index("item")

    def to_html(self, include_command: bool = True) -> str:
        """An HTML fragment (used by the reports and by `_repr_html_`)."""
        rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td><code>{html.escape(str(v))}</code></td></tr>"
                       for k, v in self.summary["value"].items() if include_command or k != "reproduce with")
        out = f'<table class="provenance">{rows}</table>'
        if self.plan is not None:
            import json

            plan = json.dumps(_jsonable(self.plan), indent=2, sort_keys=True)
            out += f"<details><summary>Analysis plan</summary><pre>{html.escape(plan)}</pre></details>"
        return out

    def _repr_html_(self) -> str:
        return self.to_html()


def collect_provenance(inputs: str | Path | Iterable[str | Path] = (), plan: Any = None,
                       seed: int | None = None, command: Sequence[str] | str | None = None,
                       extra: Mapping[str, Any] | None = None,
                       dependencies: Sequence[str] = DEPENDENCIES) -> Provenance:
    """Provenance of an output made now from these inputs, plan and seed.

    Example:
        >>> p = collect_provenance(seed=1, command=["mndtrial", "demo", "--out", "demo out"])
        >>> p.reproduce()
        "mndtrial demo --out 'demo out'"
        >>> p.to_dict()["seed"]
        1
    """
    return Provenance(
        mndtrial_version=_mndtrial_version(),
        created_utc=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        python=sys.version.split()[0],
        platform=platform.platform(),
        dependencies={d: _installed_version(d) for d in dependencies},
        inputs=hash_inputs(inputs) if inputs else {},
        plan=_jsonable(plan),
        seed=None if seed is None else int(seed),
        command=command if (command is None or isinstance(command, str)) else tuple(str(c) for c in command),
        extra=dict(extra or {}),
    )


def results_with_provenance(results: Any, provenance: Provenance | None) -> Any:
    """A copy of `results` (a dataclass with a `provenance` dict, e.g. `AnalysisResults`) with
    `provenance` merged into that block; `results` itself when `provenance` is None."""
    if provenance is None:
        return results
    from dataclasses import replace

    return replace(results, provenance={**results.provenance, **provenance.to_dict()})
