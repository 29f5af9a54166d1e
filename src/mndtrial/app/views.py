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

__all__ = ["power_curve_figure", "display_table", "sample_size_rows", "sample_size_text", "power_page_html",
           "confirmatory_figure", "confirmatory_table", "looks_table", "selection_table", "confirmatory_text",
           "confirmatory_page_html"]

SHOWN = {"strategy": "strategy", "n": "n", "power": "power", "power_mcse": "MC SE", "events_mean": "events",
         "n_randomised_mean": "randomised", "n_screened_mean": "screened"}


MARGINS_IN = {"left": 0.75, "right": 0.15, "bottom": 0.55, "top": 0.35}  # room for the labels and title


def _fixed_margins():
    """A layout engine that sets the margins above, in inches, whatever size the page draws the
    figure at: the curve's layout never changes, so the constrained or tight layout (a third of
    the time to draw the figure) is not needed; Shiny keeps an engine that says it is compatible."""
    from matplotlib.layout_engine import LayoutEngine

    class FixedMargins(LayoutEngine):
        _adjust_compatible = True
        _colorbar_gridspec = True

        def execute(self, fig) -> None:
            w, h = fig.get_size_inches()
            m = MARGINS_IN
            fig.subplots_adjust(left=min(0.4, m["left"] / w), right=max(0.6, 1 - m["right"] / w),
                                bottom=min(0.4, m["bottom"] / h), top=max(0.6, 1 - m["top"] / h))

    return FixedMargins()


def power_curve_figure(table: pd.DataFrame, target: float, title: str = ""):
    """Power against n, one line per strategy, shaded ± 2 Monte Carlo SE, the target dashed."""
    from ..report.style import PALETTE, new_figure

    fig = new_figure(7.0, 4.2, layout=None)
    fig.set_layout_engine(_fixed_margins())
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


# the side-by-side columns of a confirmatory run, as `mndtrial power --confirmatory` writes them to power.csv
CONFIRMATORY_SHOWN = {"strategy": "strategy", "looks": "looks", "power": "power", "power_mcse": "MC SE",
                      "reject_s": "reject H_S", "reject_f": "reject H_F", "stop_efficacy_early": "early efficacy",
                      "stop_futility": "futility stop", "events_mean": "events", "n_randomised_mean": "randomised",
                      "n_screened_mean": "screened", "duration_days_mean": "duration (days)"}
LOOKS_SHOWN = {"strategy": "strategy", "look": "look", "event_target": "event target", "p_efficacy": "P(stop, efficacy)",
               "p_futility": "P(stop, futility)"}


def _fixed(v: Any, digits: int) -> str:
    return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


def confirmatory_table(table: pd.DataFrame) -> pd.DataFrame:
    """The strategies side by side (power and stopping to 4 decimals, sizes to 1)."""
    out = table[[c for c in CONFIRMATORY_SHOWN if c in table.columns]].rename(columns=CONFIRMATORY_SHOWN).copy()
    for c in ("power", "MC SE", "reject H_S", "reject H_F", "early efficacy", "futility stop"):
        out[c] = out[c].map(lambda v: _fixed(v, 4))
    for c in ("events", "randomised", "screened", "duration (days)"):
        out[c] = out[c].map(lambda v: _fixed(v, 1))
    return out


def looks_table(looks: pd.DataFrame) -> pd.DataFrame:
    """Stopping probability per look and strategy (4 decimals)."""
    out = looks[list(LOOKS_SHOWN)].rename(columns=LOOKS_SHOWN).copy()
    for c in ("P(stop, efficacy)", "P(stop, futility)"):
        out[c] = out[c].map(lambda v: _fixed(v, 4))
    return out


def selection_table(selection: pd.DataFrame | None) -> pd.DataFrame | None:
    """The adaptive design's interim decisions and their probabilities (None without one)."""
    if selection is None:
        return None
    out = selection.rename(columns={"decision": "interim decision (adaptive enrichment)", "mcse": "MC SE"}).copy()
    for c in ("probability", "MC SE"):
        out[c] = out[c].map(lambda v: _fixed(v, 4))
    return out


def confirmatory_text(table: pd.DataFrame) -> str:
    """One line per strategy: power, expected events, randomised and duration."""
    parts = [f"{r['strategy']}: power {r['power']:.3f}, expected {r['events_mean']:.0f} events, "
             f"{r['n_randomised_mean']:.0f} randomised, {r['duration_days_mean'] / 30.4375:.1f} months"
             for _, r in table.iterrows()]
    return "Confirmatory designs — " + "; ".join(parts)


def confirmatory_figure(looks: pd.DataFrame, title: str = ""):
    """Stopping probability per look (the report package's figure of `mndtrial power --confirmatory`)."""
    from ..report.figures_confirmatory import stopping_figure

    fig = stopping_figure(looks)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def confirmatory_page_html(result: Any, spec: Any, command: str) -> str:
    """power.html of a confirmatory run (the report package's confirmatory page), with the
    explorer's settings and the reproducing command in its provenance."""
    from ..report import collect_provenance
    from ..report.confirmatory_html import confirmatory_report

    provenance = collect_provenance(seed=spec.seed, command=command, extra={"explore": spec.to_dict()})
    return confirmatory_report(result, provenance=provenance, settings=spec.to_dict(),
                               title=f"Confirmatory designs: {spec.family} (mndtrial explore)").to_html()
