"""The compiled standard normals (`mndtrial.sim._normal`) are numpy's, bit for bit.

Reference: numpy's own `Generator.standard_normal` on a generator seeded alike. Millions of draws
reach the ziggurat's rare branches (the wedge about 0.7% of the draws, the tail beyond 3.65 about
one in 4,000), and the generator must be left exactly where numpy leaves it (the next draws of
any kind agree).
"""

from __future__ import annotations

import numpy as np
import pytest

from mndtrial.sim._normal import TABLES, standard_normal

pytestmark = pytest.mark.skipif(TABLES is None, reason="numba ships no ziggurat tables: numpy draws instead")


@pytest.mark.parametrize("seed", [0, 1, 2026])
def test_compiled_normals_equal_numpys_and_leave_the_same_state(seed):
    ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
    a = standard_normal(ours, (2_000_000,))
    b = theirs.standard_normal(2_000_000)
    assert np.array_equal(a, b)
    assert (np.abs(a) > 3.6541528853610088).sum() > 100  # the tail branch was taken, not only the fast path
    assert ours.bit_generator.state == theirs.bit_generator.state
    assert ours.random() == theirs.random() and ours.integers(1 << 62) == theirs.integers(1 << 62)


def test_shapes_and_out_fill_in_c_order_like_numpy():
    ours, theirs = np.random.default_rng(5), np.random.default_rng(5)
    out = np.empty((3, 4, 5))
    assert standard_normal(ours, out=out) is out
    assert np.array_equal(out, theirs.standard_normal((3, 4, 5)))
    assert np.array_equal(standard_normal(ours, (7, 2)), theirs.standard_normal((7, 2)))
    assert standard_normal(ours, (0,)).shape == (0,)


def test_other_bit_generators_and_strided_outputs_go_to_numpy():
    ours, theirs = np.random.Generator(np.random.MT19937(3)), np.random.Generator(np.random.MT19937(3))
    assert np.array_equal(standard_normal(ours, (1000,)), theirs.standard_normal(1000))
    with pytest.raises(ValueError):  # numpy's own refusal of a strided `out`
        standard_normal(np.random.default_rng(4), out=np.empty((10, 6))[:, ::2])
