"""The import log: everything in a PRO-ACT export that could not be mapped as-is.

Each entry names a reason (from `REASONS`), the PRO-ACT form it came from, what the importer did
about it (`action`), how many rows or subjects it concerned, and a few example subject ids. The log
is written to `import-log.json` beside the imported trial and printed as a summary, so nothing is
dropped, replaced or derived silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["REASONS", "ImportLog", "LogEntry"]

EXAMPLES_KEPT = 5

# reason -> (action taken, what it means). docs/proact.md lists the same table.
REASONS: dict[str, tuple[str, str]] = {
    # participants
    "no_treatment_row": ("participant excluded", "subject appears in the export but has no row in the treatment form, so no randomised arm"),
    "arm_unmapped": ("participant excluded", "Study_Arm is neither 'Active' nor 'Placebo'"),
    "arm_conflict": ("participant excluded", "the subject's treatment rows name different arms"),
    "death_day_missing": ("participant excluded", "Subject_Died is 'Yes' but no Death_Days is recorded, so the death cannot be timed"),
    "death_before_baseline": ("participant excluded", "Death_Days is negative (death before trial baseline)"),
    "rows_of_excluded_subjects": ("rows dropped", "rows of a form belonging to subjects excluded above"),
    "age_from_date_of_birth": ("value derived", "Age missing; age = -Date_of_Birth / 365.25 (Date_of_Birth is days from baseline)"),
    "age_out_of_range": ("value left missing", "age outside 0-120 years"),
    "sex_unmapped": ("value left missing", "Sex is neither 'Male' nor 'Female' (M/F accepted too)"),
    "onset_site_unmapped": ("value left missing", "Site_of_Onset is not bulbar, limb or limb and bulbar (e.g. 'Onset: Other')"),
    "onset_site_spine_as_limb": ("value derived", "'Onset: Spine' (spinal onset) mapped to limb"),
    "onset_delta_after_baseline": ("value left missing", "Onset_Delta > 0 (onset after baseline); symptom duration and delta_fs left missing"),
    "delta_fs_zero_duration": ("value left missing", "onset on the baseline visit day; delta_fs would divide by zero"),
    "no_baseline_alsfrs_r": ("value left missing", "no ALSFRS-R visit in the baseline window; alsfrs_r_baseline and delta_fs left missing"),
    "riluzole_unmapped": ("value left missing", "Subject_used_Riluzole is neither 'Yes' nor 'No'"),
    "conflicting_values": ("value left missing", "the subject's rows disagree on a one-per-subject value (see detail for the column)"),
    # survival
    "duplicate_death_rows": ("rows collapsed", "identical death rows for one subject"),
    "death_rows_conflict": ("rule applied", "death rows disagree; a recorded death wins over 'No', the earliest Death_Days over later ones"),
    "death_days_when_alive": ("value ignored", "Subject_Died is 'No' but Death_Days is filled; the day is not used"),
    "subject_died_unmapped": ("value ignored", "Subject_Died is neither 'Yes' nor 'No'; treated as no death record"),
    "censored_at_last_contact": ("value derived", "no recorded death: censored at the last assessment day (ALSFRS, FVC, SVC, vital signs, labs)"),
    "no_follow_up": ("value derived", "no death and no assessment on or after day 0: censored at day 0"),
    # ALSFRS
    "missing_day": ("rows dropped", "the row's *_Delta day is missing"),
    "before_screening_window": ("rows dropped", "the row's *_Delta day is more than 365 days before baseline, "
                                                "outside the data model's screening window (SCREENING_WINDOW_DAYS)"),
    "non_numeric_value": ("value left missing", "text where a number is expected (see detail for the column)"),
    "alsfrs_original_scale": ("rows moved", "original ALSFRS (0-40, Q10_Respiratory) without ALSFRS-R: written to alsfrs_original.csv, not to the ALSFRS-R table"),
    "alsfrs_r_total_from_items": ("value derived", "ALSFRS_R_Total missing: total = sum of the 12 ALSFRS-R items"),
    "alsfrs_r_incomplete": ("rows dropped", "no ALSFRS-R total and incomplete ALSFRS-R items (and no original ALSFRS either)"),
    "alsfrs_r_total_items_mismatch": ("items left missing", "ALSFRS_R_Total differs from the sum of the items: the recorded total is kept, the items are not"),
    "alsfrs_q5_both": ("value left missing", "Q5a (without gastrostomy) and Q5b (with gastrostomy) both filled with different scores"),
    "alsfrs_out_of_range": ("value left missing", "item outside 0-4 or total outside 0-48 (ALSFRS-R) / 0-40 (ALSFRS)"),
    "duplicate_visit": ("rows collapsed", "identical rows for the same subject and day"),
    "conflicting_visit": ("rows dropped", "several rows with different values for the same subject and day"),
    "alsfrs_after_death": ("rows dropped", "ALSFRS-R visit after the recorded day of death"),
    # labs
    "lab_result_not_numeric": ("rows dropped", "Test_Result is text that is not a number (e.g. '<5', 'NEG')"),
    "lab_unit_unexpected": ("rows dropped", "Test_Unit is not the unit expected for the analyte; not converted"),
    "lab_test_not_imported": ("rows not imported", "lab test not in the imported lab-test map (see detail for the names)"),
    # files
    "form_not_imported": ("file not imported", "a recognised PRO-ACT form the data model has no table for"),
    "file_not_recognised": ("file ignored", "a CSV in the folder that is not a known PRO-ACT form"),
    "missing_form": ("note", "an optional PRO-ACT form is not in the folder"),
    "file_not_utf8": ("note", "the file is not UTF-8 and was read as Latin-1"),
}


@dataclass
class LogEntry:
    reason: str
    form: str
    unit: str  # "rows" or "subjects"
    count: int
    examples: list[str] = field(default_factory=list)
    detail: str | None = None

    @property
    def action(self) -> str:
        return REASONS[self.reason][0]

    def to_dict(self) -> dict:
        return {"reason": self.reason, "form": self.form, "action": self.action, "unit": self.unit,
                "count": self.count, "example_subject_ids": list(self.examples), "detail": self.detail,
                "meaning": REASONS[self.reason][1]}


class ImportLog:
    """Counts per (reason, form, detail) with example subject ids; entries with the same key add up.

    Example:
        >>> log = ImportLog()
        >>> log.add("no_treatment_row", "treatment", ["17", "23"])
        >>> log.count("no_treatment_row")
        2
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str | None], LogEntry] = {}
        self.info: dict[str, object] = {}

    def add(self, reason: str, form: str, subject_ids: Iterable, *, unit: str = "subjects",
            count: int | None = None, detail: str | None = None) -> None:
        if reason not in REASONS:
            raise KeyError(f"unknown import-log reason {reason!r}")
        ids = [str(s) for s in (subject_ids.tolist() if isinstance(subject_ids, np.ndarray) else list(subject_ids))]
        n = len(ids) if count is None else int(count)
        if n == 0:
            return
        key = (reason, form, detail)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = LogEntry(reason, form, unit, 0, [], detail)
        entry.count += n
        for sid in dict.fromkeys(ids):
            if len(entry.examples) >= EXAMPLES_KEPT:
                break
            if sid not in entry.examples:
                entry.examples.append(sid)

    def entries(self, reason: str | None = None) -> list[LogEntry]:
        return [e for e in self._entries.values() if reason is None or e.reason == reason]

    def count(self, reason: str, form: str | None = None) -> int:
        return sum(e.count for e in self.entries(reason) if form is None or e.form == form)

    def subjects(self, reason: str) -> set[str]:
        """Example ids logged for a reason (at most EXAMPLES_KEPT per entry)."""
        return {s for e in self.entries(reason) for s in e.examples}

    def to_dict(self) -> dict:
        return {**self.info, "reasons": [e.to_dict() for e in self._entries.values()]}

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, default=_json_default) + "\n")
        return path

    def summary_text(self) -> str:
        lines = [f"{'form':<14} {'reason':<32} {'count':>8} {'unit':<9} action"]
        for e in sorted(self._entries.values(), key=lambda e: (e.form, e.reason, e.detail or "")):
            reason = e.reason if e.detail is None else f"{e.reason} [{e.detail}]"
            lines.append(f"{e.form:<14} {reason:<32} {e.count:>8} {e.unit:<9} {e.action}")
        return "\n".join(lines)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
