"""Standard normal draws of a numpy `Generator` (PCG64), compiled: numpy's numbers, bit for bit.

The simulator draws about 5,500 standard normals per MIROCALS trial; numpy makes each one through
a function pointer to the bit generator. This is numpy's own algorithm (the 256-step ziggurat of
`random_standard_normal` in numpy/random/src/distributions/distributions.c, with its tables) on
numpy's PCG64 stream (XSL-RR output of a 128-bit LCG, numpy/random/src/pcg64/pcg64.h), compiled in
one loop: the generator's state is read, advanced here and written back, so the draws and every
later draw from the generator are exactly those of `rng.standard_normal(out=out)`.

Any other bit generator, or a numba without the ziggurat tables, falls back to numpy itself.
tests/test_sim_normal.py checks the equality on millions of draws (the rare tail and wedge
branches included) and the state left behind.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

try:  # numpy's ziggurat tables, as numba ships them for its own Generator support
    from numba.np.random._constants import fi_double, ki_double, wi_double
    TABLES = (np.ascontiguousarray(wi_double, dtype=np.float64), np.ascontiguousarray(ki_double, dtype=np.uint64),
               np.ascontiguousarray(fi_double, dtype=np.float64))
except ImportError:  # pragma: no cover - a numba without them: numpy draws instead
    TABLES = None

__all__ = ["standard_normal", "draw", "pcg64_state", "TABLES"]

_MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645  # PCG_DEFAULT_MULTIPLIER_128
_NOR_R = 3.6541528853610087963519472518  # ziggurat_nor_r
_NOR_INV_R = 0.27366123732975827203338247596  # ziggurat_nor_inv_r
_MASK64 = (1 << 64) - 1


@intrinsic
def _lcg128(typingctx, state_hi, state_lo, inc_hi, inc_lo):
    """(hi, lo) of state · multiplier + inc modulo 2^128, in native 128-bit arithmetic."""
    sig = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        from llvmlite import ir
        i128, i64 = ir.IntType(128), ir.IntType(64)

        def join(hi, lo):
            return builder.or_(builder.shl(builder.zext(hi, i128), ir.Constant(i128, 64)), builder.zext(lo, i128))

        s = builder.add(builder.mul(join(args[0], args[1]), ir.Constant(i128, _MULTIPLIER)), join(args[2], args[3]))
        hi = builder.trunc(builder.lshr(s, ir.Constant(i128, 64)), i64)
        return context.make_tuple(builder, signature.return_type, (hi, builder.trunc(s, i64)))

    return sig, codegen


@njit(inline="always")
def _next64(hi, lo, inc_hi, inc_lo):
    # step, then XSL-RR output of the new state (pcg_setseq_128_xsl_rr_64_random_r)
    hi, lo = _lcg128(hi, lo, inc_hi, inc_lo)
    x = hi ^ lo
    r = hi >> np.uint64(58)
    return hi, lo, (x >> r) | (x << ((np.uint64(64) - r) & np.uint64(63)))


@njit(inline="always")
def _unit(r):
    return float(np.int64(r >> np.uint64(11))) * (1.0 / 9007199254740992.0)  # next_double (< 2^53: exact as int64)


@njit(inline="always")
def draw(hi, lo, inc_hi, inc_lo, wi, ki, fi):
    """(one standard normal as numpy's `random_standard_normal` makes it, the state (hi, lo) after it).

    Inlined into compiled loops that consume normals as they draw them (`_kernels`); `wi, ki, fi`
    are the ziggurat tables (`TABLES`)."""
    while True:
        hi, lo, r = _next64(hi, lo, inc_hi, inc_lo)
        idx = np.intp(r & np.uint64(0xFF))
        r >>= np.uint64(8)
        rabs = (r >> np.uint64(1)) & np.uint64(0x000FFFFFFFFFFFFF)
        x = float(np.int64(rabs)) * wi[idx]  # rabs < 2^52: converted exactly, in one instruction
        # numpy's `if (sign) x = -x`, without a branch: a coin-flip branch is mispredicted half
        # the time (it cost 40% of the draw); multiplying by -1.0 flips the sign bit exactly
        x *= 1.0 - 2.0 * float(np.int64(r & np.uint64(1)))
        if rabs < ki[idx]:
            return x, hi, lo  # 99.3% of the draws
        if idx == 0:  # the tail, beyond _NOR_R
            while True:
                hi, lo, r1 = _next64(hi, lo, inc_hi, inc_lo)
                xx = -_NOR_INV_R * math.log1p(-_unit(r1))
                hi, lo, r2 = _next64(hi, lo, inc_hi, inc_lo)
                yy = -math.log1p(-_unit(r2))
                if yy + yy > xx * xx:
                    return (-(_NOR_R + xx) if (rabs >> np.uint64(8)) & np.uint64(1) else _NOR_R + xx), hi, lo
        hi, lo, r1 = _next64(hi, lo, inc_hi, inc_lo)
        if (fi[idx - 1] - fi[idx]) * _unit(r1) + fi[idx] < math.exp(-0.5 * x * x):
            return x, hi, lo  # the wedge


@njit(cache=True)
def _fill(state, out, wi, ki, fi):
    """`out` (1-d) filled as numpy's `random_standard_normal` fills it; `state` (hi, lo, inc hi,
    inc lo) advanced in place."""
    hi, lo, inc_hi, inc_lo = state[0], state[1], state[2], state[3]
    for k in range(out.shape[0]):
        x, hi, lo = draw(hi, lo, inc_hi, inc_lo, wi, ki, fi)
        out[k] = x
    state[0] = hi
    state[1] = lo


@contextmanager
def pcg64_state(rng: np.random.Generator) -> Iterator[np.ndarray | None]:
    """The state (hi, lo, inc hi, inc lo) of `rng`'s PCG64 as uint64s, for a compiled loop that draws
    with `draw` and advances it in place; written back to `rng` on leaving. None where the
    compiled draws do not apply (another bit generator, no tables): draw with numpy then."""
    if TABLES is None or type(rng.bit_generator) is not np.random.PCG64:
        yield None
        return
    bits = rng.bit_generator
    with bits.lock:  # as numpy holds it while it draws: one generator shared by threads stays one stream
        st = bits.state
        s, inc = st["state"]["state"], st["state"]["inc"]
        state = np.array([s >> 64, s & _MASK64, inc >> 64, inc & _MASK64], dtype=np.uint64)
        yield state
        st["state"]["state"] = (int(state[0]) << 64) | int(state[1])
        bits.state = st


def standard_normal(rng: np.random.Generator, shape=None, out: np.ndarray | None = None) -> np.ndarray:
    """`rng.standard_normal(shape)` (or `(out=out)`, `out` C-contiguous float64): the same numbers,
    and `rng` left in the same state.

    Example:
        >>> a, b = np.random.default_rng(7), np.random.default_rng(7)
        >>> bool(np.array_equal(standard_normal(a, (3, 4)), b.standard_normal((3, 4))))
        True
    """
    if out is None:
        out = np.empty(shape)
    if not out.flags.c_contiguous or out.dtype != np.float64:
        return rng.standard_normal(out=out)
    with pcg64_state(rng) as state:
        if state is None:
            return rng.standard_normal(out=out)
        _fill(state, out.reshape(-1), *TABLES)
    return out
