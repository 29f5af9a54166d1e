"""`import_proact`: a PRO-ACT export folder -> a validated `Trial` plus its import log."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ...errors import Problem, TrialDataError
from ..info import Arm, TrialInfo
from ..schema import DAYS_PER_MONTH
from ..trial import Trial
from .alsfrs import map_alsfrs
from .files import FORMS, ProactFiles, find_proact_files, read_form
from .labs import DEFAULT_LAB_TESTS, map_labs
from .log import ImportLog
from .participants import map_arms, map_demographics, map_history, map_riluzole, map_source_trial
from .survival import CONTACT_DAY_COLUMNS, form_contacts, last_contact, map_deaths, map_survival

__all__ = ["ProactImport", "baseline_alsfrs_r", "import_proact"]

ALSFRS_R_MAX = 48.0


@dataclass(frozen=True)
class ProactImport:
    """The imported trial, the original-scale ALSFRS scores kept apart, and the import log."""

    trial: Trial
    log: ImportLog
    alsfrs_original: pd.DataFrame | None
    files: ProactFiles

    def write(self, out: str | Path, format: Literal["csv", "parquet"] = "csv") -> Path:
        """Write the trial folder, `alsfrs_original.csv` (if any) and `import-log.json`."""
        folder = self.trial.write(out, format=format)
        original = folder / "alsfrs_original.csv"
        if self.alsfrs_original is not None:
            self.alsfrs_original.to_csv(original, index=False)
        elif original.exists():
            original.unlink()
        self.log.write(folder / "import-log.json")
        return folder


def baseline_alsfrs_r(alsfrs: pd.DataFrame, window_days: tuple[float, float] = (-90.0, 14.0)) -> pd.DataFrame:
    """Per subject, the baseline ALSFRS-R visit: the last visit in [window[0], 0], or else the
    first visit in (0, window[1]]. Returns columns `alsfrs_r_baseline`, `baseline_day`."""
    low, high = window_days
    day = alsfrs["day"].to_numpy()
    before = alsfrs.loc[(day >= low) & (day <= 0)].sort_values(["subject_id", "day"])
    after = alsfrs.loc[(day > 0) & (day <= high)].sort_values(["subject_id", "day"])
    last_before = before.groupby("subject_id").tail(1).set_index("subject_id")
    first_after = after.groupby("subject_id").head(1).set_index("subject_id")
    chosen = pd.concat([last_before, first_after.loc[~first_after.index.isin(last_before.index)]])
    return pd.DataFrame({"alsfrs_r_baseline": chosen["total"], "baseline_day": chosen["day"]})


def _delta_fs(parts: pd.DataFrame, log: ImportLog) -> pd.Series:
    """ΔFS = (48 - baseline ALSFRS-R) / months from onset to the baseline visit (Kimura et al. 2006)."""
    months = (parts["baseline_day"] - parts["onset_delta_days"]) / DAYS_PER_MONTH
    known = parts["alsfrs_r_baseline"].notna() & months.notna()
    zero = known & (months <= 0)
    log.add("delta_fs_zero_duration", "alshistory", parts.index[zero.to_numpy()])
    return ((ALSFRS_R_MAX - parts["alsfrs_r_baseline"]) / months).where(known & ~zero)


def _drop_after_death(alsfrs: pd.DataFrame, death_day: pd.Series, log: ImportLog) -> pd.DataFrame:
    dd = alsfrs["subject_id"].map(death_day).to_numpy(dtype=float)
    after = alsfrs["day"].to_numpy() > dd  # NaN death day compares False
    log.add("alsfrs_after_death", "alsfrs", alsfrs["subject_id"].to_numpy()[after], unit="rows")
    return alsfrs.loc[~after]


def import_proact(folder: str | Path, *, lab_tests: dict[str, tuple[str, str]] | None = None,
                  baseline_window_days: tuple[float, float] = (-90.0, 14.0), name: str | None = None) -> ProactImport:
    """Import a PRO-ACT export (current or 2016 naming) into the mndtrial data model.

    Days: PRO-ACT `*_Delta` columns count days from each source trial's baseline; they are taken
    as days from randomisation unchanged. Everything that cannot be mapped as-is is in `.log`.

    Example:
        >>> result = import_proact("PROACT_2024")   # doctest: +SKIP
        >>> result.write("proact-trial")            # doctest: +SKIP
    """
    log = ImportLog()
    files = find_proact_files(folder, log)
    lab_tests = DEFAULT_LAB_TESTS if lab_tests is None else lab_tests
    forms = {key: read_form(files, key, log) for key, (_, _, used) in FORMS.items() if used and key in files.paths}

    arms = map_arms(forms["treatment"], log)
    death_day, undated = map_deaths(forms.get("deathdata"), log)
    everyone = pd.Index(pd.unique(np.concatenate([df["subject_id"].to_numpy(dtype=object) for df in forms.values()])))
    no_treatment = everyone.difference(pd.Index(pd.unique(forms["treatment"]["subject_id"])))
    log.add("no_treatment_row", "treatment", no_treatment)
    randomised = arms.index[~arms.index.isin(list(undated))]
    for key, df in forms.items():
        outside = ~df["subject_id"].isin(randomised).to_numpy()
        log.add("rows_of_excluded_subjects", key, df["subject_id"].to_numpy()[outside], unit="rows")

    alsfrs, original, contacts = (None, None, None)
    if "alsfrs" in forms:
        alsfrs, original, contacts = map_alsfrs(forms["alsfrs"], log)
    contact_frames = [contacts] + [form_contacts(forms.get(k), col, k, log) for k, col in CONTACT_DAY_COLUMNS.items()]
    survival = map_survival(randomised, death_day, last_contact(contact_frames), log)

    if alsfrs is not None:
        alsfrs = _drop_after_death(alsfrs.loc[alsfrs["subject_id"].isin(randomised)], death_day, log)
        original = original.loc[original["subject_id"].isin(randomised)]
        alsfrs = alsfrs.reset_index(drop=True) if len(alsfrs) else None
        original = original.reset_index(drop=True) if len(original) else None
    biomarkers = map_labs(forms.get("labs"), lab_tests, log)
    if biomarkers is not None:
        biomarkers = biomarkers.loc[biomarkers["subject_id"].isin(randomised)].reset_index(drop=True)
        biomarkers = biomarkers if len(biomarkers) else None

    parts = pd.DataFrame({"arm": arms.reindex(randomised)})
    parts = parts.join(map_demographics(forms.get("demographics"), log))
    parts = parts.join(map_history(forms.get("alshistory"), log))
    baseline = baseline_alsfrs_r(alsfrs, baseline_window_days) if alsfrs is not None else \
        pd.DataFrame(columns=["alsfrs_r_baseline", "baseline_day"], dtype=float)
    parts = parts.join(baseline)
    log.add("no_baseline_alsfrs_r", "alsfrs", randomised[parts["alsfrs_r_baseline"].isna().to_numpy()])
    parts["delta_fs"] = _delta_fs(parts, log)
    parts["riluzole"] = map_riluzole(forms.get("riluzole"), log).reindex(randomised).astype(object)
    source_trial = map_source_trial(forms, log)
    if source_trial is not None:
        parts["source_trial"] = source_trial.reindex(randomised).astype(object)
    parts = parts.drop(columns=["onset_delta_days", "baseline_day"]).reset_index(names="subject_id")
    for col in ("age", "symptom_duration_months", "alsfrs_r_baseline", "delta_fs"):
        parts[col] = parts[col].astype(float)

    present = set(parts["arm"])
    if not present:
        raise TrialDataError([Problem(table="participants", rule="no_participants",
                                      message="no PRO-ACT subject could be imported; import log:\n"
                                              + log.summary_text())])
    info = TrialInfo(name=name or f"PRO-ACT ({Path(folder).name})",
                     arms=tuple(Arm(name=a, control=(a == "placebo")) for a in ("placebo", "active") if a in present),
                     analyte_units={a: u for a, u in lab_tests.values()},
                     description="Imported from a PRO-ACT export by mndtrial.data.proact; day 0 is each "
                                 "source trial's baseline (PRO-ACT *_Delta days).")
    trial = Trial(parts, survival, alsfrs, biomarkers, info=info)
    log.info.update({
        "source_folder": str(Path(folder).resolve()),
        "naming": {k: files.naming[k] for k in sorted(files.naming)},
        "files": {k: files.paths[k].name for k in sorted(files.paths)},
        "subjects_in_export": len(everyone),
        # missing in the export itself (not a mapping problem), so counted here rather than as reasons
        "participants_missing_values": {c: int(n) for c, n in trial.participants.isna().sum().items() if n},
        "imported": {"participants": trial.n_participants, "deaths": int(survival["event"].sum()),
                     "alsfrs_r_visits": 0 if alsfrs is None else len(alsfrs),
                     "alsfrs_original_visits": 0 if original is None else len(original),
                     "biomarker_rows": 0 if biomarkers is None else len(biomarkers)},
    })
    return ProactImport(trial=trial, log=log, alsfrs_original=original, files=files)
