"""Compiled (numba) loops of the simulator: block randomisation and the visit tables.

Every transcendental function (exp, log, power) stays in numpy, so both routes use the same
floating-point functions; these loops do only what numpy does slowly at this size: many
4-element sorts, and turning (trial, participant, visit) grids into the rows of the visits that
happened (`np.nonzero` and fancy indexing cost more than the arithmetic). The arithmetic they do
(+, −, ×, ÷, rounding, min/max) is exact IEEE, bit for bit numpy's. The ALSFRS-R residuals are
drawn inside the loop that uses them (`alsfrs_rows_drawn`), with `_normal.draw`: numpy's own
normals from the generator's PCG64 state, so the stream is numpy's. The numpy route they
replaced is kept in tests/sim_reference.py, which they must equal trial by trial.

Compiled on first use and cached on disk (`cache=True`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# `draw` is inlined into the loops below: numba's disk cache keys them on this file alone, so after
# editing `_normal.draw` clear the cached builds (__pycache__/*.nbi, *.nbc) of this module too.
from ._normal import draw


@njit(cache=True)
def block_arms(u, stratum, template):
    """Arm of participant (trial t, arrival i): `template[argsort(u[t, s, r // size])[r % size]]`,
    s its stratum and r its rank of arrival in the stratum (`randomise.permuted_blocks`).

    `u` (trials, strata, blocks, block size) holds the uniforms that order each block; the
    argsort is stable (numpy's order whenever a block's keys differ, which uniform doubles do but
    with probability ~1e-16). A block is ordered once, when its stratum's first participant in it
    arrives, by ranks (place of key k = keys below it + equal keys before it): comparisons
    without branches, where a sorting loop mispredicted at every step.
    """
    n_trials, n = stratum.shape
    n_strata, size = u.shape[1], u.shape[3]
    out = np.empty((n_trials, n), np.int64)
    place = np.zeros(n_strata, np.int64)  # r % size and r // size of the stratum's next arrival,
    block = np.zeros(n_strata, np.int64)  # counted: a division by a run-time size costs ~40 cycles
    order = np.empty((n_strata, size), np.int64)
    for t in range(n_trials):
        place[:] = 0
        block[:] = 0
        for i in range(n):
            s = stratum[t, i]
            p = place[s]
            if p == 0:
                b = block[s]
                for k in range(size):
                    rank = 0
                    for j in range(size):
                        rank += (u[t, s, b, j] < u[t, s, b, k]) | ((u[t, s, b, j] == u[t, s, b, k]) & (j < k))
                    order[s, rank] = k
            out[t, i] = template[order[s, p]]
            if p + 1 == size:
                place[s] = 0
                block[s] += 1
            else:
                place[s] = p + 1
    return out


@njit(cache=True)
def _seen(day, horizon, death, dropout):
    # the visit happened: within the horizon, before death, not after leaving the trial
    return day <= horizon and day < death and day <= dropout


@njit(cache=True)
def visit_rows(visits, horizon, death, dropout):
    """How many of the (participant, visit) pairs of `death`'s participants happened (`alsfrs_rows`)."""
    n_trials, n = death.shape
    rows = 0
    for t in range(n_trials):
        for i in range(n):
            for v in range(visits.shape[0]):
                if _seen(visits[v], horizon, death[t, i], dropout[t, i]):
                    rows += 1
    return rows


@njit(inline="always")
def _total(baseline, slope, decline, noise):
    x = np.rint(baseline - slope * decline + noise)
    x = 0.0 if x < 0.0 else x  # as np.clip: a tie keeps x, so -0.0 stays -0.0
    return 48.0 if x > 48.0 else x


@njit(inline="always")
def _visit_row(trial, subject, day, total, k, t, i, visit_day, value):
    trial[k] = t
    subject[k] = i
    day[k] = visit_day
    total[k] = value
    return k + 1


@njit(cache=True)
def alsfrs_rows(baseline, slope, decline, z, sd, visits, horizon, death, dropout, first_trial, t_lo, t_hi,
                trial, subject, day, total, k):
    """Writes (trial, subject, day, total) of the ALSFRS-R visits that happened, trials t_lo .. t_hi − 1
    of the block, into the columns from row `k`; returns the next free row.

    total = clip(rint(baseline − slope·decline + z·sd), 0, 48), no noise at day 0 (the screening
    score), evaluated as numpy evaluates it on the (trial, participant, visit) grid.
    """
    n_visits = z.shape[2]
    n = z.shape[1]
    for t in range(t_lo, t_hi):
        for i in range(n):
            for v in range(n_visits):
                if not _seen(visits[v], horizon, death[t, i], dropout[t, i]):
                    continue
                noise = 0.0 if visits[v] == 0 else z[t, i, v] * sd
                k = _visit_row(trial, subject, day, total, k, first_trial + t, i, visits[v],
                               _total(baseline[t, i], slope[t, i], decline[v], noise))
    return k


@njit(cache=True)
def alsfrs_rows_drawn(state, wi, ki, fi, baseline, slope, decline, sd, visits, horizon, death, dropout, first_trial,
                      t_lo, t_hi, trial, subject, day, total, k):
    """`alsfrs_rows` with the noise drawn here, as it is used: the block's standard normals
    (trial, participant, visit), every one drawn whether its visit happened or not, as
    `standard_normal(rng, out=noise)` draws them, from the PCG64 `state` (`_normal.pcg64_state`,
    advanced in place; `wi, ki, fi` the ziggurat tables). No noise array is written and read back."""
    hi, lo, inc_hi, inc_lo = state[0], state[1], state[2], state[3]
    n_trials, n = death.shape
    n_visits = visits.shape[0]
    for t in range(n_trials):
        kept = t_lo <= t < t_hi
        for i in range(n):
            d, q, b, s = death[t, i], dropout[t, i], baseline[t, i], slope[t, i]
            for v in range(n_visits):
                z, hi, lo = draw(hi, lo, inc_hi, inc_lo, wi, ki, fi)
                if not (kept and _seen(visits[v], horizon, d, q)):
                    continue
                noise = 0.0 if visits[v] == 0 else z * sd
                k = _visit_row(trial, subject, day, total, k, first_trial + t, i, visits[v],
                               _total(b, s, decline[v], noise))
    state[0] = hi
    state[1] = lo
    return k


@njit(cache=True)
def biomarker_rows(treg_base, rise, kinetics, treg_z, treg_sd, nfl_base, nfl_factor, u, missing_fraction, days,
                   horizon, death, dropout, first_trial):
    """(trial, subject, day, analyte, value) of the samples taken: the visit happened and the sample
    is not missing (`u >= missing_fraction`). Visits: the Treg days (analyte 0), then serum NfL's
    (analyte 1). Values as numpy computes them on the whole grid: Tregs
    round(max(base + rise·kinetics + sd·z, 0.1), 2); NfL round(base · factor, 1), the factor
    exp(σ·z) made by numpy (np.round(x, d) is rint(x·10^d) / 10^d)."""
    n_trials, n, n_visits = u.shape
    n_treg = kinetics.shape[0]
    rows = 0
    for t in range(n_trials):
        for i in range(n):
            for v in range(n_visits):
                if _seen(days[v], horizon, death[t, i], dropout[t, i]) and u[t, i, v] >= missing_fraction:
                    rows += 1
    trial = np.empty(rows, np.int64)
    subject = np.empty(rows, np.int64)
    day = np.empty(rows)
    code = np.empty(rows, np.int8)
    out = np.empty(rows)
    k = 0
    for t in range(n_trials):
        for i in range(n):
            for v in range(n_visits):
                if not (_seen(days[v], horizon, death[t, i], dropout[t, i]) and u[t, i, v] >= missing_fraction):
                    continue
                if v < n_treg:
                    x = treg_base[t, i] + rise[t, i] * kinetics[v] + treg_sd * treg_z[t, i, v]
                    x = 0.1 if x < 0.1 else x
                    out[k] = np.rint(x * 100.0) / 100.0
                    code[k] = 0
                else:
                    out[k] = np.rint(nfl_base[t, i] * nfl_factor[t, i, v - n_treg] * 10.0) / 10.0
                    code[k] = 1
                trial[k] = first_trial + t
                subject[k] = i
                day[k] = days[v]
                k += 1
    return trial, subject, day, code, out
