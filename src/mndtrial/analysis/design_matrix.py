"""Rank and least squares of a tall design matrix through its small cross-product, where that is exact enough.

LAPACK on a tall matrix (`np.linalg.matrix_rank`'s SVD, `lstsq`) costs ~1 ms on a 2,000 × 11
ALSFRS-R design single-threaded, but 20-80 ms where OpenBLAS's threads wait for a loaded CPU;
the p × p cross-product X'X costs microseconds either way. Both functions answer from X'X when
its eigenvalues leave no doubt and fall back to the tall-matrix routine otherwise, so their
answers are those of the routine they replace (the tests compare them on near-collinear designs).
"""

from __future__ import annotations

import numpy as np

__all__ = ["full_column_rank", "least_squares"]

# λ_min(X'X) / λ_max(X'X) above this means cond(X) < 1e4: far inside `matrix_rank`'s rule
# (cond < 1 / (max(n, p) · eps), ~1e12 for thousands of rows), and far above the rounding of
# X'X's computed eigenvalues (~n · p · eps relative to λ_max).
CLEARLY_FULL_RANK = 1e-8


def _clearly_full_rank(gram: np.ndarray) -> bool:
    if not np.all(np.isfinite(gram)):
        return False
    eigen = np.linalg.eigvalsh(gram)
    return bool(eigen[-1] > 0 and eigen[0] > CLEARLY_FULL_RANK * eigen[-1])


def full_column_rank(X: np.ndarray) -> bool:
    """`np.linalg.matrix_rank(X) == X.shape[1]`, decided from X'X where it clearly is.

    Example:
        >>> X = np.column_stack([np.ones(5), np.arange(5.0)])
        >>> full_column_rank(X), full_column_rank(np.column_stack([X, 2 * X[:, 1]]))
        (True, False)
    """
    X = np.asarray(X, dtype=float)
    n, p = X.shape
    if p == 0:
        return True
    if n >= p and _clearly_full_rank(X.T @ X):
        return True
    return int(np.linalg.matrix_rank(X)) == p


def least_squares(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`np.linalg.lstsq(X, y)[0]`: by the normal equations where X is clearly of full rank.

    Example:
        >>> X = np.column_stack([np.ones(4), np.arange(4.0)])
        >>> least_squares(X, 1 + 2 * np.arange(4.0)).round(12).tolist()
        [1.0, 2.0]
    """
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    gram = X.T @ X
    if X.shape[0] >= X.shape[1] > 0 and _clearly_full_rank(gram):
        return np.linalg.solve(gram, X.T @ y)
    return np.linalg.lstsq(X, y, rcond=None)[0]
