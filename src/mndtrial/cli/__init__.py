"""The `mndtrial` command. Each sub-command lives in its own module and registers on `app`."""

from __future__ import annotations

import sys

import typer

from .. import __version__
from ..errors import AnalysisError, ParameterError, TrialDataError

app = typer.Typer(name="mndtrial", help="Analyse, simulate and design ALS/MND clinical trials.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)

state = {"debug": False, "quiet": False}


def _version(value: bool) -> None:
    if value:
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
from . import calibrate  # noqa: E402,F401
from . import demo  # noqa: E402,F401
from . import import_proact  # noqa: E402,F401
from . import power  # noqa: E402,F401
from . import simulate  # noqa: E402,F401
from . import validate  # noqa: E402,F401


def main() -> None:
    """Entry point: user errors become one clear message and exit code 1 (tracebacks with --debug)."""
    try:
        # With standalone_mode=False click returns a command's exit code instead of exiting.
        rc = app(standalone_mode=False)
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
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:
        # Usage errors from click (vendored inside typer in recent versions, so matched by shape).
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        raise
