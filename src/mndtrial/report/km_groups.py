"""Kaplan–Meier panels by subgroup for the trial report: which subgroups get a panel, and their titles.

A panel is titled with the marker and its unit ("CSF-pNfH ≤ 3700 pg/mL", `subgroup_title`).
Participants without a measurement (the "missing" level) and levels of fewer than
`MIN_KM_PANEL_N` participants get no panel; `km_left_out` says who they are, in a sentence under
the figure (their numbers stay in the subgroup tables).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..analysis.numbers import arm_labels
from ..data import Trial

__all__ = ["MARKER_NAMES", "MIN_KM_PANEL_N", "subgroup_title", "km_groups_from_assignments", "km_left_out"]

# how a biomarker is named on a figure, and its unit when the trial records none (analyte_units)
MARKER_NAMES = {"csf_pnfh": ("CSF-pNfH", "pg/mL"), "serum_nfl": ("Serum NfL", "pg/mL")}
# a subgroup with fewer participants gets no Kaplan–Meier panel (a flat line of 6 people says
# nothing); the report names it, and its numbers stay in the subgroup table
MIN_KM_PANEL_N = 10


def subgroup_title(variable: str, level: str, units: Mapping[str, str] | None = None) -> str:
    """A panel title that names the marker and its unit: 'CSF-pNfH ≤ 3700 pg/mL'.

    Example:
        >>> subgroup_title("csf_pnfh", "<= 3700"), subgroup_title("onset_site", "bulbar")
        ('CSF-pNfH ≤ 3700 pg/mL', 'onset_site: bulbar')
    """
    level = str(level).replace("<=", "≤").replace(">=", "≥")
    if variable not in MARKER_NAMES and variable not in (units or {}):
        return f"{variable}: {level}"
    name, unit = MARKER_NAMES.get(variable, (variable, ""))
    unit = (units or {}).get(variable) or unit
    return f"{name} {level}" + (f" {unit}" if unit else "")


def km_groups_from_assignments(trial: Trial, assignments: Iterable[Any], min_n: int = MIN_KM_PANEL_N
                               ) -> dict[str, dict[str, Trial]]:
    """Kaplan–Meier subgroups for the report from subgroup assignments: {rule: {panel title: Trial}}.

    Each assignment has `rule` (a label), `variable`, `levels` and `labels` (each participant's
    level, indexed by subject_id), as `BiomarkerRule.assign(trial)` returns. Panels are titled
    with the marker and its unit (`subgroup_title`). The 'missing' level (no measurement) and
    levels with fewer than `min_n` participants get no panel; `km_left_out` says which.
    """
    out: dict[str, dict[str, Trial]] = {}
    units = dict(trial.info.analyte_units)
    for a in assignments:
        groups = {}
        for level in a.levels:
            ids = a.labels.index[a.labels == level]
            if len(ids) >= min_n and level != "missing":
                groups[subgroup_title(getattr(a, "variable", a.rule), level, units)] = trial.select(ids)
        if groups:
            out[str(a.rule)] = groups
    return out


def km_left_out(trial: Trial, assignments: Iterable[Any], min_n: int = MIN_KM_PANEL_N) -> list[str]:
    """One sentence per subgroup that `km_groups_from_assignments` draws no panel for, e.g.
    '6 participants without a CSF-pNfH value (placebo 4, il2_2miu 2) have no Kaplan–Meier panel; ...'."""
    labels = arm_labels(trial.info)
    arm = trial.participants.set_index("subject_id")["arm"].astype(str)
    notes = []
    for a in assignments:
        variable = getattr(a, "variable", a.rule)
        name = MARKER_NAMES.get(variable, (variable, ""))[0]
        for level in a.levels:
            ids = a.labels.index[a.labels == level]
            if not len(ids) or (len(ids) >= min_n and level != "missing"):
                continue
            counts = arm.loc[ids].value_counts()
            by_arm = ", ".join(f"{labels.get(k, k)} {int(v)}" for k, v in counts.items() if v)
            if level == "missing":
                notes.append(f"{len(ids)} participants without a {name} value ({by_arm}) have no Kaplan–Meier "
                             "panel; their numbers are in the subgroup table.")
            else:
                title = subgroup_title(variable, level, dict(trial.info.analyte_units))
                notes.append(f"The subgroup {title} ({len(ids)} participants: {by_arm}; fewer than {min_n}) has no "
                             "Kaplan–Meier panel; its numbers are in the subgroup table.")
    return notes
