"""PRO-ACT treatment, demographics, ALS history and riluzole forms -> `participants` columns.

Each is one value per subject spread over one or more rows; `one_per_subject` keeps a value only
when the subject's rows agree on it, and logs the subjects whose rows disagree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import DAYS_PER_MONTH
from .files import has_column, numeric_column, text_column
from .log import ImportLog

__all__ = [
    "ARM_NAMES",
    "map_arms",
    "map_demographics",
    "map_history",
    "map_riluzole",
    "map_source_trial",
    "one_per_subject",
]

DAYS_PER_YEAR = 365.25
# PRO-ACT Study_Arm value (lower case) -> data-model arm name
ARM_NAMES = {"active": "active", "placebo": "placebo"}
SEX = {"male": "M", "female": "F", "m": "M", "f": "F"}
ONSET_SITE = {"onset: bulbar": "bulbar", "onset: limb": "limb", "onset: limb and bulbar": "limb_and_bulbar",
              "bulbar": "bulbar", "limb": "limb", "limb and bulbar": "limb_and_bulbar",
              "onset: spine": "limb"}
YES_NO = {"yes": True, "no": False}
SOURCE_TRIAL_COLUMNS = ("source_trial",)


def one_per_subject(subjects: np.ndarray, values, form: str, column: str, log: ImportLog) -> pd.Series:
    """subject -> the value its rows agree on; subjects whose non-missing values differ get NaN (logged)."""
    df = pd.DataFrame({"s": subjects, "v": values}).dropna().drop_duplicates()
    counts = df["s"].value_counts()
    conflict = counts.index[counts.to_numpy() > 1]
    if len(conflict):
        log.add("conflicting_values", form, conflict, detail=column)
    single = df.loc[~df["s"].isin(conflict)]
    return pd.Series(single["v"].to_numpy(), index=pd.Index(single["s"].to_numpy(), name="subject_id"))


def map_arms(treatment: pd.DataFrame, log: ImportLog) -> pd.Series:
    """subject -> arm for randomised subjects; others are logged and left out."""
    raw = text_column(treatment, "Study_Arm").str.lower()
    df = pd.DataFrame({"s": treatment["subject_id"].to_numpy(), "v": raw.to_numpy(dtype=object, na_value=None)})
    subjects = pd.unique(df["s"])
    df = df.dropna().drop_duplicates()
    counts = df["s"].value_counts()
    conflict = counts.index[counts.to_numpy() > 1]
    log.add("arm_conflict", "treatment", conflict)
    single = df.loc[~df["s"].isin(conflict)].set_index("s")["v"]
    mapped = single.map(ARM_NAMES)
    unmapped = set(subjects) - set(conflict) - set(mapped.dropna().index)
    log.add("arm_unmapped", "treatment", sorted(unmapped))
    arms = mapped.dropna()
    arms.index.name = "subject_id"
    return arms


def map_demographics(demo: pd.DataFrame | None, log: ImportLog) -> pd.DataFrame:
    if demo is None:
        return pd.DataFrame(columns=["age", "sex"], index=pd.Index([], name="subject_id"))
    s = demo["subject_id"].to_numpy()
    age = one_per_subject(s, numeric_column(demo, "Age", "demographics", log), "demographics", "Age", log)
    dob = one_per_subject(s, numeric_column(demo, "Date_of_Birth", "demographics", log), "demographics",
                          "Date_of_Birth", log)
    ids = pd.Index(pd.unique(s), name="subject_id")
    age = age.reindex(ids)
    from_dob = age.isna() & dob.reindex(ids).notna()
    log.add("age_from_date_of_birth", "demographics", ids[from_dob.to_numpy()])
    age = age.where(~from_dob, -dob.reindex(ids) / DAYS_PER_YEAR)
    bad_age = (age < 0) | (age > 120)
    log.add("age_out_of_range", "demographics", ids[bad_age.to_numpy()])
    age = age.mask(bad_age)
    sex_raw = one_per_subject(s, text_column(demo, "Sex").str.lower().to_numpy(dtype=object, na_value=None), "demographics",
                              "Sex", log).reindex(ids)
    sex = sex_raw.map(SEX)
    log.add("sex_unmapped", "demographics", ids[(sex_raw.notna() & sex.isna()).to_numpy()])
    return pd.DataFrame({"age": age.astype(float), "sex": sex.astype(object)}, index=ids)


def _site_from_flags(hist: pd.DataFrame, log: ImportLog) -> np.ndarray:
    """The Site_of_Onset___Bulbar / ___Limb / ___Limb_and_Bulbar 0/1 columns of older trials."""
    flags = {name: numeric_column(hist, f"Site_of_Onset___{name}", "alshistory", log) == 1
             for name in ("Bulbar", "Limb", "Limb_and_Bulbar")}
    out = np.full(len(hist), None, dtype=object)
    out[flags["Bulbar"] & ~flags["Limb"]] = "bulbar"
    out[flags["Limb"] & ~flags["Bulbar"]] = "limb"
    out[(flags["Limb"] & flags["Bulbar"]) | flags["Limb_and_Bulbar"]] = "limb_and_bulbar"
    return out


def map_history(hist: pd.DataFrame | None, log: ImportLog) -> pd.DataFrame:
    """onset_site and symptom_duration_months (+ onset_delta_days, kept for delta_fs)."""
    cols = ["onset_site", "symptom_duration_months", "onset_delta_days"]
    if hist is None:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="subject_id"))
    s = hist["subject_id"].to_numpy()
    ids = pd.Index(pd.unique(s), name="subject_id")
    text = text_column(hist, "Site_of_Onset").str.lower()
    site = text.map(ONSET_SITE).to_numpy(dtype=object, na_value=None)
    spine = (text == "onset: spine").fillna(False).to_numpy(dtype=bool)
    log.add("onset_site_spine_as_limb", "alshistory", pd.unique(s[spine]))
    unmapped = text.notna().to_numpy() & pd.isna(site)
    flag_site = _site_from_flags(hist, log)
    no_text = text.isna().to_numpy()
    site[no_text] = flag_site[no_text]
    site_per = one_per_subject(s, site, "alshistory", "Site_of_Onset", log).reindex(ids)
    unmapped_subjects = pd.Index(pd.unique(s[unmapped])).difference(site_per.dropna().index)
    log.add("onset_site_unmapped", "alshistory", unmapped_subjects)
    onset = one_per_subject(s, numeric_column(hist, "Onset_Delta", "alshistory", log), "alshistory",
                            "Onset_Delta", log).reindex(ids)
    after = onset > 0
    log.add("onset_delta_after_baseline", "alshistory", ids[after.to_numpy()])
    onset = onset.mask(after)
    return pd.DataFrame({"onset_site": site_per.astype(object),
                         "symptom_duration_months": (-onset / DAYS_PER_MONTH).astype(float),
                         "onset_delta_days": onset.astype(float)}, index=ids)


def map_riluzole(ril: pd.DataFrame | None, log: ImportLog) -> pd.Series:
    if ril is None:
        return pd.Series([], dtype=object, index=pd.Index([], name="subject_id"))
    s = ril["subject_id"].to_numpy()
    raw = text_column(ril, "Subject_used_Riluzole").str.lower()
    value = raw.map(YES_NO).to_numpy(dtype=object, na_value=None)
    unmapped = raw.notna().to_numpy() & pd.isna(value)
    log.add("riluzole_unmapped", "riluzole", pd.unique(s[unmapped]))
    return one_per_subject(s, value, "riluzole", "Subject_used_Riluzole", log)


def map_source_trial(forms: dict[str, pd.DataFrame | None], log: ImportLog) -> pd.Series | None:
    """The trial a subject came from, when an export carries it (the public download does not)."""
    for key in ("treatment", "demographics"):
        df = forms.get(key)
        if df is None:
            continue
        for name in SOURCE_TRIAL_COLUMNS:
            if has_column(df, name):
                return one_per_subject(df["subject_id"].to_numpy(), text_column(df, name).to_numpy(dtype=object, na_value=None),
                                       key, name, log)
    return None
