"""interim.html and interim.json: the DMC's results at a look as one self-contained page.

Aggregates only (events, statistics, bounds, decisions): no participant identifiers. The figure
shows the efficacy and futility bounds recomputed at the observed events with the observed Z
(or, for an inverse-normal design, the combined Z) of every look so far.

Example:
    >>> from mndtrial.design.dmc import analyse_looks
    >>> from mndtrial.design.spec import design_from_dict
    >>> res = analyse_looks(design_from_dict({"design": {"k_max": 3}, "events": {"max_events": 300}}), [100], [1.2])
    >>> len(interim_figure(res).axes)
    1
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .page import ReportPage, Section, df_html, esc, key_values_html
from .style import PALETTE, new_figure

__all__ = ["interim_figure", "interim_page", "write_interim_report"]


def interim_figure(result) -> Figure:
    """Bounds at the observed events and the observed statistic of each look (an `InterimAnalysis`)."""
    t = result.summary
    fig = new_figure(6.4, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    x = t["events"].to_numpy(dtype=float)
    stat = "combined_z" if "combined_z" in t.columns else "z"
    ax.plot(x, t["z_efficacy"], "o-", color=PALETTE[0], label="efficacy bound (at the observed events)")
    fut = t["z_futility"].to_numpy(dtype=float)
    if np.any(np.isfinite(fut)):
        ax.plot(x, fut, "s--", color=PALETTE[1], label="futility bound")
    ax.plot(x, t[stat], "D", color="#c1121f", markersize=8, label=f"observed {'combined ' if stat != 'z' else ''}Z")
    for xi, zi in zip(x, t[stat]):
        ax.annotate(f"{zi:.2f}", (xi, zi), textcoords="offset points", xytext=(6, -12), fontsize=8)
    ax.axhline(0.0, color="#999999", lw=0.8)
    ax.set_xlabel("events" if stat == "z" else "events (population analysed)")
    ax.set_ylabel("Z (large = benefit)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title(f"look {result.look}{' (final)' if result.final else ''}: {result.decision}", fontsize=10)
    return fig


def _final_items(fin: dict[str, Any]) -> dict[str, Any]:
    lo, hi = fin["hazard_ratio_confidence_interval"]
    items = {"final stage": fin["final_stage"], "p-value (" + fin["ordering"] + ")": fin["p_value"],
             "median-unbiased hazard ratio": fin["hazard_ratio_median_unbiased"],
             f"{100 * fin['confidence_level']:g}% confidence interval (hazard ratio)": f"{lo:.4g} – {hi:.4g}"}
    if "combination_p_value" in fin:
        items["inverse-normal combination p-value (pre-specified weights)"] = fin["combination_p_value"]
    return items


def interim_page(result, title: str | None = None, design_text: str | None = None) -> ReportPage:
    page = ReportPage(title or "Interim analysis for the DMC",
                      subtitle=f"look {result.look}{' (final analysis)' if result.final else ''}; "
                               f"{result.test.replace('_', ' ')} test; one-sided alpha {result.alpha:g}")
    items = {"decision": result.decision, "maximum events (design)": result.max_events,
             "allocation ratio (active:control)": result.allocation_ratio}
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in result.notes)
    page.sections.append(Section("decision", "Decision", key_values_html(items) + notes))
    fig = page.add_figure("interim_bounds", interim_figure(result), "bounds and observed Z",
                          "Bounds recomputed at the observed events; red: the observed statistic.")
    page.sections.append(Section("looks", "Looks so far", df_html(result.summary) + fig
                                 + '<p class="note">rci: repeated confidence interval of the hazard ratio '
                                   f'(coverage {1 - 2 * result.alpha:g} jointly over looks).</p>'))
    cp = result.conditional_power
    body = None
    if cp is not None:
        body = key_values_html({f"under the {k} effect (HR {cp[k]['hazard_ratio']:.3f})": cp[k]["value"]
                                for k in ("design", "observed")}
                               | {"remaining events (per look ahead)": ", ".join(f"{v:g}" for v in cp["remaining_events"])})
    page.sections.append(Section("conditional-power", "Conditional power", body,
                                 absent="No later look: the trial stopped or this is the final analysis."))
    fin = result.final_inference
    page.sections.append(Section("final", "Final inference", None if fin is None else key_values_html(_final_items(fin)),
                                 absent="Not yet: the trial has not stopped and this is not the final analysis."))
    if result.enrichment is not None:
        e = result.enrichment
        body = (key_values_html({"closed-test decision": e.decision, "intersection test": e.method}
                                | {f"p-value {k}": v for k, v in e.final_p_values.items()})
                + df_html(e.populations, caption="Populations") + df_html(e.summary, caption="Hypotheses"))
        page.sections.append(Section("enrichment", "Adaptive enrichment: closed test", body))
    if design_text:
        page.sections.append(Section("design", "Design", f"<pre>{esc(design_text)}</pre>"))
    return page


def write_interim_report(result, out_dir: str | Path, title: str | None = None,
                         design_text: str | None = None) -> dict[str, Any]:
    """Write interim.html, interim.json and figures/interim_bounds.png/svg under `out_dir`."""
    out = Path(out_dir)
    written = interim_page(result, title, design_text).write(out, "interim.html")
    (out / "interim.json").write_text(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    written["json"] = out / "interim.json"
    return written
