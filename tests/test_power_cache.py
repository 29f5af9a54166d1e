"""Strategies that share simulated trials share the tests they have in common: the cached route
gives every strategy exactly the table it gets when analysed alone (the cache changes nothing)."""

from __future__ import annotations

import pandas as pd

from mndtrial.power import design_points, family
from mndtrial.power.engine import _chunk


def test_cached_tests_give_each_strategy_its_own_result(monkeypatch):
    points = design_points(family("mirocals"), [120], ["all-comers", "stratified"], slope=False)
    source = points[0].source
    assert points[1].source is source  # the two strategies share their trials
    analyses = tuple(p.analysis for p in points)
    runs = []
    from mndtrial.power import criteria

    original = criteria.Test.run
    monkeypatch.setattr(criteria.Test, "run",
                        lambda self, batch, *rest: runs.append(self.name) or original(self, batch, *rest))
    shared = _chunk(source, analyses, 0, 24, 5)
    n_shared = len(runs)
    alone = [_chunk(source, (a,), 0, 24, 5)[0] for a in analyses]
    n_alone = len(runs) - n_shared
    for a, b in zip(shared, alone):
        pd.testing.assert_frame_equal(a, b)
    # stratified's two criteria tests are both among all-comers' tests: nothing is run twice
    assert n_shared == len({t.name for a in analyses for t in a.tests}) < n_alone


def test_streaming_to_parquet_gives_the_in_memory_result(tmp_path, monkeypatch):
    from mndtrial.power import engine, power

    monkeypatch.setattr(engine, "STREAM_WINDOW_TRIALS", 16)  # several windows of 8-trial chunks
    points = design_points(family("mirocals"), [100], ["all-comers", "enriched", "stratified"], slope=False)
    memory = power(points, n_trials=40, seed=3, chunk_size=8, n_workers=1)
    streamed = power(points, n_trials=40, seed=3, chunk_size=8, n_workers=1, trials_path=tmp_path / "t.parquet")
    assert streamed.trials is None and streamed.trials_file == tmp_path / "t.parquet"
    pd.testing.assert_frame_equal(streamed.table, memory.table)
    on_disk = streamed.read_trials()
    cols = list(memory.trials.columns)  # bools with nulls (a column another point lacks) read back as objects
    pd.testing.assert_frame_equal(on_disk[cols].astype(float), memory.trials[cols].astype(float))
    paths = streamed.write(tmp_path / "out")
    assert pd.read_parquet(paths["trials"]).shape == on_disk.shape
    assert not list(tmp_path.glob(".*part"))  # the per-point parts are cleaned up


def test_a_run_in_one_window_writes_the_file_of_a_run_in_many(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from mndtrial.power import engine, power

    points = design_points(family("mirocals"), [100], ["all-comers", "enriched", "stratified"], slope=False)
    memory = power(points, n_trials=40, seed=3, chunk_size=8, n_workers=1)
    one = power(points, n_trials=40, seed=3, chunk_size=8, n_workers=1, trials_path=tmp_path / "one.parquet")
    monkeypatch.setattr(engine, "STREAM_WINDOW_TRIALS", 16)  # several windows: part files joined
    many = power(points, n_trials=40, seed=3, chunk_size=8, n_workers=1, trials_path=tmp_path / "many.parquet")
    pd.testing.assert_frame_equal(one.table, memory.table)
    pd.testing.assert_frame_equal(many.table, memory.table)
    a, b = pq.read_table(one.trials_file), pq.read_table(many.trials_file)
    assert a.schema.equals(b.schema) and a.num_rows == 3 * 40
    assert a.combine_chunks().equals(b.combine_chunks())
    cols = list(memory.trials.columns)
    pd.testing.assert_frame_equal(one.read_trials()[cols].astype(float), memory.trials[cols].astype(float))


def test_stratum_codes_number_strata_as_pandas_groupby():
    import numpy as np

    from mndtrial.batch._layout import stratum_codes
    from mndtrial.sim import mirocals, simulate

    batch = simulate(mirocals(), n_trials=6, seed=2)
    p = batch.participants
    for strata in (("country",), ("country", "onset_site"), ("onset_site", "sex", "country")):
        expected = p.groupby(list(strata), sort=True, observed=True).ngroup().to_numpy()
        np.testing.assert_array_equal(stratum_codes(batch, strata), expected)
