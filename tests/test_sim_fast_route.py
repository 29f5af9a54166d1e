"""The simulator's fast route equals its numpy route (tests/sim_reference.py) trial by trial.

Double programming for the compiled loops and the screening that computes only what it needs
(`mndtrial.sim.screening`, `mndtrial.sim._kernels`): every table, bit for bit (signed zeros
included), across enrichment, a retest, dropout that censors, informative dropout, three arms,
the faster-early decline and screening that needs more than one round; and the `tables` option
leaves the tables it makes unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sim_reference import permuted_blocks as reference_permuted_blocks
from sim_reference import reference_simulate

from mndtrial.errors import ParameterError
from mndtrial.sim import TABLES, CohortModel, Enrichment, imodals, mirocals, simulate, simulate_chunk
from mndtrial.sim.randomise import permuted_blocks
from mndtrial.sim.screening import _per_round

CASES = {
    "mirocals": lambda: (mirocals(), 40, 3, 0),
    "mirocals, a chunk across blocks": lambda: (mirocals(), 6, 3, 29),
    "enriched on CSF-pNfH": lambda: (mirocals(n_randomised=120, enrichment=Enrichment("csf_pnfh", 750, 3700)), 33, 5, 0),
    "enriched on serum NfL, retest": lambda: (mirocals(n_randomised=100, screening_retest=True,
                                                       enrichment=Enrichment("serum_nfl", 0, 60)), 33, 7, 0),
    "informative dropout": lambda: (mirocals(n_randomised=60, cohort=CohortModel(death_log_hr_per_alsfrs_point=-0.08)),
                                    33, 9, 0),
    "no dropout, no accrual": lambda: (mirocals(n_randomised=80, non_death_dropout=False, accrual_days=0.0), 33, 2, 0),
    "dropout censors survival": lambda: (mirocals(n_randomised=80, dropout_censors_survival=True), 33, 4, 0),
    "imodals, three arms": lambda: (imodals(), 40, 5, 0),
    "faster-early decline": lambda: (mirocals(n_randomised=50, cohort=CohortModel(trajectory="faster_early")), 33, 6, 0),
    # acceptance ~6%: many trials need a second screening round
    "rare enrichment, several rounds": lambda: (mirocals(n_randomised=10, non_death_dropout=False,
                                                         enrichment=Enrichment("csf_pnfh", 6000, 1e9)), 33, 8, 0),
}


def assert_same_frames(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    for c in a.columns:  # assert_frame_equal takes -0.0 == 0.0; the bits must agree too
        x, y = a[c].to_numpy(), b[c].to_numpy()
        if x.dtype.kind == "f":
            assert np.array_equal(x.view(np.int64), y.view(np.int64)), c


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    design, n_trials, seed, first = CASES[request.param]()
    fast = simulate(design, n_trials=n_trials, seed=seed, first_trial=first)
    slow = reference_simulate(design, n_trials=n_trials, seed=seed, first_trial=first)
    return design, (n_trials, seed, first), fast, slow


def test_fast_route_equals_the_numpy_route_table_by_table(case):
    _, _, fast, slow = case
    for name in TABLES:
        assert_same_frames(getattr(fast, name), getattr(slow, name))
    assert_same_frames(fast.metadata["screening"], slow.metadata["screening"])
    assert fast.info == slow.info


def test_tables_left_out_change_none_of_the_others(case):
    design, (n_trials, seed, first), fast, _ = case
    for tables in (("participants", "survival"), ("participants", "survival", "alsfrs"),
                   ("participants", "survival", "biomarkers")):
        part = simulate(design, n_trials=n_trials, seed=seed, first_trial=first, tables=tables)
        assert part.metadata["tables"] == tables
        for name in TABLES:
            if name in tables:
                assert_same_frames(getattr(part, name), getattr(fast, name))
            else:
                assert getattr(part, name) is None
        assert_same_frames(part.metadata["screening"], fast.metadata["screening"])


def test_several_screening_rounds_are_exercised():
    design, n_trials, seed, first = CASES["rare enrichment, several rounds"]()
    screened = simulate(design, n_trials, seed=seed, tables=("participants", "survival")).metadata["screening"]
    assert (screened["screened"] > _per_round(design)).sum() >= 3


def test_chunks_with_fewer_tables_join_to_the_whole_run():
    design = mirocals(n_randomised=40)
    tables = ("participants", "survival", "alsfrs")
    whole = simulate(design, n_trials=40, seed=12)
    parts = [simulate_chunk(design, 12, a, b - a, tables=tables) for a, b in ((0, 5), (5, 33), (33, 40))]
    for name in tables:
        assert_same_frames(pd.concat([getattr(p, name) for p in parts], ignore_index=True), getattr(whole, name))


@pytest.mark.parametrize("weights, block_size, n_strata", [((1, 1), 4, 4), ((2, 1, 1), 8, 3), ((1, 1, 1), 3, 1)])
def test_compiled_block_randomisation_equals_argsort(weights, block_size, n_strata):
    stratum = np.random.default_rng(1).integers(0, n_strata, size=(20, 97))
    fast = permuted_blocks(np.random.default_rng(2), stratum, n_strata, weights, block_size)
    slow = reference_permuted_blocks(np.random.default_rng(2), stratum, n_strata, weights, block_size)
    assert np.array_equal(fast, slow)


@pytest.mark.parametrize("tables, rule", [(("participants",), "always"), (("participants", "survival", "labs"), "unknown"),
                                          ("alsfrs", "sequence")])
def test_bad_tables_are_refused(tables, rule):
    with pytest.raises(ParameterError, match=rule):
        simulate(mirocals(n_randomised=20), n_trials=1, seed=1, tables=tables)
