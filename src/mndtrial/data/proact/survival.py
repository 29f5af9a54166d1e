"""PRO-ACT death form + assessment days -> the `survival` table (death, or censoring at last contact).

`Subject_Died` = 'Yes' with `Death_Days` (days from trial baseline) is a death at that day.
Everyone else is censored at their last contact: the latest day of any assessment form (ALSFRS,
FVC, SVC, vital signs, labs), as in the MENSA / Papaiz et al. PRO-ACT pipelines. Deaths without
a day cannot be timed and are excluded (logged), never censored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .files import numeric_column, text_column
from .log import ImportLog

__all__ = ["CONTACT_DAY_COLUMNS", "map_deaths", "map_survival"]

FORM = "deathdata"
# form -> its assessment-day column, used for "last contact"
CONTACT_DAY_COLUMNS = {"fvc": "Forced_Vital_Capacity_Delta", "svc": "Slow_vital_Capacity_Delta",
                       "vitalsigns": "Vital_Signs_Delta", "labs": "Laboratory_Delta"}


def map_deaths(death: pd.DataFrame | None, log: ImportLog) -> tuple[pd.Series, set[str]]:
    """Return (subject -> day of death, subjects whose recorded death has no usable day)."""
    if death is None:
        return pd.Series([], dtype=float, index=pd.Index([], name="subject_id")), set()
    died_text = text_column(death, "Subject_Died").str.lower()
    day = numeric_column(death, "Death_Days", FORM, log)
    df = pd.DataFrame({"s": death["subject_id"].to_numpy(), "died": died_text.to_numpy(dtype=object, na_value=None), "day": day})
    exact = df.duplicated().to_numpy()
    log.add("duplicate_death_rows", FORM, pd.unique(df["s"].to_numpy()[exact]))
    df = df.loc[~exact]
    unmapped = df["died"].notna() & ~df["died"].isin(["yes", "no"])
    log.add("subject_died_unmapped", FORM, df.loc[unmapped, "s"].to_numpy(), unit="rows")
    yes = df["died"] == "yes"
    no_with_day = (df["died"] == "no") & df["day"].notna()
    log.add("death_days_when_alive", FORM, df.loc[no_with_day, "s"].to_numpy(), unit="rows")

    died_subjects = pd.Index(pd.unique(df.loc[yes, "s"]))
    recorded = df.loc[yes & df["day"].notna()]
    death_day = recorded.groupby("s")["day"].min()
    n_days = recorded.groupby("s")["day"].nunique()
    said_no = pd.Index(pd.unique(df.loc[df["died"] == "no", "s"]))
    conflict = n_days.index[n_days.to_numpy() > 1].union(death_day.index.intersection(said_no))
    log.add("death_rows_conflict", FORM, conflict)
    undated = set(died_subjects.difference(death_day.index))
    log.add("death_day_missing", FORM, sorted(undated))
    before = death_day.index[death_day.to_numpy() < 0]
    log.add("death_before_baseline", FORM, before)
    death_day = death_day.drop(before)
    death_day.index.name = "subject_id"
    return death_day, undated | set(before)


def last_contact(contacts: list[pd.DataFrame]) -> pd.Series:
    """subject -> latest assessment day over the contact tables (columns subject_id, day)."""
    frames = [c for c in contacts if c is not None and len(c)]
    if not frames:
        return pd.Series([], dtype=float, index=pd.Index([], name="subject_id"))
    both = pd.concat(frames, ignore_index=True)
    return both.groupby("subject_id")["day"].max()


def form_contacts(df: pd.DataFrame | None, column: str, form: str, log: ImportLog) -> pd.DataFrame | None:
    if df is None:
        return None
    day = numeric_column(df, column, form, log)
    keep = ~np.isnan(day)
    return pd.DataFrame({"subject_id": df["subject_id"].to_numpy()[keep], "day": day[keep]})


def map_survival(subjects: pd.Index, death_day: pd.Series, contact_day: pd.Series, log: ImportLog) -> pd.DataFrame:
    """One row per randomised subject: death day, or censoring at the last contact on or after day 0."""
    death = death_day.reindex(subjects)
    contact = contact_day.reindex(subjects)
    died = death.notna().to_numpy()
    censored_at = contact.to_numpy(dtype=float)
    no_follow_up = ~died & ~(censored_at >= 0)
    log.add("censored_at_last_contact", "survival", subjects[~died & ~no_follow_up])
    log.add("no_follow_up", "survival", subjects[no_follow_up])
    time = np.where(died, death.to_numpy(dtype=float), np.where(no_follow_up, 0.0, censored_at))
    return pd.DataFrame({"subject_id": subjects.to_numpy(dtype=object, na_value=None), "time_days": time,
                         "event": died.astype("int64"),
                         "event_type": np.where(died, "death", "censored")})
