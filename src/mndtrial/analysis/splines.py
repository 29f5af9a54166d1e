"""Natural cubic spline basis, identical to R's `splines::ns` (same knots → same columns).

R builds `ns(x, knots, Boundary.knots, intercept = FALSE)` from the cubic B-spline basis on the
knots `(b₁ ×4, interior knots, b₂ ×4)`: it drops the first B-spline (without an intercept),
takes the QR decomposition of the transposed second derivatives at the two boundary knots, and
keeps the columns of Qᵀ·basis after the first two, so every column has zero second derivative at
both boundaries (linear beyond them). Outside the boundary knots each column continues linearly
(the value and first derivative at the nearest boundary), as R does. The Householder QR of LAPACK
(numpy) and of LINPACK's `dqrdc2` (R) build the same reflections, so the columns equal R's, signs
included (`tests/test_splines.py` against stored R values).

Default interior knots, as R with `df`: `df − 1` knots at the quantiles `k/df` (k = 1..df−1) of
x (R type 7 = numpy's linear), boundary knots at the range of x.

References: R Core, `splines::ns` (R 4.2 source, src/library/splines/R/splines.R); Hastie (1992),
"Generalized additive models", in *Statistical Models in S*, ch. 7.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError

__all__ = ["NaturalSpline", "ns_basis", "default_knots"]

ORDER = 4  # cubic


def default_knots(x: np.ndarray, df: int) -> tuple[np.ndarray, tuple[float, float]]:
    """Interior and boundary knots of `ns(x, df = df)` (no intercept): R's placement.

    Example:
        >>> knots, boundary = default_knots(np.arange(1.0, 11.0), 3)
        >>> knots.round(4).tolist(), boundary
        ([4.0, 7.0], (1.0, 10.0))
    """
    x = np.asarray(x, dtype=float)
    if int(df) != df or df < 1:
        raise ParameterError("df", df, "must be a whole number >= 1")
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ParameterError("x", "values", "must be finite and non-empty to place spline knots")
    probs = np.linspace(0.0, 1.0, int(df) + 1)[1:-1]
    return np.quantile(x, probs), (float(x.min()), float(x.max()))


def _bspline_columns(all_knots: np.ndarray, x: np.ndarray, nu: int = 0) -> np.ndarray:
    """(len(x), n_basis) values (or `nu`-th derivatives) of every cubic B-spline on the knots."""
    from scipy.interpolate import BSpline  # here: scipy.interpolate costs ~0.5 s to import

    n_basis = len(all_knots) - ORDER
    out = np.empty((len(x), n_basis))
    for j in range(n_basis):
        coef = np.zeros(n_basis)
        coef[j] = 1.0
        spline = BSpline(all_knots, coef, ORDER - 1, extrapolate=False)
        out[:, j] = spline(x, nu=nu) if nu else spline(x)
    # R's splineDesign includes the right boundary in the last interval; scipy does too, but a
    # value exactly at it may come back NaN from the extrapolate=False guard on some versions.
    return np.nan_to_num(out, nan=0.0)


@dataclass(frozen=True)
class NaturalSpline:
    """`ns` with fixed knots: `basis(x)` gives the same matrix as R's `ns(x, knots, Boundary.knots)`.

    Example:
        >>> spline = NaturalSpline(knots=(4.0, 7.0), boundary_knots=(1.0, 10.0))
        >>> spline.basis(np.array([1.0, 5.5, 10.0])).round(6).tolist()
        [[0.0, 0.0, 0.0], [0.320473, 0.47608, -0.296553], [-0.142857, 0.428571, 0.714286]]
    """

    knots: tuple[float, ...]
    boundary_knots: tuple[float, float]

    def __post_init__(self) -> None:
        lo, hi = self.boundary_knots
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ParameterError("boundary_knots", self.boundary_knots, "must be two finite numbers, lower < upper")
        k = np.asarray(self.knots, dtype=float)
        if np.any(~np.isfinite(k)) or np.any(k <= lo) or np.any(k >= hi) or np.any(np.diff(k) <= 0):
            raise ParameterError("knots", self.knots, f"must increase strictly inside the boundary knots ({lo:g}, {hi:g})")

    @classmethod
    def from_df(cls, x: np.ndarray, df: int) -> "NaturalSpline":
        """The spline R's `ns(x, df = df)` would build (knots at quantiles of x)."""
        knots, boundary = default_knots(x, df)
        return cls(knots=tuple(float(v) for v in knots), boundary_knots=boundary)

    @property
    def df(self) -> int:
        return len(self.knots) + 1

    @property
    def all_knots(self) -> np.ndarray:
        lo, hi = self.boundary_knots
        return np.concatenate([[lo] * ORDER, np.asarray(self.knots, float), [hi] * ORDER])

    def _projection(self) -> np.ndarray:
        """Columns of the full Q from the QR of the transposed boundary second derivatives, after the first two."""
        const = _bspline_columns(self.all_knots, np.asarray(self.boundary_knots, float), nu=2)[:, 1:]
        q, _ = np.linalg.qr(const.T, mode="complete")
        return q[:, 2:]

    def basis(self, x: np.ndarray) -> np.ndarray:
        """(len(x), df) basis; linear continuation outside the boundary knots, as R."""
        x = np.asarray(x, dtype=float).ravel()
        if not np.all(np.isfinite(x)):
            raise ParameterError("x", "values", "must be finite (missing values are the caller's to remove)")
        lo, hi = self.boundary_knots
        knots = self.all_knots
        raw = np.empty((len(x), len(knots) - ORDER))
        inside = (x >= lo) & (x <= hi)
        raw[inside] = _bspline_columns(knots, x[inside])
        for pivot, side in ((lo, x < lo), (hi, x > hi)):
            if side.any():
                value = _bspline_columns(knots, np.array([pivot]))[0]
                slope = _bspline_columns(knots, np.array([pivot]), nu=1)[0]
                raw[side] = value + np.outer(x[side] - pivot, slope)
        return raw[:, 1:] @ self._projection()

    def to_dict(self) -> dict:
        return {"knots": list(self.knots), "boundary_knots": list(self.boundary_knots), "df": self.df}


def ns_basis(x: np.ndarray, df: int | None = None, knots: tuple[float, ...] | None = None,
             boundary_knots: tuple[float, float] | None = None) -> np.ndarray:
    """R's `ns(x, df, knots, Boundary.knots)` (intercept = FALSE) as a numpy array.

    Example:
        >>> ns_basis(np.arange(1.0, 11.0), df=3).shape
        (10, 3)
    """
    x = np.asarray(x, dtype=float)
    if knots is None:
        if df is None:
            raise ParameterError("df", None, "give df or knots")
        auto, auto_boundary = default_knots(x, df)
        knots = tuple(float(v) for v in auto)
        boundary_knots = boundary_knots or auto_boundary
    if boundary_knots is None:
        boundary_knots = (float(x.min()), float(x.max()))
    return NaturalSpline(knots=tuple(knots), boundary_knots=tuple(boundary_knots)).basis(x)
