"""Monte Carlo operating characteristics: simulate many trials per design point, analyse them with
the batch estimators, and tabulate power (type I error under no effect) with Monte Carlo error.
"""

from __future__ import annotations

import inspect
import json
import multiprocessing
import os
import shutil
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np
import pandas as pd

from ..batch._result import json_safe
from ..data import TrialBatch
from ..errors import ParameterError
from .assumptions import simulation_assumptions
from .backends import interactive, run_chunks
from .compile_ahead import compile_cold_kernels
from .criteria import Analysis

__all__ = ["TrialSource", "DesignPoint", "PowerResult", "power", "DEFAULT_CHUNK", "chunk_size_for",
           "operating_characteristics"]

DEFAULT_CHUNK = 256  # a multiple of mndtrial.sim.TRIALS_PER_BLOCK (32): no block simulated twice
# About this many participants per chunk (256 trials at n = 220) keep a worker's memory flat whatever n.
PARTICIPANTS_PER_CHUNK = 256 * 220


def _participants_per_trial(source: Any) -> int | None:
    """Participants randomised per trial by a trial source, where it says (None where it does not)."""
    for read in (lambda s: s.design.n_randomised, lambda s: 2 * s.n_per_arm, lambda s: s.n_randomised):
        try:
            return int(read(source))
        except (AttributeError, TypeError, ValueError):
            continue
    return None


def chunk_size_for(points: Sequence["DesignPoint"]) -> int:
    """Trials per chunk holding about `PARTICIPANTS_PER_CHUNK` participants at the largest point.

    A multiple of 32 (no simulation block drawn twice), at least 32; `DEFAULT_CHUNK` where the
    sources do not say their size. The chunking never changes the numbers (same seed, same trials).

    Example:
        >>> from mndtrial.power import ExponentialDesign, DesignPoint, logrank_analysis
        >>> [chunk_size_for([DesignPoint(ExponentialDesign(n_per_arm=n // 2), logrank_analysis())])
        ...  for n in (220, 1000, 5000)]
        [256, 64, 32]
    """
    sizes = [n for n in (_participants_per_trial(p.source) for p in points) if n]
    if not sizes:
        return DEFAULT_CHUNK
    return max(32, 32 * round(PARTICIPANTS_PER_CHUNK / max(sizes) / 32))
TRIALS_FILE = "trials.parquet"
# A streamed run hands this many trials (all points) at a time to the backend, then writes them out:
# the parent holds one window of per-trial rows, not the run's (~0.5 kB per trial and point).
STREAM_WINDOW_TRIALS = 65_536


class TrialSource(Protocol):
    """Anything that simulates trials `first_trial ..` of a seeded run, the same for any chunking."""

    def simulate_chunk(self, first_trial: int, n_trials: int, seed: int) -> TrialBatch: ...


@dataclass(frozen=True)
class DesignPoint:
    """One row of a power table: a simulated design, its analysis, and labels for the table."""

    source: TrialSource
    analysis: Analysis
    labels: dict[str, Any] = field(default_factory=dict)


def tables_needed(analyses: Sequence[Any]) -> tuple[str, ...] | None:
    """The batch tables `analyses` read together (`Analysis.tables`), or None (every table) when
    one of them does not say."""
    needed: set[str] = set()
    for a in analyses:
        tables = getattr(a, "tables", None)
        if tables is None:
            return None
        needed.update(tables)
    return tuple(sorted(needed))


def _simulate_chunk(source: TrialSource, first: int, n: int, seed: int, tables: tuple[str, ...] | None) -> TrialBatch:
    # A source whose simulate_chunk takes `tables` (SimSource) leaves out what no analysis reads;
    # the tables it makes are the same trials either way.
    if tables is not None and "tables" in inspect.signature(source.simulate_chunk).parameters:
        return source.simulate_chunk(first, n, seed, tables=tables)
    return source.simulate_chunk(first, n, seed)


def _chunk(source: TrialSource, analyses: tuple[Analysis, ...], first: int, n: int, seed: int) -> list[pd.DataFrame]:
    batch = _simulate_chunk(source, first, n, seed, tables_needed(analyses))
    cache: dict = {}  # equal tests of different analyses (strategies) run once on these trials
    return [a.evaluate(batch, cache) if isinstance(a, Analysis) else a.evaluate(batch) for a in analyses]


@dataclass(frozen=True, repr=False)
class PowerResult:
    """Operating characteristics per design point (`table`) and every trial's outcome.

    `trials` holds one row per simulated trial in memory; a run streamed to disk
    (`power(..., trials_path=...)`) has `trials=None` and `trials_file`, its Parquet file, instead.
    `read_trials()` gives the rows either way.
    """

    table: pd.DataFrame
    trials: pd.DataFrame | None
    n_trials: int
    seed: int
    trials_file: Path | None = None
    assumptions: pd.DataFrame | None = None

    @property
    def summary(self) -> pd.DataFrame:
        """The columns a steering committee reads, one row per design point: the point's labels
        (design, strategy, n, varied parameters), power with its Monte Carlo SE, mean events and
        mean number screened. `table` has every column (per-test rejection rates, estimates, ...)."""
        return summary_columns(self.table)

    def read_trials(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Every trial's row (`columns` only, if given), from memory or the Parquet file."""
        if self.trials is not None:
            return self.trials if columns is None else self.trials[list(columns)]
        return pd.read_parquet(self.trials_file, columns=None if columns is None else list(columns))

    def to_dict(self) -> dict:
        out = {"n_trials": self.n_trials, "seed": self.seed}
        if self.assumptions is not None:
            out["assumptions"] = self.assumptions.to_dict(orient="records")
        return {**out, "points": json_safe(self.table.to_dict(orient="records"))}

    def write(self, out: str | Path) -> dict[str, Path]:
        """Write `power.csv`, `power.json` and `trials.parquet` (one row per simulated trial)."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"csv": out / "power.csv", "json": out / "power.json", "trials": out / TRIALS_FILE}
        self.table.to_csv(paths["csv"], index=False)
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2))
        if self.trials is not None:
            self.trials.to_parquet(paths["trials"], index=False)
        elif Path(self.trials_file).resolve() != paths["trials"].resolve():
            shutil.copyfile(self.trials_file, paths["trials"])
        return paths

    def __repr__(self) -> str:
        return f"<PowerResult: {len(self.table)} design points x {self.n_trials} trials, seed {self.seed}>"

    def _repr_html_(self) -> str:
        return f"<p>{self!r}</p>" + self.summary.to_html(index=False, float_format=lambda v: f"{v:.3g}")


SUMMARY_COLUMNS = ("power", "power_mcse", "events_mean", "n_randomised_mean", "n_screened_mean")
# a point's labels from design_points / --vary that are not design parameters
_NOT_LABELS = frozenset({"point", "n_trials", "alpha"})


def summary_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The labels of each design point and `SUMMARY_COLUMNS` (those present)."""
    first_result = "n_trials" if "n_trials" in table.columns else "power"
    labels = [c for c in table.columns[:list(table.columns).index(first_result)] if c not in _NOT_LABELS]
    return table[labels + [c for c in SUMMARY_COLUMNS if c in table.columns]].copy()


def power(design: TrialSource | Sequence[DesignPoint], analysis: Analysis | None = None, n_trials: int = 1000,
          seed: int = 1, backend: str = "local", chunk_size: int | None = DEFAULT_CHUNK, n_workers: int | None = None,
          client: Any = None, progress: bool | None = None, trials_path: str | Path | None = None,
          executor: Any = None) -> PowerResult:
    """Simulate `n_trials` trials per design point and tabulate their operating characteristics.

    `design` is one trial source (a `mndtrial.sim.Design` such as `mirocals()`, or anything with
    `simulate_chunk`) with `analysis`, or a list of `DesignPoint`s compared side by
    side; every point uses the same seed (common random numbers). `backend` is 'local' (chunks
    over `n_workers` processes) or 'dask' (`client`: a `dask.distributed.Client`, its address, or
    None for a small LocalCluster). Same seed, same numbers, whatever the backend or chunk size.
    With `trials_path` every trial's row is streamed to that Parquet file as chunks finish (memory
    bounded whatever `n_trials`; the result's `trials` is then None, see `read_trials`).
    `progress`: a progress bar; None (default) shows one only in an interactive session (a
    notebook or a Python prompt), never in scripts, tests or pipes. The result carries the
    simulation assumptions of every point (`assumptions`, also in power.json and power.html).
    `chunk_size=None` sizes the chunks by the trials' size (`chunk_size_for`). `executor`: run the
    chunks on worker processes kept between runs (a `WorkerPool` or its `scope()`, see
    `mndtrial.power.backends`; not with `n_workers`) instead of starting new ones.

    Example:
        >>> from mndtrial.power import ExponentialDesign, power, logrank_analysis
        >>> res = power(ExponentialDesign(n_per_arm=100, hazard_ratio=0.7), logrank_analysis(),
        ...             n_trials=40, seed=1, n_workers=1)
        >>> bool(0 <= res.table.loc[0, "power"] <= 1)
        True
    """
    points = _points(design, analysis)
    progress = interactive() if progress is None else progress
    if chunk_size is None:
        chunk_size = chunk_size_for(points)
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
    task_points = [ks for ks in members for _ in starts]
    assumptions = simulation_assumptions(points, n_trials, seed)
    if executor is None and backend == "local":
        # a first run on a fresh install: the kernels of its kinds of test compiled side by side
        compile_cold_kernels(points[0].source, tuple(p.analysis for p in points), seed)
    if executor is None and _forks_workers(backend, n_workers, len(tasks)):
        warm_before_fork(tasks)  # a pool passed in has warmed its own workers
    if trials_path is not None:
        res = _power_streamed(points, tasks, task_points, sizes * len(members), Path(trials_path), n_trials, seed,
                              backend=backend, n_workers=n_workers, client=client, progress=progress,
                              executor=executor)
        return replace(res, assumptions=assumptions)
    frames = run_chunks(tasks, sizes * len(members), backend=backend, n_workers=n_workers, client=client,
                        progress=progress, executor=executor)
    rows, trials = [], []
    for k, (p, df) in enumerate(zip(points, _point_frames(frames, task_points, len(points)))):
        rows.append({"point": k, **p.labels, **operating_characteristics(df, p.analysis)})
        trials.append(df.assign(point=k))
    return PowerResult(table=pd.DataFrame(rows), trials=pd.concat(trials, ignore_index=True),
                       n_trials=n_trials, seed=seed, assumptions=assumptions)


# (source type, analyses) already run in this process: their kernels are loaded here
_WARMED: set = set()


def _forks_workers(backend: str, n_workers: int | None, n_tasks: int) -> bool:
    """Whether `run_chunks` will run these tasks on local worker processes started by fork."""
    if backend != "local" or n_tasks < 2 or min(n_workers or os.cpu_count() or 1, n_tasks) < 2:
        return False
    method = multiprocessing.get_start_method(allow_none=True)
    if method is None:  # the platform's default: fork on Linux before Python 3.14
        return sys.platform.startswith("linux") and sys.version_info < (3, 14)
    return method == "fork"


def warm_before_fork(tasks: Sequence[tuple]) -> None:
    """Run one trial of each kind of chunk in this process, once per process, before the workers
    fork: the modules a chunk imports and the compiled kernels it loads from numba's cache
    (~0.5 s of CPU) are then inherited by every worker instead of being loaded in each of them,
    and by the workers of every later run. The trial's rows are discarded; the run's numbers do
    not depend on it (each trial has its own random stream)."""
    seen: set[tuple] = set()
    for fn, args in tasks:
        if fn is not _chunk:
            continue
        source, analyses, first, _, seed = args
        ids = (id(source), *map(id, analyses))
        if ids in seen:
            continue
        seen.add(ids)
        try:
            key = (type(source), analyses)
            if key in _WARMED:
                continue
        except TypeError:  # an analysis that cannot be hashed: warmed in this run only
            key = None
        try:
            _chunk(source, analyses, first, 1, seed)
        except Exception:  # noqa: BLE001 - only a head start; the run itself reports any error
            continue
        if key is not None:
            _WARMED.add(key)


def _power_streamed(points, tasks, task_points, sizes, path: Path, n_trials: int, seed: int,
                    **backend_options) -> PowerResult:
    """`power` with every trial's row written to Parquet, one window of chunks in memory at a time.

    A run that fits one window (e.g. 10,000 trials of three points) is written straight to
    `path`; a longer one writes each point's rows to a part file, window by window, and joins the
    parts (points in order) at the end. Either way each point's rows of a window are joined in
    pandas and converted to Arrow once (a conversion per chunk cost ~10 ms each: seconds a run).
    """
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    window = max(1, STREAM_WINDOW_TRIALS // max(1, sizes[0]))
    starts = range(0, len(tasks), window)
    if len(starts) == 1:
        frames = _point_frames(run_chunks(tasks, sizes, **backend_options), task_points, len(points))
        rows = [{"point": k, **p.labels, **operating_characteristics(df, p.analysis)}
                for k, (p, df) in enumerate(zip(points, frames))]
        tables = [_arrow(df, k) for k, df in enumerate(frames)]
        del frames
        _write_points(tables, path)
        return PowerResult(table=pd.DataFrame(rows), trials=None, n_trials=n_trials, seed=seed, trials_file=path)
    parts = [path.with_name(f".{path.name}.point{k}.part") for k in range(len(points))]
    writers: list[Any] = [None] * len(points)
    try:
        for lo in starts:
            frames = _point_frames(run_chunks(tasks[lo:lo + window], sizes[lo:lo + window], **backend_options),
                                   task_points[lo:lo + window], len(points))
            for k, df in enumerate(frames):
                if df is None:
                    continue
                table = _arrow(df, k)
                if writers[k] is None:
                    writers[k] = pq.ParquetWriter(parts[k], table.schema)
                writers[k].write_table(table.cast(writers[k].schema))
            del frames
        for w in writers:
            if w is not None:
                w.close()
        writers = []
        rows = []
        for k, p in enumerate(points):  # one point's trials in memory at a time
            df = pd.read_parquet(parts[k])
            rows.append({"point": k, **p.labels, **operating_characteristics(df.drop(columns="point"), p.analysis)})
        _join_parquet(parts, path)
    finally:
        for w in writers:
            if w is not None:
                w.close()
        for part in parts:
            part.unlink(missing_ok=True)
    return PowerResult(table=pd.DataFrame(rows), trials=None, n_trials=n_trials, seed=seed, trials_file=path)


def _point_frames(chunks: Sequence[list[pd.DataFrame]], task_points: Sequence[list[int]],
                  n_points: int) -> list[pd.DataFrame | None]:
    """Each point's rows of these chunks (in trial order) as one frame; None for a point without any."""
    per_point: list[list[pd.DataFrame]] = [[] for _ in range(n_points)]
    for ks, chunk in zip(task_points, chunks):
        for j, k in enumerate(ks):
            per_point[k].append(chunk[j])
    return [pd.concat(parts, ignore_index=True) if parts else None for parts in per_point]


def _arrow(df: pd.DataFrame, point: int):
    import pyarrow as pa

    return pa.Table.from_pandas(df.assign(point=point), preserve_index=False)


def _write_points(tables: Sequence[Any], path: Path) -> None:
    """Points in order in one file; columns a point lacks (another strategy's tests) are null."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.unify_schemas([t.schema for t in tables])
    with pq.ParquetWriter(path, schema) as writer:
        for table in tables:
            writer.write_table(_conform(table, schema))


def _conform(table, schema):
    import pyarrow as pa

    present = set(table.column_names)
    for field in schema:
        if field.name not in present:
            table = table.append_column(field.name, pa.nulls(len(table), field.type))
    return table.select(schema.names).cast(schema)


def _join_parquet(parts: Sequence[Path], path: Path) -> None:
    """The points' part files joined in order into one file (as `_write_points`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.unify_schemas([pq.read_schema(p) for p in parts])
    with pq.ParquetWriter(path, schema) as writer:
        for part in parts:
            f = pq.ParquetFile(part)
            for i in range(f.num_row_groups):
                writer.write_table(_conform(f.read_row_group(i), schema))


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
    `n_randomised_mean`), and the number screened.

    One row of `PowerResult.table` is this function of the point's rows of `PowerResult.trials`,
    so trials gathered over several runs (e.g. the explorer's stages) are summarised the same way.

    Example:
        >>> from mndtrial.power import design_points, family, power
        >>> pts = design_points(family("exponential", hazard_ratio=0.7), [60], ("all-comers",), slope=False)
        >>> res = power(pts, n_trials=32, seed=1, n_workers=1)
        >>> oc = operating_characteristics(res.trials.drop(columns="point"), pts[0].analysis)
        >>> bool(oc["power"] == res.table["power"][0]), oc["n_trials"]
        (True, 32)
    """
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
    # The screening burden of an enrichment threshold: candidates turned away, and screened per randomised.
    out["screening_failures_mean"] = out["n_screened_mean"] - out["n_randomised_mean"]
    out["screened_per_randomised"] = out["n_screened_mean"] / out["n_randomised_mean"]
    return out
