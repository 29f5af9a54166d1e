"""`mndtrial explore` in a real browser: Playwright driving Debian's Chromium (no browser download).

One server (`mndtrial explore --port <free> --workers 1 --first-trials 32`, a subprocess) serves
every test here; it must stop on SIGINT like any command. The end-to-end test changes inputs,
waits for the figure and table to follow, and checks the power shown equals what the exported
`mndtrial power ...` command writes for the same inputs and seed; every request the page makes
is intercepted and anything not addressed to 127.0.0.1 is refused and reported. The newer inputs
have their own: the biomarker rule's cut-off and marker (power equal to the CLI's; a bad cut-off
refused by its field), and, marked slow, reloading a saved design.toml (with bad uploads refused
by their field) and the confirmatory mode (power, stopping per look and sizes equal to `mndtrial
power --confirmatory`). Screenshots are kept under test-artifacts/explore/.

Skipped, with the reason, where Playwright, Shiny or Chromium is absent (`.ci/run` installs
Debian's `chromium` when it can).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
from typer.testing import CliRunner

from mndtrial.cli import app as cli_app

pytest.importorskip("shiny", reason="the explorer needs Shiny: pip install 'mndtrial[explore]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need Playwright (the [test] extra)")

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "explore"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 90_000


def _chromium() -> str | None:
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mndtrial", "explore", "--port", str(port), "--workers", "1",
                             "--first-trials", "32", "--design", "exponential"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=_env(), cwd=ROOT)
    line, deadline = "", time.monotonic() + 120
    while "open http" not in line and time.monotonic() < deadline and proc.poll() is None:
        line = proc.stdout.readline()
    url = re.search(r"http://127\.0\.0\.1:\d+/", line)
    assert url, f"no URL printed; exit {proc.poll()}: {line}"
    workers = _children(proc.pid)  # the app's worker pool, started before the URL is printed
    assert len(workers) == 1 or not Path("/proc/self/stat").exists(), workers
    yield url.group(0)
    proc.send_signal(signal.SIGINT)  # Ctrl-C: the server stops within seconds, with the usual message
    try:
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "interrupted (SIGINT)" in out, (proc.returncode, out[-2000:])
    deadline = time.monotonic() + 5
    while _children_alive(workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _children_alive(workers), "the app's worker processes outlived it"


def _children(pid: int) -> list[int]:
    """Live child processes of `pid` (Linux /proc; none found elsewhere)."""
    kids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(entry.name))
    return kids


def _children_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z":
                alive.append(pid)
        except (OSError, IndexError):
            continue
    return alive


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    path = _chromium()
    if path is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does it when it can)")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(str(tmp_path_factory.mktemp("chromium-profile")),
                                                        executable_path=path, headless=True, args=FLAGS,
                                                        viewport={"width": 1400, "height": 1500})
        outside: list[str] = []
        seen: list[str] = []

        def route(r):
            url = r.request.url
            seen.append(url)
            host = urlsplit(url).hostname
            if url.startswith(("data:", "blob:")) or host == "127.0.0.1":
                r.continue_()
            else:
                outside.append(url)
                r.abort()

        context.route("**/*", route)
        context.outside, context.seen = outside, seen
        yield context
        context.close()


def _exponential_page(browser, url: str):
    """A fresh page on the explorer (started on the exponential family: the fastest to simulate)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page()
    page.goto(url)
    page.wait_for_selector("#run-state", timeout=WAIT_MS)
    assert page.input_value("#family") == "exponential" and page.input_value("#hr_low") == "0.7"
    return page


def _wait_done(page, trials: int) -> None:
    page.wait_for_selector(f'#run-state[data-state="done"][data-done="{trials}"]', timeout=WAIT_MS)


def _set(page, field: str, value) -> None:
    page.fill(f"#{field}", str(value))
    page.dispatch_event(f"#{field}", "change")


def _assert_nothing_requested_outside(browser) -> None:
    """Every request of every page so far went to 127.0.0.1 (the route refused any other)."""
    assert any("/lib/" in u for u in browser.seen), "Shiny's own JS/CSS were not seen: nothing was intercepted?"
    assert not browser.outside, f"the page asked for outside resources: {browser.outside}"


def _shown_table(page) -> pd.DataFrame:
    rows = page.eval_on_selector_all("#table table tbody tr",
                                     "rs => rs.map(r => [...r.querySelectorAll('td')].map(c => c.innerText))")
    header = page.eval_on_selector_all("#table table thead th", "hs => hs.map(h => h.innerText)")
    return pd.DataFrame(rows, columns=header)


def test_changing_an_input_updates_the_figure_and_table_with_the_cli_numbers(server, browser, tmp_path):
    page = _exponential_page(browser, server)
    for field, value in (("n_min", 100), ("n_max", 200), ("n_step", 100), ("n_trials", 64), ("seed", 7)):
        _set(page, field, value)
    page.wait_for_selector("#command:has-text('--n-trials 64')", timeout=WAIT_MS)
    _wait_done(page, 64)
    page.wait_for_selector("#curve img", timeout=WAIT_MS)
    before = page.get_attribute("#curve img", "src")
    page.screenshot(path=str(ARTIFACTS / "explore-before.png"), full_page=True)

    _set(page, "hr_low", 0.55)  # the input change under test
    page.wait_for_selector("#command:has-text('--hazard-ratio 0.55')", timeout=WAIT_MS)
    _wait_done(page, 64)
    page.wait_for_function("src => document.querySelector('#curve img').src !== src", arg=before, timeout=WAIT_MS)
    page.screenshot(path=str(ARTIFACTS / "explore-after.png"), full_page=True)
    shown = _shown_table(page)
    command = page.inner_text("#command").strip()
    assert len(shown) == 4 and set(shown["strategy"]) == {"all-comers", "enriched"}
    assert "Sample size for 80% power" in page.inner_text("#sample-size-text")

    args = shlex.split(command)
    assert args[:2] == ["mndtrial", "power"]
    args[args.index("--out") + 1] = str(tmp_path / "cli")
    done = CliRunner().invoke(cli_app, args[1:])  # the `mndtrial` command itself, in this process
    assert done.exit_code == 0, done.output[-2000:]
    cli = pd.read_csv(tmp_path / "cli" / "power.csv")
    assert len(cli) == len(shown)
    for (_, ours), (_, theirs) in zip(shown.iterrows(), cli.iterrows()):
        assert (ours["strategy"], int(ours["n"])) == (theirs["strategy"], int(theirs["n"]))
        assert ours["power"] == f"{theirs['power']:.4f}"
        assert ours["events"] == f"{theirs['events_mean']:.1f}"
        assert ours["screened"] == f"{theirs['n_screened_mean']:.1f}"
    assert any(float(p) > 0 for p in shown["power"])

    # the exports, as the browser downloads them
    saved = {}
    for button, name in (("download_design", "design.toml"), ("download_power_html", "power.html")):
        with page.expect_download() as download:
            page.click(f"#{button}")
        saved[name] = tmp_path / name
        download.value.save_as(saved[name])
    assert tomllib.loads(saved["design.toml"].read_text())["explore"]["command"] == command
    report = saved["power.html"].read_text()
    assert "<img" in report and "--hazard-ratio 0.55" in report

    _assert_nothing_requested_outside(browser)


def test_bad_input_gets_a_message_by_its_field_and_the_app_stays_usable(server, browser):
    page = _exponential_page(browser, server)
    for field, value in (("n_min", 100), ("n_max", 100), ("n_trials", 32)):
        _set(page, field, value)
    _wait_done(page, 32)

    bad = {"n_min": "-10", "alpha": "1.5", "cutoff": ""}
    for field, value in bad.items():
        _set(page, field, value)
    for field in bad:
        page.wait_for_selector(f'#err_{field} [data-field="{field}"]', timeout=WAIT_MS)
        # the message sits right under its own input
        assert page.evaluate(f"document.querySelector('#err_{field}').previousElementSibling"
                             f".querySelector('#{field}') !== null")
    messages = {f: page.inner_text(f"#err_{f}") for f in bad}
    assert "whole number" in messages["n_min"] and "(0, 1)" in messages["alpha"] and "required" in messages["cutoff"]
    page.screenshot(path=str(ARTIFACTS / "explore-bad-input.png"), full_page=True)
    body = page.inner_text("body")
    assert "Traceback" not in body and page.locator(".shiny-output-error").count() == 0

    for field, value in (("n_min", 100), ("alpha", 0.05), ("cutoff", 3000)):
        _set(page, field, value)
    page.wait_for_selector("#command:has-text('--alpha 0.05')", timeout=WAIT_MS)
    _wait_done(page, 32)
    assert page.locator(".field-error").count() == 0
    assert "biomarker_cutoff=3000" in page.inner_text("#command")
    _assert_nothing_requested_outside(browser)


def _under_its_field(page, field: str) -> str:
    """The message shown under `field` (it must sit right after the field's input)."""
    page.wait_for_selector(f'#err_{field} [data-field="{field}"]', timeout=WAIT_MS)
    assert page.evaluate(f"document.querySelector('#err_{field}').previousElementSibling"
                         f".querySelector('#{field}') !== null")
    return page.inner_text(f"#err_{field}")


def _run_cli(command: str, tmp_path: Path, monkeypatch, files: dict[str, Path] | None = None) -> Path:
    """Run the page's `mndtrial power ...` in tmp_path (where the exported files it names are)."""
    for name, path in (files or {}).items():
        shutil.copyfile(path, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    args = shlex.split(command)
    assert args[:2] == ["mndtrial", "power"]
    args[args.index("--out") + 1] = str(tmp_path / "cli")
    done = CliRunner().invoke(cli_app, args[1:])
    assert done.exit_code == 0, done.output[-2000:]
    return tmp_path / "cli"


def _download(page, button: str, path: Path) -> Path:
    with page.expect_download() as download:
        page.click(f"#{button}")
    download.value.save_as(path)
    return path


def test_the_cutoff_and_marker_update_power_with_the_cli_numbers_and_a_bad_cutoff_is_refused(
        server, browser, tmp_path, monkeypatch):
    page = _exponential_page(browser, server)
    page.select_option("#family", "mirocals")
    page.wait_for_function("document.querySelector('#hr_low').value === '0.52'", timeout=WAIT_MS)
    for field, value in (("n_min", 80), ("n_max", 80), ("n_trials", 32), ("seed", 4)):
        _set(page, field, value)
    page.wait_for_selector("#command:has-text('--design mirocals'):has-text('--n-trials 32 --seed 4')",
                           timeout=WAIT_MS)
    _wait_done(page, 32)
    before = _shown_table(page)

    for value, words in (("", "required"), ("-5", "> 0"), ("500", "must exceed 750")):
        _set(page, "cutoff", value)
        page.wait_for_function("w => (document.querySelector('#err_cutoff') || {}).innerText?.includes(w)",
                               arg=words, timeout=WAIT_MS)
        assert words in _under_its_field(page, "cutoff")
    page.screenshot(path=str(ARTIFACTS / "explore-bad-cutoff.png"), full_page=True)
    assert "Traceback" not in page.inner_text("body") and page.locator(".shiny-output-error").count() == 0

    _set(page, "cutoff", 2500)
    page.select_option("#marker", "serum_nfl")
    page.wait_for_selector("#command:has-text('--marker serum_nfl'):has-text('cutoff=2500.0')", timeout=WAIT_MS)
    _wait_done(page, 32)
    page.wait_for_selector("#cutoff-note", timeout=WAIT_MS)
    page.screenshot(path=str(ARTIFACTS / "explore-cutoff-serum-nfl.png"), full_page=True)
    shown = _shown_table(page)
    assert page.locator(".field-error").count() == 0
    enriched = lambda t: t[t["strategy"] == "enriched"]["screened"].iloc[0]  # noqa: E731
    assert enriched(shown) != enriched(before)  # a new rule screens a different number

    out = _run_cli(page.inner_text("#command").strip(), tmp_path, monkeypatch)
    cli = pd.read_csv(out / "power.csv")
    assert list(cli["strategy"]) == list(shown["strategy"])
    for (_, ours), (_, theirs) in zip(shown.iterrows(), cli.iterrows()):
        assert ours["power"] == f"{theirs['power']:.4f}" and ours["events"] == f"{theirs['events_mean']:.1f}"
        assert ours["screened"] == f"{theirs['n_screened_mean']:.1f}"
    level = re.search(r"serum NfL ≤ ([\d.]+) pg/mL", page.inner_text("#cutoff-note")).group(1)
    assert float(level) == pytest.approx(cli["marker_cutoff_pg_ml"].iloc[0], abs=0.051)
    _assert_nothing_requested_outside(browser)


@pytest.mark.slow  # a heavier browser run; the form round trip is also checked without a browser
def test_a_saved_design_reloads_into_the_form_and_bad_uploads_are_refused_by_their_field(server, browser, tmp_path):
    page = _exponential_page(browser, server)
    for field, value in (("n_min", 100), ("n_max", 100), ("n_trials", 32), ("seed", 5), ("hr_low", 0.6),
                         ("cutoff", 3000)):
        _set(page, field, value)
    page.wait_for_selector("#command:has-text('--hazard-ratio 0.6 '):has-text('biomarker_cutoff=3000')",
                           timeout=WAIT_MS)
    command = page.inner_text("#command").strip()
    saved = _download(page, "download_design", tmp_path / "design.toml")

    page.select_option("#family", "mirocals")  # a family switch resets the values: the reload must win
    page.wait_for_selector("#command:has-text('--design mirocals')", timeout=WAIT_MS)
    _set(page, "seed", 8)
    page.set_input_files("#design_upload", str(saved))
    page.wait_for_function("c => document.querySelector('#command').innerText.trim() === c", arg=command,
                           timeout=WAIT_MS)
    for field, value in (("family", "exponential"), ("hr_low", "0.6"), ("cutoff", "3000"), ("seed", "5"),
                         ("n_trials", "32")):
        assert page.input_value(f"#{field}") == value, field
    page.screenshot(path=str(ARTIFACTS / "explore-reloaded.png"), full_page=True)

    (tmp_path / "not-a-design.toml").write_text("[other]\nx = 1\n")
    page.set_input_files("#design_upload", str(tmp_path / "not-a-design.toml"))
    page.wait_for_selector('#err_design_upload [data-field="design_upload"]', timeout=WAIT_MS)
    assert "no [explore] table" in page.inner_text("#err_design_upload")

    page.select_option("#family", "file")
    (tmp_path / "params.toml").write_text("[cohort]\nage_mean_yeers = { value = 60.0, source = 'x' }\n")
    page.set_input_files("#parameters_upload", str(tmp_path / "params.toml"))
    page.wait_for_function("document.querySelector('#err_parameters_path').innerText.includes('age_mean_yeers')",
                           timeout=WAIT_MS)
    assert "params.toml" in _under_its_field(page, "parameters_path")
    page.screenshot(path=str(ARTIFACTS / "explore-bad-parameters-file.png"), full_page=True)
    assert "Traceback" not in page.inner_text("body")


@pytest.mark.slow  # patient-level confirmatory runs; checked without a browser in test_explore_inputs.py
def test_confirmatory_mode_shows_the_numbers_of_mndtrial_power_confirmatory(server, browser, tmp_path, monkeypatch):
    page = _exponential_page(browser, server)
    page.select_option("#mode", "confirmatory")
    page.fill("#cf_info_rates", "0.5, 1")
    page.dispatch_event("#cf_info_rates", "change")
    for field, value in (("hr_low", 0.6), ("hr_high", 1.0), ("dropout", 0.05), ("cf_n_max", 120), ("cf_events", 60),
                         ("cf_interim_events", 24), ("n_trials", 16), ("seed", 2)):
        _set(page, field, value)
    page.wait_for_selector("#command:has-text('--confirmatory confirmatory.toml --n-trials 16 --seed 2')",
                           timeout=WAIT_MS)
    _wait_done(page, 16)
    page.wait_for_selector("#looks table", timeout=WAIT_MS)
    page.screenshot(path=str(ARTIFACTS / "explore-confirmatory.png"), full_page=True)
    shown = _shown_table(page)
    looks = pd.DataFrame(page.eval_on_selector_all("#looks table tbody tr", "rs => rs.map(r => "
                                                   "[...r.querySelectorAll('td')].map(c => c.innerText))"),
                         columns=page.eval_on_selector_all("#looks table thead th", "hs => hs.map(h => h.innerText)"))
    assert page.locator("#selection table").count() == 1

    design = _download(page, "download_confirmatory", tmp_path / "exported.toml")
    out = _run_cli(page.inner_text("#command").strip(), tmp_path, monkeypatch, {"confirmatory.toml": design})
    cli, cli_looks = pd.read_csv(out / "power.csv"), pd.read_csv(out / "looks.csv")
    assert list(shown["strategy"]) == list(cli["strategy"]) == ["all-comers", "enriched", "adaptive-enrichment"]
    for (_, ours), (_, theirs) in zip(shown.iterrows(), cli.iterrows()):
        assert ours["power"] == f"{theirs['power']:.4f}"
        assert ours["events"] == f"{theirs['events_mean']:.1f}"
        assert ours["duration (days)"] == f"{theirs['duration_days_mean']:.1f}"
        assert ours["early efficacy"] == f"{theirs['stop_efficacy_early']:.4f}"
    assert len(looks) == len(cli_looks)
    for (_, ours), (_, theirs) in zip(looks.iterrows(), cli_looks.iterrows()):
        assert ours["P(stop, efficacy)"] == f"{theirs['p_efficacy']:.4f}"
        assert ours["P(stop, futility)"] == f"{theirs['p_futility']:.4f}"
    report = _download(page, "download_power_html", tmp_path / "power.html").read_text()
    assert "Stopping probability per look" in report and "--confirmatory confirmatory.toml" in report
    _assert_nothing_requested_outside(browser)
