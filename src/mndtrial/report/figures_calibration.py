"""Figures of a calibration's visual predictive check: data (black) against replicate cohorts
simulated from the calibrated model (blue median and 80% band)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..data.schema import DAYS_PER_MONTH
from .style import PALETTE, new_figure

__all__ = ["vpc_km_figure", "vpc_trajectory_figure", "vpc_spaghetti_figure", "vpc_slope_figure",
           "vpc_baseline_figure"]

SIM = PALETTE[0]
BAND = (0.1, 0.9)
LABELS = {"age": "age (years)", "symptom_duration_months": "symptom duration (months)",
          "delta_fs": "ΔFS (points/month)", "alsfrs_r_baseline": "ALSFRS-R at baseline",
          "csf_pnfh": "log CSF-pNfH (pg/mL)", "serum_nfl": "log serum NfL (pg/mL)"}


def _band(ax, x, sims, label: str) -> None:
    lo, mid, hi = np.nanquantile(sims, [BAND[0], 0.5, BAND[1]], axis=0)
    ax.fill_between(x, lo, hi, color=SIM, alpha=0.25, linewidth=0, label=f"{label}: 80% band")
    ax.plot(x, mid, color=SIM, linewidth=1.5, label=f"{label}: median")


def vpc_km_figure(check) -> Figure:
    """Observed Kaplan-Meier against the replicates' KM (median, 80% band)."""
    fig = new_figure(6.5, 4.2)
    ax = fig.add_subplot()
    months = check.km_days / DAYS_PER_MONTH
    _band(ax, months, check.simulated_km, f"{check.n_replicates} simulated cohorts")
    ax.step(months, check.observed_km, where="post", color="black", linewidth=1.8, label="data (Kaplan-Meier)")
    ax.set(xlabel="months from randomisation", ylabel="survival", ylim=(0, 1.02))
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    return fig


def vpc_trajectory_figure(check) -> Figure:
    """Mean ALSFRS-R total by month of visit, data against replicates."""
    fig = new_figure(6.5, 4.2)
    ax = fig.add_subplot()
    _band(ax, check.months, check.simulated_mean_total, f"{check.n_replicates} simulated cohorts")
    ax.plot(check.months, check.observed_mean_total, "o-", color="black", markersize=3, label="data")
    ax.set(xlabel="month of visit", ylabel="mean ALSFRS-R total (visits attended)")
    ax.legend(fontsize=8, frameon=False)
    return fig


def vpc_spaghetti_figure(check) -> Figure:
    """Individual trajectories: a random sample of participants, data and one simulated cohort."""
    fig = new_figure(9.0, 3.8)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, df, title, colour in ((axes[0], check.observed_spaghetti, "data", "black"),
                                  (axes[1], check.simulated_spaghetti, "simulated (one replicate)", SIM)):
        for _, g in df.groupby("subject"):
            ax.plot(g["day"] / DAYS_PER_MONTH, g["total"], color=colour, alpha=0.45, linewidth=0.9)
        ax.set(title=title, xlabel="months from randomisation")
    axes[0].set_ylabel("ALSFRS-R total")
    return fig


def _hist_band(ax, observed, sims, bins, label: str) -> None:
    edges = np.histogram_bin_edges(observed[np.isfinite(observed)], bins=bins)
    obs, _ = np.histogram(observed[np.isfinite(observed)], edges, density=True)
    sim = np.array([np.histogram(s[np.isfinite(s)], edges, density=True)[0] for s in sims])
    centres = (edges[:-1] + edges[1:]) / 2
    ax.bar(centres, obs, width=np.diff(edges), color="#cccccc", edgecolor="#888888", label="data")
    _band(ax, centres, sim, label)


def vpc_slope_figure(check) -> Figure:
    """Distribution of per-participant ALSFRS-R slopes; inset the replicates' mean against the data's."""
    fig = new_figure(6.5, 4.2)
    ax = fig.add_subplot()
    obs = check.observed_slopes
    lo, hi = np.quantile(obs, [0.01, 0.99])
    clip = lambda x: x[(x >= lo) & (x <= hi)]  # noqa: E731 - tails of 1-visit slopes swamp the bins
    sims = [clip(s) for s in check.simulated_slopes_sample]
    _hist_band(ax, clip(obs), sims, 30, "simulated")
    ax.axvline(obs.mean(), color="black", linestyle="--", linewidth=1, label=f"data mean {obs.mean():.3f}")
    sm = check.simulated_slope_means
    ax.axvspan(np.quantile(sm, 0.1), np.quantile(sm, 0.9), color=SIM, alpha=0.15,
               label=f"replicate means, 80%: {np.quantile(sm, 0.1):.3f}-{np.quantile(sm, 0.9):.3f}")
    ax.set(xlabel="ALSFRS-R slope (points lost per month, least squares through baseline)", ylabel="density")
    ax.legend(fontsize=7, frameon=False)
    return fig


def vpc_baseline_figure(check) -> Figure:
    """Baseline marginals: data histograms against the replicates' densities; proportions as points."""
    cont = [v for v in LABELS if v in check.observed_baseline]
    props = [v for v in ("male", "bulbar", "riluzole") if v in check.observed_baseline]
    n = len(cont) + (1 if props else 0)
    cols = 3
    rows = int(np.ceil(n / cols))
    fig = new_figure(10.0, 3.0 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, v in zip(axes, cont):
        logged = v in ("csf_pnfh", "serum_nfl")
        f = (lambda x: np.log(np.where(x > 0, x, np.nan))) if logged else (lambda x: x)
        _hist_band(ax, f(check.observed_baseline[v]), [f(s) for s in check.simulated_baseline[v]], 25, "simulated")
        ax.set(xlabel=LABELS[v])
    if props:
        ax = axes[len(cont)]
        for i, v in enumerate(props):
            sims = np.array([np.nanmean(s) for s in check.simulated_baseline[v]])
            ax.plot([i, i], np.quantile(sims, BAND), color=SIM, linewidth=6, alpha=0.4)
            ax.plot(i, np.nanmean(check.observed_baseline[v]), "o", color="black")
        ax.set(xticks=range(len(props)), xticklabels=props, ylabel="proportion", xlim=(-0.5, len(props) - 0.5))
    for ax in axes[n:]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7, frameon=False)
    return fig
