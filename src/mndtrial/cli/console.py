"""Console output for the commands: progress on stderr (silenced by --quiet), paths on stdout.

Anything that may take more than a second runs inside `step(...)`, which shows a rich spinner
with the elapsed time while it runs and a tick with the time it took afterwards; `progress(...)`
gives a bar for loops of known length. With `--quiet` both are silent, and only errors and the
paths of the outputs are printed.
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import typer

from . import state

__all__ = ["step", "progress", "stderr_console", "command_line", "staged_output", "moved_paths", "output_folder",
           "output_file", "echo_paths"]


def stderr_console():
    from rich.console import Console  # imported on use: `mndtrial --help` stays light

    return Console(stderr=True, highlight=False)


@contextmanager
def step(description: str) -> Iterator[None]:
    """Run a block under a spinner (unless --quiet); print how long it took."""
    if state["quiet"]:
        yield
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

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
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

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


@contextmanager
def staged_output(out: str | Path) -> Iterator[Path]:
    """A folder to write a command's outputs into, moved into `out` only when the block finishes.

    An interrupted or failed run leaves no partial file in `out` that could pass for a result:
    the staging folder (`out/.incomplete-<pid>`) is removed instead.
    """
    out = Path(out)
    staging = out / f".incomplete-{os.getpid()}"
    staging.mkdir(parents=True, exist_ok=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for entry in staging.iterdir():
        target = out / entry.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(entry, target)
    staging.rmdir()


def moved_paths(value, staging: Path, out: str | Path):
    """Paths under `staging` (in dicts and lists) as where `staged_output` moved them, under `out`."""
    if isinstance(value, dict):
        return {k: moved_paths(v, staging, out) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(moved_paths(v, staging, out) for v in value)
    if isinstance(value, Path) and value.is_relative_to(staging):
        return Path(out) / value.relative_to(staging)
    return value


def _writable_from(path: Path, option: str) -> None:
    """The nearest existing ancestor of `path` must be a folder this process can write into."""
    from ..errors import ParameterError

    for parent in path.parents:
        if parent.exists() or parent == Path(parent.anchor or "."):
            if not parent.is_dir():
                raise ParameterError(option, str(path), f"{parent} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ParameterError(option, str(path), f"cannot write into {parent} (permission denied)")
            return


def _option(param: typer.CallbackParam | None) -> str:
    return param.opts[0] if param is not None and param.opts else "--out"


def output_folder(param: typer.CallbackParam, value: Path | None) -> Path | None:
    """`--out FOLDER`, checked when the command line is read, before any work: an existing file
    there (or on the way there) is refused at once, not after a long analysis or simulation."""
    from ..errors import ParameterError

    if value is None:
        return None
    option = _option(param)
    if value.exists() and not value.is_dir():
        raise ParameterError(option, str(value), f"is an existing file; {option} takes a folder (a new or "
                                                 "existing folder's path)")
    if not value.exists():
        _writable_from(value, option)
    elif not os.access(value, os.W_OK | os.X_OK):
        raise ParameterError(option, str(value), "cannot write into this folder (permission denied)")
    return value


def output_file(param: typer.CallbackParam, value: Path | None) -> Path | None:
    """An option naming a file to write (calibrate's --out and --report): not an existing folder."""
    from ..errors import ParameterError

    if value is None:
        return None
    option = _option(param)
    if value.is_dir():
        raise ParameterError(option, str(value), "is an existing folder; give the file to write")
    _writable_from(value, option)
    return value


def echo_paths(*paths: object) -> None:
    """--quiet output: only the paths of what was written, one per line, on stdout."""
    for path in paths:
        typer.echo(str(path))
