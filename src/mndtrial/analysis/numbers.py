"""Publication formatting of the numbers in summary tables, reports and CLI output.

One rule per kind of number, so a column never mixes precisions (`0.633` beside `0.6937`):

- ratios (hazard ratio, survival ratio): 2 decimals, `fmt_ratio`; with the interval `fmt_ratio_ci`;
- p-values: 3 decimals, `< 0.001` below that, never scientific notation (`fmt_p`);
- medians in days: whole days, `NR` (not reached) when the curve never falls to one half
  (`fmt_median_days`);
- other estimates with their interval at a fixed number of decimals (`fmt_estimate_ci`).

A missing number is `MISSING` (an en dash).

Example:
    >>> fmt_ratio_ci(0.8523, [0.5402, 1.3456])
    '0.85 (0.54, 1.35)'
    >>> fmt_p(1.15e-47), fmt_p(0.05162), fmt_median_days(None)
    ('< 0.001', '0.052', 'NR')
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

__all__ = ["MISSING", "fmt_p", "fmt_ratio", "fmt_ratio_ci", "fmt_ci", "fmt_fixed", "fmt_estimate_ci",
           "fmt_median_days", "arm_labels", "arm_label"]

MISSING = "–"
P_FLOOR = 0.001


def _number(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def fmt_fixed(x: Any, decimals: int = 2) -> str:
    """`x` with a fixed number of decimals; infinite as ∞; missing as `MISSING`.

    Example:
        >>> fmt_fixed(0.06067, 2), fmt_fixed(-8.089, 1), fmt_fixed(None)
        ('0.06', '-8.1', '–')
    """
    v = _number(x)
    if v is None:
        return MISSING
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    text = f"{v:.{decimals}f}"
    # -0.00 reads as a negative estimate that is not there
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def fmt_p(p: Any) -> str:
    """A p-value: 3 decimals, '< 0.001' below 0.001 (never 1.15e-47).

    Example:
        >>> [fmt_p(x) for x in (0.4937, 0.0516, 0.0009999, 1.0)]
        ['0.494', '0.052', '< 0.001', '1.000']
    """
    v = _number(p)
    if v is None:
        return MISSING
    if v < P_FLOOR:
        return "< 0.001"
    return f"{v:.3f}"


def fmt_ratio(x: Any) -> str:
    """A ratio (hazard ratio, survival ratio) to 2 decimals."""
    return fmt_fixed(x, 2)


def fmt_ci(ci: Sequence[Any] | None, decimals: int = 2) -> str:
    """'(lower, upper)' at `decimals`; `MISSING` when either bound is missing.

    Example:
        >>> fmt_ci([0.5352, 0.7157]), fmt_ci([None, 2.0])
        ('(0.54, 0.72)', '–')
    """
    if not ci or _number(ci[0]) is None or _number(ci[1]) is None:
        return MISSING
    return f"({fmt_fixed(ci[0], decimals)}, {fmt_fixed(ci[1], decimals)})"


def fmt_ratio_ci(ratio: Any, ci: Sequence[Any] | None) -> str:
    """'0.85 (0.54, 1.35)': a ratio and its interval, 2 decimals each."""
    return fmt_estimate_ci(ratio, ci, 2)


def fmt_estimate_ci(estimate: Any, ci: Sequence[Any] | None, decimals: int = 2) -> str:
    """'estimate (lower, upper)' at `decimals`; the estimate alone when the interval is missing.

    Example:
        >>> fmt_estimate_ci(-8.089, [-51.01, 34.83], 1)
        '-8.1 (-51.0, 34.8)'
    """
    if _number(estimate) is None:
        return MISSING
    interval = fmt_ci(ci, decimals)
    return fmt_fixed(estimate, decimals) + ("" if interval == MISSING else f" {interval}")


def fmt_median_days(days: Any) -> str:
    """A median survival time in whole days; 'NR' (not reached) when missing or infinite.

    lifelines reports a median that is not reached as infinity, results.json as null.

    Example:
        >>> fmt_median_days(1149.6), fmt_median_days(float("inf"))
        ('1150', 'NR')
    """
    v = _number(days)
    if v is None or math.isinf(v):
        return "NR"
    return f"{v:.0f}"


def arm_labels(info: Any) -> dict[str, str]:
    """{arm name: display label} from a `TrialInfo` (or its dict): the arm's `label`, else its name.

    Example:
        >>> from mndtrial.data import Arm, TrialInfo
        >>> arm_labels(TrialInfo(arms=[Arm(name="placebo", label="Placebo"), Arm(name="il2_2miu")]))
        {'placebo': 'Placebo', 'il2_2miu': 'il2_2miu'}
    """
    if info is None:
        return {}
    arms = info.get("arms") if isinstance(info, Mapping) else getattr(info, "arms", None)
    out = {}
    for a in arms or ():
        name = a.get("name") if isinstance(a, Mapping) else a.name
        label = a.get("label") if isinstance(a, Mapping) else a.label
        out[str(name)] = str(label) if label else str(name)
    return out


def arm_label(labels: Mapping[str, str] | None, arm: Any) -> str:
    """The display label of `arm` (its name when no label is known)."""
    return (labels or {}).get(str(arm), str(arm))
