"""Progressive refinement: a first power table from a few hundred trials, then more in the background.

A run of `n_trials` per design point is done in stages (256 trials, then doubling, at most 2,048
more per stage). Each stage asks `mndtrial.power.power` for the next trials only: the points'
trial sources are shifted (`OffsetSource`), so stage k simulates trials `done .. end - 1` of the
same seeded run. Every trial has its own random stream, so the rows gathered over the stages are
exactly the rows of one `mndtrial power --n-trials N` run, and the final table is the CLI's.

A run is cancelled at the next chunk of trials (a new design in the form cancels the old run):
the shifted sources look for a cancel marker file before simulating, which works in this process
and in the worker processes alike. The app's runs share one `mndtrial.power.WorkerPool` (workers
started and warmed once, `executor=`): each run has its own scope of it, whose cancel drops the
run's chunks not yet started, so the next design gets the workers as soon as the chunks under way
are done. `snapshot()` is what the page shows: the table so far, trials done, state and message.

Example:
    >>> from mndtrial.power import ExponentialDesign, family, design_points
    >>> pts = design_points(family("exponential", hazard_ratio=0.7), [100], ("all-comers",), slope=False)
    >>> run = Refinement(pts, n_trials=48, seed=1, first_trials=32, n_workers=1).start()
    >>> run.wait(60).state, run.snapshot().done, stages(1000)
    ('done', 48, [256, 512, 1000])
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import time
import uuid
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from typing import Any, Sequence

import pandas as pd

from ..errors import AnalysisError, ParameterError

__all__ = ["Refinement", "ConfirmatoryRun", "Snapshot", "OffsetSource", "RunCancelled", "stages", "FIRST_TRIALS"]

FIRST_TRIALS = 256  # a multiple of the simulator's block of 32 trials: no block simulated twice
LARGEST_STAGE = 2048
LARGEST_CHUNK = 128  # trials between two looks at the cancel marker
CONFIRMATORY_CHUNK = 64  # trials per chunk of a confirmatory run on a pool: a cancel waits for at most one


class RunCancelled(Exception):
    """Raised by a shifted source whose run was cancelled (ends the `power` call under way)."""


def stages(n_trials: int, first: int = FIRST_TRIALS, largest: int = LARGEST_STAGE) -> list[int]:
    """Cumulative trials per point after each stage: `first`, then doubling (steps <= `largest`)."""
    ends = [min(first, n_trials)]
    while ends[-1] < n_trials:
        ends.append(min(n_trials, ends[-1] + min(ends[-1], largest)))
    return ends


@dataclass(frozen=True, eq=False)
class OffsetSource:
    """A trial source whose trial i is trial `offset + i` of `source` (the same seeded run)."""

    source: Any
    offset: int
    cancel_marker: str | None = None  # a path; once it exists, no more trials are simulated

    def simulate_chunk(self, first_trial: int, n_trials: int, seed: int):
        if self.cancel_marker is not None and os.path.exists(self.cancel_marker):
            raise RunCancelled(self.cancel_marker)
        return self.source.simulate_chunk(first_trial + self.offset, n_trials, seed)


@dataclass(frozen=True)
class Snapshot:
    """The run as the page shows it; `table` is None until the first stage is done."""

    state: str  # "running", "done", "cancelled" or "failed"
    done: int
    total: int
    table: pd.DataFrame | None = None
    message: str = ""
    elapsed_s: float = 0.0
    first_s: float | None = None  # seconds from start to the first table
    result: Any = None  # confirmatory runs: the `mndtrial.power.run_confirmatory` result behind `table`

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


@dataclass(eq=False)
class _BackgroundRun:
    """A run in a background thread that the page polls: `start()`, `snapshot()`, `wait()`;
    `version` is bumped whenever the snapshot changes. Subclasses set `n_trials` and `_run`."""

    version: int = field(init=False, default=0)
    _snapshot: Snapshot = field(init=False)
    _cancel: threading.Event = field(init=False, default_factory=threading.Event)
    _finished: threading.Event = field(init=False, default_factory=threading.Event)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._snapshot = Snapshot("running", 0, self.n_trials)
        pool = getattr(self, "executor", None)
        self._scope = None if pool is None else pool.scope()

    def _workers(self) -> int:
        return self.executor.n_workers if self._scope is not None else (self.n_workers or 1)

    def _where(self) -> dict[str, Any]:
        """Where the run's chunks go: this run's scope of the shared pool, or processes of its own."""
        return {"executor": self._scope} if self._scope is not None else {"n_workers": self.n_workers}

    def start(self):
        self._started = time.perf_counter()
        threading.Thread(target=self._run, daemon=True, name="mndtrial-explore-run").start()
        return self

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snapshot

    def wait(self, timeout: float | None = None) -> Snapshot:
        self._finished.wait(timeout)
        return self.snapshot()

    def _publish(self, **changes: Any) -> None:
        with self._lock:
            old = self._snapshot
            values = {**old.__dict__, **changes, "elapsed_s": time.perf_counter() - self._started}
            if values["table"] is not None and old.table is None:
                values["first_s"] = values["elapsed_s"]
            self._snapshot = Snapshot(**values)
            self.version += 1

    def _fail(self, exc: Exception) -> None:
        known = isinstance(exc, (ParameterError, AnalysisError, ValueError))
        self._publish(state="failed", message=str(exc) if known else f"{type(exc).__name__}: {exc}")


@dataclass(eq=False)
class Refinement(_BackgroundRun):
    """One design's power, refined in a background thread; `start()`, `cancel()`, `snapshot()`.

    `executor`: a `mndtrial.power.WorkerPool` kept between runs (the run uses a scope of it and
    starts no processes); else `n_workers` processes are started for each stage."""

    points: Sequence[Any] = ()
    n_trials: int = 0
    seed: int = 1
    first_trials: int = FIRST_TRIALS
    n_workers: int | None = None
    executor: Any = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self._marker = os.path.join(tempfile.gettempdir(), f"mndtrial-explore-{uuid.uuid4().hex}.cancel")

    def cancel(self) -> None:
        """Stop at the next chunk of trials (the stage under way is dropped; the table so far is kept)."""
        self._cancel.set()
        if self._scope is not None:
            self._scope.cancel()
        with self._lock:  # never a marker left behind by a run that has just ended
            if not self._finished.is_set():
                open(self._marker, "w").close()

    def _run(self) -> None:
        from ..power import DesignPoint, operating_characteristics, power

        parts: list[list[pd.DataFrame]] = [[] for _ in self.points]
        done = 0
        try:
            for end in stages(self.n_trials, self.first_trials):
                if self._cancel.is_set():
                    self._publish(state="cancelled", message=f"cancelled after {done:,} trials per point")
                    return
                shifted: dict[int, OffsetSource] = {}  # points sharing a source keep sharing it
                stage = [DesignPoint(shifted.setdefault(id(p.source), OffsetSource(p.source, done, self._marker)),
                                     p.analysis, p.labels) for p in self.points]
                size = end - done
                res = power(stage, n_trials=size, seed=self.seed, **self._where(),
                            chunk_size=_chunk_size(size, len(shifted), self._workers()))
                if self._cancel.is_set():
                    self._publish(state="cancelled", message=f"cancelled after {done:,} trials per point")
                    return
                for k, rows in res.trials.groupby("point", sort=True):
                    # other points' columns are NaN here (object dtype for flags): restore the dtypes
                    parts[int(k)].append(rows.drop(columns="point").infer_objects())
                done = end
                table = pd.DataFrame([{"point": k, **p.labels,
                                       **operating_characteristics(pd.concat(parts[k], ignore_index=True), p.analysis)}
                                      for k, p in enumerate(self.points)])
                self._publish(table=table, done=done, state="running" if done < self.n_trials else "done",
                              message="")
        except (RunCancelled, CancelledError):
            self._publish(state="cancelled", message=f"cancelled after {done:,} trials per point")
        except Exception as exc:  # the page must stay usable: report, never a traceback page
            self._fail(exc)
        finally:
            with self._lock:
                self._finished.set()
                if os.path.exists(self._marker):
                    os.unlink(self._marker)


def _chunk_size(size: int, n_sources: int, n_workers: int | None) -> int:
    """Chunks of whole 32-trial blocks, enough of them to keep every worker busy, small enough
    for a cancel to take effect soon."""
    workers = n_workers or 1
    per_source = max(1, math.ceil(workers / max(1, n_sources)))
    return min(LARGEST_CHUNK, max(32, 32 * math.ceil(size / (32 * per_source))))


@dataclass(eq=False)
class ConfirmatoryRun(_BackgroundRun):
    """A confirmatory design (`mndtrial.power.ConfirmatorySpec`) run in a background thread: a first
    answer from `first_trials` trials per strategy, then the whole run of `n_trials` (the same seed,
    so its numbers are those of `mndtrial power --confirmatory FILE --n-trials N --seed S`).

    With `executor` (a `mndtrial.power.WorkerPool`) the run goes in chunks of at most
    `CONFIRMATORY_CHUNK` trials on the pool's workers and `cancel()` stops it within the run, at
    the next chunk; without, `cancel()` takes effect between the two runs (a run under way finishes
    in the background and is dropped). Same `start`/`cancel`/`snapshot`/`wait`/`version` as
    `Refinement`.

    Example:
        >>> from mndtrial.power import ConfirmatorySpec
        >>> spec = ConfirmatorySpec.from_dict({"design": {"k_max": 2}, "pool": {"hazard_ratio_s": 0.6},
        ...     "trial": {"strategies": ["enriched"], "n_randomised_max": 60, "max_events": 30}})
        >>> snap = ConfirmatoryRun(spec, n_trials=8, first_trials=4, n_workers=1).start().wait(120)
        >>> snap.state, snap.done, list(snap.table["strategy"])
        ('done', 8, ['enriched'])
    """

    spec: Any = None
    n_trials: int = 0
    seed: int = 1
    first_trials: int = FIRST_TRIALS
    n_workers: int | None = None
    chunk_size: int = 256  # `mndtrial power --confirmatory`'s default (the numbers do not depend on it)
    executor: Any = None

    def cancel(self) -> None:
        self._cancel.set()
        if self._scope is not None:
            self._scope.cancel()

    def _chunk(self, n_trials: int) -> int:
        if self._scope is None:
            return self.chunk_size
        # every worker busy, and a cancel never waits for more than one chunk per worker
        return min(self.chunk_size, CONFIRMATORY_CHUNK, max(4, math.ceil(n_trials / self._workers())))

    def _run(self) -> None:
        from ..power import run_confirmatory

        done = 0
        try:
            for end in sorted({min(self.first_trials, self.n_trials), self.n_trials}):
                if self._cancel.is_set():
                    break
                res = run_confirmatory(self.spec, n_trials=end, seed=self.seed, chunk_size=self._chunk(end),
                                       **self._where())
                if self._cancel.is_set():
                    break
                done = end
                self._publish(table=res.table, result=res, done=done,
                              state="running" if done < self.n_trials else "done", message="")
            if self._cancel.is_set():
                self._publish(state="cancelled", message=f"cancelled after {done:,} trials per strategy")
        except CancelledError:
            self._publish(state="cancelled", message=f"cancelled after {done:,} trials per strategy")
        except Exception as exc:  # the page must stay usable: report, never a traceback page
            self._fail(exc)
        finally:
            self._finished.set()
