"""docs/getting-started.md followed literally, so the page cannot drift from the product.

The page's fenced `sh` blocks are run in order by one bash, and its `python` blocks by one Python,
in a fresh temporary folder that stands for the clone. Only the clone itself is emulated:

- `git clone ... && cd mndtrial`: the folder holds what the page reads from a clone (`docs/`,
  `examples/`), and `.venv/bin/` an `mndtrial` for this interpreter and an `activate` that puts
  it on PATH, as `make demo`'s venv does;
- `make demo`: `.venv/bin/mndtrial demo`, which is what the Makefile's demo target runs once the
  venv is installed (checked below against the Makefile).

PATH starts without any `mndtrial`, so a page that forgot to say how to reach the command fails
here as it failed for a new user. The fast test checks that every `mndtrial` line of the page
parses against the current command line and that the Python imports resolve; the slow one runs
everything.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "getting-started.md"
CLONE_BLOCK = ["git clone <this repository> mndtrial && cd mndtrial",
               "make demo            # creates .venv, installs mndtrial, runs `mndtrial demo`"]


def fenced(lang: str) -> list[str]:
    return [body for kind, body in re.findall(r"```(\w*)\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
            if kind == lang]


def shell_script() -> str:
    """The page's sh blocks as one script, the clone block emulated (see the module docstring)."""
    blocks = fenced("sh")
    assert blocks[0].splitlines() == CLONE_BLOCK, "the page's first block changed: update the emulation"
    return "\n".join([".venv/bin/mndtrial demo", *blocks[1:]])


def mndtrial_lines() -> list[list[str]]:
    """Each `mndtrial ...` command of the page's sh blocks, continuation lines joined."""
    text = "\n".join(fenced("sh")[1:]).replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in text.splitlines() if line.strip().startswith("mndtrial ")]


def test_the_makefile_demo_target_runs_the_venv_command():
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^demo: \$\(VENV\)/\.installed\n\t\$\(VENV\)/bin/mndtrial demo$", make, re.M)
    assert "VENV := .venv" in make


def test_the_page_says_how_to_reach_the_command_after_make_demo():
    blocks = fenced("sh")
    after_demo = "\n".join(blocks[1:])
    assert after_demo.splitlines()[0].startswith(". .venv/bin/activate"), after_demo
    assert ".venv/bin/mndtrial" in PAGE.read_text(encoding="utf-8")


def test_every_command_of_the_page_parses(tmp_path, monkeypatch):
    """Each command and option the page shows exists, with values of the right kind: the command
    line is parsed as `mndtrial` parses it, and the command's function is replaced by a recorder."""
    import functools

    from mndtrial.cli import app, hoist_global_flags

    monkeypatch.chdir(tmp_path)
    called: list[str] = []
    for info in app.registered_commands:
        def record(*args, _name=info.callback.__name__, **kwargs):
            called.append(_name)
        monkeypatch.setattr(info, "callback", functools.wraps(info.callback)(record))
    lines = [argv for argv in mndtrial_lines() if "--version" not in argv]
    assert len(lines) >= 6
    for argv in lines:
        before = len(called)
        app(hoist_global_flags(argv[1:]), standalone_mode=False)
        assert len(called) == before + 1, shlex.join(argv)


def test_the_page_python_imports_resolve():
    code = "\n".join(line for block in fenced("python") for line in block.splitlines()
                     if line.startswith(("from ", "import ")))
    assert "trial_report" in code and "AnalysisResults" in code
    exec(compile(code, str(PAGE), "exec"), {})


def _clone(folder: Path) -> Path:
    """A folder standing for a fresh clone after `make demo` installed the venv."""
    for name in ("docs", "examples"):
        shutil.copytree(ROOT / name, folder / name)
    bin_dir = folder / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "mndtrial").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mndtrial "$@"\n')
    (bin_dir / "mndtrial").chmod(0o755)
    (bin_dir / "activate").write_text(f'VIRTUAL_ENV="{folder / ".venv"}"\nPATH="$VIRTUAL_ENV/bin:$PATH"\n'
                                      "export VIRTUAL_ENV PATH\n")
    return folder


@pytest.mark.slow
def test_getting_started_runs_as_written(tmp_path):
    clone = _clone(tmp_path / "mndtrial")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MPLBACKEND": "Agg",
           "PYTHONPATH": str(ROOT / "src"), "LANG": os.environ.get("LANG", "C.UTF-8")}
    assert shutil.which("mndtrial", path=env["PATH"]) is None  # found only once the page says how
    shell = subprocess.run(["bash", "-e", "-c", shell_script()], cwd=clone, env=env, capture_output=True,
                           text=True, timeout=3000)
    assert shell.returncode == 0, shell.stderr[-3000:]
    python = "\n".join(fenced("python"))
    done = subprocess.run([sys.executable, "-c", python], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    page = PAGE.read_text(encoding="utf-8")
    for path in ("demo-out/report.html", "demo-out/power/power.html", "my-trial/participants.csv",
                 "my-results/results.json", "my-results/report.html", "my-results-plan/results.json",
                 "again/report.html", "my-power/power.html", "figs/alsfrs.png", "figs/alsfrs.svg",
                 "my-report/report.html"):
        assert (clone / path).is_file(), path
        assert path.split("/")[0] in page  # each is one the page names
    assert "mndtrial " in shell.stdout and "my-trial: valid" in shell.stdout
