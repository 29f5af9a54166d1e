"""Confirmatory designs declared as data: validation naming key and rule, critical values derived
from `mndtrial.design` (never given), the strategies built from a spec, the il2-confirmatory
preset, and `mndtrial power --confirmatory/--preset` end to end (files, provenance, report)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mndtrial.cli import app
from mndtrial.design import group_sequential_design
from mndtrial.design.interim import futility_bounds_from_conditional_power
from mndtrial.errors import ParameterError
from mndtrial.power.confirmatory import boundaries, build_strategies, run_confirmatory
from mndtrial.power.confirmatory_spec import ConfirmatorySpec
from mndtrial.power.enrichment import AdaptiveEnrichmentDesign
from mndtrial.power.enrichment_pool import ExponentialPool, SimPool
from mndtrial.power.group_sequential import GroupSequentialTrial

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "confirmatory-exponential.toml"


def spec(**tables) -> ConfirmatorySpec:
    base = {"design": {"information_rates": [0.5, 0.75, 1.0], "type_of_design": "asOF"},
            "pool": {"hazard_ratio_s": 0.6, "hazard_ratio_r": 1.0, "arrivals_per_day": 2.0},
            "trial": {"n_randomised_max": 300, "max_events": 120},
            "enriched": {"max_events": 90}, "adaptive_enrichment": {"interim_events": 60}}
    for k, v in tables.items():
        base[k] = v if v is None else {**base.get(k, {}), **v}
    return ConfirmatorySpec.from_dict({k: v for k, v in base.items() if v is not None})


@pytest.mark.parametrize("tables, key, rule", [
    ({"design": {"spending": "asOF"}}, r"\[design\]\.spending", "Extra inputs"),
    ({"futility": {"rule": "beta_spending"}}, r"\[futility\]", "needs type_beta_spending"),
    ({"futility": {"rule": "none", "hazard_ratio": 1.0}}, r"\[futility\]", "not used by rule"),
    ({"futility": {"rule": "median"}}, r"\[futility\]\.rule", "Input should be"),
    ({"trial": {"max_events": 400}}, r"\[trial\]", "cannot exceed"),
    ({"trial": {"strategies": ["everyone"]}}, r"\[trial\]\.strategies\.0", "Input should be"),
    ({"pool": {"kind": "mirocals"}}, r"\[pool\]", "applies to kind 'exponential'"),
    ({"adaptive_enrichment": {"selection": "epsilon"}}, r"\[adaptive_enrichment\]", "needs epsilon"),
    ({"design": {"information_rates": [1.0]}}, r"\[design\]", ">= 2 looks"),
    ({"trial": None}, r"\[trial\]", "Field required"),
])
def test_spec_errors_name_key_and_rule(tables, key, rule):
    with pytest.raises(ParameterError, match=key) as err:
        spec(**tables)
    assert rule in err.value.rule


def test_bad_design_values_named_by_table():
    with pytest.raises(ParameterError, match=r"\[design\]\.information_rates"):
        build_strategies(spec(design={"information_rates": [0.7, 0.5, 1.0]}))
    with pytest.raises(ParameterError, match=r"\[population\]"):
        build_strategies(spec(population={"cutoffs": [3700], "group": "> 3700"}))
    with pytest.raises(ParameterError, match=r"\[adaptive_enrichment\]\.interim_events"):
        build_strategies(spec(adaptive_enrichment={"interim_events": 200}))


def test_critical_values_come_from_the_design():
    """ref: group_sequential_design (rpact-matched), called directly with the same arguments."""
    s = spec(futility={"rule": "beta_spending", "type_beta_spending": "bsOF", "binding": True},
             design={"beta": 0.15})
    sims = build_strategies(s)
    direct = group_sequential_design(information_rates=[0.5, 0.75, 1.0], type_of_design="asOF", beta=0.15,
                                     type_beta_spending="bsOF", binding_futility=True)
    for name in ("all-comers", "enriched"):
        assert isinstance(sims[name], GroupSequentialTrial)
        np.testing.assert_allclose(sims[name].design.critical_values, direct.critical_values, rtol=0, atol=1e-12)
        np.testing.assert_allclose(sims[name].design.futility_bounds, direct.futility_bounds, atol=1e-12)
    assert sims["all-comers"].event_targets.tolist() == [60, 90, 120]
    assert sims["enriched"].event_targets.tolist() == [45, 68, 90]
    ae = sims["adaptive-enrichment"]
    assert isinstance(ae, AdaptiveEnrichmentDesign) and ae.events == (60, 120)
    two = group_sequential_design(information_rates=[0.5, 1.0], type_of_design="asOF", beta=0.15,
                                  type_beta_spending="bsOF", binding_futility=True)
    np.testing.assert_allclose(ae.critical_z, two.critical_values, atol=1e-12)
    assert ae.futility_z == pytest.approx(two.futility_bounds[0], abs=1e-12)
    assert sims["all-comers"].design.provenance["critical_values"] == "derived"


def test_futility_rules():
    hr = build_strategies(spec(futility={"rule": "hazard_ratio", "hazard_ratio": 0.9}))
    # Schoenfeld: Z at HR 0.9 with d events = -log(0.9) sqrt(d) / 2
    np.testing.assert_allclose(hr["all-comers"].design.futility_bounds, -np.log(0.9) * np.sqrt([60, 90]) / 2)
    np.testing.assert_allclose(hr["enriched"].design.futility_bounds, -np.log(0.9) * np.sqrt([45, 68]) / 2)
    cp = build_strategies(spec(futility={"rule": "conditional_power", "conditional_power": 0.1}))
    plain = group_sequential_design(information_rates=[0.5, 0.75, 1.0], type_of_design="asOF")
    np.testing.assert_allclose(cp["all-comers"].design.futility_bounds,
                               futility_bounds_from_conditional_power(plain, 0.1), atol=1e-9)
    z = boundaries(spec(futility={"rule": "z", "bounds": [0.1, 0.4]}))
    assert z.futility_bounds.tolist() == [0.1, 0.4] and not z.binding_futility


def test_pool_and_null():
    sims = build_strategies(spec(), null=True)
    pool = sims["all-comers"].pool
    assert isinstance(pool, ExponentialPool) and pool.hazard_ratio_s == pool.hazard_ratio_r == 1.0
    assert pool.biomarker_cutoff == 3700.0


def test_example_and_preset_files_load():
    example = ConfirmatorySpec.from_dict(tomllib.loads(EXAMPLE.read_text()))
    assert example.trial.strategies == ["all-comers", "enriched", "adaptive-enrichment"]
    preset = ConfirmatorySpec.from_dict(tomllib.loads(
        (ROOT / "src" / "mndtrial" / "power" / "il2_confirmatory.toml").read_text()))
    sims = build_strategies(preset)
    assert isinstance(sims["all-comers"].pool, SimPool)
    assert sims["all-comers"].design.futility_bounds.tolist() == [0.0, 0.0]  # observed HR >= 1 stops
    res = run_confirmatory(preset, n_trials=6, seed=1)  # the calibrated ALS simulator as the pool
    enriched = res.trials["enriched"]
    assert (enriched["n_screened"] > enriched["n_randomised"]).all()
    assert res.selection["probability"].sum() == pytest.approx(1.0)


def test_run_side_by_side():
    res = run_confirmatory(spec(), n_trials=40, seed=2, chunk_size=20)
    t = res.table.set_index("strategy")
    assert list(t.index) == ["all-comers", "enriched", "adaptive-enrichment"]
    # the same numbers as the simulations run one by one (same seed)
    from mndtrial.power.enrichment import simulate_enrichment
    from mndtrial.power.group_sequential import simulate_group_sequential

    sims = build_strategies(spec())
    alone = simulate_group_sequential(sims["enriched"], n_trials=40, seed=2)
    assert t.loc["enriched", "power"] == alone.table.loc[0, "power"]
    ae = simulate_enrichment(sims["adaptive-enrichment"], n_trials=40, seed=2)
    assert t.loc["adaptive-enrichment", "power"] == ae.table.loc[0, "reject_any"]
    assert t.loc["adaptive-enrichment", "n_screened_mean"] == ae.table.loc[0, "n_screened_mean"]
    looks = res.looks.groupby("strategy")["look"].max()
    assert looks["all-comers"] == 3 and looks["adaptive-enrichment"] == 2
    # stopping probabilities per look add up to 1 for the group-sequential strategies
    for name in ("all-comers", "enriched"):
        g = res.looks[res.looks["strategy"] == name]
        assert g["p_efficacy"].sum() + g["p_futility"].sum() + (res.trials[name]["stop_reason"] == "none").mean() \
            == pytest.approx(1.0)
    assert res.selection["probability"].sum() == pytest.approx(1.0)


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_cli_confirmatory(tmp_path):
    out = tmp_path / "out"
    r = run("power", "--confirmatory", str(EXAMPLE), "--n-trials", "16", "--seed", "3", "--workers", "1",
            "--out", str(out))
    assert r.exit_code == 0, r.output
    for name in ("power.csv", "looks.csv", "power.json", "power.html", "confirmatory.toml",
                 "trials-all-comers.parquet", "figures/boundaries.png", "figures/stopping.png",
                 "figures/selection.png", "figures/expected_size.png"):
        assert (out / name).exists(), name
    data = json.loads((out / "power.json").read_text())
    assert data["command"].startswith("mndtrial power --n-trials 16") and "--confirmatory" in data["command"]
    rec = data["designs"]["all-comers"]
    assert rec["provenance"]["type_of_design"] == "user" and rec["provenance"]["alpha"] == "default"
    assert rec["provenance"]["critical_values"] == "derived" and rec["reproducing_call_r"].startswith("getDesign")
    assert data["spec_provenance"]["trial"]["stratified"] == "default"
    html = (out / "power.html").read_text()
    for title in ("Boundaries", "Stopping probability per look", "Interim selection", "Expected size"):
        assert title in html
    # the written, validated design reruns to the same table
    again = tmp_path / "again"
    r2 = run("power", "--confirmatory", str(out / "confirmatory.toml"), "--n-trials", "16", "--seed", "3",
             "--workers", "1", "--out", str(again))
    assert r2.exit_code == 0, r2.output
    assert (again / "power.csv").read_text() == (out / "power.csv").read_text()


def test_cli_refuses_fixed_sample_options(tmp_path):
    r = run("power", "--preset", "il2-confirmatory", "--vary", "n=100", "--out", str(tmp_path / "o"))
    assert isinstance(r.exception, ParameterError) and r.exception.parameter == "--vary"
    r = run("power", "--preset", "nope", "--out", str(tmp_path / "o"))
    assert isinstance(r.exception, ParameterError) and "il2-confirmatory" in r.exception.rule
