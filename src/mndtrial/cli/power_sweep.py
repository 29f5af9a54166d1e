"""The enrichment sweep of `mndtrial power`: the screening marker as a design axis.

`--marker csf_pnfh,serum_nfl` (or `--vary marker=csf_pnfh,serum_nfl`) runs every design point once
per screening marker; with `--vary cutoff=1500,2500,3700,5000` each row is one enrichment
threshold. The cut-off is on the CSF-pNfH scale (pg/mL), the scale of the MIROCALS groups and of
the drug's effect; a serum NfL screen uses the serum level selecting the same share of the cohort
(`marker_cutoff_pg_ml`, `mndtrial.sim.measurement.matched_level`). The table then reports, per
threshold, power, randomised, screened and screening failures; power.html plots power against the
screening burden (screened per randomised).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

from ..errors import ParameterError

__all__ = ["split_markers", "sweep_points", "sweep_columns", "SWEEP_COLUMNS"]

SWEEP_COLUMNS = ("screening_failures_mean", "screened_per_randomised")


def sweep_columns(table: Any, varied: dict[str, list]) -> list[str]:
    """The sweep's columns to print beside the power table's, when markers or cut-offs vary."""
    if "marker" not in varied and "cutoff" not in varied:
        return []
    return [c for c in ("marker_cutoff_pg_ml", *SWEEP_COLUMNS) if c in table.columns]


def split_markers(vary: Sequence[str] | None, marker: str | None) -> tuple[list[str], list[str] | None]:
    """(the other --vary axes, the markers or None) from `--vary marker=...` and `--marker`.

    Example:
        >>> split_markers(["n=200", "marker=csf_pnfh,serum_nfl"], None)
        (['n=200'], ['csf_pnfh', 'serum_nfl'])
    """
    from ..sim.measurement import MARKERS

    rest, given = [], []
    for text in vary or ():
        if text.strip().startswith("marker="):
            given.append(("--vary", text.strip()[len("marker="):]))
        else:
            rest.append(text)
    if marker is not None:
        given.append(("--marker", marker))
    if len(given) > 1:
        raise ParameterError("--marker", [g[1] for g in given], "give the markers once (--marker or --vary marker=)")
    if not given:
        return rest, None
    option, text = given[0]
    markers = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in markers if m not in MARKERS]
    if bad or not markers or len(set(markers)) != len(markers):
        raise ParameterError(option, text, f"distinct markers among {list(MARKERS)}, comma-separated")
    return rest, markers


def sweep_points(fam: Any, markers: list[str] | None, vary: Sequence[str], strategies: Sequence[str], null: bool,
                 primary: str, **options: Any) -> tuple[list[int], list, dict[str, list], bool]:
    """`vary_points` once per screening marker, each point labelled with its marker and the
    marker's cut-off in pg/mL (same return as `vary_points`)."""
    from .power import vary_points

    if markers is None:
        return vary_points(fam, vary, strategies, null, primary, **options)
    if not hasattr(fam, "with_marker"):
        raise ParameterError("--marker", ",".join(markers), f"applies to the simulated designs, not '{fam.name}'")
    points, nulls, n_values, varied = [], [], [], {}
    for marker in markers:
        screened_by = fam.with_marker(marker)
        n_values, part, varied, all_null = vary_points(screened_by, vary, strategies, null, primary, **options)
        nulls.append(all_null)
        for p in part:
            cut = screened_by.with_parameters(cutoff=p.labels["cutoff"]) if "cutoff" in p.labels else screened_by
            label = p.labels["design"].replace(fam.name, f"{fam.name} marker={marker}", 1)
            points.append(replace(p, labels={**p.labels, "design": label, "marker": marker,
                                             "marker_cutoff_pg_ml": round(cut.screening_population.upper, 1)}))
    return n_values, points, {"marker": markers, **varied}, all(nulls)
