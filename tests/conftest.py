from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# The default suite draws the same Hypothesis examples on every run (a failure is a change in the
# code, not the luck of a draw, and CI's verdict repeats); MNDTRIAL_HYPOTHESIS=explore draws anew
# each run, to search further by hand (CONTRIBUTING.md).
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore")
settings.load_profile(os.environ.get("MNDTRIAL_HYPOTHESIS", "repeatable"))

ROOT = Path(__file__).resolve().parents[1]

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """tests/reference/: reference values stored in the repository (its README names their source)."""
    return REFERENCE_DIR


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
