"""Stratified permuted-block randomisation, vectorised over trials.

Within each stratum of each trial, participants (in order of arrival) fill consecutive blocks;
each block holds every arm in proportion to its allocation weight, in a random order (Rosenberger
& Lachin, *Randomization in Clinical Trials*, 2nd ed., 2016, ch. 3).
"""

from __future__ import annotations

from fractions import Fraction
from math import lcm

import numpy as np

from ..errors import ParameterError
from ._kernels import block_arms

__all__ = ["allocation_weights", "permuted_blocks"]


def allocation_weights(allocation: tuple[float, ...]) -> tuple[int, ...]:
    """Whole-number weights from a ratio: (1, 1) or (2, 1) as given, (0.5, 0.25, 0.25) → (2, 1, 1).

    Example:
        >>> allocation_weights((1/3, 1/3, 1/3))
        (1, 1, 1)
    """
    values = [float(a) for a in allocation]
    if not values or any(not np.isfinite(a) or a <= 0 for a in values):
        raise ParameterError("allocation", tuple(allocation), "every arm's allocation must be a positive number")
    if all(a.is_integer() for a in values):
        ints = [int(a) for a in values]
    else:
        fractions = [Fraction(a).limit_denominator(1000) for a in values]
        if abs(sum(values) - 1) > 1e-6 or any(abs(float(f) - a) > 1e-6 for f, a in zip(fractions, values)):
            raise ParameterError("allocation", tuple(allocation),
                                 "ratios must be whole-number weights (e.g. 1:1, 2:1) or fractions that sum to 1")
        denominator = lcm(*(f.denominator for f in fractions))
        ints = [int(f * denominator) for f in fractions]
    g = np.gcd.reduce(ints)
    return tuple(int(i // g) for i in ints)


def permuted_blocks(rng: np.random.Generator, stratum: np.ndarray, n_strata: int,
                    weights: tuple[int, ...], block_size: int) -> np.ndarray:
    """Arm index (position in `weights`) for participants `stratum[trial, arrival]`.

    `block_size` must be a multiple of `sum(weights)`; the last block of a stratum may be
    incomplete, as in a real trial.
    """
    unit = sum(weights)
    if block_size <= 0 or block_size % unit:
        raise ParameterError("block_size", block_size, f"must be a positive multiple of the allocation total ({unit})")
    n_blocks = -(-stratum.shape[1] // block_size)
    template = np.repeat(np.arange(len(weights)), np.asarray(weights) * (block_size // unit))
    # one uniform per place of every possible block orders the block (argsort); the compiled loop
    # reads, for each participant in order of arrival, the place its rank in the stratum gives
    u = rng.random((stratum.shape[0], n_strata, n_blocks, block_size))
    return block_arms(u, np.ascontiguousarray(stratum, dtype=np.int64), template)
