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


def with_tracheostomies(trial, n: int):
    """The trial with its first `n` events relabelled `tracheostomy` (still events), and their rows."""
    from mndtrial.data import Trial

    t = trial.tables()
    surv = t["survival"].copy()
    rows = surv.index[surv.event == 1][:n]
    surv.loc[rows, "event_type"] = "tracheostomy"
    return Trial(t["participants"], surv, t["alsfrs"], t["biomarkers"], info=trial.info), rows
