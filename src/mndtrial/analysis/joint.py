"""Function and survival together: a shared-parameter joint model of ALSFRS-R and death.

In ALS those who die are those who declined fastest, so a mixed-model slope fitted to the
visits of the living is biased by informative dropout. The joint model (Rizopoulos 2012; the
HEALEY ALS Platform's primary analysis, Ann Neurol 2023;94:547–560) links a random-intercept,
random-slope model of the ALSFRS-R total to a proportional-hazards model of death through the
subject's true current ALSFRS-R (`association="value"`), its slope (`"slope"`) or both; with
`"none"` the two parts are independent (the LMM by ML and a piecewise-exponential model).
The model and likelihood are in `joint_likelihood`, the fit in `joint_fit`, the data in
`joint_data`; docs/joint.md describes the estimands:

- slope per arm and slope difference per month (treatment on the ALSFRS-R slope accounting for
  death), and `slope_ratio` = (slope_placebo − slope_arm)/slope_placebo, MIROCALS's "slowing of
  progression", defined as in `SlopeAnalysis`;
- `log_hr_direct`: the treatment's effect on the hazard at the same ALSFRS-R trajectory;
- `log_hr_total_mean`: direct plus the effect through the trajectory, γ + α·(Δintercept +
  Δslope·t̄) + α_slope·Δslope, averaged over follow-up (t̄ = horizon/2), subject-specific;
- `survival_difference_at_horizon`: model-based marginal survival, arm minus control, at the
  horizon (averaged over the random effects and the trial's participants);
- `joint_test`: Wald χ² (2 df) of no treatment effect on the slope and on the hazard (direct).

SEs of functions of θ are delta-method from the inverse observed information.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss

from ..data import Trial
from ..data.schema import DAYS_PER_MONTH
from ..errors import AnalysisError, ParameterError
from ._common import ByPopulation, Subgroups, html_table, json_safe, resolve_subgroups
from .estimator import FittedEstimator
from .joint_baseline import BASELINES
from .joint_data import ANALYSIS, JointDesign, joint_design
from .joint_fit import JointMLE, fit_joint
from .joint_likelihood import ASSOCIATIONS, LEGENDRE_POINTS, JointData, unpack
from .lmm import wald
from .distributions import chi2_sf

__all__ = ["JointModel", "JointFit", "JointResult", "marginal_survival"]


def marginal_survival(theta: np.ndarray, data: JointData, times_months: np.ndarray, points: int = 9) -> np.ndarray:
    """Mean over the subjects of ∫ exp(−H_i(t | b)) N(b; 0, D) db at each time (GH over the prior)."""
    P = unpack(theta, data)
    z, w = hermegauss(points)
    Z = np.stack(np.meshgrid(z, z, indexing="ij"), -1).reshape(-1, 2)
    wq = np.outer(w, w).ravel() / (2 * np.pi)
    b = Z @ P["L"].T                                                             # (Q, 2)
    a1, a2 = P["alpha"]
    u = (data.X0 @ P["beta"])[:, None] + b[None, :, 0]
    v = (data.X1 @ P["beta"])[:, None] + b[None, :, 1]
    log_a = (data.W @ P["gamma"])[:, None] + a1 * u + a2 * v                      # (n, Q)
    cuts = data.cuts_months
    c = a1 * v[..., None]                                                        # log-hazard slope in t
    out = []
    if data.baseline.kind == "piecewise":
        lam = np.exp(P["log_lambda"])
        safe = np.where(c == 0, 1.0, c)
        for t in np.atleast_1d(times_months):
            lo, hi = np.minimum(cuts[:-1], t), np.minimum(cuts[1:], t)
            # closed form of ∫ exp(c·s) ds over each piece (the fit itself integrates by Gauss–Legendre)
            integral = np.where(c == 0, hi - lo, np.exp(c * lo) * np.expm1(c * (hi - lo)) / safe)
            H = np.exp(log_a) * (integral * lam).sum(-1)
            out.append(float((np.exp(-H) @ wq).mean()))
        return np.array(out)
    x, w = leggauss(LEGENDRE_POINTS)
    for t in np.atleast_1d(times_months):
        lo, hi = (edge[0] for edge in data.baseline.intervals(np.array([t])))
        half = (hi - lo) / 2
        s = (lo[:, None] + half[:, None] * (x + 1)).ravel()                        # (M,) same for everyone
        weight = (half[:, None] * w).ravel()
        base = np.exp(data.baseline.basis(s) @ P["log_lambda"]) * weight
        H = np.exp(log_a) * (np.exp(c * s) * base).sum(-1)
        out.append(float((np.exp(-H) @ wq).mean()))
    return np.array(out)


def _delta(f: Callable[[np.ndarray], float], theta: np.ndarray, cov: np.ndarray, level: float) -> dict:
    """Estimate and delta-method SE of f(θ) (central-difference gradient)."""
    g = np.empty(len(theta))
    for j in range(len(theta)):
        h = 1e-6 * max(1.0, abs(theta[j]))
        e = np.zeros(len(theta))
        e[j] = h
        g[j] = (f(theta + e) - f(theta - e)) / (2 * h)
    return wald(float(f(theta)), float(np.sqrt(g @ cov @ g)), level)


@dataclass(frozen=True)
class JointFit:
    """The joint model of one population: estimands per arm, all parameters, the fit's record."""

    population: str
    control_arm: str
    association: str
    estimates: pd.DataFrame       # (arm, quantity) → estimate, se, ci_low, ci_high, z, p
    parameters: pd.DataFrame      # θ by name: estimate, se
    tests: dict                   # active arm → 2-df joint test
    mle: JointMLE
    n_participants: int
    n_events: int
    n_visits: int
    horizon_days: float | None
    curves: dict
    excluded_visits: dict
    baseline: str = "piecewise"

    @property
    def problems(self) -> tuple[str, ...]:
        return self.mle.problems

    def to_dict(self) -> dict:
        estimates: dict = {}
        for (arm, quantity), row in self.estimates.to_dict(orient="index").items():
            estimates.setdefault(arm, {})[quantity] = row
        return json_safe({
            "control_arm": self.control_arm, "association": self.association, "baseline": self.baseline,
            "estimates": estimates,
            "joint_test": self.tests, "parameters": self.parameters.to_dict(orient="index"),
            "loglik": self.mle.loglik, "converged": self.mle.converged, "problems": list(self.problems),
            "diagnostics": self.mle.diagnostics, "n_participants": self.n_participants,
            "n_events": self.n_events, "n_visits": self.n_visits, "horizon_days": self.horizon_days,
            "excluded_visits": self.excluded_visits, "curves": self.curves,
            "method": "maximum likelihood, adaptive Gauss-Hermite quadrature; SEs from the observed "
                      "information (central differences of the analytic gradient)"})


@dataclass(frozen=True)
class JointResult(ByPopulation):
    """Joint model overall and per subgroup; `summary` has one row per estimand."""

    fits: tuple[JointFit, ...]
    level: float

    @property
    def summary(self) -> pd.DataFrame:
        frames = [f.estimates.assign(population=f.population).reset_index() for f in self.fits]
        cols = ["population", "arm", "quantity", "estimate", "se", "ci_low", "ci_high", "p"]
        return pd.concat(frames, ignore_index=True)[cols].set_index(["population", "arm", "quantity"])

    def to_dict(self) -> dict:
        return json_safe({"level": self.level, "overall": self.overall.to_dict(),
                          "subgroups": {f.population: f.to_dict() for f in self.fits if f.population != "overall"}})

    def _repr_html_(self) -> str:
        notes = [f"{f.population}: {p}" for f in self.fits for p in f.problems]
        return html_table("Joint model of ALSFRS-R and survival (maximum likelihood)", self.summary, notes)


class JointModel(FittedEstimator):
    """Shared-parameter joint model of the ALSFRS-R total and death, overall and per subgroup.

    Parameters: `association` ("value", "slope", "both" or "none"), `covariates` (participants
    columns, centred; also × months when `covariates_on_slope`, and in the hazard when
    `covariates_in_survival`), `baseline_pieces` (pieces of the piecewise-constant baseline
    hazard, cut at event-time quantiles) or `cut_days`; `baseline` ("piecewise", "weibull", or
    "bspline" with `spline_knots` interior knots: the pieces then only set the integration grid),
    `quadrature_points` (adaptive
    Gauss–Hermite points per random effect), `horizon_days` (default the trial's),
    `event_types`, `subgroups`, `level`. A fit that does not converge raises AnalysisError.

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> fit = JointModel(baseline_pieces=3, quadrature_points=5).fit(example_trial()).result_.overall
        >>> fit.mle.converged, sorted(fit.tests)
        (True, ['il2_2miu'])
    """

    def __init__(self, association: str = "value", covariates: Sequence[str] = (), covariates_on_slope: bool = True,
                 covariates_in_survival: bool = True, baseline_pieces: int = 5,
                 cut_days: Sequence[float] | None = None, quadrature_points: int = 5,
                 horizon_days: float | None = None, event_types: Sequence[str] | None = None,
                 subgroups: Subgroups | None = None, level: float = 0.95, curves: bool = True,
                 baseline: str = "piecewise", spline_knots: int = 3):
        if baseline not in BASELINES:
            raise ParameterError("baseline", baseline, f"must be one of {list(BASELINES)}")
        if association not in ASSOCIATIONS:
            raise ParameterError("association", association, f"must be one of {sorted(ASSOCIATIONS)}")
        if not 0 < level < 1:
            raise ParameterError("level", level, "must be between 0 and 1")
        if not isinstance(quadrature_points, int) or not 1 <= quadrature_points <= 30:
            raise ParameterError("quadrature_points", quadrature_points, "must be a whole number in 1..30")
        if horizon_days is not None and horizon_days <= 0:
            raise ParameterError("horizon_days", horizon_days, "must be positive")
        self.association = association
        self.covariates = tuple(covariates)
        self.covariates_on_slope = covariates_on_slope
        self.covariates_in_survival = covariates_in_survival
        self.baseline_pieces = baseline_pieces
        self.cut_days = None if cut_days is None else tuple(cut_days)
        self.quadrature_points = quadrature_points
        self.horizon_days = horizon_days
        self.event_types = None if event_types is None else tuple(event_types)
        self.subgroups = subgroups
        self.level = level
        self.curves = curves
        self.baseline = baseline
        self.spline_knots = spline_knots

    def design(self, trial: Trial) -> JointDesign:
        horizon = self.horizon_days if self.horizon_days is not None else trial.info.horizon_days
        return joint_design(trial, self.association, self.covariates, self.covariates_on_slope,
                            self.covariates_in_survival, horizon, self.baseline_pieces, self.cut_days,
                            self.event_types, self.baseline, self.spline_knots)

    def fit(self, trial: Trial) -> "JointModel":
        populations = {"overall": None, **resolve_subgroups(trial, self.subgroups)}
        fits = []
        for label, ids in populations.items():
            if ids is not None and not ids:
                raise AnalysisError(ANALYSIS, f"subgroup '{label}' has no participants")
            sub = trial if ids is None else trial.select(ids, name=f"{trial.info.name} [{label}]")
            fits.append(self._fit_population(sub, label))
        self.result_ = JointResult(fits=tuple(fits), level=self.level)
        return self

    def _fit_population(self, trial: Trial, label: str) -> JointFit:
        design = self.design(trial)
        mle = fit_joint(design.data, self.quadrature_points)
        if not mle.converged:
            raise AnalysisError(ANALYSIS, f"({label}) the fit did not converge; no estimate is reported: "
                                          + "; ".join(mle.problems))
        names = design.theta_names
        se = np.sqrt(np.diag(mle.cov))
        parameters = pd.DataFrame({"estimate": mle.theta, "se": se}, index=pd.Index(names, name="parameter"))
        estimates, tests = _estimands(design, mle, self.level)
        curves = _curves(trial, design, mle) if self.curves else {}
        return JointFit(population=label, control_arm=design.control_arm, association=self.association,
                        estimates=estimates, parameters=parameters, tests=tests, mle=mle,
                        n_participants=design.data.n, n_events=int(design.data.event.sum()),
                        n_visits=len(design.data.y),
                        horizon_days=None if design.horizon_months is None else design.horizon_months * DAYS_PER_MONTH,
                        curves=curves, excluded_visits=design.excluded,
                        baseline=design.data.baseline.kind)


def _estimands(design: JointDesign, mle: JointMLE, level: float) -> tuple[pd.DataFrame, dict]:
    theta, cov = mle.theta, mle.cov
    ix = design.index
    rows: dict = {}

    def linear(weights: dict[str, float]) -> dict:
        w = np.zeros(len(theta))
        for name, value in weights.items():
            w[ix(name)] = value
        return wald(float(w @ theta), float(np.sqrt(w @ cov @ w)), level)

    rows[(design.control_arm, "slope_per_month")] = linear({"months": 1.0})
    alpha_names = [f"association:{a}" for a in design.data.associations]
    for a in alpha_names:
        rows[("all", a.replace(":", "_"))] = linear({a: 1.0})
    horizon = design.horizon_months if design.horizon_months is not None else float(design.data.time_months.max())
    tests = {}
    for arm in design.active_arms:
        slope, direct = f"months:arm[{arm}]", f"log_hr:arm[{arm}]"
        rows[(arm, "slope_per_month")] = linear({"months": 1.0, slope: 1.0})
        rows[(arm, "slope_difference_per_month")] = linear({slope: 1.0})
        if theta[ix("months")] == 0:
            raise AnalysisError(ANALYSIS, "the placebo slope is exactly zero: the slope ratio is undefined")
        rows[(arm, "slope_ratio")] = _delta(lambda th: -th[ix(slope)] / th[ix("months")], theta, cov, level)
        rows[(arm, "log_hr_direct")] = linear({direct: 1.0})
        if alpha_names:
            def total_log_hr(th: np.ndarray) -> float:
                P = unpack(th, design.data)
                a1, a2 = P["alpha"]
                return float(th[ix(direct)] + a1 * (th[ix(f"arm[{arm}]")] + th[ix(slope)] * horizon / 2)
                             + a2 * th[ix(slope)])
            rows[(arm, "log_hr_total_mean")] = _delta(total_log_hr, theta, cov, level)
        else:
            rows[(arm, "log_hr_total_mean")] = linear({direct: 1.0})  # no association: total = direct
        treated, control = design.with_arm(arm), design.with_arm(design.control_arm)
        rows[(arm, "survival_difference_at_horizon")] = _delta(
            lambda th: float(marginal_survival(th, treated, [horizon])[0] - marginal_survival(th, control, [horizon])[0]),
            theta, cov, level)
        idx = [ix(slope), ix(direct)]
        b = theta[idx]
        chi2 = float(b @ np.linalg.solve(cov[np.ix_(idx, idx)], b))
        tests[arm] = {"chi2": chi2, "df": 2, "p": float(chi2_sf(chi2, 2)),
                      "hypothesis": "no treatment effect on the ALSFRS-R slope and no direct effect on the hazard"}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index = pd.MultiIndex.from_tuples(frame.index, names=["arm", "quantity"])
    return frame, tests


def _curves(trial: Trial, design: JointDesign, mle: JointMLE) -> dict:
    """Observed vs fitted mean ALSFRS-R by arm and visit day; model vs Kaplan–Meier survival."""
    from .km import km_by_group

    d = design.data
    beta = unpack(mle.theta, d)["beta"]
    arms = [design.control_arm, *design.active_arms]
    visit_arm = design.arms[d.subject]
    died = d.event[d.subject] == 1
    days = np.round(d.t * DAYS_PER_MONTH)
    out: dict = {"alsfrs": {}, "survival": {}}
    horizon = design.horizon_months if design.horizon_months is not None else float(d.time_months.max())
    grid = np.linspace(0, horizon, 25)
    km = km_by_group(d.time_months * DAYS_PER_MONTH, d.event, design.arms, arms)
    for arm in arms:
        counterfactual = design.with_arm(arm)
        rows = visit_arm == arm
        table = pd.DataFrame({"day": days[rows], "y": d.y[rows], "died": died[rows]})
        g = table.groupby("day")
        fitted = (counterfactual.X0 @ beta).mean() + (counterfactual.X1 @ beta).mean() * g.size().index / DAYS_PER_MONTH
        out["alsfrs"][arm] = {"day": g.size().index.tolist(), "observed_mean": g["y"].mean().tolist(),
                              "n": g.size().tolist(), "n_later_died": g["died"].sum().astype(int).tolist(),
                              "fitted_mean": list(map(float, fitted))}
        curve = km.curves[arm]
        out["survival"][arm] = {"day": (grid * DAYS_PER_MONTH).tolist(),
                                "fitted": marginal_survival(mle.theta, counterfactual, grid).tolist(),
                                "km_day": curve.index.tolist(), "km": curve["survival"].tolist()}
    return out
