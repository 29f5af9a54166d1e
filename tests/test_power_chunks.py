"""Chunks sized by the trials' size (`chunk_size=None`, the CLI default) give the same numbers."""

from __future__ import annotations

import pandas as pd

from mndtrial.power import DesignPoint, ExponentialDesign, logrank_analysis, power
from mndtrial.power.engine import DEFAULT_CHUNK, chunk_size_for


def test_chunk_size_follows_participants_per_trial():
    def size(n):
        return chunk_size_for([DesignPoint(ExponentialDesign(n_per_arm=n // 2), logrank_analysis())])

    assert [size(n) for n in (220, 440, 1000, 5000)] == [256, 128, 64, 32]
    assert all(size(n) % 32 == 0 for n in (150, 300, 700))
    assert chunk_size_for([DesignPoint(object(), logrank_analysis())]) == DEFAULT_CHUNK  # size unknown


def test_automatic_chunks_give_the_same_trials():
    design = ExponentialDesign(n_per_arm=40, hazard_ratio=0.7)
    auto = power(design, logrank_analysis(), n_trials=70, seed=5, n_workers=1, chunk_size=None)
    fixed = power(design, logrank_analysis(), n_trials=70, seed=5, n_workers=1, chunk_size=32)
    pd.testing.assert_frame_equal(auto.trials, fixed.trials)
    pd.testing.assert_frame_equal(auto.table, fixed.table)
