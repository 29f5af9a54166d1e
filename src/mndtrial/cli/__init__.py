"""The `mndtrial` command. Each sub-command lives in its own module and registers on `app`."""

from __future__ import annotations

import signal
import sys

import typer
from typer.core import TyperGroup

from ..errors import AnalysisError, ParameterError, TrialDataError

GLOBAL_FLAGS = ("--quiet", "-q", "--debug")


def hoist_global_flags(args: list[str]) -> list[str]:
    """`analyze DIR --quiet` -> `--quiet analyze DIR`: the global flags are accepted anywhere
    (before a `--` that ends the options).

    Example:
        >>> hoist_global_flags(["analyze", "trial", "--quiet", "--out", "o"])
        ['--quiet', 'analyze', 'trial', '--out', 'o']
    """
    end = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:end] if a in GLOBAL_FLAGS]
    return flags + [a for a in args[:end] if a not in GLOBAL_FLAGS] + args[end:]


class _Root(TyperGroup):
    def parse_args(self, ctx, args):
        return super().parse_args(ctx, hoist_global_flags(list(args)))


app = typer.Typer(name="mndtrial", help="Analyse, simulate and design ALS/MND clinical trials.", cls=_Root,
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)

state = {"debug": False, "quiet": False}


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"mndtrial {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit."),
          debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
          quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors and results paths.")) -> None:
    state["debug"] = debug
    state["quiet"] = quiet


# Sub-commands register themselves on import.
from . import analyze  # noqa: E402,F401
from . import cut  # noqa: E402,F401
from . import calibrate  # noqa: E402,F401
from . import demo  # noqa: E402,F401
from . import explore  # noqa: E402,F401
from . import design  # noqa: E402,F401
from . import import_proact  # noqa: E402,F401
from . import interim  # noqa: E402,F401
from . import power  # noqa: E402,F401
from . import report  # noqa: E402,F401
from . import sample_size  # noqa: E402,F401
from . import simulate  # noqa: E402,F401
from . import validate  # noqa: E402,F401


_signals_received: list[int] = []


def _interrupt(signum, frame) -> None:
    # SIGTERM is raised like Ctrl-C, so the same clean-up runs (worker processes ended, staged
    # outputs removed); the signal is remembered because typer turns KeyboardInterrupt into exit 130.
    _signals_received.append(signum)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _interrupted() -> None:
    signum = _signals_received[-1] if _signals_received else signal.SIGINT
    typer.echo(f"interrupted ({signal.Signals(signum).name}): stopped before the run finished", err=True)
    sys.exit(128 + int(signum))


def main() -> None:
    """Entry point: user errors become one clear message and exit code 1 (tracebacks with --debug)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    try:
        # With standalone_mode=False click returns a command's exit code instead of exiting.
        rc = app(standalone_mode=False)
        if _signals_received:
            _interrupted()
        sys.exit(rc if isinstance(rc, int) else 0)
    except TrialDataError as exc:
        if state["debug"]:
            raise
        typer.echo(str(exc), err=True)
        sys.exit(1)
    except (ParameterError, AnalysisError, OSError, ValueError) as exc:
        # OSError: unreadable inputs, an output folder that cannot be written (permissions, a file
        # in the way, a full disk) -- the user's to fix, so one line, not a traceback.
        if state["debug"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        if state["debug"]:
            raise
        _interrupted()
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:
        # Usage errors from click (vendored inside typer in recent versions, so matched by shape):
        # one line and exit code 1, as every other error (`mndtrial` alone still prints the help).
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            if type(exc).__name__ == "NoArgsIsHelpError" or not hasattr(exc, "format_message"):
                exc.show()
                sys.exit(exc.exit_code)
            typer.echo(f"error: {_usage_line(exc)}", err=True)
            sys.exit(1)
        raise


def _usage_line(exc) -> str:
    """'No such command 'analyse'. Did you mean 'analyze'? (see `mndtrial --help`)' on one line."""
    ctx = getattr(exc, "ctx", None)
    path = ["mndtrial"] + (ctx.command_path.split()[1:] if ctx is not None and ctx.parent is not None else [])
    where = ctx.command_path.split()[-1] if ctx is not None and ctx.parent is not None else None
    message = " ".join(exc.format_message().split())
    return f"{message} (see `{' '.join(path[:1] + ([where] if where else []))} --help`)"
