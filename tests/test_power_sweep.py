"""`mndtrial power` over enrichment cut-offs and screening markers: the table the API computes,
screening burden, the power.html figure, and clear refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mndtrial.cli.power import vary_points
from mndtrial.cli.power_sweep import split_markers, sweep_points
from mndtrial.errors import ParameterError
from mndtrial.power import SimFamily, design_points, family, power
from mndtrial.sim import mirocals

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "mndtrial", *args], capture_output=True, text=True, env=env)


def test_cutoff_and_marker_sweep_is_the_api_table_with_screening_burden(tmp_path):
    r = _cli("power", "--designs", "enriched", "--marker", "csf_pnfh,serum_nfl", "--vary", "cutoff=2500", "--vary", "n=60",
             "--n-trials", "6", "--seed", "5", "--workers", "1", "--no-slope", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(tmp_path / "power.csv")
    assert table["marker"].tolist() == ["csf_pnfh", "serum_nfl"] and (table["cutoff"] == 2500).all()
    fam = SimFamily(mirocals()).with_parameters(cutoff=2500)
    serum_cut = fam.with_marker("serum_nfl").screening_population.upper
    assert table["marker_cutoff_pg_ml"].tolist() == pytest.approx([2500, serum_cut], abs=0.05)
    for marker, row in zip(("csf_pnfh", "serum_nfl"), table.itertuples()):
        api = power(design_points(fam.with_marker(marker), [60], ("enriched",), slope=False), n_trials=6, seed=5).table
        assert row.power == pytest.approx(api.loc[0, "power"], abs=1e-12)  # the CSV keeps 16 digits
        assert row.n_screened_mean == pytest.approx(api.loc[0, "n_screened_mean"], abs=1e-9)
        assert row.screening_failures_mean == pytest.approx(row.n_screened_mean - 60)
        assert row.screened_per_randomised == pytest.approx(row.n_screened_mean / 60)
    assert "screening_failures_mean" in r.stdout
    html = (tmp_path / "power.html").read_text()
    assert "Power against screening burden" in html and (tmp_path / "figures" / "power_burden.png").exists()


def test_lower_cutoff_screens_more_and_serum_cutoff_is_matched():
    fam = SimFamily(mirocals())
    _, points, varied, _ = sweep_points(fam, ["csf_pnfh", "serum_nfl"], ["cutoff=1500,5000"], ["enriched"], False,
                                        "logrank", slope=False)
    assert varied == {"marker": ["csf_pnfh", "serum_nfl"], "cutoff": [1500.0, 5000.0]}
    labels = pd.DataFrame([p.labels for p in points])
    assert labels[["marker", "cutoff"]].values.tolist() == [["csf_pnfh", 1500.0], ["csf_pnfh", 5000.0],
                                                            ["serum_nfl", 1500.0], ["serum_nfl", 5000.0]]
    serum = labels.loc[labels.marker == "serum_nfl", "marker_cutoff_pg_ml"].to_numpy()
    assert 20 < serum[0] < serum[1] < 200  # pg/mL of serum NfL, ordered as the CSF cut-offs
    acceptance = [p.source.design.acceptance for p in points]
    assert acceptance[0] < acceptance[1] and acceptance[2] < acceptance[3]  # a lower cut-off screens more


def test_split_markers_and_refusals():
    assert split_markers(["n=100"], "serum_nfl") == (["n=100"], ["serum_nfl"])
    assert split_markers(None, None) == ([], None)
    with pytest.raises(ParameterError, match="--marker"):
        split_markers(["marker=csf_pnfh"], "serum_nfl")
    with pytest.raises(ParameterError, match="--vary"):
        split_markers(["marker=plasma_nfl"], None)
    with pytest.raises(ParameterError, match="--marker"):
        sweep_points(family("exponential"), ["serum_nfl"], [], ["enriched"], False, "logrank")


def test_effect_parameter_is_a_vary_axis_and_null_refuses_it():
    fam = SimFamily(mirocals())
    _, points, varied, _ = vary_points(fam, ["hr_low_pnfh=0.4,1.0"], ["all-comers"], False, slope=False)
    assert [p.source.design.drug.p["hr_low_pnfh"] for p in points] == [0.4, 1.0]
    log_hr, _ = points[0].source.design.drug.effect(np.array([2.0]), np.array([6.15]), {"csf_pnfh": np.array([2000.0])})
    assert log_hr[0] == pytest.approx(np.log(0.4), rel=0.01)  # the mean rise at 2 MIU: the band's HR
    with pytest.raises(ParameterError, match="--null removes"):
        vary_points(fam.without_effect(), ["hr_low_pnfh=0.4"], ["all-comers"], True)
