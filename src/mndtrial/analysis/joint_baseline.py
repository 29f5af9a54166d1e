"""The baseline hazard of the joint model: log λ(t) = B(t)'φ, linear in its coefficients φ.

- `piecewise`: B(t) is the indicator of the piece [cut_k, cut_{k+1}) holding t (JM's
  `piecewise-PH`); φ_k is the log hazard on piece k.
- `weibull`: B(t) = (1, log t), so λ(t) = exp(φ0)·t^φ1: a Weibull hazard of shape ρ = 1 + φ1
  (JM's `weibull-PH` writes it ρ·t^(ρ−1)·exp(γ0), the same family).
- `bspline`: B(t) is the cubic B-spline basis with interior knots at quantiles of the event times
  and boundary knots at 0 and the last follow-up time (as JM's `spline-PH`); times beyond the
  last follow-up take the boundary value (no one is at risk there in the data).

Because log λ is linear in φ, the likelihood's gradient in φ is Σ_i d_i B(T_i) − E[∫ B h], for
every kind. The cumulative hazard is integrated by Gauss–Legendre on a grid of intervals
(`grid_months`): the pieces themselves for `piecewise`, quantile intervals for the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BaselineHazard", "BASELINES", "quantile_cuts_months"]

BASELINES = ("piecewise", "weibull", "bspline")
SPLINE_DEGREE = 3
WEIBULL_SPLITS = 6


def quantile_cuts_months(time_months: np.ndarray, event: np.ndarray, pieces: int) -> np.ndarray:
    """0, the (k/pieces)-quantiles of the event times, inf (so every piece has events)."""
    events = np.sort(time_months[event == 1])
    inner = np.quantile(events, np.arange(1, pieces) / pieces) if len(events) else np.array([])
    inner = np.unique(np.round(inner[inner > 0], 6))
    return np.concatenate([[0.0], inner, [np.inf]])


@dataclass(frozen=True)
class BaselineHazard:
    """What `log λ(t) = basis(t) @ φ` means, and the grid the cumulative hazard is integrated on."""

    kind: str
    grid_months: np.ndarray              # 0 = g0 < g1 < ... < inf: Gauss–Legendre intervals
    knots_months: np.ndarray | None = None   # bspline: the full (clamped) knot vector

    @classmethod
    def piecewise(cls, cuts_months: np.ndarray) -> "BaselineHazard":
        return cls("piecewise", np.asarray(cuts_months, float))

    @classmethod
    def weibull(cls, grid_months: np.ndarray) -> "BaselineHazard":
        return cls("weibull", np.asarray(grid_months, float))

    @classmethod
    def bspline(cls, time_months: np.ndarray, event: np.ndarray, interior_knots: int,
                grid_months: np.ndarray) -> "BaselineHazard":
        inner = quantile_cuts_months(time_months, event, interior_knots + 1)[1:-1]
        upper = float(np.max(time_months))
        inner = inner[inner < upper]
        knots = np.concatenate([[0.0] * (SPLINE_DEGREE + 1), inner, [upper] * (SPLINE_DEGREE + 1)])
        # the log hazard is a cubic polynomial between knots, not across them: the grid has every knot
        grid = np.unique(np.concatenate([np.asarray(grid_months, float), inner, [upper]]))
        return cls("bspline", grid, knots)

    def intervals(self, upper_months: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi), each (n, intervals): the grid truncated at each upper limit (empty past it).

        For the Weibull baseline, whose hazard t^φ1 is not smooth at 0, the first interval is split
        geometrically (ratio 1/4, `WEIBULL_SPLITS` times) towards 0, so that Gauss–Legendre stays
        accurate to ~1e-7 there instead of ~1e-3.
        """
        upper = np.asarray(upper_months, float)
        cuts = self.grid_months
        lo = np.minimum(cuts[None, :-1], upper[:, None])
        hi = np.minimum(cuts[None, 1:], upper[:, None])
        if self.kind == "weibull":
            first = hi[:, :1]
            edges = first * 0.25 ** np.arange(WEIBULL_SPLITS, -1, -1)             # (n, splits + 1), rising
            lo = np.concatenate([np.zeros_like(first), edges[:, :-1], lo[:, 1:]], axis=1)
            hi = np.concatenate([edges, hi[:, 1:]], axis=1)
        return lo, hi

    @property
    def size(self) -> int:
        if self.kind == "piecewise":
            return len(self.grid_months) - 1
        if self.kind == "weibull":
            return 2
        return len(self.knots_months) - SPLINE_DEGREE - 1

    def basis(self, t_months: np.ndarray) -> np.ndarray:
        """B(t), shape t.shape + (size,)."""
        t = np.asarray(t_months, float)
        if self.kind == "piecewise":
            piece = np.searchsorted(self.grid_months, t, side="right") - 1
            return (piece[..., None] == np.arange(self.size)).astype(float)
        if self.kind == "weibull":
            # a zero time (no follow-up) has zero integration weight: any finite value serves
            return np.stack([np.ones_like(t), np.log(np.maximum(t, 1e-12))], -1)
        flat = np.clip(t.ravel(), 0.0, self.knots_months[-1])
        from scipy.interpolate import BSpline  # here: scipy.interpolate costs ~0.5 s to import

        B = BSpline.design_matrix(flat, self.knots_months, SPLINE_DEGREE).toarray()
        return B.reshape(t.shape + (self.size,))

    def names(self, days_per_month: float) -> list[str]:
        if self.kind == "piecewise":
            cuts = self.grid_months * days_per_month
            return [f"log_baseline_hazard[{cuts[k]:.0f}-{cuts[k + 1]:.0f} d]" for k in range(self.size)]
        if self.kind == "weibull":
            return ["log_baseline_hazard:log_scale", "log_baseline_hazard:shape_minus_1"]
        return [f"log_baseline_hazard:bspline[{k + 1}]" for k in range(self.size)]

    def start(self, time_months: np.ndarray, event: np.ndarray) -> np.ndarray:
        """φ for a constant hazard of events/exposure (piecewise: per piece)."""
        if self.kind == "piecewise":
            cuts = self.grid_months
            exposure = np.clip(np.minimum(cuts[None, 1:], time_months[:, None]) - cuts[None, :-1], 0, None).sum(0)
            piece = np.searchsorted(cuts, time_months, side="right") - 1
            events = np.bincount(piece, event, minlength=self.size)
            return np.log(np.maximum(events, 0.5) / np.maximum(exposure, 1e-9))
        rate = np.log(max(event.sum(), 0.5) / max(time_months.sum(), 1e-9))
        if self.kind == "weibull":
            return np.array([rate, 0.0])
        return np.full(self.size, rate)  # B-splines sum to one: a constant log hazard
