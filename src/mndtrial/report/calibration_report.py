"""calibration.html: the calibrated parameters and a visual predictive check, as one page.

Example:
    >>> from mndtrial.sim import ArmSpec, Design, simulate
    >>> from mndtrial.sim.fit_cohort import calibrate
    >>> design = Design(name="cohort", arms=(ArmSpec("placebo", control=True),), n_randomised=400,
    ...                 horizon_days=640.0, treatment_days=0.0, alsfrs_visit_days=(0, 168, 336, 504, 640))
    >>> trial = simulate(design, n_trials=1, seed=4).trial(0)
    >>> page = calibration_report(trial, calibrate(trial), n_replicates=4)
    >>> "predictive-check" in page.section_keys(present=True)
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data import Trial
from ..sim.fit_cohort import CohortCalibration
from ..sim.fit_cohort.check import PredictiveCheck, predictive_check
from .figures_calibration import (vpc_baseline_figure, vpc_km_figure, vpc_slope_figure, vpc_spaghetti_figure,
                                  vpc_trajectory_figure)
from .page import ReportPage, Section, df_html, esc, join, key_values_html

__all__ = ["calibration_report", "write_calibration_report"]


def _parameters_section(cal: CohortCalibration) -> Section:
    s = cal.summary
    est = s[s["status"] == "estimated"][["parameter", "value", "se", "default", "n", "how"]]
    kept = s[s["status"] != "estimated"][["parameter", "value", "how"]].rename(columns={"how": "reason"})
    d = cal.dataset
    info = {"data set": d["name"], "participants": d["selection"], "n": d["n_participants"], "deaths": d["deaths"],
            "ALSFRS-R visits after baseline": d["visits"], "data set sha256": d["digest"],
            "dropout read from": cal.dropout_route,
            "CSF-pNfH": "latent (integrated out, defaults kept)" if cal.latent_pnfh else "observed"}
    body = join([key_values_html(info), df_html(est, caption="Estimated from the data (value, SE, shipped default)"),
                 df_html(kept, caption="Kept from the defaults, with the reason")])
    return Section("parameters", "Calibrated parameters", body)


def calibration_report(trial: Trial, calibration: CohortCalibration, arm: str | None = None,
                       n_replicates: int = 200, seed: int = 1, check: PredictiveCheck | None = None) -> ReportPage:
    """The calibration page: parameters, and data against `n_replicates` simulated cohorts."""
    check = check if check is not None else predictive_check(calibration, trial, arm, n_replicates, seed)
    page = ReportPage(title="Cohort model calibration",
                      subtitle=f"{calibration.dataset['name']} ({calibration.dataset['selection']}): "
                               f"{check.n_replicates} replicate cohorts simulated from the calibrated model, seed {seed}")
    page.sections.append(_parameters_section(calibration))
    checks = check.checks
    note = (f"<p class=\"note\">Each replicate is a single-arm cohort of {calibration.dataset['n_participants']} "
            "participants with the data's ALSFRS-R schedule, follow-up and attrition, simulated with the calibrated "
            "parameters. Bands are the 10th-90th percentiles over replicates. The check passes where the replicates' "
            "mean lies in the data's 95% confidence interval.</p>")
    figs = [
        page.add_figure("vpc_km", vpc_km_figure(check), "Kaplan-Meier, data against simulated cohorts",
                        "Survival: data (black) against the simulated cohorts (median, 80% band)"),
        page.add_figure("vpc_trajectory", vpc_trajectory_figure(check), "Mean ALSFRS-R by month",
                        "Mean ALSFRS-R total of the visits attended, by month"),
        page.add_figure("vpc_spaghetti", vpc_spaghetti_figure(check), "Individual ALSFRS-R trajectories",
                        "A random sample of participants: data and one simulated cohort"),
        page.add_figure("vpc_slopes", vpc_slope_figure(check), "Distribution of ALSFRS-R slopes",
                        "Per-participant slopes (points/month, least squares through the baseline score)"),
        page.add_figure("vpc_baseline", vpc_baseline_figure(check), "Baseline marginals",
                        "Baseline characteristics: data histograms against the simulated densities (80% band); "
                        "proportions: data (dot) and the simulated 80% range"),
    ]
    page.sections.append(Section("predictive-check", "Visual predictive check",
                                 join([note, df_html(checks, caption="Headline checks")] + figs)))
    page.sections.append(Section("how", "How the parameters were estimated", _method_html()))
    return page


def _method_html() -> str:
    items = ["Baseline: sample moments (age, proportions), log-normal fits by maximum likelihood on the log scale "
             "(symptom duration, ΔFS, neurofilaments), Pearson correlations on the log scale.",
             "ALSFRS-R: each participant's least-squares slope through the baseline score (censored maximum "
             "likelihood for scores at the floor of 0), regressed on the simulator's covariates by log-link "
             "quasi-likelihood with sandwich SEs; residual sd pooled within participants with Sheppard's correction "
             "for whole-point scores.",
             "Survival: the simulator's Weibull proportional-hazards model by maximum likelihood (latent CSF-pNfH "
             "integrated out by Gauss-Hermite quadrature when the data have none).",
             "Attrition: 1 - Kaplan-Meier of leaving follow-up (death or withdrawal) at 6 and 12 months."]
    return "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"


def write_calibration_report(path: str | Path, trial: Trial, calibration: CohortCalibration, arm: str | None = None,
                             n_replicates: int = 200, seed: int = 1) -> dict[str, Any]:
    """Write calibration.html (and its figures) to `path` (a file name ending .html)."""
    path = Path(path)
    page = calibration_report(trial, calibration, arm, n_replicates, seed)
    return page.write(path.parent, path.name)
