"""`mndtrial explore`: the design explorer in the browser (a local Shiny app, `mndtrial.app`).

Everything heavy (Shiny, uvicorn, the power engine) is imported when the command runs, so
`mndtrial --help` stays light.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import typer

from ..errors import ParameterError
from . import app, state


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


@app.command("explore")
def explore_command(
    design: str = typer.Option("mirocals", "--design", help="Design family the form starts from: mirocals or "
                                                          "exponential."),
    parameters: Path = typer.Option(None, "--parameters", help="Start from the MIROCALS design on this parameter "
                                                               "file (e.g. from `mndtrial calibrate`)."),
    port: int = typer.Option(8765, "--port", help="Port of the local web server."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: this machine only)."),
    workers: int = typer.Option(None, "--workers",
                                help="Worker processes the app keeps for its runs (default: up to 4 cores)."),
    first_trials: int = typer.Option(None, "--first-trials",
                                     help="Trials per design point in the first answer (default 256)."),
) -> None:
    """Explore a design in the browser: power curve, events, screening and sample size, live.

    Prints the URL to open; Ctrl-C stops the server.
    """
    try:
        import uvicorn

        import shiny  # noqa: F401

        from ..app import FormError, create_app
    except ImportError as exc:
        raise ParameterError("explore", exc.name, "needs the explorer's extra: pip install 'mndtrial[explore]'") from None
    if not 0 < port < 65536:
        raise ParameterError("--port", port, "must be a port number from 1 to 65535")
    if workers is not None and workers < 1:
        raise ParameterError("--workers", workers, "must be at least 1")
    if first_trials is not None and first_trials < 1:
        raise ParameterError("--first-trials", first_trials, "must be at least 1")
    if design not in ("mirocals", "exponential"):
        raise ParameterError("--design", design, "choose mirocals or exponential")
    if parameters is not None and design != "mirocals":
        raise ParameterError("--parameters", str(parameters), "applies to the simulated design (mirocals)")
    if not _port_free(host, port):
        raise ParameterError("--port", port, f"is in use on {host}; choose another with --port")
    try:
        web = create_app(n_workers=workers, first_trials=first_trials,
                         family="file" if parameters is not None else design,
                         parameters_path=None if parameters is None else str(parameters))
    except FormError as exc:
        raise ParameterError("--parameters", str(parameters), "; ".join(exc.errors.values())) from None
    url = f"http://{host}:{port}/"
    server = uvicorn.Server(uvicorn.Config(web, host=host, port=port, log_level="debug" if state["debug"] else "warning",
                                           lifespan="on"))

    def announce() -> None:  # the URL once the server accepts connections, not before
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            typer.echo(f"mndtrial explore: open {url} in a browser (Ctrl-C stops it)")

    threading.Thread(target=announce, daemon=True, name="mndtrial-explore-url").start()
    server.run()
    typer.echo("mndtrial explore: stopped")
