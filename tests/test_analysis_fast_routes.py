"""Hand-written replacements of pandas routes in the analyses (issue 12), each against the route it replaced."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mndtrial.analysis.frame import joined_labels


@pytest.mark.parametrize("sep", [" / ", "|"])
def test_joined_labels_equal_pandas_row_agg(sep):
    rng = np.random.default_rng(4)
    n = 50
    table = pd.DataFrame({
        "country": rng.choice(["UK", "France", "Italy"], n).astype(object),
        "site": pd.Categorical(rng.choice(["limb", "bulbar"], n)),
        "count": rng.integers(0, 5, n),
        "ratio": rng.normal(size=n).round(3),
        "flag": rng.random(n) > 0.5,
    }, index=rng.permutation(n) + 100)  # labels that are not positions
    for columns in (["country"], ["country", "site"], list(table.columns)):
        reference = table[columns].astype(str).agg(sep.join, axis=1).to_numpy()
        fast = joined_labels(table, columns, sep)
        assert fast.dtype == reference.dtype == object
        assert fast.tolist() == reference.tolist()


def _reference_jsonable(value):
    """`frame.jsonable` before its fast path for plain types (mndtrial 7f3cdf8)."""
    import math

    if isinstance(value, dict):
        return {str(k): _reference_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_reference_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [_reference_jsonable(r) for r in value.reset_index().to_dict(orient="records")]
    if isinstance(value, np.ndarray):
        return [_reference_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if value is pd.NA or value is None:
        return None
    return value


def _typed(value):
    """The value with every leaf's type beside it (1, 1.0 and True compare equal; their JSON does not)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value if value == value else "nan")


def test_jsonable_equals_the_isinstance_chain(example_trial):
    from mndtrial.analysis import AnalysisPlan
    from mndtrial.analysis.frame import jsonable
    from mndtrial.analysis.plan import _plain

    class Text(str):
        pass

    values = {1: 1.5, "nan": float("nan"), "inf": -np.inf, "f64": np.float64(2.5), "f64nan": np.float64("nan"),
              "i": 3, "i64": np.int64(4), "b": True, "nb": np.bool_(False), "s": "x", "sub": Text("y"), "none": None,
              "na": pd.NA, "t": (1, 2.0, [np.float32(0.5)]), "arr": np.array([1.0, np.nan]),
              "df": pd.DataFrame({"a": [1.0, np.inf]}, index=pd.Index(["r", "s"], name="k"))}
    assert _typed(jsonable(values)) == _typed(_reference_jsonable(values))
    results = AnalysisPlan().run(example_trial).sections
    assert _typed(jsonable(_plain(results))) == _typed(_reference_jsonable(_plain(results)))


@pytest.mark.parametrize("reml", [True, False])
def test_written_out_slope_objective_is_the_generic_one_to_the_bit(reml):
    from mndtrial.analysis.reml import _objective, group_moments, reml_objective

    rng = np.random.default_rng(11)
    groups = np.repeat(np.arange(40), 6)
    months = np.tile(np.arange(6.0), 40) + rng.random(240)
    active = (groups % 2).astype(float)
    b = rng.normal(size=(40, 2)) * [4.0, 0.3]
    y = 40 - 0.9 * months + 0.2 * months * active + b[groups, 0] + b[groups, 1] * months + rng.normal(size=240)
    X = np.column_stack([np.ones(240), months, active, months * active])
    m = group_moments(y, X, np.column_stack([np.ones(240), months]), groups)
    thetas = [np.array(t) for t in ([3.0, 0.1, 0.2], [0.5, -0.3, 0.05], [1e-8, 0.0, 1e-8], [2.0, 1.0, 0.0])]
    thetas += [rng.normal(size=3) * 2 for _ in range(20)]
    for theta in thetas:
        f, grad, gls = reml_objective(theta, m, reml)
        f_ref, grad_ref, gls_ref = _objective(theta, m, reml)
        assert f == f_ref and np.array_equal(grad, grad_ref)
        assert gls.keys() == gls_ref.keys()
        for key in gls:
            assert np.array_equal(gls[key], gls_ref[key]), key
