"""Console output for the commands: progress on stderr (silenced by --quiet), paths on stdout.

Anything that may take more than a second runs inside `step(...)`, which shows a rich spinner
with the elapsed time while it runs and a tick with the time it took afterwards; `progress(...)`
gives a bar for loops of known length. With `--quiet` both are silent, and only errors and the
paths of the outputs are printed.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

import typer

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


def command_line(ctx: typer.Context) -> list[str]:
    """The `mndtrial ...` call being run, rebuilt from the parsed command line, for provenance.

    Arguments and the options given on the command line are kept (options left at their default
    are not), so the printed call reproduces the output with this mndtrial version.
    """
    chain = []
    c = ctx
    while c is not None:
        chain.append(c)
        c = c.parent
    args = ["mndtrial"]
    for c in reversed(chain):
        if c.parent is not None:
            args.append(c.info_name)
        for p in c.command.params:
            value = c.params.get(p.name)
            if value is None:
                continue
            if p.param_type_name == "argument":
                args += [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
            elif c.get_parameter_source(p.name).name == "COMMANDLINE":
                if getattr(p, "is_flag", False):
                    args.append(p.opts[0] if value else (p.secondary_opts or p.opts)[0])
                elif isinstance(value, (list, tuple)):  # a repeatable option (--vary a --vary b)
                    for v in value:
                        args += [p.opts[0], str(v)]
                else:
                    args += [p.opts[0], str(value)]
    return args
