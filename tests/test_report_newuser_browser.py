"""report.html and power.html with the issue-20 fixes, rendered by headless Chromium.

The browser's DOM must hold the simulation-assumptions table (power page), the participant flow
with screening and the KM / forest / PH figures decoded to real images (report); screenshots of
both pages are kept in the test's tmp folder and copied to test-artifacts/ to be looked at.
Skips, saying so, where Chromium (Debian package `chromium`) is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
PROBE = ("<script>window.addEventListener('load',()=>{document.querySelectorAll('img').forEach(i=>{"
         "i.setAttribute('data-w',i.naturalWidth);i.setAttribute('data-h',i.naturalHeight);});"
         "document.body.setAttribute('data-loaded','yes');});</script>")


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); the pages were not rendered")
    return path


def _browser(chromium: str, args: list[str], tmp: Path, name: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp / ('profile-' + name)}", *args],
                          capture_output=True, timeout=180)


def _dom_and_screenshot(chromium: str, page: Path, tmp: Path, shot_name: str, height: int) -> tuple[str, Image.Image]:
    probe = tmp / f"probe-{page.name}"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _browser(chromium, ["--virtual-time-budget=15000", "--dump-dom", probe.as_uri()], tmp, "dom")
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
    shot = tmp / shot_name
    res = _browser(chromium, [f"--screenshot={shot}", f"--window-size=1400,{height}", page.as_uri()], tmp, "shot")
    assert res.returncode == 0 and shot.exists(), res.stderr.decode(errors="replace")[-2000:]
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / shot_name)
    return dom.stdout.decode("utf-8"), Image.open(shot).convert("RGB")


def _figures_decoded(dom: str) -> dict[str, tuple[int, int]]:
    """{figure name: (natural width, natural height)} as the browser decoded each embedded PNG."""
    import re

    out = {}
    for tag in re.findall(r"<figure[^>]*>\s*<img[^>]*>", dom):
        name = re.search(r'data-figure="([^"]+)"', tag).group(1)
        out[name] = (int(re.search(r'data-w="(\d+)"', tag).group(1)), int(re.search(r'data-h="(\d+)"', tag).group(1)))
    return out


def _not_blank(shot: Image.Image) -> float:
    a = np.asarray(shot.convert("L"), dtype=float)
    return float((a < 200).mean())


def test_power_page_shows_the_assumptions_in_chromium(chromium, tmp_path):
    from mndtrial.power import ExponentialFamily, design_points, power
    from mndtrial.report.power_html import write_power_outputs

    fam = ExponentialFamily().with_parameters(hazard_ratio=0.7)
    res = power(design_points(fam, [100, 160], ["all-comers", "enriched", "stratified"], slope=False),
                n_trials=16, seed=3, n_workers=1)
    paths = write_power_outputs(tmp_path / "out", res)
    dom, shot = _dom_and_screenshot(chromium, paths["report"], tmp_path, "power-assumptions-screenshot.png", 3200)
    assert 'data-loaded="yes"' in dom
    assert '<section id="assumptions"><h2>Simulation assumptions</h2>' in dom
    for assumption in ("control survival", "treatment effect by neurofilament group", "prevalence of low CSF-pNfH",
                       "accrual", "follow-up", "dropout", "primary test", "seed"):
        assert f">{assumption}</td>" in dom
    figures = _figures_decoded(dom)
    assert set(figures) == {"power_curves", "events_screening"} and min(min(v) for v in figures.values()) > 300
    # all-comers and stratified randomise the same people: their events and screening coincide, and say so
    from mndtrial.report import power_report

    needs = power_report(res).page.figures["events_screening"]
    legends = [t.get_text() for ax in needs.axes for t in ax.get_legend().get_texts()]
    assert "stratified (same as all-comers: the lines coincide)" in legends
    assert _not_blank(shot) > 0.02


def test_trial_report_figures_render_in_chromium(chromium, tmp_path):
    from mndtrial.analysis import AnalysisPlan, BiomarkerRule
    from mndtrial.report.analysis_report import analysis_report
    from mndtrial.sim import Enrichment, mirocals, simulate

    trial = simulate(mirocals(n_randomised=80, enrichment=Enrichment("csf_pnfh", 750, 3700)), n_trials=1,
                     seed=2).trial(0)
    plan = AnalysisPlan(biomarker_rules=(BiomarkerRule(biomarker="serum_nfl", cutoffs=(40.0,)),))
    report = analysis_report(trial, plan.run(trial))
    page = report.write(tmp_path / "out", write_figures=False)["report"]
    dom, shot = _dom_and_screenshot(chromium, page, tmp_path, "report-newuser-screenshot.png", 9000)
    text = " ".join(__import__("re").sub(r"<[^>]+>", " ", dom).split())
    assert f"Screened n = {trial.info.screening['screened']}" in text
    assert "IL-2 2 MIU" in text and "il2_2miu (n" not in text
    figures = _figures_decoded(dom)
    assert {"km_overall", "km_subgroups_1", "forest", "ph_check"} <= set(figures)
    assert all(w > 300 and h > 200 for w, h in figures.values())
    assert _not_blank(shot) > 0.02
