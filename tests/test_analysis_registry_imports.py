"""Each module that registers a built-in section can be the first one imported (no circular import)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mndtrial.analysis.registry import BUILTIN_SECTION_MODULES, registered_sections

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.mark.parametrize("module", BUILTIN_SECTION_MODULES)
def test_a_section_module_imported_first_registers_every_builtin_section(module):
    script = (f"import mndtrial.analysis.{module}\n"
              "from mndtrial.analysis.registry import registered_sections\n"
              "print(','.join(registered_sections()))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(SRC)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().split(",") == list(registered_sections())
