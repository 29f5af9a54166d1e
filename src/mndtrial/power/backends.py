"""Where the chunks of a Monte Carlo run execute: this machine's processes, or a Dask cluster.

A chunk is `(source, analysis, first_trial, n_trials, seed)`; its result depends on nothing
else (each trial has its own random stream, see `mndtrial.power.exponential` and
`mndtrial.sim`), so results are put back in trial order and are identical for every backend,
worker count and chunk size.

Local worker processes never outlive the run: they ignore SIGINT (Ctrl-C in a terminal reaches
the whole process group; the main process alone decides), are terminated when the run raises or
is interrupted, and die with their parent if it is killed outright (Linux: `PR_SET_PDEATHSIG`;
elsewhere a watchdog thread that polls the parent's pid).

A program that runs many short designs (the explorer) keeps its workers instead: a `WorkerPool`
(the same workers, started once and warmed) is given to the run as `executor=`; a run on it, or on
one of its `scope()`s, never stops the pool's workers, and a scope's `cancel()` drops that run's
chunks not yet started. Results are the same as for a run that starts its own workers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import queue
import signal
import sys
import threading
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_all
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence


from ..errors import ParameterError

__all__ = ["run_chunks", "BACKENDS", "WorkerPool", "PoolScope"]

BACKENDS = ("local", "dask")
Task = tuple[Callable[..., Any], tuple]


def interactive() -> bool:
    """True in a Jupyter notebook or at an interactive Python prompt with a terminal; False in
    scripts, tests and pipes (where a progress bar would only clutter the output)."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":
        return True
    return hasattr(sys, "ps1") and sys.stderr.isatty()


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        return type(get_ipython()).__name__ == "ZMQInteractiveShell"
    except ImportError:
        return False


@contextmanager
def _progress(total: int, enabled: bool, label: str) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda n: None
        return
    if _in_notebook():
        # tqdm.auto draws a notebook widget (or plain text without ipywidgets); rich's live
        # display needs a terminal
        from tqdm.auto import tqdm

        with tqdm(total=total, desc=label, unit="trial") as bar:
            yield bar.update
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def run_chunks(tasks: Sequence[Task], sizes: Sequence[int], backend: str = "local", n_workers: int | None = None,
               client: Any = None, progress: bool = True, label: str = "simulated trials",
               executor: Executor | None = None) -> list[Any]:
    """Run `fn(*args)` for every task; results in task order. `sizes` feeds the progress bar.

    `executor`: run every task on this `concurrent.futures.Executor` (a `WorkerPool` kept between
    runs, or one of its scopes) instead of starting worker processes; it is left running, and a
    failed or interrupted run cancels only its own tasks not yet started. It takes the place of
    `n_workers` (the executor has its own) and works with the local backend only.
    """
    if backend not in BACKENDS:
        raise ParameterError("backend", backend, f"must be one of {BACKENDS}")
    if client is not None and backend != "dask":  # else a scheduler address would be ignored silently
        raise ParameterError("client", client, "a Dask client or scheduler address needs backend='dask'")
    if n_workers is not None and n_workers < 1:
        raise ParameterError("n_workers", n_workers, "must be at least 1")
    if executor is not None and (backend != "local" or n_workers is not None):
        raise ParameterError("executor", executor, "runs the chunks itself: give it without n_workers, "
                                                   "with the local backend")
    results: list[Any] = [None] * len(tasks)
    with _progress(int(sum(sizes)), progress, label) as advance:
        if executor is not None:
            _run_on(executor, tasks, sizes, results, advance)
        elif backend == "dask":
            _run_dask(tasks, sizes, results, n_workers, client, advance)
        elif (n_workers or os.cpu_count() or 1) == 1 or len(tasks) == 1:
            for i, (fn, args) in enumerate(tasks):
                results[i] = fn(*args)
                advance(sizes[i])
        else:
            _run_local(tasks, sizes, results, min(n_workers or os.cpu_count() or 1, len(tasks)), advance)
    return results


def _run_local(tasks, sizes, results, n_workers, advance) -> None:
    pool = ProcessPoolExecutor(max_workers=n_workers, initializer=_worker_init, initargs=(os.getpid(),))
    try:
        _gather(pool, tasks, sizes, results, advance, [])
    except BaseException:
        # Ctrl-C, SIGTERM (raised as KeyboardInterrupt by the CLI) or a failed chunk: the pool's
        # own shutdown would wait for every running chunk, so its workers are ended first.
        _terminate_workers(pool)
        raise
    pool.shutdown(wait=True)


def _gather(executor: Executor, tasks, sizes, results, advance, futures: list[Future]) -> None:
    """Submit every task (appending its future to `futures`) and put the results in place as they
    come. SIGINT and SIGTERM are held while this thread may hold one of the pool's locks and
    handed to their handler between two results (see `_signals_held`)."""
    finished: queue.SimpleQueue = queue.SimpleQueue()  # task indices, put by the pool's own thread
    with _signals_held(wake=lambda: finished.put(None)) as hand_on:
        for i, (fn, args) in enumerate(tasks):
            futures.append(executor.submit(fn, *args))
            futures[-1].add_done_callback(lambda _, i=i: finished.put(i))
            hand_on()
        left = len(futures)
        while left:
            i = finished.get()
            hand_on()  # the CLI's handler raises KeyboardInterrupt here, where no lock is held
            if i is None:  # woken by a signal
                continue
            left -= 1
            results[i] = futures[i].result()  # a failed (or cancelled) chunk raises here
            advance(sizes[i])


@contextmanager
def _signals_held(wake: Callable[[], None]) -> Iterator[Callable[[], None]]:
    """SIGINT and SIGTERM received in the block are noted (and `wake()` called), not acted on;
    the function it gives hands those noted to the handler that was there before, and leaving the
    block puts those handlers back (handing on any still noted).

    A handler that raises (KeyboardInterrupt) at any bytecode can raise while this thread holds
    a lock of the pool's machinery (an `Event`'s condition inside a wait, the executor's shutdown
    lock inside `submit`): the pool's manager thread then blocks on it for ever, and the process,
    which joins that thread at exit, never ends. Held, a signal is acted on only where the caller
    holds none. `wake` must be safe in a signal handler (`SimpleQueue.put` is). Only the main
    thread receives signals; elsewhere the block changes nothing.
    """
    held = (signal.SIGINT, signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread() or any(signal.getsignal(s) is None for s in held):
        yield lambda: None  # no signals here, or a handler not set from Python (it could not be put back)
        return
    noted: list[tuple[int, Any]] = []

    def hold(signum, frame) -> None:
        noted.append((signum, frame))
        wake()

    previous = {sig: signal.signal(sig, hold) for sig in held}

    def hand_on() -> None:
        while noted:
            signum, frame = noted.pop(0)
            handler = previous[signum]
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL:
                for sig, old in previous.items():  # the default action: the process ends
                    signal.signal(sig, old)
                signal.raise_signal(signum)

    try:
        yield hand_on
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        hand_on()


def _run_on(executor: Executor, tasks, sizes, results, advance) -> None:
    futures: list[Future] = []
    try:
        _gather(executor, tasks, sizes, results, advance, futures)
    except BaseException:
        # the executor belongs to the caller: this run's chunks not yet started are dropped, the
        # running ones finish on their worker (their results unused), the workers stay
        for fut in futures:
            fut.cancel()
        raise


class WorkerPool(Executor):
    """Local worker processes kept between runs: give it to a run as `executor=` (e.g.
    `mndtrial.power.power(..., executor=pool)`) and the run starts no processes of its own.

    The workers are those of a run's own (SIGINT left to this process, ended with it); `start()`
    launches them at once. They are forked from this process where the platform forks (Linux), so
    modules imported and kernels compiled here before `start()` are theirs without cost; `warm`
    (a module-level function) also runs once in each worker as it starts (for platforms that
    spawn). `scope()` gives one run its own cancellable share of the pool. `terminate()` (and
    leaving a `with` block on an exception) ends the workers at once; `shutdown()` lets them
    finish the work submitted first.

    Example:
        >>> with WorkerPool(n_workers=1) as pool:
        ...     run_chunks([(abs, (-1,)), (abs, (-2,))], [1, 1], executor=pool, progress=False)
        [1, 2]
    """

    def __init__(self, n_workers: int | None = None, warm: Callable[[], Any] | None = None) -> None:
        if n_workers is not None and (not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 1):
            raise ParameterError("n_workers", n_workers, "must be a whole number >= 1")
        self.n_workers = n_workers or os.cpu_count() or 1
        self._pool = ProcessPoolExecutor(max_workers=self.n_workers, initializer=_worker_init,
                                         initargs=(os.getpid(), warm))

    def start(self) -> "WorkerPool":
        """Launch every worker now, and wait until each has started and warmed (has answered)."""
        seen: set[int] = set()
        for _ in range(50):  # each round, every worker not yet seen may answer (a busy one takes two)
            seen.update(f.result() for f in [self._pool.submit(_ready) for _ in range(self.n_workers)])
            if len(seen) >= self.n_workers:
                break
        return self

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        return self._pool.submit(fn, *args, **kwargs)

    def scope(self) -> "PoolScope":
        """A share of this pool for one run: `cancel()` drops that run's chunks not yet started."""
        return PoolScope(self)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    def terminate(self) -> None:
        """End the workers now: running work is abandoned, queued work cancelled."""
        _terminate_workers(self._pool)

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            self.terminate()
        else:
            self.shutdown(wait=True)
        return False

    def __repr__(self) -> str:
        return f"<WorkerPool: {self.n_workers} worker processes>"


class PoolScope(Executor):
    """One run's share of a `WorkerPool`: work submitted here runs on the pool's workers;
    `cancel()` cancels this scope's work not yet started (work already running finishes on its
    worker, its result unused), and later submissions come back cancelled, so the run under way
    ends with `concurrent.futures.CancelledError`. The pool and other scopes are not touched;
    `shutdown()` waits for this scope's work only.

    Example:
        >>> from concurrent.futures import CancelledError
        >>> with WorkerPool(n_workers=1) as pool:
        ...     scope = pool.scope()
        ...     scope.cancel()
        ...     try:
        ...         run_chunks([(abs, (-1,))], [1], executor=scope, progress=False)
        ...     except CancelledError:
        ...         print("cancelled")
        cancelled
    """

    def __init__(self, pool: Executor) -> None:
        self._pool = pool
        self._futures: list[Future] = []
        self._cancelled = False
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        with self._lock:
            if self._cancelled:
                fut: Future = Future()
                fut.cancel()
                fut.set_running_or_notify_cancel()  # waiters (concurrent.futures.wait) see it done at once
                return fut
            fut = self._pool.submit(fn, *args, **kwargs)
            self._futures = [f for f in self._futures if not f.done()]
            self._futures.append(fut)
            return fut

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            futures, self._futures = self._futures, []
        for fut in futures:
            fut.cancel()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            self.cancel()
        if wait:
            with self._lock:
                futures = list(self._futures)
            wait_all(futures)


def _ready(hold_s: float = 0.02) -> int:
    time.sleep(hold_s)  # long enough that one worker does not answer for all of them
    return os.getpid()


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    # ProcessPoolExecutor has no public way to stop running work before Python 3.14
    # (`terminate_workers`); its `_processes` map is the pool's worker processes.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    deadline = time.monotonic() + 5.0
    for proc in processes:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _worker_init(parent_pid: int, warm: Callable[[], Any] | None = None) -> None:
    """Worker start-up: leave SIGINT to the parent, end on SIGTERM (not a handler inherited from
    the parent that would turn it into an exception the pool catches), die with the parent, then
    `warm()` if given."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux") and _set_parent_death_signal(signal.SIGTERM):
        if os.getppid() != parent_pid:  # the parent died before the request took effect
            os._exit(1)
    else:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True,
                         name="mndtrial-parent-watch").start()
    if warm is not None:
        warm()


def _set_parent_death_signal(sig: int) -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int, every_s: float = 0.5) -> None:
    while os.getppid() == parent_pid:
        time.sleep(every_s)
    os._exit(1)


def _run_dask(tasks, sizes, results, n_workers, client, advance) -> None:
    try:
        from dask.distributed import Client, LocalCluster, as_completed as dask_completed
    except ImportError as exc:  # pragma: no cover - dask is a declared extra
        raise ParameterError("backend", "dask", "needs `pip install mndtrial[dask]`") from exc
    own = None
    if client is None:
        own = Client(LocalCluster(n_workers=n_workers or 1, threads_per_worker=1, processes=False,
                                  dashboard_address=None))
        client = own
    elif isinstance(client, str):
        own = Client(client)
        client = own
    try:
        futures = [client.submit(fn, *args, pure=False) for fn, args in tasks]
        index = {f.key: i for i, f in enumerate(futures)}
        for fut in dask_completed(futures):
            i = index[fut.key]
            results[i] = fut.result()
            advance(sizes[i])
    finally:
        if own is not None:
            cluster = getattr(own, "cluster", None)
            own.close()
            if cluster is not None:
                cluster.close()
