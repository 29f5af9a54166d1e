"""`mndtrial design` and design TOML files: the CLI writes what the API computes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mndtrial.design import group_sequential_design
from mndtrial.design.samplesize import sample_size_survival
from mndtrial.design.spec import design_from_dict, load_design
from mndtrial.errors import ParameterError

EXAMPLE = Path(__file__).parents[1] / "docs" / "examples" / "design-gsd.toml"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mndtrial", *args], capture_output=True, text=True)


def test_cli_writes_the_api_table_json_and_plot(tmp_path):
    from typer.testing import CliRunner

    from mndtrial.cli import app
    r = CliRunner().invoke(app, ["design", "--looks", "3", "--spending", "asP", "--futility", "0,0.4", "--binding",
             "--max-events", "300", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    d = group_sequential_design(k_max=3, type_of_design="asP", futility_bounds=[0, 0.4], binding_futility=True)
    csv = pd.read_csv(tmp_path / "boundaries.csv")
    np.testing.assert_allclose(csv["z_efficacy"], d.critical_values, rtol=1e-12)
    np.testing.assert_allclose(csv["hr_efficacy"], d.table(300)["hr_efficacy"], rtol=1e-12)
    payload = json.loads((tmp_path / "design.json").read_text())
    assert payload["provenance"]["futility_bounds"] == "user"
    assert payload["expected_events"]["H1"] == pytest.approx(d.expected_events(300)["H1"])
    assert (tmp_path / "boundaries.png").stat().st_size > 1000
    assert 'getDesignGroupSequential(kMax = 3, typeOfDesign = "asP"' in r.output


def test_cli_refuses_bad_options_in_one_line():
    r = _cli("design", "--looks", "3", "--spending", "asXY")
    assert r.returncode == 1 and "type_of_design" in r.stderr and "Traceback" not in r.stderr
    from typer.testing import CliRunner

    from mndtrial.cli import app
    r = CliRunner().invoke(app, ["design", "--config", str(EXAMPLE), "--looks", "2"])
    assert isinstance(r.exception, ParameterError) and "--config" in str(r.exception)


def test_example_toml_equals_the_direct_calls():
    spec = load_design(EXAMPLE)
    d = group_sequential_design(information_rates=[0.35, 0.7, 1.0], type_of_design="asOF", alpha=0.025, beta=0.1,
                                type_beta_spending="bsOF", binding_futility=False)
    s = sample_size_survival(d, hazard_ratio=0.7, median_control_months=24, accrual_time=[0], accrual_intensity=20,
                             follow_up_time=12, dropout_rate_active=0.05, dropout_rate_control=0.05)
    np.testing.assert_allclose(spec.design.critical_values, d.critical_values, rtol=0, atol=0)
    assert spec.events == pytest.approx(s.max_events, rel=1e-12)
    assert spec.sample_size.max_subjects == pytest.approx(s.max_subjects, rel=1e-12)
    with pytest.raises(ParameterError, match=r"\[design\].k_maxx"):
        design_from_dict({"design": {"k_maxx": 3}})
    with pytest.raises(ParameterError, match="not both"):
        design_from_dict({"design": {}, "survival": {}, "events": {}})
