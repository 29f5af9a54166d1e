from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _find_reference() -> Path | None:
    # CI lays shared/ beside the clone; worktrees may sit one level deeper.
    for base in [ROOT, *ROOT.parents]:
        candidate = base / "shared" / "reference"
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    ref = _find_reference()
    if ref is None:
        pytest.fail("../shared/reference not found beside the checkout")
    return ref


@pytest.fixture
def example_trial():
    from mndtrial.data.example import example_trial as make

    return make()
