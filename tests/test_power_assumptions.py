"""Power results a committee can sign (issue 20): the simulation assumptions on power.html and in
power.json, read from the design that ran; the summary vs the full table; progress only where
someone watches; overlapping curves drawn distinguishably.

References: the design objects themselves (a parameter changed on the design shows up changed
in the table: derived, not retyped); the log-normal closed form of the low-CSF-pNfH prevalence;
the exponential survival function exp(-log 2 t / median).
"""

from __future__ import annotations

import json
import math
import sys

import pandas as pd
import pytest
from scipy.stats import norm

from mndtrial.power import ExponentialFamily, design_points, family, power
from mndtrial.power.assumptions import simulation_assumptions
from mndtrial.power.exponential import LOG_PNFH_MEAN, LOG_PNFH_SD
from mndtrial.report.figures_power import coinciding_series, power_figure
from mndtrial.report.power_html import write_power_outputs


@pytest.fixture(scope="module")
def exp_run(tmp_path_factory):
    fam = ExponentialFamily().with_parameters(hazard_ratio=0.7, median_survival_control_days=800.0,
                                              accrual_days=300.0, dropout_per_year=0.05)
    points = design_points(fam, [100, 160], ["all-comers", "enriched", "stratified"], slope=False)
    res = power(points, n_trials=24, seed=11, n_workers=1, chunk_size=12)
    out = tmp_path_factory.mktemp("power")
    paths = write_power_outputs(out, res)
    return fam, res, paths


def _value(table: pd.DataFrame, name: str) -> str:
    return table.set_index("assumption").loc[name, "value"]


def test_assumptions_equal_the_designs_values(exp_run):
    fam, res, _ = exp_run
    a, d = res.assumptions, fam.template
    survival = math.exp(-math.log(2) * d.follow_up_days / d.median_survival_control_days)
    assert _value(a, "control survival") == (f"exponential, median {d.median_survival_control_days:g} days "
                                             f"({100 * survival:.0f}% alive at day {d.follow_up_days:g})")
    assert _value(a, "treatment effect by neurofilament group") == "HR 0.7"
    assert _value(a, "accrual") == "300 days (uniform entry)"
    assert _value(a, "dropout") == "exponential, 0.05 per year"
    low = norm.cdf((math.log(d.biomarker_cutoff) - LOG_PNFH_MEAN) / LOG_PNFH_SD)
    assert _value(a, "prevalence of low CSF-pNfH").startswith(f"{100 * low:.0f}% at ≤ 3700 pg/mL")
    assert "only these are randomised [exponential enriched]" in _value(a, "prevalence of low CSF-pNfH")
    primary = _value(a, "primary test")
    assert "stratified log-rank (strata onset_site) at one-sided 0.025 [exponential all-comers, exponential " \
           "enriched]" in primary
    assert "at one-sided 0.0125 or stratified log-rank (strata onset_site) in the low group (csf_pnfh ≤ 3700) " \
           "at one-sided 0.0125 [exponential stratified]" in primary
    assert _value(a, "alpha (one-sided, total)") == "0.025"
    assert _value(a, "simulated trials per design point") == "24" and _value(a, "seed") == "11"


def test_assumptions_are_in_power_json_and_power_html(exp_run):
    _, res, paths = exp_run
    data = json.loads(paths["json"].read_text())
    assert data["assumptions"] == res.assumptions.to_dict(orient="records")
    html = paths["report"].read_text()
    assert '<section id="assumptions"><h2>Simulation assumptions</h2>' in html
    assert html.index('id="assumptions"') < html.index('id="curves"')  # before the curves they explain
    for value in res.assumptions["value"]:
        assert value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in html


def test_sim_assumptions_follow_the_design_object():
    base = family("mirocals")
    changed = base.with_parameters(accrual_days=123.0, horizon_days=500.0)
    a = simulation_assumptions(design_points(changed, [120], ["all-comers", "enriched"], slope=False), 10, 1)
    assert _value(a, "accrual") == "123 days (uniform entry)"
    assert _value(a, "follow-up").startswith("to day 500 after randomisation")
    drug = base.design.drug.p
    effect = _value(a, "treatment effect by neurofilament group")
    assert f"{drug['hr_low_pnfh']:g} at 750–3700 pg/mL, {drug['hr_high_pnfh']:g} above 3700 pg/mL" in effect
    a6, a12 = base.design.attrition()
    assert _value(a, "dropout").startswith(f"total attrition (deaths included) {100 * a6:.0f}% at 6 and "
                                           f"{100 * a12:.0f}% at 12 months")
    screening = _value(a, "screening")
    enriched = changed.source(120, True).design
    assert f"about {1 / enriched.acceptance:.1f} screened per randomised) [MIROCALS enriched]" in screening
    null = simulation_assumptions(design_points(base.without_effect(), [120], ["all-comers"], slope=False), 10, 1)
    assert _value(null, "treatment effect by neurofilament group").startswith("none (no treatment effect")


def test_summary_is_the_committee_columns_and_table_the_full_frame(exp_run):
    _, res, _ = exp_run
    assert list(res.summary.columns) == ["design", "strategy", "n", "power", "power_mcse", "events_mean",
                                         "n_randomised_mean", "n_screened_mean"]
    assert res.table.shape[1] > 2 * res.summary.shape[1]
    pd.testing.assert_frame_equal(res.summary, res.table[list(res.summary.columns)])


def test_progress_only_in_interactive_sessions(monkeypatch, capsys):
    from mndtrial.power import backends

    assert backends.interactive() is False  # pytest: no prompt, no notebook
    monkeypatch.setattr(sys, "ps1", ">>> ", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert backends.interactive() is True
    monkeypatch.setattr(backends, "_in_notebook", lambda: True)
    backends.run_chunks([(abs, (-1,)), (abs, (-2,))], [5, 7], progress=True, label="simulated trials", n_workers=1)
    err = capsys.readouterr().err
    assert "simulated trials" in err and "12/12" in err  # tqdm's bar in a notebook


def test_coinciding_series_are_drawn_distinguishably_and_named():
    t = pd.DataFrame({"strategy": ["all-comers"] * 2 + ["stratified"] * 2 + ["enriched"] * 2,
                      "n": [200, 400] * 3, "power": [0.3, 0.5, 0.3, 0.5, 0.6, 0.9], "mcse": [0.02] * 6})
    assert coinciding_series(dict(list(t.groupby("strategy", sort=False))), "n", "power") == \
        {"stratified": "all-comers"}
    fig = power_figure(t, by="strategy")
    ax = fig.axes[0]
    labels = [x.get_text() for x in ax.get_legend().get_texts()]
    assert "stratified (same as all-comers: the lines coincide)" in labels
    data_lines = {c.get_label(): c.lines[0] for c in ax.containers}  # one errorbar container per series
    assert len(data_lines) == 3
    styles = {(line.get_marker(), line.get_linestyle()) for line in data_lines.values()}
    assert len(styles) == 3  # each series its own marker and dash pattern
    stratified = data_lines["stratified (same as all-comers: the lines coincide)"]
    assert stratified.get_markerfacecolor() == "none"  # open markers over the series it hides
