"""`design_matrix`'s shortcuts through X'X give the answers of the numpy routines they replace."""

from __future__ import annotations

import numpy as np
import pytest

from mndtrial.analysis.design_matrix import full_column_rank, least_squares


def _designs():
    rng = np.random.default_rng(11)
    n = 400
    base = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n), rng.uniform(0, 20, n)])
    yield "well conditioned", base
    yield "constant column", np.column_stack([base, np.full(n, 3.0)])
    yield "exactly collinear", np.column_stack([base, base[:, 1] * 2 - base[:, 3]])
    for eps in (1e-3, 1e-6, 1e-9, 1e-12, 1e-14):  # from clearly full rank to numerically collinear
        yield f"collinear up to {eps:g}", np.column_stack([base, base[:, 1] + eps * rng.normal(size=n)])
    yield "scales far apart", base * np.array([1.0, 1e-6, 1.0, 1e6])
    yield "wide", base[:3]
    yield "no columns", np.zeros((5, 0))


@pytest.mark.parametrize("name,X", list(_designs()), ids=[n for n, _ in _designs()])
def test_full_column_rank_is_matrix_rank(name, X):
    assert full_column_rank(X) == (np.linalg.matrix_rank(X) == X.shape[1] if X.shape[1] else True)


@pytest.mark.parametrize("name,X", [d for d in _designs() if d[1].shape[1] and d[1].shape[0] > 10],
                         ids=[n for n, X in _designs() if X.shape[1] and X.shape[0] > 10])
def test_least_squares_is_lstsq(name, X):
    y = np.random.default_rng(3).normal(size=len(X)) + X @ np.arange(1, X.shape[1] + 1)
    want = np.linalg.lstsq(X, y, rcond=None)[0]
    got = least_squares(X, y)
    if np.linalg.matrix_rank(X) == X.shape[1]:
        np.testing.assert_allclose(X @ got, X @ want, rtol=1e-9, atol=1e-9 * np.abs(X @ want).max())
        np.testing.assert_allclose(got, want, rtol=1e-6 * np.linalg.cond(X), atol=1e-12)
    else:  # not unique: the same minimum-norm solution lstsq gives
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
