"""The batch log-rank test compiled (numba): one walk over each trial's sorted rows.

The statistic is `mndtrial.batch.logrank`'s numpy route (Mantel–Haenszel form, as R `survdiff`):
at each distinct death time of a stratum, with n at risk (n1 on the active arm), d deaths (d1 on
the active arm), O - E += d1 - d·n1/n and V += d (n1/n)(1 - n1/n)(n - d)/(n - 1) where n > 1.
Rows come sorted by (stratum, time descending, events first) within each trial
(`_survival_layout.SortedRows`), so the risk set of a time is every row of its stratum seen so far
once its tie is added. The numpy route (`engine="numpy"`) stays as the reference this must equal,
trial by trial (tests/test_batch_logrank_kernel.py).
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def tie_counts(time, event, block, group, i, hi):
    """The tie starting at row i (same stratum and time; rows before `hi`): (its end, rows, rows
    on the active arm, deaths, deaths on the active arm)."""
    j = i
    n = n1 = d = d1 = 0.0
    while j < hi and block[j] == block[i] and time[j] == time[i]:
        n += 1.0
        n1 += group[j]
        if event[j] > 0:
            d += 1.0
            d1 += group[j]
        j += 1
    return j, n, n1, d, d1


@njit(cache=True)
def logrank_trials(starts, time, event, block, group, o_minus_e, variance, events, events_active):
    """Fill the per-trial outputs for rows starts[t]..starts[t+1]-1 of every trial t."""
    T = len(starts) - 1
    for t in range(T):
        lo, hi = starts[t], starts[t + 1]
        oe = 0.0
        var = 0.0
        ev = 0.0
        ev1 = 0.0
        n = 0.0
        n1 = 0.0
        i = lo
        while i < hi:
            if i == lo or block[i] != block[i - 1]:  # a new stratum: its own risk sets
                n = 0.0
                n1 = 0.0
            j, n_tie, n1_tie, d, d1 = tie_counts(time, event, block, group, i, hi)
            n += n_tie
            n1 += n1_tie
            if d > 0:
                oe += d1 - d * n1 / n
                if n > 1:
                    var += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
                ev += d
                ev1 += d1
            i = j
        o_minus_e[t] = oe
        variance[t] = var
        events[t] = ev
        events_active[t] = ev1
