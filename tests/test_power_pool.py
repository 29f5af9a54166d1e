"""Worker processes kept between runs (`mndtrial.power.WorkerPool`, `executor=`).

References: the same runs with processes of their own or in this process (`n_workers`): a run on
the pool must give the same table and trials to the last digit (each trial has its own random
stream, so where it runs cannot matter). A cancelled scope must end its run with
`CancelledError` without touching the pool: the next run on the same workers is again exact, and
the worker processes are the same ones (their pids). `terminate()` must leave no worker running.
"""

from __future__ import annotations

import time
from concurrent.futures import CancelledError
from pathlib import Path

import pandas as pd
import pytest

from mndtrial.app import ConfirmatoryRun, Refinement, parse_form
from mndtrial.app.confirm import checked_spec
from mndtrial.errors import ParameterError
from mndtrial.power import (ConfirmatorySpec, ExponentialDesign, WorkerPool, logrank_analysis, power,
                            run_confirmatory)
from mndtrial.power.backends import _ready, run_chunks

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def pool():
    with WorkerPool(n_workers=2) as p:
        yield p.start()


def _pids(pool) -> set[int]:
    return set(pool._pool._processes)


def test_a_run_on_the_pool_equals_a_run_with_its_own_processes(pool):
    design = ExponentialDesign(n_per_arm=40, hazard_ratio=0.7)
    ours = power(design, logrank_analysis(), n_trials=96, seed=5, chunk_size=32, executor=pool)
    ref = power(design, logrank_analysis(), n_trials=96, seed=5, chunk_size=96, n_workers=1)
    pd.testing.assert_frame_equal(ours.table, ref.table)
    pd.testing.assert_frame_equal(ours.trials, ref.trials)
    # a scope runs on the same workers
    again = power(design, logrank_analysis(), n_trials=96, seed=5, chunk_size=32, executor=pool.scope())
    pd.testing.assert_frame_equal(again.table, ref.table)


def test_a_cancelled_scope_ends_its_run_and_leaves_the_pool_working(pool):
    workers = _pids(pool)
    assert len(workers) == 2
    scope = pool.scope()
    # eight chunks of 0.3 s on two workers: cancelled after the first ones started
    tasks = [(_ready, (0.3,)) for _ in range(8)]
    started = time.monotonic()
    import threading

    threading.Timer(0.15, scope.cancel).start()
    with pytest.raises(CancelledError):
        run_chunks(tasks, [1] * 8, executor=scope, progress=False)
    assert time.monotonic() - started < 8 * 0.3 / 2  # not the whole run
    assert scope.cancelled
    with pytest.raises(CancelledError):  # a cancelled scope takes no more work
        run_chunks([(abs, (-1,))], [1], executor=scope, progress=False)
    assert run_chunks([(abs, (-3,)), (abs, (-4,))], [1, 1], executor=pool.scope(), progress=False) == [3, 4]
    assert _pids(pool) == workers and all(_alive(p) for p in workers)


def test_confirmatory_runs_on_the_pool_give_the_same_numbers(pool):
    spec = ConfirmatorySpec.from_dict({"design": {"k_max": 2}, "pool": {"hazard_ratio_s": 0.6, "arrivals_per_day": 2},
                                       "trial": {"n_randomised_max": 80, "max_events": 40},
                                       "adaptive_enrichment": {"interim_events": 16}})
    ours = run_confirmatory(spec, n_trials=24, seed=4, chunk_size=8, executor=pool)
    ref = run_confirmatory(spec, n_trials=24, seed=4, chunk_size=256, n_workers=1)
    pd.testing.assert_frame_equal(ours.table, ref.table)
    pd.testing.assert_frame_equal(ours.looks, ref.looks)
    for name in ref.trials:
        pd.testing.assert_frame_equal(ours.trials[name], ref.trials[name])


def test_a_confirmatory_run_on_the_pool_is_cancelled_within_the_run(pool):
    form = {"family": "exponential", "mode": "confirmatory", "hr_low": 0.6, "hr_high": 1.0, "cutoff": 3700,
            "cf_info_rates": "0.5, 1", "cf_n_max": 120, "cf_events": 60, "cf_interim_events": 24,
            "n_trials": 50_000, "seed": 2}
    spec = parse_form(form)
    # one stage only (first answer = the whole run): a cancel between stages could not stop it
    run = ConfirmatoryRun(checked_spec(spec), spec.n_trials, spec.seed, first_trials=spec.n_trials,
                          executor=pool).start()
    time.sleep(1.0)
    run.cancel()
    snap = run.wait(60)  # the whole run would take many minutes
    assert snap.state == "cancelled" and snap.done == 0, snap
    # the same pool then answers a small confirmatory design exactly as the CLI's engine does
    small = parse_form({**form, "n_trials": 12})
    snap = ConfirmatoryRun(checked_spec(small), 12, 2, first_trials=6, executor=pool).start().wait(300)
    ref = run_confirmatory(checked_spec(small), n_trials=12, seed=2, n_workers=1)
    assert snap.state == "done", snap.message
    pd.testing.assert_frame_equal(snap.result.table, ref.table)


def test_a_refinement_on_the_pool_equals_one_power_run():
    spec = parse_form({"family": "exponential", "n_min": 60, "n_max": 100, "n_step": 40, "hr_low": 0.6,
                       "n_trials": 70, "seed": 3, "strategies": ["all-comers", "stratified"]})
    with WorkerPool(n_workers=2) as p:
        run = Refinement(spec.points(), spec.n_trials, spec.seed, first_trials=32, executor=p.start())
        snap = run.start().wait(300)
        workers = _pids(p)
    whole = power(spec.points(), n_trials=70, seed=3, n_workers=1).table
    assert (snap.state, snap.done) == ("done", 70)
    cols = ["strategy", "n", "power", "power_mcse", "events_mean", "n_randomised_mean", "events_sd"]
    pd.testing.assert_frame_equal(snap.table[cols], whole[cols])
    time.sleep(0.5)
    assert not any(_alive(pid) for pid in workers)  # the pool's workers end with it


def test_terminate_ends_the_workers_at_once():
    p = WorkerPool(n_workers=2).start()
    workers = _pids(p)
    fut = p.submit(time.sleep, 60)
    p.terminate()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
    assert fut.done()


@pytest.mark.parametrize("kw, words", [({"n_workers": 2}, "without n_workers"),
                                       ({"backend": "dask"}, "local backend")])
def test_an_executor_is_refused_with_options_it_replaces(pool, kw, words):
    with pytest.raises(ParameterError, match=words):
        run_chunks([(abs, (-1,))], [1], executor=pool, progress=False, **kw)


def test_a_pool_of_no_workers_is_refused():
    with pytest.raises(ParameterError, match="n_workers"):
        WorkerPool(n_workers=0)

