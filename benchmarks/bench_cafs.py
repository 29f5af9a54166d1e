"""CAFS pairwise scores: time for 2,000 participants, as ratios against peers in the same run.

Peers: the same scores by binary search per pair (the large-N path of `pairwise_scores`) and, at
a smaller N, a plain Python double loop over pairs. Run by hand: `python benchmarks/bench_cafs.py`.
"""

from __future__ import annotations

import time

import numpy as np

import mndtrial.analysis.cafs as cafs


def data(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    t = np.round(rng.uniform(10, 640, n))
    died = rng.random(n) < 0.4
    owner = np.repeat(np.arange(n), 12)
    day = np.tile(np.arange(1, 13) * 53.0, n)
    change = -np.round(rng.random(12 * n) * 20)
    keep = day <= t[owner]
    return t, died, owner[keep], day[keep], change[keep]


def double_loop(t, died, owner, day, change):
    n = len(t)
    visits = [sorted(zip(day[owner == i], change[owner == i])) for i in range(n)]

    def at(i, s):
        last = None
        for d, c in visits[i]:
            if d <= s:
                last = c
        return last

    scores = np.zeros(n, int)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            if died[j] and (t[i] > t[j] or (t[i] == t[j] and not died[i])):
                scores[i] += 1
            elif died[i] and (t[j] > t[i] or (t[i] == t[j] and not died[j])):
                scores[i] -= 1
            elif not (died[i] and died[j]):
                a, b = at(i, min(t[i], t[j])), at(j, min(t[i], t[j]))
                if a is not None and b is not None:
                    scores[i] += int(a > b) - int(a < b)
    return scores


def best_of(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    args = data(2000)
    fast, scores = best_of(lambda: cafs.pairwise_scores(*args))
    saved, cafs.MAX_TABLE_CELLS = cafs.MAX_TABLE_CELLS, 0
    search, scores_search = best_of(lambda: cafs.pairwise_scores(*args))
    cafs.MAX_TABLE_CELLS = saved
    assert (scores == scores_search).all()
    print(f"N=2000: pairwise_scores {fast:.3f} s; binary-search path {search:.3f} s "
          f"(ratio {search / fast:.1f}x)")
    small = data(300)
    fast_small, a = best_of(lambda: cafs.pairwise_scores(*small))
    loop_small, b = best_of(lambda: double_loop(*small), repeats=1)
    assert (a == b).all()
    print(f"N=300: pairwise_scores {fast_small * 1e3:.1f} ms; Python double loop {loop_small:.2f} s "
          f"(ratio {loop_small / fast_small:.0f}x)")


if __name__ == "__main__":
    main()
