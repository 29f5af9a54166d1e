"""The DMC analysis of an adaptive-enrichment survival trial: populations S (a biomarker group)
and F (everyone), hypotheses H_S, H_F and H_S∩H_F.

From the cumulative events and log-rank Z in S and in F (F stratified by S membership, as rpact
requires for enrichment survival designs) at each look: the stage-wise statistics (independent
increments), the stage-wise p-values, the intersection test of each stage (`intersection_p`:
Simes, Bonferroni, Šidák or Spiessens–Debois with rho = sqrt(stage events S / stage events F)),
the inverse-normal combination with the pre-specified weights and the closed test
(`closed_testing.closed_test`), as rpact's getStageResults / getClosedCombinationTestResults on
an enrichment dataset (S1 and F). A population not continued after the interim has NaN
statistics from then on.

Example:
    >>> import numpy as np
    >>> from mndtrial.design import group_sequential_design
    >>> r = analyse_enrichment(group_sequential_design(k_max=2), [44], [2.1], [131], [1.7], method="simes")
    >>> r.summary[["hypothesis", "stage_p", "combined_z"]].round(4).values.tolist()[0]
    ['S', 0.0179, 2.1]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ParameterError
from .boundaries import GroupSequentialDesign, hazard_ratio_at_bound
from .closed_testing import HYPOTHESES, closed_test, spiessens_debois_correlation
from .combination import inverse_normal_weights, z_to_p
from .dmc import stage_statistics

__all__ = ["EnrichmentAnalysis", "analyse_enrichment", "population_stage_statistics"]


def population_stage_statistics(events, z) -> tuple[np.ndarray, np.ndarray, int]:
    """Stage events and stage Z of one population from its cumulative ones; NaN once it is not
    continued (a population cannot come back). Returns (stage events, stage Z, looks continued).

    >>> [np.round(v, 4).tolist() for v in population_stage_statistics([100, np.nan], [1.0, np.nan])[:2]]
    [[100.0, nan], [1.0, nan]]
    """
    d = np.asarray(events, dtype=float)
    z = np.asarray(z, dtype=float)
    have = np.isfinite(d) & np.isfinite(z)
    n = int(np.argmin(have)) if not have.all() else d.size
    if n == 0 or have[n:].any():
        raise ParameterError("events", d.tolist(), "a population's statistics must be given from look 1 and, once "
                                                   "it is not continued, stay missing")
    sd, sz = stage_statistics(d[:n], z[:n])
    pad = np.full(d.size - n, np.nan)
    return np.concatenate([sd, pad]), np.concatenate([sz, pad]), n


@dataclass(frozen=True, repr=False)
class EnrichmentAnalysis:
    """Closed test of H_S, H_F (and H_S∩H_F) at the looks so far; `summary` one row per look and
    hypothesis, `populations` one row per look and population."""

    summary: pd.DataFrame
    populations: pd.DataFrame
    method: str
    rejected: dict
    final_p_values: dict
    decision: str

    def to_dict(self) -> dict:
        return {"intersection_test": self.method, "decision": self.decision, "rejected": self.rejected,
                "final_p_values": self.final_p_values,
                "hypotheses": self.summary.to_dict(orient="records"),
                "populations": self.populations.to_dict(orient="records")}

    def _repr_html_(self) -> str:
        fmt = lambda v: f"{v:.4g}"  # noqa: E731
        return (f"<p><b>Adaptive enrichment ({self.method}): {self.decision}</b></p>"
                + self.populations.to_html(index=False, float_format=fmt)
                + self.summary.to_html(index=False, float_format=fmt))


def analyse_enrichment(design: GroupSequentialDesign, events_s, z_s, events_f, z_f, *, method: str = "simes",
                       success_criterion: str = "all", allocation_ratio: float = 1.0,
                       final: bool | None = None) -> EnrichmentAnalysis:
    """Closed inverse-normal combination test of H_S and H_F from cumulative events and Z (> 0 is
    benefit) in S and F at looks 1..k (NaN where a population was not continued).

    The weights are the design's pre-specified inverse-normal weights; the critical values and
    futility bounds are the design's, on the combined Z.
    """
    sd_s, sz_s, n_s = population_stage_statistics(events_s, z_s)
    sd_f, sz_f, n_f = population_stage_statistics(events_f, z_f)
    k = sd_s.size
    if sd_f.size != k:
        raise ParameterError("events_f", np.asarray(events_f).tolist(), "need one value per look, as for S")
    if k > design.k_max:
        raise ParameterError("look", k, f"the design has {design.k_max} looks")
    final = (k == design.k_max) if final is None else bool(final)
    weights = inverse_normal_weights(design.information_rates)[:k]
    both = np.isfinite(sd_s) & np.isfinite(sd_f)
    rho = np.full(k, 0.5)  # unused where one population is missing
    rho[both] = spiessens_debois_correlation(sd_s[both], sd_f[both])
    fut = np.concatenate([design.futility_bounds, [-np.inf]])[:k]
    res = closed_test(z_to_p(sz_s)[None], z_to_p(sz_f)[None], weights=weights, critical_z=design.critical_values[:k],
                      futility_z=fut, method=method, correlation=rho[None], success_criterion=success_criterion)
    rows = []
    for j in range(k):
        for h, name in enumerate(HYPOTHESES):
            cz = res.combined_z[0, j, h]
            rows.append({"look": j + 1, "hypothesis": name, "stage_p": res.stage_p[0, j, h], "combined_z": cz,
                         "combined_p": float(z_to_p(cz)), "z_efficacy": design.critical_values[j],
                         "rejected_own_test": bool(res.rejected_hypotheses[0, j, h]),
                         "rejected_closed_test": bool(res.rejected_hypotheses[0, j, h] if h == 2 else res.rejected[0, j, h])})
    summary = pd.DataFrame(rows)
    pops = []
    for name, d, z, sd, sz in (("S", events_s, z_s, sd_s, sz_s), ("F", events_f, z_f, sd_f, sz_f)):
        d = np.asarray(d, dtype=float)
        z = np.asarray(z, dtype=float)
        with np.errstate(invalid="ignore"):
            hr = np.where(np.isfinite(d), hazard_ratio_at_bound(np.nan_to_num(z), np.where(np.isfinite(d), d, 1.0),
                                                                allocation_ratio), np.nan)
        pops.append(pd.DataFrame({"look": np.arange(1, k + 1), "population": name, "events": d, "z": z,
                                  "hazard_ratio": hr, "stage_events": sd, "stage_z": sz,
                                  "stage_p": z_to_p(sz), "continued": np.isfinite(sd)}))
    populations = pd.concat(pops, ignore_index=True).sort_values(["look", "population"], ignore_index=True)
    last = summary[summary["look"] == k].set_index("hypothesis")
    rejected = {"S": bool(res.rejected[0, k - 1, 0]), "F": bool(res.rejected[0, k - 1, 1])}
    # Closed-test adjusted p of an elementary hypothesis: the larger of its own and the intersection's.
    p_si = last.loc["S∩F", "combined_p"]
    final_p = {"S∩F": float(p_si)}
    for h in ("S", "F"):
        p = last.loc[h, "combined_p"]
        final_p[h] = float(p)
        final_p[f"{h} (closed-test adjusted)"] = float(max(p, p_si)) if np.isfinite(p) else float("nan")
    if res.success_stop[0, k - 1] or (final and any(rejected.values())):
        which = [h for h in ("S", "F") if rejected[h]]
        decision = ("reject " + " and ".join(f"H_{h}" for h in which)) if which else "do not reject"
        if not final:
            decision = "stop for efficacy: " + decision
    elif res.futility_stop[0, k - 1]:
        decision = "stop for futility"
    else:
        decision = "do not reject H_S or H_F" if final else "continue"
    return EnrichmentAnalysis(summary=summary, populations=populations, method=method, rejected=rejected,
                              final_p_values=final_p, decision=decision)
