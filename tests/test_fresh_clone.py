"""A clone in any folder passes its tests: nothing is read from beside the checkout.

The checkout's files (tracked, plus new ones git does not ignore) are copied into an empty
temporary folder, and the reference-data tests run there, against the copy's own `src` and
`tests/reference`. Were a test or the code to read the project's shared folder (or anything else beside the
checkout), it would find nothing there and fail. `.ci/run` goes further: it runs the whole suite
from a `git clone` in an empty temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from checkout import ROOT, checkout_files, copy_checkout

# Tests that read stored reference data (tests/reference/), run from the copy.
REFERENCE_TESTS = (
    "tests/test_function.py::test_sleepstudy_matches_lme4",
    "tests/test_power.py::test_schoenfeld_closed_form_matches_reference",
    "tests/test_follow_up.py::test_reverse_km_median_matches_r_survfit",
    "tests/test_splines.py::test_default_knots_and_basis_equal_r_ns_df",
)
# Spelled in pieces so that this file does not match itself.
OUTSIDE_PATHS = re.compile("|".join([re.escape("..") + "/shared", "shared" + "/reference", "/work" + "/"]))


def test_reference_tests_pass_from_a_copy_in_an_empty_folder():
    empty = Path(tempfile.mkdtemp(prefix="mndtrial-fresh-"))
    try:
        copy = copy_checkout(empty / "mndtrial")
        assert sorted(p.name for p in empty.iterdir()) == ["mndtrial"]  # nothing beside the checkout
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONPATH"] = str(copy / "src")  # the copy's code, not the installed one
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              *REFERENCE_TESTS], cwd=copy, env=env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        assert f"{len(REFERENCE_TESTS)} passed" in run.stdout
        # and the code the copy ran was the copy's own
        where = subprocess.run([sys.executable, "-c", "import mndtrial; print(mndtrial.__file__)"], cwd=copy,
                               env=env, capture_output=True, text=True, check=True).stdout.strip()
        assert Path(where).resolve().is_relative_to(copy.resolve())
    finally:
        shutil.rmtree(empty, ignore_errors=True)


def test_no_file_names_a_path_beside_the_checkout():
    text_suffixes = {".py", ".md", ".toml", ".cfg", ".txt", ".R", ".sh", ".yml", ".yaml", ""}
    hits = []
    for rel in checkout_files():
        if Path(rel).suffix not in text_suffixes or rel == "tests/reference/reference.Rout":
            continue
        for n, line in enumerate((ROOT / rel).read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE_PATHS.search(line):
                hits.append(f"{rel}:{n}: {line.strip()}")
    assert not hits, "paths outside the checkout:\n" + "\n".join(hits)


def test_evidence_citations_resolve_in_the_repository():
    """Every 'E:Lnn' the simulator's parameters cite is a non-blank line of docs/evidence/mnd-evidence.md."""
    evidence = (ROOT / "docs" / "evidence" / "mnd-evidence.md").read_text(encoding="utf-8").splitlines()
    params = (ROOT / "src" / "mndtrial" / "sim" / "parameters.toml").read_text(encoding="utf-8")
    cited = {int(n) for a, b in re.findall(r"E:L(\d+)(?:-(\d+))?", params) for n in (a, b) if n}
    assert cited, "parameters.toml cites no evidence line"
    blank = sorted(n for n in cited if n > len(evidence) or not evidence[n - 1].strip())
    assert not blank, f"E:L citations pointing at no text: {blank}"
