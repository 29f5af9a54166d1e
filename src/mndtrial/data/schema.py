"""The trial data model, declared once as data.

Each table is a list of `Column` specs. Validation (`validate.py`), the readers (`io.py`) and the
documentation (`docs/data-model.md`) all read these specs, so a column is described in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["id", "text", "float", "int", "bool", "category"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    description: str
    required: bool = False
    nullable: bool = True
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    allowed: tuple[str, ...] | None = None
    integer_valued: bool = False  # float column whose values must be whole numbers


ALSFRS_ITEMS = tuple(f"q{i}" for i in range(1, 13))

PARTICIPANTS: tuple[Column, ...] = (
    Column("subject_id", "id", "Participant identifier (text), unique.", required=True, nullable=False),
    Column("arm", "text", "Randomised arm; must be one of the arms in TrialInfo.", required=True, nullable=False),
    Column("age", "float", "Age at randomisation.", unit="years", minimum=0, maximum=120),
    Column("sex", "category", "Sex.", allowed=("M", "F")),
    Column("onset_site", "category", "Site of onset.", allowed=("limb", "bulbar", "limb_and_bulbar")),
    Column("symptom_duration_months", "float", "Months from symptom onset to randomisation.", unit="months", minimum=0),
    Column("alsfrs_r_baseline", "float", "ALSFRS-R total at baseline (0-48).", unit="points", minimum=0, maximum=48),
    Column("delta_fs", "float", "Pre-baseline progression rate (48 - ALSFRS-R) / months since onset.", unit="points/month", minimum=0),
    Column("riluzole", "bool", "Taking riluzole at randomisation."),
    Column("country", "text", "Country (a randomisation stratum in MIROCALS)."),
    Column("csf_pnfh", "float", "Baseline CSF phosphorylated neurofilament heavy chain.", unit="pg/mL", minimum=0),
    Column("serum_nfl", "float", "Baseline serum neurofilament light chain.", unit="pg/mL", minimum=0),
    Column("entry_day", "float", "Calendar day of randomisation, counted from a fixed study origin (e.g. the "
           "first randomisation); needed only for calendar-time data cuts (`mndtrial cut`).", unit="days"),
)

SURVIVAL: tuple[Column, ...] = (
    Column("subject_id", "id", "Participant identifier; one row per randomised participant.", required=True, nullable=False),
    Column("time_days", "float", "Days from randomisation to the event or censoring.", required=True, nullable=False, unit="days", minimum=0),
    Column("event", "int", "1 = event of the endpoint (death), 0 = censored.", required=True, nullable=False, allowed=("0", "1")),
    Column("event_type", "text", "What the event was (e.g. death, tracheostomy, censored)."),
)

ALSFRS: tuple[Column, ...] = (
    Column("subject_id", "id", "Participant identifier.", required=True, nullable=False),
    Column("day", "float", "Visit day counted from randomisation (day 0); screening visits may be negative.", required=True, nullable=False, unit="days"),
    Column("total", "float", "ALSFRS-R total score (0-48); half points occur in some sources.", required=True, nullable=False, unit="points", minimum=0, maximum=48),
) + tuple(
    Column(q, "float", f"ALSFRS-R item {q[1:]} (0-4).", unit="points", minimum=0, maximum=4) for q in ALSFRS_ITEMS
)

BIOMARKERS: tuple[Column, ...] = (
    Column("subject_id", "id", "Participant identifier.", required=True, nullable=False),
    Column("day", "float", "Sampling day counted from randomisation.", required=True, nullable=False, unit="days"),
    Column("analyte", "text", "What was measured (see ANALYTE_UNITS).", required=True, nullable=False),
    Column("value", "float", "Measured value, in `unit`.", required=True, nullable=False),
    Column("unit", "text", "Unit of `value`; must be the analyte's unit.", required=True, nullable=False),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "participants": PARTICIPANTS,
    "survival": SURVIVAL,
    "alsfrs": ALSFRS,
    "biomarkers": BIOMARKERS,
}
REQUIRED_TABLES = ("participants", "survival")

# The unit every known analyte must be recorded in. A trial may declare more analytes in
# TrialInfo.analyte_units; an analyte known to neither is refused rather than guessed at.
ANALYTE_UNITS: dict[str, str] = {
    "csf_pnfh": "pg/mL",
    "serum_nfl": "pg/mL",
    "plasma_nfl": "pg/mL",
    "csf_nfl": "pg/mL",
    "treg_pct_cd4": "%",
    "treg_count": "cells/uL",
    "ccl2": "pg/mL",
}

DAYS_PER_MONTH = 30.44


def column(table: str, name: str) -> Column | None:
    for col in TABLES[table]:
        if col.name == name:
            return col
    return None
