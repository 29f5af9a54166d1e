"""Monte Carlo operating characteristics: simulate many trials per design point, analyse them with
the batch estimators, and tabulate power (type I error under no effect) with Monte Carlo error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np
import pandas as pd

from ..batch._result import json_safe
from ..data import TrialBatch
from ..errors import ParameterError
from .backends import run_chunks
from .criteria import Analysis

__all__ = ["TrialSource", "DesignPoint", "PowerResult", "power", "DEFAULT_CHUNK"]

DEFAULT_CHUNK = 256  # a multiple of mndtrial.sim.TRIALS_PER_BLOCK (32): no block simulated twice


class TrialSource(Protocol):
    """Anything that simulates trials `first_trial ..` of a seeded run, the same for any chunking."""

    def simulate_chunk(self, first_trial: int, n_trials: int, seed: int) -> TrialBatch: ...


@dataclass(frozen=True)
class DesignPoint:
    """One row of a power table: a simulated design, its analysis, and labels for the table."""

    source: TrialSource
    analysis: Analysis
    labels: dict[str, Any] = field(default_factory=dict)


def _chunk(source: TrialSource, analyses: tuple[Analysis, ...], first: int, n: int, seed: int) -> list[pd.DataFrame]:
    batch = source.simulate_chunk(first, n, seed)
    return [a.evaluate(batch) for a in analyses]


@dataclass(frozen=True, repr=False)
class PowerResult:
    """Operating characteristics per design point (`table`) and every trial's outcome (`trials`)."""

    table: pd.DataFrame
    trials: pd.DataFrame
    n_trials: int
    seed: int

    @property
    def summary(self) -> pd.DataFrame:
        return self.table

    def to_dict(self) -> dict:
        return {"n_trials": self.n_trials, "seed": self.seed,
                "points": json_safe(self.table.to_dict(orient="records"))}

    def write(self, out: str | Path) -> dict[str, Path]:
        """Write `power.csv`, `power.json` and `trials.csv.gz` (one row per simulated trial)."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"csv": out / "power.csv", "json": out / "power.json", "trials": out / "trials.csv.gz"}
        self.table.to_csv(paths["csv"], index=False)
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2))
        self.trials.to_csv(paths["trials"], index=False)
        return paths

    def __repr__(self) -> str:
        return f"<PowerResult: {len(self.table)} design points x {self.n_trials} trials, seed {self.seed}>"

    def _repr_html_(self) -> str:
        return f"<p>{self!r}</p>" + self.table.to_html(index=False)


def power(design: TrialSource | Sequence[DesignPoint], analysis: Analysis | None = None, n_trials: int = 1000,
          seed: int = 1, backend: str = "local", chunk_size: int = DEFAULT_CHUNK, n_workers: int | None = None,
          client: Any = None, progress: bool = False) -> PowerResult:
    """Simulate `n_trials` trials per design point and tabulate their operating characteristics.

    `design` is one trial source (a `mndtrial.sim.Design` such as `mirocals()`, or anything with
    `simulate_chunk`) with `analysis`, or a list of `DesignPoint`s compared side by
    side; every point uses the same seed (common random numbers). `backend` is 'local' (chunks
    over `n_workers` processes) or 'dask' (`client`: a `dask.distributed.Client`, its address, or
    None for a small LocalCluster). Same seed, same numbers, whatever the backend or chunk size.

    Example:
        >>> from mndtrial.power import ExponentialDesign, power, logrank_analysis
        >>> res = power(ExponentialDesign(n_per_arm=100, hazard_ratio=0.7), logrank_analysis(),
        ...             n_trials=40, seed=1, n_workers=1)
        >>> bool(0 <= res.table.loc[0, "power"] <= 1)
        True
    """
    points = _points(design, analysis)
    for name, value, least in (("n_trials", n_trials, 1), ("chunk_size", chunk_size, 1), ("seed", seed, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
            raise ParameterError(name, value, f"must be a whole number >= {least}")
    starts = list(range(0, n_trials, chunk_size))
    sizes = [min(chunk_size, n_trials - s) for s in starts]
    # Points that share a trial source (e.g. all-comers and stratified at the same n) share its
    # simulated trials: simulated once, analysed once per point.
    groups: dict[int, list[int]] = {}
    for k, p in enumerate(points):
        groups.setdefault(id(p.source), []).append(k)
    members = list(groups.values())
    tasks = [(_chunk, (points[ks[0]].source, tuple(points[k].analysis for k in ks), s, n, seed))
             for ks in members for s, n in zip(starts, sizes)]
    frames = run_chunks(tasks, sizes * len(members), backend=backend, n_workers=n_workers, client=client,
                        progress=progress)
    per_point: list[pd.DataFrame] = [pd.DataFrame()] * len(points)
    for g, ks in enumerate(members):
        chunks = frames[g * len(starts):(g + 1) * len(starts)]
        for j, k in enumerate(ks):
            per_point[k] = pd.concat([c[j] for c in chunks], ignore_index=True)
    rows, trials = [], []
    for k, (p, df) in enumerate(zip(points, per_point)):
        rows.append({"point": k, **p.labels, **operating_characteristics(df, p.analysis)})
        trials.append(df.assign(point=k))
    return PowerResult(table=pd.DataFrame(rows), trials=pd.concat(trials, ignore_index=True),
                       n_trials=n_trials, seed=seed)


def _points(design, analysis) -> list[DesignPoint]:
    from ..sim import Design

    if isinstance(design, Design):
        from .designs import SimSource

        design = SimSource(design)
    if hasattr(design, "simulate_chunk"):
        if analysis is None:
            raise ParameterError("analysis", None, "declare the analysis and its success criteria")
        return [DesignPoint(design, analysis)]
    points = list(design)
    if not points or not all(isinstance(p, DesignPoint) for p in points):
        raise ParameterError("design", design, "must be a trial source or a list of DesignPoint")
    return points


def operating_characteristics(trials: pd.DataFrame, analysis: Analysis) -> dict[str, Any]:
    """Power and its Monte Carlo SE, per-test rejection rates, estimates (converged fits only,
    with the number left out), per-test participants and deaths in the two arms each compares
    (`<test>_n_mean`, `<test>_events_mean`), deaths and participants in the arms the criteria
    compare (`events_mean`, `n_compared_mean`) and in all arms (`events_all_arms_mean`,
    `n_randomised_mean`), and the number screened."""
    n = len(trials)
    p = float(trials["success"].mean())
    out: dict[str, Any] = {"n_trials": n, "power": p, "power_mcse": float(np.sqrt(p * (1 - p) / n)),
                           "alpha": analysis.total_alpha}
    for c in analysis.criteria:
        hit = c.success(pd.DataFrame({k: trials[f"{c.test.name}_{k}"] for k in ("p_benefit", "converged", "estimate")}))
        out[f"reject_{c.test.name}"] = float(hit.mean())
    for t in analysis.tests:
        ok = trials[f"{t.name}_converged"].to_numpy(dtype=bool)
        est = trials[f"{t.name}_estimate"].to_numpy()[ok]
        out[f"{t.name}_mean"] = float(est.mean()) if ok.any() else np.nan
        out[f"{t.name}_sd"] = float(est.std(ddof=1)) if ok.sum() > 1 else np.nan
        out[f"{t.name}_mcse"] = out[f"{t.name}_sd"] / np.sqrt(ok.sum()) if ok.sum() > 1 else np.nan
        if t.kind == "cox":
            out[f"{t.name}_hr_geometric_mean"] = float(np.exp(est.mean())) if ok.any() else np.nan
        out[f"{t.name}_not_converged"] = int((~ok).sum())
        out[f"{t.name}_n_mean"] = float(trials[f"{t.name}_n"].mean())
        if f"{t.name}_events" in trials:
            out[f"{t.name}_events_mean"] = float(trials[f"{t.name}_events"].mean())
    # events/n_compared: the arms the criteria compare; events_all_arms/n_randomised: every arm.
    for col in ("events", "n_compared", "events_all_arms", "n_randomised", "n_screened"):
        out[f"{col}_mean"] = float(trials[col].mean())
        out[f"{col}_sd"] = float(trials[col].std(ddof=1)) if n > 1 else 0.0
    return out
