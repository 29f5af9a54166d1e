"""The few numbers a committee reads, as one tidy frame: `tidy_summary(results.to_dict())`.

One row per estimate: `section`, `population`, `estimand`, `estimate`, `ci_lower`, `ci_upper`, `p`
(numbers, not text; NaN where a quantity has no estimate or no test). It is what
`AnalysisResults.summary` returns; the per-section printable tables (`summary_tables()`) keep
every detail. `format_tidy` turns it into publication text (`mndtrial.analysis.numbers`).

Example:
    >>> data = {"survival": {"arms": {"control": "placebo", "active": "il2"},
    ...         "cox": {"unadjusted": {"terms": {"treatment": {"hr": 0.85, "ci": [0.54, 1.35], "p": 0.49}}}}}}
    >>> tidy_summary(data)[["estimand", "estimate", "p"]].values.tolist()
    [['hazard ratio (unadjusted Cox), il2 vs placebo', 0.85, 0.49]]
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterator, Mapping

import pandas as pd

from .numbers import MISSING, fmt_ci, fmt_fixed, fmt_median_days, fmt_p, fmt_ratio

__all__ = ["TIDY_COLUMNS", "tidy_summary", "format_tidy", "relabel_arms"]

TIDY_COLUMNS = ("section", "population", "estimand", "estimate", "ci_lower", "ci_upper", "p")
ALL = "all participants"


def _row(section: str, population: str, estimand: str, estimate: Any = None, ci: Any = None,
         p: Any = None) -> dict[str, Any]:
    ci = ci if isinstance(ci, (list, tuple)) and len(ci) == 2 else (None, None)
    return {"section": section, "population": population, "estimand": estimand,
            "estimate": _float(estimate), "ci_lower": _float(ci[0]), "ci_upper": _float(ci[1]), "p": _float(p)}


def _float(x: Any) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else math.nan


def _survival(out: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    arms = out.get("arms") or {}
    vs = f"{arms.get('active')} vs {arms.get('control')}" if arms else "active vs control"
    for arm, v in ((out.get("kaplan_meier") or {}).get("arms") or {}).items():
        yield _row("survival", ALL, f"median survival, days ({arm})", v.get("median_days"), v.get("median_ci"))
    for key, label in (("logrank", "log-rank test"), ("logrank_stratified", "stratified log-rank test")):
        r = out.get(key) or {}
        if "p" in r:
            yield _row("survival", ALL, f"{label}, {vs}", p=r["p"])
    for kind, r in (out.get("cox") or {}).items():
        t = (r.get("terms") or {}).get("treatment") if isinstance(r, Mapping) else None
        if t:
            yield _row("survival", ALL, f"hazard ratio ({kind} Cox), {vs}", t.get("hr"), t.get("ci"), t.get("p"))
    for key, label in (("horizon", "survival difference"), ("rmst", "RMST difference (days)")):
        r = out.get(key) or {}
        if "difference" in r:
            d = r["difference"]
            yield _row("survival", ALL, f"{label} at day {r['horizon_days']:g}, {vs}", d.get("estimate"), d.get("ci"),
                       d.get("p"))


def _subgroups(rows: Any) -> Iterator[dict[str, Any]]:
    for r in rows if isinstance(rows, list) else []:
        if not isinstance(r, Mapping) or r.get("variable") == "all" or not r.get("n"):
            continue  # the whole trial is the survival section's row; an empty level has no estimate
        yield _row("subgroups", f"{r.get('rule')}: {r.get('level')}", "hazard ratio (Cox)", r.get("hr"), r.get("ci"),
                   r.get("p"))


def _interaction(out: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for r in out.get("continuous") or []:
        if "interaction" in r:
            i = r["interaction"]
            yield _row("interaction", ALL, f"HR ratio per {r['transform']}({r['biomarker']}) unit", i.get("hr"),
                       i.get("ci"), i.get("p"))
    for r in out.get("by_subgroup") or []:
        if "p" in r:
            yield _row("interaction", ALL, f"treatment × {r.get('rule')} (LR test)", p=r["p"])


def _function(out: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    populations = {ALL: out.get("overall") or {}, **(out.get("subgroups") or {})}
    for name, fit in populations.items():
        for arm, c in ((fit.get("comparisons") or {}) if isinstance(fit, Mapping) else {}).items():
            d = c.get("slope_difference_per_month") or {}
            yield _row("function", name, f"ALSFRS-R slope difference, points/month ({arm} vs "
                                         f"{fit.get('control_arm')})", d.get("estimate"), d.get("ci"), d.get("p"))


def _cafs(out: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for kind, res in out.items():
        for arm, c in ((res.get("comparisons") or {}) if isinstance(res, Mapping) else {}).items():
            yield _row("cafs", ALL, f"CAFS Finkelstein–Schoenfeld Z ({kind}), {arm} vs {res.get('control_arm')}",
                       c.get("fs_z"), p=c.get("fs_p"))


def _treg(out: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for analyte, res in out.items():
        for arm, m in ((res.get("mixed") or {}) if isinstance(res, Mapping) else {}).items():
            yield _row("treg", ALL, f"{analyte} change vs control (mixed model), {arm}", m.get("estimate"),
                       m.get("ci"), m.get("p"))


SECTIONS = {"survival": _survival, "subgroups": _subgroups, "interaction": _interaction, "function": _function,
            "cafs": _cafs, "treg": _treg}


def tidy_summary(data: Mapping[str, Any]) -> pd.DataFrame:
    """One row per headline estimate of results.json (`AnalysisResults.to_dict()`), columns `TIDY_COLUMNS`.

    Sections that were not computed (or failed) contribute no rows; the printable tables say why.
    """
    rows = []
    for name, make in SECTIONS.items():
        out = data.get(name)
        if isinstance(out, (Mapping, list)) and not (isinstance(out, Mapping) and ("not_computed" in out
                                                                                   or "error" in out)):
            rows += list(make(out))
    return pd.DataFrame(rows, columns=list(TIDY_COLUMNS))


def format_tidy(table: pd.DataFrame, ci_label: str = "95% CI") -> pd.DataFrame:
    """The tidy frame as text: estimate and CI at the precision of their kind, p as '< 0.001'.

    Hazard ratios and other ratios to 2 decimals; medians in whole days ('NR' when not reached);
    RMST in days to 1 decimal; other estimates to 2 decimals.

    Example:
        >>> t = pd.DataFrame([{"section": "survival", "population": "all", "estimand": "hazard ratio (Cox)",
        ...                    "estimate": 0.8524, "ci_lower": 0.5402, "ci_upper": 1.3456, "p": 1e-5}])
        >>> format_tidy(t)[["estimate", "95% CI", "p"]].values.tolist()
        [['0.85', '(0.54, 1.35)', '< 0.001']]
    """
    rows = []
    for r in table.itertuples(index=False):
        text = str(r.estimand)
        if text.startswith("median survival"):
            est, ci = fmt_median_days(r.estimate), _median_ci(r.ci_lower, r.ci_upper)
        else:
            decimals = 1 if "days" in text else 2
            est = fmt_ratio(r.estimate) if "ratio" in text else fmt_fixed(r.estimate, decimals)
            ci = fmt_ci([r.ci_lower, r.ci_upper], decimals)
        rows.append({"section": r.section, "population": r.population, "estimand": text, "estimate": est,
                     ci_label: ci, "p": fmt_p(r.p)})
    return pd.DataFrame(rows, columns=["section", "population", "estimand", "estimate", ci_label, "p"])


def _median_ci(lo: float, hi: float) -> str:
    if math.isnan(lo) and math.isnan(hi):
        return MISSING
    return f"({fmt_median_days(lo)}, {fmt_median_days(hi)})"


def relabel_arms(table: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """`table` with arm codes replaced by their display labels, in cells and column names.

    A cell equal to a code becomes its label; inside longer text ("events/n (placebo / il2_2miu)",
    "il2_2miu vs placebo") a code is replaced where it stands as a whole word.

    Example:
        >>> t = pd.DataFrame({"arm": ["placebo", "il2_2miu"], "O/E": ["placebo 40/37.1", "il2_2miu vs placebo"]})
        >>> relabel_arms(t, {"placebo": "Placebo", "il2_2miu": "IL-2 2 MIU"})["O/E"].tolist()
        ['Placebo 40/37.1', 'IL-2 2 MIU vs Placebo']
    """
    labels = {k: v for k, v in labels.items() if v and v != k}
    if not labels:
        return table
    # longest codes first, whole words only: "il2_2miu" never matches inside "il2_2miu_high"
    pattern = re.compile(r"(?<![\w])(" + "|".join(re.escape(k) for k in sorted(labels, key=len, reverse=True))
                         + r")(?![\w])")

    def swap(v: Any) -> Any:
        return pattern.sub(lambda m: labels[m.group(1)], v) if isinstance(v, str) else v

    out = table.rename(columns=lambda c: swap(c) if isinstance(c, str) else c)
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = [swap(v) for v in out[col]]
    return out
