"""`mndtrial interim` end to end on a simulated trial folder (with calendar entry days)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.statistics import logrank_test

GSD = """
[design]
information_rates = [0.5, 1.0]
beta = 0.2
type_beta_spending = "bsOF"

[events]
max_events = 80
"""

ENRICHMENT = """
[design]
information_rates = [0.5, 1.0]

[events]
max_events = 80

[enrichment]
biomarker = "csf_pnfh"
cutoffs = [3700]
group = "<= 3700"
intersection_test = "spiessens_debois"
"""


@pytest.fixture(scope="module")
def trial_dir(tmp_path_factory):
    from mndtrial.sim import mirocals, simulate

    path = tmp_path_factory.mktemp("interim") / "trial"
    simulate(mirocals(), n_trials=1, seed=3).trial(0).write(path)
    return path


def _run(args):
    from typer.testing import CliRunner

    from mndtrial.cli import app
    r = CliRunner().invoke(app, ["interim", *map(str, args)])
    assert r.exit_code == 0, r.output
    return r.output


def _cut_by_hand(trial_dir, events: int) -> pd.DataFrame:
    """The trial as known on the day of the `events`-th event, written out directly."""
    p = pd.read_csv(trial_dir / "participants.csv")
    s = pd.read_csv(trial_dir / "survival.csv")
    df = p.merge(s, on="subject_id")
    day = np.sort((df["entry_day"] + df["time_days"])[df["event"] == 1].to_numpy())[events - 1]
    df = df[df["entry_day"] <= day].copy()
    late = df["entry_day"] + df["time_days"] > day
    df.loc[late, "time_days"] = day - df.loc[late, "entry_day"]
    df.loc[late, "event"] = 0
    return df


def test_interim_cli_gsd_interim_and_final(trial_dir, tmp_path):
    design = tmp_path / "design.toml"
    design.write_text(GSD)
    out = tmp_path / "look1"
    text = _run([trial_dir, "--design", design, "--look", 1, "--events", 40, "--out", out])
    assert "decision at look 1" in text
    res = json.loads((out / "interim.json").read_text())
    look = res["looks"][0]
    assert look["events"] == 40
    # ref: lifelines' log-rank test and Cox model on a cut made by hand.
    cut = _cut_by_hand(trial_dir, 40)
    active = cut["arm"] != "placebo"
    lr = logrank_test(cut["time_days"][active], cut["time_days"][~active], cut["event"][active], cut["event"][~active])
    assert abs(look["z"]) == pytest.approx(np.sqrt(lr.test_statistic), rel=1e-9)
    cox = CoxPHFitter().fit(pd.DataFrame({"t": cut["time_days"], "e": cut["event"], "x": active.astype(float)}), "t", "e")
    assert np.sign(look["z"]) == -np.sign(cox.params_["x"])
    assert res["conditional_power"] is not None and 0 <= res["conditional_power"]["design"]["value"] <= 1
    html = (out / "interim.html").read_text()
    assert "S0001" not in html and "observed" in html
    assert (out / "figures" / "interim_bounds.png").exists()

    out2 = tmp_path / "final"
    _run([trial_dir, "--design", design, "--look", 2, "--events", "40,80", "--out", out2])
    res2 = json.loads((out2 / "interim.json").read_text())
    assert res2["final"] and res2["decision"] in ("reject H0", "do not reject H0")
    fin = res2["final_inference"]
    assert 0 < fin["p_value"] < 1 and fin["hazard_ratio_confidence_interval"][0] < fin["hazard_ratio_median_unbiased"]
    # the first look is the same in both runs
    assert res2["looks"][0]["z"] == pytest.approx(look["z"], rel=1e-12)


def test_interim_cli_enrichment(trial_dir, tmp_path):
    design = tmp_path / "enrich.toml"
    design.write_text(ENRICHMENT)
    out = tmp_path / "enr"
    text = _run([trial_dir, "--design", design, "--look", 2, "--events", "40,80", "--selected", "S", "--out", out])
    assert "closed test (spiessens_debois)" in text
    res = json.loads((out / "interim.json").read_text())
    enr = res["enrichment"]
    assert enr["intersection_test"] == "spiessens_debois"
    pops = pd.DataFrame(enr["populations"])
    # F is not continued after the interim: no stage-2 statistic for it
    assert pops.query("population == 'F' and look == 2")["stage_z"].isna().all()
    assert pops.query("population == 'S' and look == 2")["continued"].all()
    assert res["final_inference"]["combination_p_value"] == pytest.approx(enr["final_p_values"]["S"], rel=1e-9)


def test_interim_cli_refuses_both_cut_kinds(trial_dir, tmp_path):
    from typer.testing import CliRunner

    from mndtrial.cli import app
    design = tmp_path / "design.toml"
    design.write_text(GSD)
    r = CliRunner().invoke(app, ["interim", str(trial_dir), "--design", str(design), "--events", "40",
                                 "--cut-date", "500", "--out", str(tmp_path / "x")])
    assert r.exit_code != 0 and "exactly one" in (r.output + str(r.exception))
