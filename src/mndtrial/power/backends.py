"""Where the chunks of a Monte Carlo run execute: this machine's processes, or a Dask cluster.

A chunk is `(source, analysis, first_trial, n_trials, seed)`; its result depends on nothing
else (each trial has its own random stream, see `mndtrial.power.exponential` and
`mndtrial.sim`), so results are put back in trial order and are identical for every backend,
worker count and chunk size.

Local worker processes never outlive the run: they ignore SIGINT (Ctrl-C in a terminal reaches
the whole process group; the main process alone decides), are terminated when the run raises or
is interrupted, and die with their parent if it is killed outright (Linux: `PR_SET_PDEATHSIG`;
elsewhere a watchdog thread that polls the parent's pid).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence


from ..errors import ParameterError

__all__ = ["run_chunks", "BACKENDS"]

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
               client: Any = None, progress: bool = True, label: str = "simulated trials") -> list[Any]:
    """Run `fn(*args)` for every task; results in task order. `sizes` feeds the progress bar."""
    if backend not in BACKENDS:
        raise ParameterError("backend", backend, f"must be one of {BACKENDS}")
    if client is not None and backend != "dask":  # else a scheduler address would be ignored silently
        raise ParameterError("client", client, "a Dask client or scheduler address needs backend='dask'")
    if n_workers is not None and n_workers < 1:
        raise ParameterError("n_workers", n_workers, "must be at least 1")
    results: list[Any] = [None] * len(tasks)
    with _progress(int(sum(sizes)), progress, label) as advance:
        if backend == "dask":
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
        futures = {pool.submit(fn, *args): i for i, (fn, args) in enumerate(tasks)}
        for fut in as_completed(futures):
            i = futures[fut]
            results[i] = fut.result()
            advance(sizes[i])
    except BaseException:
        # Ctrl-C, SIGTERM (raised as KeyboardInterrupt by the CLI) or a failed chunk: the pool's
        # own shutdown would wait for every running chunk, so its workers are ended first.
        _terminate_workers(pool)
        raise
    pool.shutdown(wait=True)


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


def _worker_init(parent_pid: int) -> None:
    """Worker start-up: leave SIGINT to the parent, end on SIGTERM (not a handler inherited from
    the parent that would turn it into an exception the pool catches), and die with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux") and _set_parent_death_signal(signal.SIGTERM):
        if os.getppid() != parent_pid:  # the parent died before the request took effect
            os._exit(1)
        return
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="mndtrial-parent-watch").start()


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
