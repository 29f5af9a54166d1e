"""report.html and power.html rendered by headless Chromium: every figure is decoded by the browser
to a non-blank image, the page paints, and a screenshot is kept under test-artifacts/.

Chromium (Debian package `chromium`) is installed by the fixture when missing (as root with
apt-get, under a lock so parallel workers install once, with a timeout); the tests skip with the
reason only if it cannot be installed.
"""

from __future__ import annotations

import base64
import fcntl
import io
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mndtrial import Trial
from mndtrial.analysis import AnalysisPlan, BiomarkerRule
from mndtrial.report import collect_provenance, power_report, trial_report
from mndtrial.report.analysis_report import analysis_report

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
INSTALL_TIMEOUT_S = 900
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--run-all-compositor-stages-before-draw"]
# Appended to a copy of the page (the report itself has no script): after load, write what the
# browser decoded for each image into the DOM that --dump-dom prints.
PROBE = ("<script>window.addEventListener('load',()=>{document.querySelectorAll('img').forEach(i=>{"
         "i.setAttribute('data-natural-width',i.naturalWidth);i.setAttribute('data-natural-height',"
         "i.naturalHeight);i.setAttribute('data-complete',i.complete);});"
         "document.body.setAttribute('data-loaded','yes');});</script>")


def _find_chromium() -> str | None:
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)


def _install_chromium() -> str:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "chromium is not installed and cannot be installed here (needs root and apt-get)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, capture_output=True,
                       timeout=INSTALL_TIMEOUT_S)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, check=True, capture_output=True,
                       timeout=INSTALL_TIMEOUT_S)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        out = getattr(exc, "stderr", b"") or b""
        return f"apt-get install chromium failed: {exc}; {out.decode(errors='replace')[-300:]}"
    return ""


@pytest.fixture(scope="session")
def chromium(tmp_path_factory) -> str:
    path = _find_chromium()
    if path:
        return path
    lock_path = Path(os.environ.get("TMPDIR", "/tmp")) / "mndtrial-chromium-install.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one xdist worker installs, the others wait
        path = _find_chromium()
        if path is None:
            reason = _install_chromium()
            path = _find_chromium()
            if path is None:
                pytest.skip(reason or "chromium not found after installing it")
    return path


def _run(chromium: str, args: list[str], profile: Path) -> subprocess.CompletedProcess:
    profile.mkdir(parents=True, exist_ok=True)
    return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          timeout=180)


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.sections: list[str] = []
        self.body: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.images.append(a)
        elif tag == "section":
            self.sections.append(a.get("id", ""))
        elif tag == "body":
            self.body = a


def _render(chromium: str, page: Path, tmp_path: Path, shot_name: str, height: int) -> tuple[_Images, Image.Image]:
    probe = tmp_path / f"probe-{page.name}"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _run(chromium, ["--virtual-time-budget=15000", "--dump-dom", probe.as_uri()], tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
    parsed = _Images()
    parsed.feed(dom.stdout.decode("utf-8"))
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / shot_name
    res = _run(chromium, [f"--screenshot={shot}", f"--window-size=1280,{height}", page.as_uri()],
               tmp_path / "profile-shot")
    assert res.returncode == 0 and shot.exists(), res.stderr.decode(errors="replace")[-2000:]
    return parsed, Image.open(shot).convert("RGB")


def _check_images(parsed: _Images, expected: int) -> None:
    assert parsed.body.get("data-loaded") == "yes"
    assert len(parsed.images) == expected
    for img in parsed.images:
        # the browser decoded it to a real size...
        assert img["data-complete"] == "true" and int(img["data-natural-width"]) > 300
        assert int(img["data-natural-height"]) > 200
        # ...and the picture is not blank
        data = base64.b64decode(img["src"].split(",", 1)[1])
        pixels = np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=float)
        assert (pixels < 200).mean() > 0.01, img.get("alt")


def _painted(shot: Image.Image) -> float:
    a = np.asarray(shot, dtype=float)
    return float((a.std(axis=2) + (255 - a.mean(axis=2)) > 30).mean())


def test_report_renders_in_chromium_with_every_figure(chromium, tmp_path, example_trial):
    plan = AnalysisPlan(biomarker_rules=(BiomarkerRule(biomarker="csf_pnfh", cutoffs=(3700.0,)),))
    rep = analysis_report(example_trial, plan.run(example_trial),
                          provenance=collect_provenance(seed=1, command=["mndtrial", "analyze"]))
    assert len(rep.figures) == 6  # KM, KM by subgroup, forest, PH, ALSFRS-R, Treg
    page = rep.write(tmp_path / "out")["report"]
    parsed, shot = _render(chromium, page, tmp_path, "report-screenshot.png", 9000)
    _check_images(parsed, len(rep.figures))
    assert {"flow", "km", "km_subgroups", "cox", "forest", "ph", "alsfrs", "cafs", "treg",
            "provenance"} <= set(parsed.sections)
    assert shot.size == (1280, 9000)
    assert _painted(shot) > 0.05


def test_report_without_alsfrs_or_biomarker_renders_in_chromium(chromium, tmp_path, example_trial):
    t = Trial(example_trial.participants.drop(columns=["csf_pnfh"]), example_trial.survival, info=example_trial.info)
    rep = trial_report(t)
    page = rep.write(tmp_path / "out")["report"]
    parsed, shot = _render(chromium, page, tmp_path, "report-absent-screenshot.png", 3000)
    _check_images(parsed, len(rep.figures))
    dom = _run(chromium, ["--dump-dom", page.as_uri()], tmp_path / "profile-text").stdout.decode("utf-8")
    assert "absent: no ALSFRS-R table in this trial" in dom
    assert "absent: no biomarker" in dom
    assert _painted(shot) > 0.02


def test_power_report_renders_in_chromium(chromium, tmp_path):
    table = pd.DataFrame({"design": ["all-comers"] * 3 + ["enriched"] * 3, "n": [200, 400, 600] * 2,
                          "power": [0.31, 0.55, 0.7, 0.52, 0.83, 0.95], "mcse": [0.02] * 6,
                          "events": [70, 140, 210, 60, 120, 180], "screened": [200, 400, 600, 290, 580, 870]})
    page = power_report(table).write(tmp_path / "out")["report"]
    parsed, shot = _render(chromium, page, tmp_path, "power-screenshot.png", 2500)
    _check_images(parsed, 2)
    assert _painted(shot) > 0.05
