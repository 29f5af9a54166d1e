"""Benchmark `mndtrial explore`: time from changing an input to the first updated figure.

Run by hand: `PYTHONPATH=src python benchmarks/bench_explore.py [rounds] [designs]` (needs Playwright, Shiny
and Debian's chromium; skipped with a message otherwise).

Arguments: rounds (default 3) and how many of the designs to run (default all: one MIROCALS
point, one exponential point, the MIROCALS grid the app opens with, one MIROCALS enriched point
whose biomarker cut-off changes), with 500 trials per point: the explorer (a subprocess on a free
port, default workers) is driven by headless Chromium; each round changes the low-NfL hazard
ratio (the last case: the cut-off, 2500 / 3700 pg/mL) and times (1) the first updated figure (the
plot's image changes: first stage, 256 trials per point), (2) the figure at all 500 trials. The
peer, in the same run: the exported `mndtrial power` command for the same design (in this
process, imports excluded). Best of the rounds; ratio = explorer first figure / CLI.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CASES = [  # label, --design, form changes, the field changed in each round and its two alternating values
    ("MIROCALS, n 300, all-comers", "mirocals", {"n_min": 300, "n_max": 300, "enriched": False},
     ("hr_low", (0.45, 0.52))),
    ("exponential, n 300, all-comers", "exponential", {"n_min": 300, "n_max": 300, "enriched": False},
     ("hr_low", (0.6, 0.7))),
    ("MIROCALS, n 200:400:100, 2 strategies", "mirocals", {}, ("hr_low", (0.45, 0.52))),
    ("MIROCALS, n 300, enriched, cut-off", "mirocals", {"n_min": 300, "n_max": 300, "all-comers": False},
     ("cutoff", (2500, 3700))),
]
TRIALS = 500


def _server(design: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "mndtrial", "explore", "--port", str(port), "--design", design],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    line = ""
    while "open http" not in line and proc.poll() is None:
        line = proc.stdout.readline()
    return proc, re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)


def _set(page, field: str, value) -> None:
    page.fill(f"#{field}", str(value))
    page.dispatch_event(f"#{field}", "change")


def _case(browser, label: str, design: str, changes: dict, changed: tuple[str, tuple], rounds: int) -> dict:
    from typer.testing import CliRunner

    from mndtrial.cli import app as cli_app

    proc, url = _server(design)
    try:
        page = browser.new_page()
        page.goto(url)
        for field, value in changes.items():
            if field in ("enriched", "all-comers"):
                page.uncheck(f"input[name=strategies][value={field}]")
            else:
                _set(page, field, value)
        _set(page, "n_trials", TRIALS)
        page.wait_for_selector(f'#run-state[data-state="done"][data-done="{TRIALS}"]', timeout=600_000)
        first, full, engine = [], [], []
        for r in range(rounds):
            src = page.get_attribute("#curve img", "src")
            start = time.perf_counter()
            _set(page, changed[0], changed[1][r % 2])
            page.wait_for_function("s => document.querySelector('#curve img').src !== s", arg=src, timeout=600_000)
            first.append(time.perf_counter() - start)
            shown = re.search(r"first answer after ([0-9.]+) s", page.inner_text("#run-state"))
            engine.append(float(shown.group(1)) if shown else float("nan"))
            page.wait_for_selector(f'#run-state[data-state="done"][data-done="{TRIALS}"]', timeout=600_000)
            full.append(time.perf_counter() - start)
        command = page.inner_text("#command").strip()
        workdir = ROOT / "benchmarks" / "out" / f"explore-cli-{design}-{time.time_ns()}"
        workdir.mkdir(parents=True)
        if "--parameters parameters.toml" in command:  # the simulated design's own file, as a user gets it
            with page.expect_download() as download:
                page.click("#download_parameters")
            download.value.save_as(workdir / "parameters.toml")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    args = shlex.split(command)
    cli = []
    here = os.getcwd()
    os.chdir(workdir)
    try:
        for r in range(rounds):
            args[args.index("--out") + 1] = f"out-{r}"
            start = time.perf_counter()
            done = CliRunner().invoke(cli_app, ["--quiet", *args[1:]])
            cli.append(time.perf_counter() - start)
            assert done.exit_code == 0, (command, done.output, repr(done.exception))
    finally:
        os.chdir(here)
    return {"design": label, "first_figure_s": min(first), "engine_first_s": min(engine), "full_500_s": min(full),
            "cli_s": min(cli),
            "ratio_first_to_cli": min(first) / min(cli)}


def main(rounds: int = 3, n_cases: int = len(CASES)) -> None:
    try:
        from playwright.sync_api import sync_playwright
        import shiny  # noqa: F401
    except ImportError as exc:
        print(f"skipped: {exc.name} is not installed (pip install 'mndtrial[test]')")
        return
    chromium = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.path.exists(p)), None)
    if chromium is None:
        print("skipped: Debian's chromium is not installed")
        return
    import tempfile

    rows = []
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        browser = pw.chromium.launch_persistent_context(profile, executable_path=chromium, headless=True, args=FLAGS)
        for case in CASES[:n_cases]:
            rows.append(_case(browser, *case, rounds=rounds))
            print(rows[-1], flush=True)
        browser.close()
    print(f"\ncores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}; {TRIALS} trials per point, "
          f"best of {rounds}")
    print(f"{'design':40s} {'first figure':>12s} {'(engine)':>9s} {'500 trials':>11s} {'CLI':>7s} {'first/CLI':>9s}")
    for r in rows:
        print(f"{r['design']:40s} {r['first_figure_s']:11.2f}s {r['engine_first_s']:8.2f}s {r['full_500_s']:10.2f}s "
              f"{r['cli_s']:6.2f}s {r['ratio_first_to_cli']:9.2f}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
