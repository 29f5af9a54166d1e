"""Interim selection rules of an adaptive-enrichment design: which populations go on to stage 2.

Two populations, S (e.g. low neurofilament) and F (everyone). At the interim each has an effect
estimate (hazard ratio, < 1 is benefit) and a one-sided Z statistic (> 0 is benefit). A rule
returns, per trial, whether S and whether F continue: both, S only, F only, or neither (a stop for
futility). The rules are rpact's `typeOfSelection` (Wassmer & Brannath 2016, §11.3), vectorised
over trials:

- `best`: the population with the larger effect (S on a tie);
- `epsilon`: every population whose effect is within `epsilon` of the larger one;
- `all`: both;
- `user`: `function(hazard_ratio, z) -> bool array (n_trials, 2)`, any rule you can write.

The effect is measured as 1 / hazard ratio (`measure="hazard_ratio"`, rpact's effectEstimate with
directionUpper = FALSE) or as the Z statistic (`measure="z"`, rpact's testStatistic). Then a
population is dropped when it fails the `threshold`: an estimated hazard ratio at or above it
(for `hazard_ratio`), or a Z at or below it (for `z`) — rpact's `threshold`.

Example:
    >>> rule = SelectionRule(kind="epsilon", epsilon=0.1, threshold=1.0)
    >>> rule.select(hazard_ratio=[[0.6, 0.8], [0.7, 0.72], [1.1, 1.05]], z=[[2.0, 1.5], [1.0, 1.2], [-0.5, -0.2]]).tolist()
    [[True, False], [True, True], [False, False]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from ..errors import ParameterError

__all__ = ["SelectionRule", "SELECTIONS", "selection_label"]

SELECTIONS = ("best", "epsilon", "all", "user")


def selection_label(selected: np.ndarray) -> np.ndarray:
    """'both', 'S only', 'F only' or 'none' for each row of a (n, 2) selection."""
    s, f = np.asarray(selected, dtype=bool).T
    return np.where(s & f, "both", np.where(s, "S only", np.where(f, "F only", "none")))


@dataclass(frozen=True)
class SelectionRule:
    """Which of S and F continue after the interim (see the module docstring)."""

    kind: Literal["best", "epsilon", "all", "user"] = "best"
    measure: Literal["hazard_ratio", "z"] = "hazard_ratio"
    epsilon: float | None = None
    threshold: float | None = None
    function: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None

    def __post_init__(self) -> None:
        if self.kind not in SELECTIONS:
            raise ParameterError("selection.kind", self.kind, f"must be one of {SELECTIONS}")
        if self.measure not in ("hazard_ratio", "z"):
            raise ParameterError("selection.measure", self.measure, "must be 'hazard_ratio' or 'z'")
        if (self.kind == "epsilon") != (self.epsilon is not None):
            raise ParameterError("selection.epsilon", self.epsilon, "is given exactly when kind = 'epsilon'")
        if self.epsilon is not None and not (np.isfinite(self.epsilon) and self.epsilon >= 0):
            raise ParameterError("selection.epsilon", self.epsilon, "must be a finite number >= 0")
        if (self.kind == "user") != (self.function is not None):
            raise ParameterError("selection.function", self.function, "is given exactly when kind = 'user'")
        if self.threshold is not None and self.measure == "hazard_ratio" and not self.threshold > 0:
            raise ParameterError("selection.threshold", self.threshold, "a hazard-ratio threshold must be > 0")

    def select(self, hazard_ratio, z) -> np.ndarray:
        """(n_trials, 2) booleans: S continues, F continues. NaN estimates are never selected."""
        hr = np.atleast_2d(np.asarray(hazard_ratio, dtype=float))
        z = np.atleast_2d(np.asarray(z, dtype=float))
        if hr.shape != z.shape or hr.ndim != 2 or hr.shape[1] != 2:
            raise ParameterError("hazard_ratio/z", (hr.shape, z.shape), "need matching (n_trials, 2) arrays (S, F)")
        known = np.isfinite(hr) & np.isfinite(z)
        if self.kind == "user":
            out = np.asarray(self.function(hr, z))
            if out.shape != hr.shape or out.dtype != bool:
                raise ParameterError("selection.function", self.function,
                                     f"must return a boolean array of shape {hr.shape}, not {out.dtype}{out.shape}")
            return out & known
        with np.errstate(divide="ignore"):
            effect = np.where(known, 1.0 / hr if self.measure == "hazard_ratio" else z, -np.inf)
        best = effect.max(axis=1, keepdims=True)
        if self.kind == "all":
            out = np.ones_like(known)
        elif self.kind == "best":
            out = np.zeros_like(known)
            out[np.arange(len(effect)), np.argmax(effect, axis=1)] = True  # first (S) on a tie
        else:
            out = best - effect <= self.epsilon
        if self.threshold is not None:
            passes = hr < self.threshold if self.measure == "hazard_ratio" else z > self.threshold
            out &= passes
        return out & known
