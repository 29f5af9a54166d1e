"""What a plan run shares between its sections gives the results of computing everything afresh.

`AnalysisPlan.run` runs its sections inside `frames_reused()`: subgroup assignments and subgroup
Cox fits made by one section are read again by the next (`frame.reused`), and a section that
compares the plan's `[arms]` works on the trial itself when selecting those arms would keep every
participant (`outcome_sections.compared_trial`). The reference is the run without either: every
section computing its own, on its own selected trial.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

import mndtrial.analysis.outcome_sections as outcome_sections
import mndtrial.analysis.plan as plan_module
from mndtrial.analysis import AnalysisPlan
from mndtrial.analysis.frame import frames_reused, reused

PLAN = Path(__file__).resolve().parents[1] / "docs" / "examples" / "analysis-plan.toml"


@pytest.fixture(scope="module")
def plan():
    return AnalysisPlan.from_toml(PLAN)


def test_shared_results_equal_the_results_computed_afresh(example_trial, plan, monkeypatch):
    shared = plan.run(example_trial).sections
    monkeypatch.setattr(plan_module, "frames_reused", contextlib.nullcontext)
    monkeypatch.setattr(outcome_sections, "_select_keeps_all", lambda *a: False)
    afresh = plan.run(example_trial).sections
    assert shared == afresh
    assert shared["subgroups"] and shared["interaction"]["by_subgroup"] and shared["function"]["subgroups"]


def test_the_compared_trial_is_the_trial_only_where_selecting_keeps_it(example_trial, plan):
    assert outcome_sections.compared_trial(example_trial, plan, "x") is example_trial
    other_control = [a for a in example_trial.info.arm_names if a != example_trial.info.control_arm][0]
    assert not outcome_sections._select_keeps_all(example_trial, True, other_control)
    assert not outcome_sections._select_keeps_all(example_trial, False, example_trial.info.control_arm)


def test_reused_computes_once_inside_and_every_time_outside():
    calls = []

    def compute():
        calls.append(1)
        return object()

    assert reused(("k",), compute) is not reused(("k",), compute)
    with frames_reused():
        assert reused(("k",), compute) is reused(("k",), compute)
        with pytest.raises(ZeroDivisionError):
            reused(("failing",), lambda: 1 / 0)
        assert reused(("failing",), lambda: "computed again") == "computed again"  # a failure is not kept
    assert len(calls) == 3
