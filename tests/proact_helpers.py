"""Tiny hand-written PRO-ACT exports for the quirk tests (values chosen so results are known by hand)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CURRENT = {"alsfrs": "PROACT_ALSFRS", "deathdata": "PROACT_DEATHDATA", "demographics": "PROACT_DEMOGRAPHICS",
           "treatment": "PROACT_TREATMENT", "alshistory": "PROACT_ALSHISTORY", "riluzole": "PROACT_RILUZOLE",
           "fvc": "PROACT_FVC", "labs": "PROACT_LABS", "vitalsigns": "PROACT_VITALSIGNS"}
ARCHIVE = {"alsfrs": "alsfrs", "deathdata": "DeathData", "demographics": "demographics", "treatment": "Treatment",
           "alshistory": "AlsHistory", "riluzole": "Riluzole", "fvc": "Fvc", "labs": "Labs", "vitalsigns": "VitalSigns"}
R_ITEMS = ["Q1_Speech", "Q2_Salivation", "Q3_Swallowing", "Q4_Handwriting", "Q5a_Cutting_without_Gastrostomy",
           "Q6_Dressing_and_Hygiene", "Q7_Turning_in_Bed", "Q8_Walking", "Q9_Climbing_Stairs", "R_1_Dyspnea",
           "R_2_Orthopnea", "R_3_Respiratory_Insufficiency"]


def visit(sid: str, day, items=(4,) * 12, total="sum", **extra) -> dict:
    """One ALSFRS-R row; total='sum' writes the item sum, None leaves ALSFRS_R_Total blank."""
    row = {"subject_id": sid, "ALSFRS_Delta": day}
    row.update(dict(zip(R_ITEMS, items)))
    row["ALSFRS_R_Total"] = float(np.sum(items)) if total == "sum" else total
    row.update(extra)
    return row


def base_forms() -> dict[str, pd.DataFrame]:
    """Two clean subjects: '1' active, '2' placebo; '2' dies on day 200."""
    return {
        "treatment": pd.DataFrame({"subject_id": ["1", "2"], "Study_Arm": ["Active", "Placebo"],
                                   "Treatment_Group_Delta": [0, 0]}),
        "demographics": pd.DataFrame({"subject_id": ["1", "2"], "Age": [60, 50], "Date_of_Birth": [None, None],
                                      "Sex": ["Male", "Female"]}),
        "alshistory": pd.DataFrame({"subject_id": ["1", "1", "2"],
                                    "Site_of_Onset": ["Onset: Limb", None, "Onset: Bulbar"],
                                    "Onset_Delta": [None, -304.4, -608.8], "Diagnosis_Delta": [None, -100, -200]}),
        "riluzole": pd.DataFrame({"subject_id": ["1", "2"], "Subject_used_Riluzole": ["Yes", "No"]}),
        "deathdata": pd.DataFrame({"subject_id": ["1", "2"], "Subject_Died": ["No", "Yes"], "Death_Days": [None, 200]}),
        "alsfrs": pd.DataFrame([visit("1", 0, (3,) * 12), visit("1", 90, (3,) * 11 + (2,)),
                                visit("2", 0, (4,) * 10 + (3, 3)), visit("2", 100, (3,) * 12)]),
    }


def write_export(folder: Path, forms: dict[str, pd.DataFrame], naming: str = "current",
                 f_prefix: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for key, df in forms.items():
        stem = (ARCHIVE if naming == "2016" else CURRENT)[key]
        if key in f_prefix:
            stem = "F_" + stem
        df.to_csv(folder / f"{stem}.csv", index=False)
    return folder


def import_forms(tmp_path: Path, forms: dict[str, pd.DataFrame], **kwargs):
    from mndtrial.data.proact import import_proact

    return import_proact(write_export(tmp_path / "export", forms), **kwargs)
