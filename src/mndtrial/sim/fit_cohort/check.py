"""Visual predictive check: simulate replicate cohorts from a calibration and compare with the data.

Each replicate is a single-arm trial with the data's size, ALSFRS-R schedule and follow-up,
simulated with the calibrated parameters through the fast simulator (`simulate`, 32 trials a
block). The same statistics are computed on the data and on every replicate: Kaplan-Meier
survival, mean ALSFRS-R total by month, per-participant slopes (least squares through the
baseline score), baseline marginals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...data import Trial
from ...data.schema import DAYS_PER_MONTH
from ...errors import ParameterError
from ..cohort import CohortModel
from ..design import ArmSpec, Design
from ..simulate import TRIALS_PER_BLOCK, simulate
from .dropout import km_at
from .inputs import cohort_data
from .result import CohortCalibration

__all__ = ["PredictiveCheck", "predictive_check", "replicate_design", "km_curve", "participant_slope_means"]

CHECK_MONTHS = (12, 18)
BASELINE_VARIABLES = ("age", "symptom_duration_months", "delta_fs", "alsfrs_r_baseline", "csf_pnfh", "serum_nfl")
MAX_SCHEDULE_VISITS = 40


def km_curve(time: np.ndarray, event: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Kaplan-Meier survival at each day of `grid`.

    Example:
        >>> km_curve(np.array([1.0, 2, 3, 4]), np.array([1, 0, 1, 0]), np.array([0.0, 3.0])).tolist()
        [1.0, 0.375]
    """
    order = np.argsort(time, kind="stable")
    t, e = time[order], event[order]
    times, deaths = np.unique(t[e == 1], return_counts=True)
    at_risk = len(t) - np.searchsorted(t, times, "left")
    s = np.cumprod(1 - deaths / at_risk)
    idx = np.searchsorted(times, grid, "right")
    return np.where(idx > 0, s[np.maximum(idx - 1, 0)], 1.0)


def participant_slope_means(key: np.ndarray, baseline: np.ndarray, day: np.ndarray, total: np.ndarray,
                            n_groups: int, group: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per-participant slopes (points/month lost, through the baseline score) from visits after
    day 0, and their mean per group (trial). `key` indexes participants; `group[key]` their trial."""
    later = day > 0
    key, m, d = key[later], day[later] / DAYS_PER_MONTH, baseline[key[later]] - total[later]
    uniq, inv = np.unique(key, return_inverse=True)
    slope = np.bincount(inv, m * d) / np.bincount(inv, m * m)
    g = group[uniq]
    means = np.bincount(g, slope, minlength=n_groups) / np.maximum(np.bincount(g, minlength=n_groups), 1)
    return means, [slope[g == i] for i in range(n_groups)]


def _schedule(day: np.ndarray, subject: np.ndarray, horizon: float) -> tuple[float, ...]:
    later = np.unique(np.round(day[day > 0]))
    if len(later) <= MAX_SCHEDULE_VISITS:
        return (0.0, *map(float, later))
    order = np.lexsort((day, subject))
    gaps = np.diff(day[order])[np.diff(subject[order]) == 0]
    gap = float(np.median(gaps[gaps > 0]))
    return tuple(float(x) for x in np.arange(0.0, horizon + 1e-9, gap))


def replicate_design(calibration: CohortCalibration, trial: Trial, arm: str | None = None) -> Design:
    """A single-arm design like the data: its size, ALSFRS-R schedule, follow-up and dropout."""
    data = cohort_data(trial, arm)
    params = calibration.parameters
    alsfrs = trial.alsfrs
    ids = pd.Index(_participants(trial, arm)["subject_id"].astype(str))
    a = alsfrs[alsfrs["subject_id"].astype(str).isin(ids)]
    schedule = _schedule(a["day"].to_numpy(float), pd.factorize(a["subject_id"])[0], data.horizon_days)
    schedule = tuple(d for d in schedule if d <= data.horizon_days)
    drop = params.section("dropout")
    fields = dict(name="calibrated", arms=(ArmSpec("placebo", control=True),), n_randomised=data.n,
                  horizon_days=data.horizon_days, treatment_days=0.0, alsfrs_visit_days=schedule, block_size=1,
                  cohort=CohortModel(params), attrition_6_months=drop["attrition_6_months"],
                  attrition_12_months=drop["attrition_12_months"],
                  dropout_censors_survival=calibration.dropout_route.startswith("survival censored"))
    try:
        return Design(**fields)
    except ParameterError:
        # Attrition no larger than the deaths alone: the data show no non-death dropout.
        return Design(**{**fields, "non_death_dropout": False})


def _participants(trial: Trial, arm: str | None) -> pd.DataFrame:
    p = trial.participants
    return p if arm is None else p[p["arm"].astype(str) == arm]


@dataclass(frozen=True)
class PredictiveCheck:
    """Observed statistics and their replicate distribution (arrays with one row per replicate)."""

    n_replicates: int
    seed: int
    km_days: np.ndarray
    observed_km: np.ndarray
    simulated_km: np.ndarray
    months: np.ndarray
    observed_mean_total: np.ndarray
    simulated_mean_total: np.ndarray
    observed_slopes: np.ndarray
    simulated_slope_means: np.ndarray
    simulated_slopes_sample: tuple[np.ndarray, ...]  # per-participant slopes of the first 20 replicates
    observed_baseline: dict[str, np.ndarray]
    simulated_baseline: dict[str, list[np.ndarray]]
    observed_spaghetti: pd.DataFrame
    simulated_spaghetti: pd.DataFrame
    checks: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def summary(self) -> pd.DataFrame:
        return self.checks


def _observed(trial: Trial, arm: str | None):
    p = _participants(trial, arm).reset_index(drop=True)
    ids = p["subject_id"].astype(str)
    pos = pd.Series(np.arange(len(p)), index=ids)
    s = trial.survival.set_index("subject_id").reindex(ids)
    a = trial.alsfrs
    a = a[a["subject_id"].astype(str).isin(ids)]
    key = pos.loc[a["subject_id"].astype(str)].to_numpy()
    return p, s["time_days"].to_numpy(float), s["event"].to_numpy(float), key, a["day"].to_numpy(float), \
        a["total"].to_numpy(float)


def _mean_by_month(key_group: np.ndarray, day: np.ndarray, total: np.ndarray, months: np.ndarray, n_groups: int):
    month = np.round(day / DAYS_PER_MONTH).astype(int)
    ok = np.isin(month, months)
    idx = key_group[ok] * len(months) + np.searchsorted(months, month[ok])
    s = np.bincount(idx, total[ok], minlength=n_groups * len(months))
    c = np.bincount(idx, minlength=n_groups * len(months))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (s / c).reshape(n_groups, len(months))


def predictive_check(calibration: CohortCalibration, trial: Trial, arm: str | None = None,
                     n_replicates: int = 200, seed: int = 1, spaghetti: int = 25) -> PredictiveCheck:
    """Simulate `n_replicates` cohorts like `trial` from `calibration` and collect the statistics."""
    if n_replicates < 1:
        raise ParameterError("n_replicates", n_replicates, "must be >= 1")
    design = replicate_design(calibration, trial, arm)
    p, time, event, key, day, total = _observed(trial, arm)
    baseline = p["alsfrs_r_baseline"].to_numpy(float)
    grid = np.linspace(0.0, design.horizon_days, 101)
    month_all = np.unique(np.round(day / DAYS_PER_MONTH).astype(int))
    counts = pd.Series(np.round(day / DAYS_PER_MONTH).astype(int)).value_counts()
    months = np.array(sorted(m for m in month_all if counts.get(m, 0) >= 10))
    ok = np.isfinite(baseline[key])
    _, obs_slopes = participant_slope_means(key[ok], baseline, day[ok], total[ok], 1,
                                                         np.zeros(len(p), dtype=int))
    obs_base = {v: p[v].to_numpy(float) for v in BASELINE_VARIABLES if v in p.columns and p[v].notna().sum() >= 30}
    for v, frac in (("male", "sex"), ("bulbar", "onset_site"), ("riluzole", "riluzole")):
        if frac in p.columns and p[frac].notna().any():
            col = p[frac].dropna().astype(str)
            obs_base[v] = (col.isin(["M"] if v == "male" else ["bulbar", "limb_and_bulbar"] if v == "bulbar"
                                    else ["True"])).to_numpy(float)
    sim_km, sim_traj, sim_slope_mean, sim_slopes = [], [], [], []
    sim_base: dict[str, list[np.ndarray]] = {k: [] for k in obs_base}
    sim_spaghetti = None
    for first in range(0, n_replicates, TRIALS_PER_BLOCK):
        k = min(TRIALS_PER_BLOCK, n_replicates - first)
        b = simulate(design, n_trials=k, seed=seed, first_trial=first)
        P, S, A = b.participants, b.survival, b.alsfrs
        tr = P["trial"].to_numpy() - first
        n = design.n_randomised
        flat = tr * n + P["subject"].to_numpy()
        for i in range(k):
            rows = slice(i * n, (i + 1) * n)
            sim_km.append(km_curve(S["time_days"].to_numpy(float)[rows], S["event"].to_numpy(float)[rows], grid))
        akey = (A["trial"].to_numpy() - first) * n + A["subject"].to_numpy()
        base_flat = np.empty(k * n)
        base_flat[flat] = P["alsfrs_r_baseline"].to_numpy(float)
        group = np.repeat(np.arange(k), n)
        means, slopes = participant_slope_means(akey, base_flat, A["day"].to_numpy(float), A["total"].to_numpy(float),
                                                k, group)
        sim_slope_mean.extend(means)
        sim_slopes.extend(slopes)
        sim_traj.append(_mean_by_month(group[akey], A["day"].to_numpy(float), A["total"].to_numpy(float), months, k))
        cols = {"male": (P["sex"].astype(str) == "M").to_numpy(float),
                "bulbar": (P["onset_site"].astype(str) == "bulbar").to_numpy(float),
                "riluzole": P["riluzole"].to_numpy(float)}
        for v in sim_base:
            values = cols[v] if v in cols else P[v].to_numpy(float)
            sim_base[v].extend(values[tr == i] for i in range(k))
        if sim_spaghetti is None:
            sim_spaghetti = A[A["trial"] == first][["subject", "day", "total"]]
    rng = np.random.default_rng(seed)
    obs_subjects = np.unique(key)
    pick = rng.choice(obs_subjects, min(spaghetti, len(obs_subjects)), replace=False)
    obs_sp = pd.DataFrame({"subject": key, "day": day, "total": total})
    obs_sp = obs_sp[obs_sp["subject"].isin(pick)]
    sim_subjects = np.unique(sim_spaghetti["subject"])
    sim_sp = sim_spaghetti[sim_spaghetti["subject"].isin(rng.choice(sim_subjects, min(spaghetti, len(sim_subjects)),
                                                                    replace=False))]
    check = PredictiveCheck(
        n_replicates=n_replicates, seed=seed, km_days=grid, observed_km=km_curve(time, event, grid),
        simulated_km=np.array(sim_km), months=months,
        observed_mean_total=_mean_by_month(np.zeros(len(key), dtype=int), day, total, months, 1)[0],
        simulated_mean_total=np.vstack(sim_traj), observed_slopes=obs_slopes[0],
        simulated_slope_means=np.array(sim_slope_mean),
        simulated_slopes_sample=tuple(sim_slopes[:20]),
        observed_baseline=obs_base, simulated_baseline=sim_base,
        observed_spaghetti=obs_sp.reset_index(drop=True), simulated_spaghetti=sim_sp.reset_index(drop=True))
    object.__setattr__(check, "checks", _checks(check, time, event, design.horizon_days))
    return check


def _checks(c: PredictiveCheck, time: np.ndarray, event: np.ndarray, horizon: float) -> pd.DataFrame:
    """The headline comparisons: observed estimate with its 95% CI against the replicates."""
    rows = []
    for months in CHECK_MONTHS:
        days = months * 365.25 / 12
        if days > horizon:
            continue
        s, se = km_at(time, event, days)
        sims = np.array([np.interp(days, c.km_days, row) for row in c.simulated_km])
        rows.append(("KM survival", f"{months} months", s, s - 1.96 * se, s + 1.96 * se, sims))
    slopes = c.observed_slopes
    m, se = float(slopes.mean()), float(slopes.std(ddof=1) / np.sqrt(len(slopes)))
    rows.append(("mean ALSFRS-R slope (points/month)", "per-participant least squares", m, m - 1.96 * se,
                 m + 1.96 * se, c.simulated_slope_means))
    out = []
    for quantity, at, est, lo, hi, sims in rows:
        sim_mean = float(np.mean(sims))
        out.append({"quantity": quantity, "at": at, "observed": est, "ci_low": lo, "ci_high": hi,
                    "simulated_mean": sim_mean, "simulated_p10": float(np.quantile(sims, 0.1)),
                    "simulated_p90": float(np.quantile(sims, 0.9)), "simulated_mean_in_ci": bool(lo <= sim_mean <= hi)})
    return pd.DataFrame(out)
