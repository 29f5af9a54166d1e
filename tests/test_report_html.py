"""The HTML reports: self-contained, aggregates only, sections present or saying what is absent."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from mndtrial import Trial
from mndtrial.errors import ParameterError
from mndtrial.report import collect_provenance, consort_flow, power_report, trial_report

DATA_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")


def _external_references(html: str) -> list[str]:
    found = re.findall(r"""(?:src|href)\s*=\s*["']?(?!data:|#)([^"' >]+)""", html)
    found += re.findall(r"url\((?!\s*['\"]?data:)[^)]*\)", html)
    found += re.findall(r"<script|<link|@import|@font-face", html, flags=re.I)
    return found


def _no_subject_ids(html: str, trial: Trial) -> None:
    text = DATA_URI.sub("", html)
    leaked = [s for s in trial.participants["subject_id"] if re.search(rf"\b{re.escape(s)}\b", text)]
    assert leaked == []


def _subgroups(trial: Trial) -> dict:
    p = trial.participants
    return {"CSF-pNfH cut at 3700": {"<= 3700": trial.select(p.loc[p.csf_pnfh <= 3700, "subject_id"]),
                                     "> 3700": trial.select(p.loc[p.csf_pnfh > 3700, "subject_id"])}}


def test_full_report_is_self_contained_and_shows_aggregates_only(tmp_path, example_trial):
    prov = collect_provenance(seed=3, command=["mndtrial", "demo"])
    rep = trial_report(example_trial, km_groups=_subgroups(example_trial), provenance=prov)
    html = rep.html
    assert _external_references(html) == []
    _no_subject_ids(html, example_trial)
    assert set(rep.section_keys(present=True)) >= {"flow", "km", "km_subgroups", "ph", "alsfrs", "treg",
                                                   "provenance"}
    # without analysis results the statistics sections say so
    assert "absent: no survival analysis results" in html
    # the flow shows the same numbers as consort_flow
    flow = consort_flow(example_trial)
    for arm in ("placebo", "il2_2miu"):
        assert f"events (deaths): {flow.loc[arm, 'events']}" in html
        assert f"lost to follow-up: {flow.loc[arm, 'lost_to_follow_up']}" in html
    assert "mndtrial demo" in html  # the reproducing call
    written = rep.write(tmp_path / "out")
    assert written["report"].read_text(encoding="utf-8") == html
    assert sorted(written["figures"]) == sorted(rep.figures)
    for png, svg in written["figures"].values():
        assert png.suffix == ".png" and png.stat().st_size > 5_000
        assert svg.suffix == ".svg" and svg.stat().st_size > 5_000
    assert html.count("<img ") == len(rep.figures) == 5


def test_report_without_alsfrs_or_biomarker_says_what_is_absent(example_trial):
    p = example_trial.participants.drop(columns=["csf_pnfh"])
    t = Trial(p, example_trial.survival, info=example_trial.info)
    rep = trial_report(t)
    html = rep.html
    assert "absent: no ALSFRS-R table in this trial" in html
    assert "absent: no ALSFRS-R table, so CAFS cannot be computed" in html
    assert "absent: no biomarker" in html
    assert "absent: no Treg measurements" in html
    assert set(rep.section_keys(present=False)) >= {"alsfrs", "cafs", "km_subgroups", "treg"}
    assert set(rep.section_keys(present=True)) >= {"flow", "km", "ph"}
    assert rep.summary.loc["alsfrs", "present"] == False  # noqa: E712


def test_results_dict_fills_the_statistics_sections(example_trial):
    # the shape `mndtrial analyze` writes (results.json), reduced to what the report reads
    results = {
        "plan": {"name": "primary"},
        "survival": {"cox": {"unadjusted": {"terms": {"treatment": {"hr": 0.81, "ci": [0.5, 1.3], "p": 0.4}},
                                            "ph_test": {"terms": {"treatment": {"chi2": 0.2, "p": 0.654}}}}}},
        "subgroups": [{"variable": "all", "rule": "all", "level": "all", "n": 60, "events": 32, "hr": 0.81,
                       "ci": [0.5, 1.3]},
                      {"variable": "csf_pnfh", "rule": "csf_pnfh cut at 3700", "level": "<= 3700", "n": 45,
                       "events": 20, "hr": 0.52, "ci": [0.25, 1.1]},
                      {"variable": "csf_pnfh", "rule": "csf_pnfh cut at 3700", "level": "> 3700", "n": 15,
                       "events": 12, "hr": 1.37, "ci": [0.4, 4.2]},
                      {"variable": "csf_pnfh", "rule": "csf_pnfh cut at 3700", "level": "missing", "n": 0,
                       "events": 0, "hr": None, "ci": None, "estimable": False, "reason": "no participants"}],
        "interaction": {"by_subgroup": [{"variable": "csf_pnfh", "rule": "csf_pnfh cut at 3700", "p": 0.04}]},
        "cafs": {"mean_rank": {"placebo": 28.1, "il2_2miu": 32.9}, "p": 0.31},
        "provenance": collect_provenance(seed=5, command="mndtrial analyze trial --out out").to_dict(),
    }
    rep = trial_report(example_trial, results)
    assert {"cox", "forest", "cafs", "provenance"} <= set(rep.section_keys(present=True))
    html = rep.html
    assert "cox.unadjusted.terms.treatment.hr" in html
    assert "mndtrial analyze trial --out out" in html
    assert "forest" in rep.figures
    texts = [t.get_text() for t in rep.figures["forest"].axes[0].texts]
    assert "csf_pnfh cut at 3700" in texts and "interaction p = 0.040" in texts and "All participants" in texts
    # the 'missing' level nobody is in (n = 0) is not drawn (issue 20)
    assert "missing" not in [t.strip() for t in texts] and not any(t.startswith("not estimable") for t in texts)
    assert "p = 0.654 (analysis results)" in rep.figures["ph_check"].axes[0].get_title()
    _no_subject_ids(html, example_trial)


def test_results_only_report_renders(example_trial):
    results = {"trial": {"name": "x", "n_participants": 60, "arms": {"placebo": {"n": 30, "events": 16}}}}
    rep = trial_report(results=results)
    assert "flow" in rep.section_keys(present=True)
    assert "absent: the PH check plot needs the trial data" in rep.html
    with pytest.raises(ParameterError):
        trial_report()


def test_power_report(tmp_path):
    table = pd.DataFrame({"design": ["all-comers"] * 3 + ["enriched"] * 3, "n_randomised": [200, 400, 600] * 2,
                          "power": [0.31, 0.55, 0.7, 0.52, 0.83, 0.95], "mcse": [0.02] * 6,
                          "events_mean": [70, 140, 210, 60, 120, 180], "screened_mean": [200, 400, 600, 290, 580, 870]})
    rep = power_report(table, provenance=collect_provenance(seed=1, command=["mndtrial", "power"]), target=0.8)
    ss = rep.sample_size()
    assert ss.loc["enriched", "n"] == 400 and ss.loc["enriched", "screened"] == 580
    assert pd.isna(ss.loc["all-comers", "n"])
    assert "not reached up to n = 600" in ss.loc["all-comers", "note"]
    html = rep.html
    assert _external_references(html) == []
    assert html.count("<img ") == 2
    out = rep.write(tmp_path)
    assert out["report"].name == "power.html"
    assert {p.suffix for paths in out["figures"].values() for p in paths} == {".png", ".svg"}
    with pytest.raises(ParameterError, match="sample-size"):
        power_report(table.drop(columns="n_randomised"))


def test_km_groups_from_assignments_split_participants_exactly(example_trial):
    from types import SimpleNamespace

    from mndtrial.report.html import km_groups_from_assignments

    p = example_trial.participants.set_index("subject_id")
    labels = pd.Series(["<= 3700" if v <= 3700 else "> 3700" for v in p["csf_pnfh"]], index=p.index)
    a = SimpleNamespace(rule="csf_pnfh cut at 3700", variable="csf_pnfh", levels=("<= 3700", "> 3700", "missing"),
                        labels=labels)
    groups = km_groups_from_assignments(example_trial, [a])
    assert list(groups) == ["csf_pnfh cut at 3700"]
    # titled with the marker and its unit; the empty 'missing' level left out
    assert list(groups["csf_pnfh cut at 3700"]) == ["CSF-pNfH ≤ 3700 pg/mL", "CSF-pNfH > 3700 pg/mL"]
    low = groups["csf_pnfh cut at 3700"]["CSF-pNfH ≤ 3700 pg/mL"]
    assert set(low.participants["subject_id"]) == set(p.index[p["csf_pnfh"] <= 3700])


def test_power_table_as_written_by_the_engine_gives_one_curve_per_strategy():
    table = pd.DataFrame({"point": range(4), "design": ["mirocals"] * 4, "strategy": ["all-comers", "enriched"] * 2,
                          "n": [200, 200, 400, 400], "power": [0.3, 0.5, 0.55, 0.85], "power_mcse": [0.02] * 4,
                          "events_mean": [60, 50, 120, 100], "n_screened_mean": [200, 290, 400, 580]})
    rep = power_report(table)
    assert set(rep.table["curve"]) == {"all-comers", "enriched"}
    assert set(rep.table["design"]) == {"mirocals"}  # the table keeps the engine's columns
    assert rep.sample_size(0.8).loc["enriched", "screened"] == 580
    ax = rep.page.figures["power_curves"].axes[0]
    assert [c.get_label() for c in ax.containers] == ["all-comers", "enriched"]


def test_notebook_display_is_the_page_isolated_in_an_iframe(example_trial):
    import html as html_lib

    rep = trial_report(example_trial)
    shown = rep._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and "<style>" not in shown  # escaped, so inert outside
    inner = html_lib.unescape(shown.split('srcdoc="', 1)[1].rsplit('" style=', 1)[0])
    assert inner == rep.html


def test_table_markup_equals_pandas_styler_byte_for_byte():
    # the page writes Styler's markup itself (no jinja2); Styler is the reference it must equal
    from mndtrial.report.page import fmt_num, styler_table_html, table_html

    rng = np.random.default_rng(0)
    cells = ["a<b", "x\"y'z&", "0.85 (0.54, 1.35)", "< 0.001", "NR", "–", "-", "40/109", None, 1.5, 3,
             float("nan"), "text", "≤ 3", ">= 5"]
    for _ in range(150):
        n_rows, n_cols = int(rng.integers(0, 5)), int(rng.integers(1, 5))
        shown = pd.DataFrame([[cells[int(rng.integers(len(cells)))] for _ in range(n_cols)] for _ in range(n_rows)],
                             columns=[f"c{j} <&>" for j in range(n_cols)])
        for j in range(n_cols):
            shown.isetitem(j, [fmt_num(v) for v in shown.iloc[:, j]])
        for index in (False, True):
            if index:
                shown.index = [f"row {i} <'>" for i in range(n_rows)]
            for align in (True, False):
                assert table_html(shown, index, align) == styler_table_html(shown, index, align)
