"""`TrialInfo`: what a trial is, beside its tables (name, arms and doses, strata, horizon)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Arm", "TrialInfo"]

CONTROL_ARM_NAMES = ("placebo", "control")


def _arm_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value) or str(value) in ("<NA>", "NaT"):
        return None
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else None


class Arm(BaseModel):
    """One randomised arm. `allocation` is its share in the randomisation ratio (e.g. 1 in 1:1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    dose_miu: float | None = Field(default=None, ge=0, description="Daily dose in million IU (None: not recorded).")
    allocation: float = Field(default=1.0, gt=0)
    control: bool = False
    label: str | None = None


class TrialInfo(BaseModel):
    """Trial-level facts. Read from `trial.toml` or derived from the participants' arms.

    Example:
        >>> info = TrialInfo(name="MIROCALS", arms=[Arm(name="placebo", control=True),
        ...                                         Arm(name="il2_2miu", dose_miu=2.0)])
        >>> info.control_arm
        'placebo'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "trial"
    arms: tuple[Arm, ...] = Field(min_length=1)
    strata: tuple[str, ...] = ()
    horizon_days: float | None = Field(default=None, gt=0)
    analyte_units: dict[str, str] = Field(default_factory=dict)
    # participant flow before randomisation, where known (the simulator records it): screened,
    # eligible, enrichment_excluded (eligible but outside the enrichment range), randomised
    screening: dict[str, int] = Field(default_factory=dict)
    description: str = ""
    source: Literal["user", "trial.toml", "derived"] = "user"

    @field_validator("arms")
    @classmethod
    def _unique_arm_names(cls, arms: tuple[Arm, ...]) -> tuple[Arm, ...]:
        names = [a.name for a in arms]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"arm names must be unique; repeated: {duplicated}")
        return arms

    @model_validator(mode="after")
    def _at_most_one_control(self) -> "TrialInfo":
        controls = [a.name for a in self.arms if a.control]
        if len(controls) > 1:
            raise ValueError(f"at most one arm can be the control; got {controls}")
        return self

    @property
    def arm_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.arms)

    @property
    def control_arm(self) -> str | None:
        return next((a.name for a in self.arms if a.control), None)

    @property
    def active_arms(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.arms if not a.control)

    def arm(self, name: str) -> Arm:
        for a in self.arms:
            if a.name == name:
                return a
        raise KeyError(f"no arm named {name!r}; arms are {list(self.arm_names)}")

    @classmethod
    def from_arm_names(cls, arm_names: list[str], name: str = "trial") -> "TrialInfo":
        """Derive arms from the names in `participants.arm`; 'placebo'/'control' is the control.

        A missing or blank arm is skipped and a non-text one is named by its text: both are the
        table's problems, reported by validation, and must not stop the arms being derived."""
        names = sorted({n for n in map(_arm_text, arm_names) if n}) or ["(none)"]
        arms = [Arm(name=a, control=a.lower() in CONTROL_ARM_NAMES) for a in names]
        if sum(a.control for a in arms) > 1:
            arms = [a.model_copy(update={"control": False}) for a in arms]
        return cls(name=name, arms=tuple(arms), source="derived")

    def restricted_to(self, arm_names: set[str]) -> "TrialInfo":
        """The same trial with only the arms named (used when selecting a subgroup)."""
        return self.model_copy(update={"arms": tuple(a for a in self.arms if a.name in arm_names)})

    def to_toml_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "description": self.description}
        if self.horizon_days is not None:
            out["horizon_days"] = self.horizon_days
        out["strata"] = list(self.strata)
        if self.analyte_units:
            out["analyte_units"] = dict(self.analyte_units)
        if self.screening:
            out["screening"] = dict(self.screening)
        out["arms"] = [a.model_dump(exclude_none=True) for a in self.arms]
        return out
