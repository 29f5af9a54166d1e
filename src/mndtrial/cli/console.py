"""Console output for the commands: progress on stderr (silenced by --quiet), paths on stdout.

Anything that may take more than a second runs inside `step(...)`, which shows a rich spinner
with the elapsed time while it runs and a tick with the time it took afterwards; `progress(...)`
gives a bar for loops of known length. With `--quiet` both are silent, and only errors and the
paths of the outputs are printed.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from . import state

__all__ = ["step", "progress", "stderr_console", "command_line"]


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


@contextmanager
def step(description: str) -> Iterator[None]:
    """Run a block under a spinner (unless --quiet); print how long it took."""
    if state["quiet"]:
        yield
        return
    console = stderr_console()
    start = time.perf_counter()
    if not console.is_terminal:  # a log file gets the tick line only, not spinner frames
        yield
    else:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                      transient=True) as bar:
            bar.add_task(description, total=None)
            yield
    console.print(f"[green]✓[/green] {description} ({time.perf_counter() - start:.1f} s)")


@contextmanager
def progress(description: str, total: int) -> Iterator[callable]:
    """A bar for `total` units of work; the block calls the yielded `advance(n=1)`."""
    if state["quiet"]:
        yield lambda n=1: None
        return
    console = stderr_console()
    start = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)
    console.print(f"[green]✓[/green] {description} ({time.perf_counter() - start:.1f} s)")


def command_line(argv: Sequence[str] | None = None) -> list[str]:
    """The `mndtrial ...` call being run, for provenance (so an output says how to reproduce it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    return ["mndtrial", *args]
