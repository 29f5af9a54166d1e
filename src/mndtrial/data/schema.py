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
    multiple_of: float | None = None  # values must be whole multiples of this (ALSFRS-R: half points)


ALSFRS_ITEMS = tuple(f"q{i}" for i in range(1, 13))

# ALSFRS-R is scored in whole points; some sources (PRO-ACT) record half points. Anything finer
# (12.3) is not a score but a typing or unit slip, so it is refused.
ALSFRS_POINT_STEP = 0.5

# Visits and samples before randomisation are screening or run-in visits (MIROCALS: a 3-month
# riluzole run-in). A day further back than a year is not a screening visit but a wrong date or a
# day counted from another origin (symptom onset, a calendar date), so it is refused.
SCREENING_WINDOW_DAYS = 365

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
    Column("day", "float", f"Visit day counted from randomisation (day 0); screening and run-in visits are negative, at most {SCREENING_WINDOW_DAYS} days before.",
           required=True, nullable=False, unit="days", minimum=-SCREENING_WINDOW_DAYS),
    Column("total", "float", "ALSFRS-R total score (0-48); whole or half points (half points occur in some sources).",
           required=True, nullable=False, unit="points", minimum=0, maximum=48, multiple_of=ALSFRS_POINT_STEP),
) + tuple(
    Column(q, "float", f"ALSFRS-R item {q[1:]} (0-4), whole or half points.", unit="points", minimum=0, maximum=4,
           multiple_of=ALSFRS_POINT_STEP) for q in ALSFRS_ITEMS
)

BIOMARKERS: tuple[Column, ...] = (
    Column("subject_id", "id", "Participant identifier.", required=True, nullable=False),
    Column("day", "float", f"Sampling day counted from randomisation; at most {SCREENING_WINDOW_DAYS} days before it.",
           required=True, nullable=False, unit="days", minimum=-SCREENING_WINDOW_DAYS),
    Column("analyte", "text", "What was measured (see ANALYTES).", required=True, nullable=False),
    Column("value", "float", "Measured value, in `unit`; within the analyte's range (see ANALYTES).", required=True, nullable=False),
    Column("unit", "text", "Unit of `value`; must be the analyte's unit.", required=True, nullable=False),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "participants": PARTICIPANTS,
    "survival": SURVIVAL,
    "alsfrs": ALSFRS,
    "biomarkers": BIOMARKERS,
}
REQUIRED_TABLES = ("participants", "survival")


@dataclass(frozen=True)
class Analyte:
    """A known biomarker analyte: the unit its values must be in and the range a value can have."""

    unit: str
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""


# Known analytes, declared as data. A trial may declare more in TrialInfo.analyte_units (unit
# only, no range); an analyte known to neither is refused rather than guessed at. Ranges are what
# a value can physically be (a concentration is not negative, a percentage of CD4+ cells is
# 0-100), not reference intervals: a value outside is a typing or unit error.
ANALYTES: dict[str, Analyte] = {
    "csf_pnfh": Analyte("pg/mL", 0, None, "CSF phosphorylated neurofilament heavy chain"),
    "serum_nfl": Analyte("pg/mL", 0, None, "serum neurofilament light chain"),
    "plasma_nfl": Analyte("pg/mL", 0, None, "plasma neurofilament light chain"),
    "csf_nfl": Analyte("pg/mL", 0, None, "CSF neurofilament light chain"),
    "treg_pct_cd4": Analyte("%", 0, 100, "regulatory T cells, percent of CD4+ T cells"),
    "treg_count": Analyte("cells/uL", 0, None, "regulatory T cells per microlitre of blood"),
    "ccl2": Analyte("pg/mL", 0, None, "chemokine CCL2 (MCP-1)"),
}
# The unit every known analyte must be recorded in (the unit column of ANALYTES).
ANALYTE_UNITS: dict[str, str] = {name: a.unit for name, a in ANALYTES.items()}

DAYS_PER_MONTH = 30.44


def column(table: str, name: str) -> Column | None:
    for col in TABLES[table]:
        if col.name == name:
            return col
    return None
