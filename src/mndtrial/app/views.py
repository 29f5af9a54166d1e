"""What the explorer shows for a power table: the curve with Monte Carlo bands, the table, sample sizes.

Plain functions of the table (no Shiny), so they are tested without a browser; `power.html` is
the report package's own power page (`mndtrial.report.power_html`).

Example:
    >>> import pandas as pd
    >>> t = pd.DataFrame({"strategy": ["all-comers"] * 2, "n": [200, 400], "power": [0.5, 0.9],
    ...                   "power_mcse": [0.02, 0.01], "events_mean": [80.0, 160.0],
    ...                   "n_randomised_mean": [200.0, 400.0], "n_screened_mean": [200.0, 400.0]})
    >>> sample_size_rows(t, 0.8)[0]["n_interpolated"]
    350
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["power_curve_figure", "display_table", "sample_size_rows", "sample_size_text", "power_page_html"]

SHOWN = {"strategy": "strategy", "n": "n", "power": "power", "power_mcse": "MC SE", "events_mean": "events",
         "n_randomised_mean": "randomised", "n_screened_mean": "screened"}


def power_curve_figure(table: pd.DataFrame, target: float, title: str = ""):
    """Power against n, one line per strategy, shaded ± 2 Monte Carlo SE, the target dashed."""
    from ..report.style import PALETTE, new_figure

    fig = new_figure(7.0, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    for i, (strategy, g) in enumerate(table.groupby("strategy", sort=False)):
        g = g.sort_values("n")
        colour = PALETTE[i % len(PALETTE)]
        band = 2 * g["power_mcse"].to_numpy(dtype=float)
        ax.fill_between(g["n"], np.clip(g["power"] - band, 0, 1), np.clip(g["power"] + band, 0, 1),
                        color=colour, alpha=0.18, lw=0)
        ax.plot(g["n"], g["power"], "o-", color=colour, label=str(strategy))
    ax.axhline(target, color="#444444", lw=0.8, ls="--", label=f"target {target:.0%}")
    ax.set_ylim(0, 1)
    ax.set_xlabel("Participants randomised")
    ax.set_ylabel("Power")
    ax.set_title(title + " (bands: ± 2 Monte Carlo SE)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return fig


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The columns the page shows, rounded for reading (power to 4 decimals)."""
    out = table[list(SHOWN)].rename(columns=SHOWN).copy()
    out["power"] = out["power"].map(lambda v: f"{v:.4f}")
    out["MC SE"] = out["MC SE"].map(lambda v: f"{v:.4f}")
    for c in ("events", "randomised", "screened"):
        out[c] = out[c].map(lambda v: f"{v:.1f}")
    return out


def sample_size_rows(table: pd.DataFrame, target: float) -> list[dict[str, Any]]:
    """Per strategy: the smallest simulated n reaching `target`, and n by linear interpolation
    between the two simulated sizes around it (None where the target is not reached)."""
    rows = []
    for strategy, g in table.groupby("strategy", sort=False):
        g = g.sort_values("n")
        n, p = g["n"].to_numpy(), g["power"].to_numpy()
        hit = np.flatnonzero(p >= target)
        row: dict[str, Any] = {"strategy": strategy, "n_grid": None, "n_interpolated": None,
                               "best_power": float(p.max())}
        if hit.size:
            k = int(hit[0])
            row["n_grid"] = int(n[k])
            if k == 0:
                row["n_interpolated"] = int(n[0]) if p[0] == target else None
            else:
                frac = (target - p[k - 1]) / (p[k] - p[k - 1])
                row["n_interpolated"] = int(round(n[k - 1] + frac * (n[k] - n[k - 1])))
        rows.append(row)
    return rows


def sample_size_text(table: pd.DataFrame, target: float) -> str:
    parts = []
    for r in sample_size_rows(table, target):
        if r["n_grid"] is None:
            parts.append(f"{r['strategy']}: not reached (best power {r['best_power']:.3f})")
        elif r["n_interpolated"] is None:
            parts.append(f"{r['strategy']}: n ≤ {r['n_grid']} (reached at the smallest n simulated)")
        else:
            parts.append(f"{r['strategy']}: n ≈ {r['n_interpolated']} (first simulated n reaching it: {r['n_grid']})")
    return f"Sample size for {target:.0%} power — " + "; ".join(parts)


def power_page_html(table: pd.DataFrame, spec: Any, command: str) -> str:
    """power.html (the report package's power page) for the table, with the explorer's settings
    and the reproducing command in its provenance."""
    from ..report import collect_provenance
    from ..report.power_html import power_report

    provenance = collect_provenance(seed=spec.seed, command=command, extra={"explore": spec.to_dict()})
    return power_report(table, provenance=provenance, target=spec.target_power,
                        title=f"Monte Carlo power: {spec.family} (mndtrial explore)", settings=spec.to_dict()).html
