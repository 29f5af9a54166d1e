"""`TrialBatch`: many trials of one design as flat columns with a `trial` index.

The batch estimators read the columns as numpy arrays; `TrialBatch.trial(i)` gives back one
validated `Trial` in the ordinary data model, and the two routes must agree.

Columns: every table has `trial` (int, sorted ascending) and `subject` (int, the participant's
number within its trial: its 0-based position as simulated, kept through data cuts) in place of
`subject_id`; the other columns are those of the data model (`schema.py`). Subject ids are made only when a single trial is taken out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from .info import TrialInfo

__all__ = ["TrialBatch", "subject_ids"]


def subject_ids(subject: np.ndarray, width: int = 4) -> np.ndarray:
    """The text ids used for batch participants: 0 -> 'S0001'."""
    return np.char.add("S", np.char.zfill((np.asarray(subject) + 1).astype(str), width))


@dataclass(frozen=True)
class TrialBatch:
    """Many simulated trials of one design. Tables are DataFrames sorted by `trial`."""

    info: TrialInfo
    n_trials: int
    participants: pd.DataFrame
    survival: pd.DataFrame
    alsfrs: pd.DataFrame | None = None
    biomarkers: pd.DataFrame | None = None
    first_trial: int = 0  # global index of the first trial (a chunk of a larger run)
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("participants", "survival", "alsfrs", "biomarkers"):
            df = getattr(self, name)
            if df is None:
                continue
            for col in ("trial", "subject"):
                if col not in df.columns:
                    raise ValueError(f"TrialBatch.{name} needs a '{col}' column")
            t = df["trial"].to_numpy()
            # t[1:] < t[:-1] rather than np.diff(t) < 0: no temporary of t's size (a simulated
            # batch's ALSFRS-R table has ~1,700 rows per trial)
            if len(t) and (np.any(t[1:] < t[:-1]) or t[0] < self.first_trial
                           or t[-1] >= self.first_trial + self.n_trials):
                raise ValueError(f"TrialBatch.{name}: 'trial' must be sorted and within "
                                 f"[{self.first_trial}, {self.first_trial + self.n_trials})")

    @property
    def trial_index(self) -> np.ndarray:
        return np.arange(self.first_trial, self.first_trial + self.n_trials)

    def _rows(self, df: pd.DataFrame, i: int) -> pd.DataFrame:
        t = df["trial"].to_numpy()
        lo, hi = np.searchsorted(t, i, "left"), np.searchsorted(t, i, "right")
        return df.iloc[lo:hi]

    def table(self, name: str, i: int) -> pd.DataFrame | None:
        """Rows of one table for global trial `i`, with `subject_id` in place of `subject`."""
        df = getattr(self, name)
        if df is None:
            return None
        rows = self._rows(df, i)
        out = rows.drop(columns=["trial", "subject"])
        out.insert(0, "subject_id", subject_ids(rows["subject"].to_numpy()))
        return out.reset_index(drop=True)

    def trial(self, i: int) -> "Trial":
        """Trial `i` (global index) as a validated `Trial`."""
        from .trial import Trial

        if not self.first_trial <= i < self.first_trial + self.n_trials:
            raise IndexError(f"trial {i} is not in this batch [{self.first_trial}, "
                             f"{self.first_trial + self.n_trials})")
        tables = {name: self.table(name, i) for name in ("participants", "survival", "alsfrs", "biomarkers")}
        tables = {k: (None if v is not None and len(v) == 0 and k in ("alsfrs", "biomarkers") else v)
                  for k, v in tables.items()}
        info = self.info.model_copy(update={"name": f"{self.info.name} #{i}", "screening": self._screening(i)})
        present = set(tables["participants"]["arm"])
        if present != set(info.arm_names):
            info = info.restricted_to(present)
        return Trial(info=info, **tables)

    def _screening(self, i: int) -> dict[str, int]:
        """Trial `i`'s screening counts from the simulator's metadata (empty when there are none)."""
        table = self.metadata.get("screening")
        if not isinstance(table, pd.DataFrame) or "trial" not in table.columns:
            return {}
        row = table.loc[table["trial"] == i]
        if row.empty:
            return {}
        return {c: int(row[c].iloc[0]) for c in row.columns if c != "trial"}

    @staticmethod
    def concat(batches: Sequence["TrialBatch"]) -> "TrialBatch":
        """Join consecutive chunks of one run back into a single batch."""
        if not batches:
            raise ValueError("concat needs at least one TrialBatch")
        batches = sorted(batches, key=lambda b: b.first_trial)
        for a, b in zip(batches, batches[1:]):
            if b.first_trial != a.first_trial + a.n_trials:
                raise ValueError("TrialBatch chunks must be consecutive")

        def cat(name: str):
            frames = [getattr(b, name) for b in batches]
            if all(f is None for f in frames):
                return None
            return pd.concat([f for f in frames if f is not None], ignore_index=True)

        # Per-trial metadata (a DataFrame with a `trial` column, e.g. the simulator's screening
        # counts) is joined like the tables; other metadata is taken from the first chunk.
        metadata = dict(batches[0].metadata)
        for key, value in metadata.items():
            if isinstance(value, pd.DataFrame) and "trial" in value.columns:
                metadata[key] = pd.concat([b.metadata[key] for b in batches], ignore_index=True)
        return TrialBatch(info=batches[0].info, n_trials=sum(b.n_trials for b in batches),
                          participants=cat("participants"), survival=cat("survival"),
                          alsfrs=cat("alsfrs"), biomarkers=cat("biomarkers"),
                          first_trial=batches[0].first_trial, metadata=metadata)
