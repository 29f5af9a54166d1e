"""power.html and power.json from a real (small) Monte Carlo run: the report shows the engine's
numbers, the sample-size table equals a plain search of the table, and `mndtrial power` writes
the report with provenance."""

from __future__ import annotations

import json
import shlex

import pandas as pd
import pytest
from typer.testing import CliRunner

from mndtrial.cli import app
from mndtrial.power import design_points, family, power
from mndtrial.report import collect_provenance
from mndtrial.report.power_html import write_power_outputs


@pytest.fixture(scope="module")
def small_run():
    points = design_points(family("mirocals"), [150, 300], ("all-comers", "enriched"), slope=False)
    return power(points, n_trials=24, seed=5, n_workers=1)


def test_power_outputs_show_the_engine_table(tmp_path, small_run):
    prov = collect_provenance(seed=5, command="mndtrial power --n-trials 24")
    written = write_power_outputs(tmp_path, small_run, prov, target=0.5)
    assert {"csv", "json", "trials", "report"} <= set(written)
    data = json.loads(written["json"].read_text())
    assert data["provenance"]["seed"] == 5 and data["provenance"]["command"] == "mndtrial power --n-trials 24"
    assert data["n_trials"] == 24  # the engine's own content is kept
    html = written["report"].read_text(encoding="utf-8")
    for p in small_run.table["power"]:
        assert f"{p:.3f}" in html  # one number of decimals per column
    # sample size for the target: the smallest n whose power reaches it, searched plainly
    from mndtrial.report.power_html import power_report

    rep = power_report(small_run.table, target=0.5)
    got = rep.sample_size()
    for strategy, g in small_run.table.groupby("strategy"):
        reached = [int(r.n) for r in g.sort_values("n").itertuples() if r.power >= 0.5]
        expected = reached[0] if reached else None
        assert (None if pd.isna(got.loc[strategy, "n"]) else int(got.loc[strategy, "n"])) == expected
    curves = rep.page.figures["power_curves"].axes[0]
    assert [c.get_label() for c in curves.containers] == ["all-comers", "enriched"]


def test_cli_power_writes_power_html_with_the_reproducing_call(tmp_path):
    args = ["power", "--design", "mirocals", "--vary", "n=150:300:150", "--designs", "all-comers,enriched",
            "--n-trials", "12", "--seed", "3", "--workers", "1", "--no-slope", "--out", str(tmp_path)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert f"report: {tmp_path / 'power.html'}" in res.output
    prov = json.loads((tmp_path / "power.json").read_text())["provenance"]
    recorded = shlex.split(prov["command"])
    assert recorded[:2] == ["mndtrial", "power"]
    assert _options(recorded[2:]) == _options(args[1:])  # the same call (options in declaration order)
    html = (tmp_path / "power.html").read_text(encoding="utf-8")
    assert html.count("<img ") == 2 and "Sample size for 80% power" in html
    assert {p.name for p in (tmp_path / "figures").iterdir()} == {"power_curves.png", "power_curves.svg",
                                                                 "events_screening.png", "events_screening.svg"}


def _options(tokens: list[str]) -> dict[str, str | None]:
    out, i = {}, 0
    while i < len(tokens):
        if i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
            out[tokens[i]] = tokens[i + 1]
            i += 2
        else:
            out[tokens[i]] = None
            i += 1
    return out
