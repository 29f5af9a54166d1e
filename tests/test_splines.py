"""The natural spline basis against R's splines::ns (values stored in tests/reference/who_benefits/)."""

import json

import numpy as np
import pytest

from mndtrial.analysis.splines import NaturalSpline, default_knots, ns_basis
from mndtrial.errors import ParameterError


@pytest.fixture(scope="module")
def ref(reference_dir):
    return json.loads((reference_dir / "who_benefits" / "references.json").read_text())


def test_default_knots_and_basis_equal_r_ns_df(ref):
    r = ref["ns_df4"]
    knots, boundary = default_knots(np.array(r["x"]), 4)
    np.testing.assert_allclose(knots, r["knots"], rtol=0, atol=1e-12)
    assert boundary == tuple(r["boundary"])
    np.testing.assert_allclose(ns_basis(np.array(r["x"]), df=4), np.array(r["basis"]), rtol=0, atol=1e-12)


def test_explicit_knots_and_linear_continuation_outside_equal_r(ref):
    r = ref["ns_knots_outside"]
    spline = NaturalSpline(knots=tuple(r["knots"]), boundary_knots=tuple(r["boundary"]))
    np.testing.assert_allclose(spline.basis(np.array(r["x"])), np.array(r["basis"]), rtol=0, atol=1e-12)


def test_one_df_is_r_linear_column(ref):
    r = ref["ns_df1"]
    np.testing.assert_allclose(ns_basis(np.array(r["x"]), df=1)[:, 0], r["basis"], rtol=0, atol=1e-12)


def test_natural_boundary_conditions():
    # closed form: zero second derivative beyond the boundaries means exactly linear there
    spline = NaturalSpline(knots=(2.0, 5.0), boundary_knots=(0.0, 9.0))
    left = spline.basis(np.array([-3.0, -2.0, -1.0, 0.0]))
    np.testing.assert_allclose(np.diff(left, n=2, axis=0), 0.0, atol=1e-12)
    right = spline.basis(np.array([9.0, 10.0, 11.0, 12.0]))
    np.testing.assert_allclose(np.diff(right, n=2, axis=0), 0.0, atol=1e-12)


@pytest.mark.parametrize("knots, boundary", [((5.0, 3.0), (0.0, 9.0)), ((10.0,), (0.0, 9.0)), ((), (2.0, 1.0))])
def test_bad_knots_are_refused(knots, boundary):
    with pytest.raises(ParameterError):
        NaturalSpline(knots=knots, boundary_knots=boundary)
