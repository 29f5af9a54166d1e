"""The report section of the joint model (results.json `joint`): two figures and the estimates table."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import pandas as pd

from .page import ReportPage, Section, absent_html, df_html, join

__all__ = ["joint_section"]

TITLE = "Function and survival together: joint model"


def joint_section(page: ReportPage, data: Mapping[str, Any], tables: Mapping[str, pd.DataFrame],
                  figure_or_note: Callable[..., str]) -> Section | None:
    """The joint-model section, or None when the plan did not run the joint model."""
    joint = data.get("joint")
    if not isinstance(joint, Mapping):
        return None
    section = Section("joint", TITLE)
    if "not_computed" in joint:
        section.absent = f"absent: joint model not computed: {joint['not_computed']}"
        return section
    overall = joint.get("overall") or {}
    if "not_computed" in overall:
        section.absent = f"absent: joint model not computed: {overall['not_computed']}"
        return section
    from .figures_joint import joint_alsfrs_figure, joint_survival_figure

    curves = overall.get("curves") or {}
    control = overall.get("control_arm")
    association = overall.get("association")
    parts = [f'<p class="note">Shared-parameter model (docs/joint.md): a linear mixed model of the ALSFRS-R total '
             f'and a proportional-hazards model of death linked through the true current ALSFRS-R trajectory '
             f'(association: {association or "value"}). The slope difference accounts for the deaths that cut '
             f'follow-up short; the direct HR is the effect on the hazard at the same trajectory.</p>']
    if curves:
        parts.append(figure_or_note(page, "joint_alsfrs", lambda: joint_alsfrs_figure(curves, control),
                                    "Observed and fitted mean ALSFRS-R by arm",
                                    "Markers: observed mean ALSFRS-R of those measured at each visit day (larger "
                                    "markers: more of them later died). Lines: the joint model's population mean."))
        parts.append(figure_or_note(page, "joint_survival", lambda: joint_survival_figure(curves, control),
                                    "Joint-model survival against Kaplan–Meier",
                                    "Dashed: survival predicted by the joint model, averaged over participants and "
                                    "random effects; steps: Kaplan–Meier."))
    else:
        parts.append(absent_html("no fitted curves in results.json"))
    parts += [df_html(df, caption=title) for title, df in tables.items() if title.split(":", 1)[0].strip() == "joint"]
    section.body = join(parts)
    return section
