"""`Trial`: one trial's validated tables and its `TrialInfo`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

import numpy as np
import pandas as pd

from .follow_up import median_observed_time_days, reverse_km_median_days
from .info import TrialInfo
from .validate import validate_tables

__all__ = ["Trial", "TrialSummary"]


class Trial:
    """A randomised trial in the mndtrial data model, built only through validation.

    The tables are validated and normalised when the `Trial` is made; every later step may trust
    them. The table properties return copies, so a caller cannot break a validated trial.

    Example:
        >>> import pandas as pd
        >>> participants = pd.DataFrame({"subject_id": ["a", "b"], "arm": ["placebo", "il2"]})
        >>> survival = pd.DataFrame({"subject_id": ["a", "b"], "time_days": [300.0, 640.0], "event": [1, 0]})
        >>> trial = Trial(participants, survival)
        >>> trial.info.arm_names, trial.info.control_arm
        (('il2', 'placebo'), 'placebo')
    """

    def __init__(self, participants: pd.DataFrame, survival: pd.DataFrame,
                 alsfrs: pd.DataFrame | None = None, biomarkers: pd.DataFrame | None = None,
                 info: TrialInfo | None = None):
        if info is None:
            arms = participants["arm"].tolist() if isinstance(participants, pd.DataFrame) \
                and "arm" in participants.columns else []
            info = TrialInfo.from_arm_names(arms)
        tables = validate_tables({"participants": participants, "survival": survival,
                                  "alsfrs": alsfrs, "biomarkers": biomarkers}, info)
        self._tables = tables
        self._info = info

    # -- tables -------------------------------------------------------------------------------
    @property
    def info(self) -> TrialInfo:
        return self._info

    @property
    def participants(self) -> pd.DataFrame:
        return self._tables["participants"].copy()

    @property
    def survival(self) -> pd.DataFrame:
        return self._tables["survival"].copy()

    @property
    def alsfrs(self) -> pd.DataFrame | None:
        df = self._tables["alsfrs"]
        return None if df is None else df.copy()

    @property
    def biomarkers(self) -> pd.DataFrame | None:
        df = self._tables["biomarkers"]
        return None if df is None else df.copy()

    @property
    def participant_column_names(self) -> tuple[str, ...]:
        return tuple(self._tables["participants"].columns)

    def participant_columns(self, *names: str) -> pd.DataFrame:
        """These columns of the participants table, in their order of `names` (a copy).

        Cheaper than `participants` (a copy of every column) for an analysis that reads two of
        them, as most do, many times in a run.

        Example:
            >>> from mndtrial.data.example import example_trial
            >>> list(example_trial().participant_columns("subject_id", "arm").columns)
            ['subject_id', 'arm']
        """
        return self._tables["participants"][list(names)].copy()

    @property
    def arms_with_participants(self) -> frozenset[str]:
        """The arms that have participants, read once per trial (its tables do not change).

        Example:
            >>> from mndtrial.data.example import example_trial
            >>> sorted(example_trial().arms_with_participants)
            ['il2_2miu', 'placebo']
        """
        present = getattr(self, "_arms_present", None)
        if present is None:
            present = self._arms_present = frozenset(self._tables["participants"]["arm"])
        return present

    def tables(self) -> dict[str, pd.DataFrame | None]:
        """All four tables (copies); absent optional tables are None."""
        return {name: (None if df is None else df.copy()) for name, df in self._tables.items()}

    @property
    def n_participants(self) -> int:
        return len(self._tables["participants"])

    def survival_by_subject(self) -> pd.DataFrame:
        """participants joined with their survival row (one row per participant; a copy)."""
        joined = getattr(self, "_by_subject", None)
        if joined is None:  # joined once per trial: the tables do not change after validation
            joined = self._tables["participants"].merge(self._tables["survival"], on="subject_id", how="left",
                                                        validate="one_to_one")
            self._by_subject = joined
        return joined.copy()

    def __getstate__(self) -> dict:
        # a trial pickles as its tables and info: a join (or arm set) cached for speed is not part of what it is
        return {"_tables": self._tables, "_info": self._info}

    # -- derived trials -----------------------------------------------------------------------
    def select(self, subject_ids: Iterable[str], name: str | None = None) -> "Trial":
        """A trial restricted to these participants (arms left without participants are dropped)."""
        keep = pd.Index(list(subject_ids))
        tables = {k: (None if df is None else df.loc[df["subject_id"].isin(keep)])
                  for k, df in self._tables.items()}
        tables = {k: (None if (df is None or len(df) == 0) and k in ("alsfrs", "biomarkers") else df)
                  for k, df in tables.items()}
        arms = set(tables["participants"]["arm"])
        info = self._info.restricted_to(arms)
        if name is not None:
            info = info.model_copy(update={"name": name})
        # Every rule of the data model holds for the rows of some participants of a valid trial
        # (the tests check that validating the subset gives the same tables), so the subset is not
        # validated again: that cost more than the analyses run on it.
        subset = Trial.__new__(Trial)
        subset._tables = {k: (None if df is None else df.reset_index(drop=True)) for k, df in tables.items()}
        subset._info = info
        return subset

    # -- output -------------------------------------------------------------------------------
    def write(self, path: str | Path, format: Literal["csv", "parquet"] = "csv") -> Path:
        """Write the trial folder (tables plus `trial.toml`); `read_trial` reads it back exactly."""
        from .io import write_trial

        return write_trial(self, path, format=format)

    def summary(self) -> "TrialSummary":
        return TrialSummary.of(self)

    def equals(self, other: "Trial") -> bool:
        if self._info.model_dump(exclude={"source"}) != other._info.model_dump(exclude={"source"}):
            return False
        for name, df in self._tables.items():
            o = other._tables[name]
            if (df is None) != (o is None):
                return False
            if df is not None and not df.equals(o):
                return False
        return True

    def __repr__(self) -> str:
        s = self.summary()
        arms = ", ".join(f"{a}: {n}" for a, n in zip(s.per_arm.index, s.per_arm["n"]))
        return f"<Trial {self._info.name!r}: {self.n_participants} participants ({arms}), {s.events} events>"


@dataclass(frozen=True)
class TrialSummary:
    """The one-screen summary `mndtrial validate` prints: arms, events, visits, biomarkers."""

    name: str
    n_participants: int
    events: int
    per_arm: pd.DataFrame
    alsfrs_visits: int | None
    biomarker_coverage: pd.DataFrame | None

    @classmethod
    def of(cls, trial: Trial) -> "TrialSummary":
        t = trial._tables
        joined = t["participants"][["subject_id", "arm"]].merge(t["survival"], on="subject_id", how="left")
        per_arm = joined.groupby("arm", sort=False).agg(n=("subject_id", "size"), events=("event", "sum"))
        per_arm = per_arm.reindex(list(trial.info.arm_names))
        by_arm = {a: g for a, g in joined.groupby("arm", sort=False)}
        per_arm["median_follow_up_days"] = [reverse_km_median_days(by_arm[a]["time_days"], by_arm[a]["event"] == 1)
                                            if a in by_arm else np.nan for a in per_arm.index]
        per_arm["median_observed_time_days"] = [median_observed_time_days(by_arm[a]["time_days"])
                                                if a in by_arm else np.nan for a in per_arm.index]
        per_arm.index.name = "arm"
        visits = None
        alsfrs = t["alsfrs"]
        if alsfrs is not None:
            visits = len(alsfrs)
            per_subject = alsfrs.merge(t["participants"][["subject_id", "arm"]], on="subject_id")
            per_arm["alsfrs_visits"] = per_subject.groupby("arm").size().reindex(per_arm.index).fillna(0).astype(int)
        coverage = None
        bio = t["biomarkers"]
        baseline_cols = [c for c in ("csf_pnfh", "serum_nfl") if c in t["participants"].columns]
        rows = []
        for c in baseline_cols:
            present = int(t["participants"][c].notna().sum())
            rows.append({"biomarker": c, "source": "participants (baseline)", "subjects": present,
                         "measurements": present, "missing_subjects": trial.n_participants - present})
        if bio is not None:
            for analyte, g in bio.groupby("analyte", sort=True):
                subj = g["subject_id"].nunique()
                rows.append({"biomarker": analyte, "source": "biomarkers", "subjects": subj,
                             "measurements": len(g), "missing_subjects": trial.n_participants - subj})
        if rows:
            coverage = pd.DataFrame(rows).set_index("biomarker")
        return cls(name=trial.info.name, n_participants=trial.n_participants,
                   events=int(np.nansum(joined["event"])), per_arm=per_arm,
                   alsfrs_visits=visits, biomarker_coverage=coverage)

    def to_text(self) -> str:
        lines = [f"Trial {self.name!r}: {self.n_participants} participants, {self.events} events"]
        lines.append(self.per_arm.to_string())
        lines.append("ALSFRS-R: " + ("no table" if self.alsfrs_visits is None else f"{self.alsfrs_visits} visits"))
        if self.biomarker_coverage is None:
            lines.append("Biomarkers: none")
        else:
            lines.append("Biomarkers:")
            lines.append(self.biomarker_coverage.to_string())
        return "\n".join(lines)
