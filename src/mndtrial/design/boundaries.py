"""Group-sequential designs: efficacy and futility bounds, alpha spent, stopping probabilities.

`group_sequential_design` mirrors rpact's `getDesignGroupSequential` (one-sided): the same
parameter meanings (snake_case), the same `typeOfDesign` names ("asOF", "asP", "asHSD", "asKD",
"asUser", "OF", "P") and `typeBetaSpending` names ("bsOF", "bsP", "bsHSD", "bsKD", "bsUser"), and
the design characteristics of `getDesignCharacteristics` (shift, inflation factor, power,
stopping probabilities, expected information). Bounds come from numerical integration
(`recursion`), not simulation. Every input remembers whether the user gave it, it was a default,
or it was derived, and `reproducing_call()` prints the rpact (or Python) call that gives the
same design, so anyone can cross-check.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from ..batch._result import json_safe
from ..errors import ParameterError
from .recursion import crossing_probabilities
from .solvers import beta_spending_bounds, classical_bounds, drift_for_power, spending_bounds
from .spending import ALPHA_SPENDING_TYPES, BETA_SPENDING_TYPES, spending_values

__all__ = ["DESIGN_TYPES", "GroupSequentialDesign", "group_sequential_design", "hazard_ratio_at_bound",
           "z_for_hazard_ratio"]

DESIGN_TYPES = ALPHA_SPENDING_TYPES + ("OF", "P")
_CLASSICAL_DELTA = {"OF": 0.0, "P": 0.5}
_DEFAULTS = {"k_max": 3, "alpha": 0.025, "beta": 0.2, "type_of_design": "asOF", "type_beta_spending": "none",
             "binding_futility": False}
# rpact's names, for the reproducing call.
_R_NAMES = {"k_max": "kMax", "alpha": "alpha", "beta": "beta", "information_rates": "informationRates",
            "type_of_design": "typeOfDesign", "gamma_a": "gammaA", "user_alpha_spending": "userAlphaSpending",
            "type_beta_spending": "typeBetaSpending", "gamma_b": "gammaB",
            "user_beta_spending": "userBetaSpending", "futility_bounds": "futilityBounds",
            "binding_futility": "bindingFutility"}


def hazard_ratio_at_bound(z, events, allocation_ratio: float = 1.0) -> np.ndarray:
    """Hazard ratio (active/control, < 1 = benefit) whose log-rank Z equals `z` at `events` events.

    Schoenfeld (1981): Z = -log(HR) sqrt(r d) / (1 + r) with r = active:control allocation
    (rpact's criticalValuesEffectScale).

    >>> round(float(hazard_ratio_at_bound(1.959964, 200)), 4)
    0.7579
    """
    z = np.asarray(z, dtype=float)
    events = np.asarray(events, dtype=float)
    if np.any(events <= 0):
        raise ParameterError("events", events.tolist(), "must be positive")
    return np.exp(-z * (1.0 + allocation_ratio) / np.sqrt(allocation_ratio * events))


def z_for_hazard_ratio(hazard_ratio, events, allocation_ratio: float = 1.0) -> np.ndarray:
    """Log-rank Z expected at `events` events for a true hazard ratio (inverse of `hazard_ratio_at_bound`).

    >>> round(float(z_for_hazard_ratio(0.7579, 200)), 3)
    1.96
    """
    hr = np.asarray(hazard_ratio, dtype=float)
    if np.any(hr <= 0):
        raise ParameterError("hazard_ratio", hr.tolist(), "must be positive")
    return -np.log(hr) * np.sqrt(allocation_ratio * np.asarray(events, dtype=float)) / (1.0 + allocation_ratio)


def _fmt_r(value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple, np.ndarray)):
        return "c(" + ", ".join(_fmt_r(v) for v in np.asarray(value).tolist()) + ")"
    return repr(float(value)) if isinstance(value, float) else str(value)


@dataclass(frozen=True, repr=False)
class GroupSequentialDesign:
    """A one-sided group-sequential design and its operating characteristics (rpact's names in brackets).

    critical_values [criticalValues]: efficacy Z bound per look (reject H0 when Z >= bound).
    futility_bounds [futilityBounds]: futility Z bound per interim look, -inf for none.
    alpha_spent [alphaSpent]: cumulative type I error by look (futility counted only if binding).
    beta_spent [betaSpent]: cumulative futility probability under H1 (beta spending only).
    drift: E[Z_K] under H1 giving power 1 - beta; `shift` = drift^2.
    reject_h0/h1, futility_h0/h1: probability of stopping at each look for efficacy/futility under
    H0 and H1 (futility bounds always act here, binding or not, as in rpact).
    """

    k_max: int
    alpha: float
    beta: float
    information_rates: np.ndarray
    type_of_design: str
    gamma_a: float | None
    user_alpha_spending: np.ndarray | None
    type_beta_spending: str
    gamma_b: float | None
    user_beta_spending: np.ndarray | None
    binding_futility: bool
    critical_values: np.ndarray
    futility_bounds: np.ndarray
    alpha_spent: np.ndarray
    beta_spent: np.ndarray | None
    drift: float
    reject_h0: np.ndarray
    futility_h0: np.ndarray
    reject_h1: np.ndarray
    futility_h1: np.ndarray
    provenance: dict = field(default_factory=dict)

    # ---- derived quantities (rpact's getDesignCharacteristics) ----
    @property
    def stage_levels(self) -> np.ndarray:
        """Nominal one-sided p-value at each efficacy bound [stageLevels]."""
        return ndtr(-self.critical_values)

    @property
    def shift(self) -> float:
        return self.drift**2

    @property
    def n_fixed(self) -> float:
        """(z_alpha + z_beta)^2: the shift of the fixed-sample design with the same alpha and power."""
        return float((ndtri(1 - self.alpha) + ndtri(1 - self.beta)) ** 2)

    @property
    def inflation_factor(self) -> float:
        """Maximum information relative to the fixed-sample design [inflationFactor]."""
        return self.shift / self.n_fixed

    @property
    def power(self) -> np.ndarray:
        """Cumulative probability of rejecting by each look under H1 [power]."""
        return np.cumsum(self.reject_h1)

    def stopping_probabilities(self, drift: float) -> tuple[np.ndarray, np.ndarray]:
        """(efficacy, futility) stopping probability per look when E[Z_K] = drift."""
        return crossing_probabilities(self.critical_values, self._lower(), self.information_rates, drift)

    def expected_information(self, drift: float) -> float:
        """Expected information as a fraction of the maximum, under E[Z_K] = drift."""
        up, low = self.stopping_probabilities(drift)
        stop = up + low
        stop[-1] = 1.0 - stop[:-1].sum()
        return float(np.sum(stop * self.information_rates))

    @property
    def average_sample_number(self) -> dict[str, float]:
        """Expected information relative to the fixed design under H1, H0 and halfway
        [averageSampleNumber1, averageSampleNumber0, averageSampleNumber01]."""
        scale = self.inflation_factor
        return {"H1": scale * self.expected_information(self.drift),
                "H01": scale * self.expected_information(self.drift / 2),
                "H0": scale * self.expected_information(0.0)}

    def _lower(self) -> np.ndarray:
        return np.concatenate([self.futility_bounds, [-np.inf]])

    # ---- tables ----
    def table(self, max_events: float | None = None, allocation_ratio: float = 1.0) -> pd.DataFrame:
        """One row per look; with `max_events`, events, the hazard ratio at each bound and
        expected events under H0 and H1 are added (Schoenfeld scale, `allocation_ratio` active:control)."""
        k = np.arange(1, self.k_max + 1)
        fut = self._lower()
        out = pd.DataFrame({
            "look": k, "information_rate": self.information_rates,
            "z_efficacy": self.critical_values, "nominal_p": self.stage_levels,
            "z_futility": np.where(np.isfinite(fut), fut, np.nan),
            "alpha_spent": self.alpha_spent,
            "beta_spent": self.beta_spent if self.beta_spent is not None else np.nan,
            "p_reject_h0": self.reject_h0, "p_futility_h0": self.futility_h0,
            "p_reject_h1": self.reject_h1, "p_futility_h1": self.futility_h1,
            "power_cumulative": self.power})
        if max_events is not None:
            events = self.information_rates * float(max_events)
            out.insert(2, "events", events)
            out["hr_efficacy"] = hazard_ratio_at_bound(self.critical_values, events, allocation_ratio)
            with np.errstate(over="ignore"):
                out["hr_futility"] = np.where(np.isfinite(fut),
                                              hazard_ratio_at_bound(np.where(np.isfinite(fut), fut, 0.0),
                                                                    events, allocation_ratio), np.nan)
        return out

    @property
    def summary(self) -> pd.DataFrame:
        """Per-look table on the Z scale (see `table` for events and hazard ratios)."""
        return self.table()

    def expected_events(self, max_events: float) -> dict[str, float]:
        """Expected number of events at the stopping look under H0, halfway and H1."""
        return {h: max_events * self.expected_information(d)
                for h, d in (("H0", 0.0), ("H01", self.drift / 2), ("H1", self.drift))}

    # ---- provenance ----
    def inputs(self) -> dict:
        return {"k_max": self.k_max, "alpha": self.alpha, "beta": self.beta,
                "information_rates": self.information_rates.tolist(), "type_of_design": self.type_of_design,
                "gamma_a": self.gamma_a,
                "user_alpha_spending": None if self.user_alpha_spending is None else self.user_alpha_spending.tolist(),
                "type_beta_spending": self.type_beta_spending, "gamma_b": self.gamma_b,
                "user_beta_spending": None if self.user_beta_spending is None else self.user_beta_spending.tolist(),
                "futility_bounds": [None if not np.isfinite(v) else float(v) for v in self.futility_bounds],
                "binding_futility": self.binding_futility}

    def reproducing_call(self, language: str = "r") -> str:
        """The call that gives this design: rpact's getDesignGroupSequential ("r") or ours ("python").
        Only user-given inputs are written, as rpact prints its user-defined parameters.

        >>> group_sequential_design(k_max=2, type_of_design="asP").reproducing_call()
        'getDesignGroupSequential(kMax = 2, typeOfDesign = "asP", sided = 1)'
        """
        given = {k: v for k, v in self.inputs().items() if self.provenance.get(k) == "user"}
        if language == "r":
            args = [f"{_R_NAMES[k]} = {_fmt_r(v if k != 'futility_bounds' else [-6 if x is None else x for x in v])}"
                    for k, v in given.items()]
            return "getDesignGroupSequential(" + ", ".join(args + ["sided = 1"]) + ")"
        if language == "python":
            return "group_sequential_design(" + ", ".join(f"{k}={v!r}" for k, v in given.items()) + ")"
        raise ParameterError("language", language, "must be 'r' or 'python'")

    def to_dict(self) -> dict:
        return json_safe({"design": "group_sequential", "inputs": self.inputs(), "provenance": self.provenance,
                          "reproducing_call_r": self.reproducing_call("r"), "shift": self.shift,
                          "inflation_factor": self.inflation_factor,
                          "average_sample_number": self.average_sample_number,
                          "looks": self.summary.to_dict(orient="records")})

    def __repr__(self) -> str:
        return (f"<GroupSequentialDesign {self.type_of_design} K={self.k_max} alpha={self.alpha} "
                f"bounds={np.round(self.critical_values, 3).tolist()}>")

    def _repr_html_(self) -> str:
        return f"<p>{self!r}</p>" + self.summary.to_html(index=False, float_format=lambda v: f"{v:.4f}")

    def at_information(self, information_rates) -> "GroupSequentialDesign":
        """The same design recomputed at other (observed) information fractions, user-given futility
        bounds kept; see `observed.observed_bounds` for over- and under-running."""
        return group_sequential_design(**{**{k: v for k, v in self.inputs().items() if self.provenance.get(k) != "derived"},
                                          "k_max": len(information_rates), "information_rates": information_rates})


def _beta_spent(reject1: np.ndarray, futile1: np.ndarray) -> np.ndarray:
    # rpact's betaSpent: cumulative futility stops under H1, the last look counting every
    # non-rejection (so it ends at beta).
    spent = np.cumsum(futile1)
    spent[-1] = 1.0 - reject1.sum()
    return spent


def _check_fraction(name: str, value: float, lo: float, hi: float) -> float:
    if value is None or not np.isfinite(value) or not lo < value < hi:
        raise ParameterError(name, value, f"must lie strictly between {lo} and {hi}")
    return float(value)


def group_sequential_design(k_max: int | None = None, *, alpha: float | None = None, beta: float | None = None,
                            information_rates=None, type_of_design: str | None = None,
                            gamma_a: float | None = None, user_alpha_spending=None,
                            type_beta_spending: str | None = None, gamma_b: float | None = None,
                            user_beta_spending=None, futility_bounds=None,
                            binding_futility: bool | None = None) -> GroupSequentialDesign:
    """A one-sided group-sequential design, as rpact's getDesignGroupSequential(sided = 1).

    ref: Jennison & Turnbull (2000) ch. 7 and §19.2 (numerical integration); Lan & DeMets (1983).

    >>> d = group_sequential_design(k_max=3, type_of_design="asOF")
    >>> d.critical_values.round(4).tolist()
    [3.7103, 2.5114, 1.993]
    """
    given = {k: v for k, v in locals().items() if v is not None}
    provenance = {k: ("user" if k in given else "default") for k in _R_NAMES}
    alpha = _check_fraction("alpha", _DEFAULTS["alpha"] if alpha is None else alpha, 0, 0.5)
    beta = _check_fraction("beta", _DEFAULTS["beta"] if beta is None else beta, 0, 0.5)
    type_of_design = type_of_design or _DEFAULTS["type_of_design"]
    type_beta_spending = type_beta_spending or _DEFAULTS["type_beta_spending"]
    binding = bool(_DEFAULTS["binding_futility"] if binding_futility is None else binding_futility)
    if type_of_design not in DESIGN_TYPES:
        raise ParameterError("type_of_design", type_of_design, f"must be one of {', '.join(DESIGN_TYPES)}")
    if type_beta_spending not in BETA_SPENDING_TYPES + ("none",):
        raise ParameterError("type_beta_spending", type_beta_spending,
                             f"must be 'none' or one of {', '.join(BETA_SPENDING_TYPES)}")
    if information_rates is None:
        k = int(k_max if k_max is not None else _DEFAULTS["k_max"])
        t = np.arange(1, k + 1) / k
        provenance["information_rates"] = "derived" if k_max is not None else "default"
    else:
        t = np.asarray(information_rates, dtype=float)
        if k_max is not None and int(k_max) != t.size:
            raise ParameterError("information_rates", t.tolist(), f"need k_max = {k_max} values")
        provenance["k_max"] = "user" if k_max is not None else "derived"
    k = t.size
    if t.ndim != 1 or k < 1 or np.any(np.diff(t) <= 0) or t[0] <= 0 or abs(t[-1] - 1.0) > 1e-12:
        raise ParameterError("information_rates", t.tolist(), "must be strictly increasing, positive and end at 1")
    if type_beta_spending != "none" and type_of_design not in ALPHA_SPENDING_TYPES:
        raise ParameterError("type_beta_spending", type_beta_spending,
                             "beta spending needs an alpha-spending design (typeOfDesign 'as...')")
    if type_beta_spending != "none" and futility_bounds is not None:
        raise ParameterError("futility_bounds", futility_bounds, "give futility bounds or beta spending, not both")
    if k == 1 and (type_beta_spending != "none" or futility_bounds is not None):
        raise ParameterError("futility_bounds", futility_bounds, "a single-look design has no futility bounds")

    if futility_bounds is not None:
        fut = np.asarray([-np.inf if v is None else v for v in futility_bounds], dtype=float)
        if fut.shape != (k - 1,):
            raise ParameterError("futility_bounds", futility_bounds, f"need k_max - 1 = {k - 1} values")
        fut = np.where(fut <= -6, -np.inf, fut)  # rpact: -6 means no futility stop at that look
    else:
        fut = np.full(k - 1, -np.inf)
    lower = np.concatenate([fut, [-np.inf]])
    alpha_cum = None
    if type_of_design in ALPHA_SPENDING_TYPES:
        if type_of_design == "asUser":
            alpha_cum = spending_values("asUser", t, alpha, user_values=user_alpha_spending)
            if "alpha" not in given:
                alpha = float(alpha_cum[-1])
                provenance["alpha"] = "derived"
        else:
            alpha_cum = spending_values(type_of_design, t, alpha, gamma=gamma_a)
    elif user_alpha_spending is not None or gamma_a is not None:
        raise ParameterError("gamma_a", gamma_a, f"not used by typeOfDesign '{type_of_design}'")

    beta_cum = None
    if type_beta_spending != "none":
        beta_cum = spending_values(type_beta_spending, t, beta, gamma=gamma_b, user_values=user_beta_spending)
        upper, lower, drift = beta_spending_bounds(alpha_cum, beta_cum, t, binding=binding)
        lower[-1] = -np.inf
        fut = lower[:-1]
        provenance["futility_bounds"] = "derived"
    else:
        if type_of_design in _CLASSICAL_DELTA:
            upper = classical_bounds(_CLASSICAL_DELTA[type_of_design], alpha, t, lower if binding else None)
        else:
            upper = spending_bounds(alpha_cum, t, lower if binding else None)
        drift = None
    reject0, futile0 = crossing_probabilities(upper, lower, t, 0.0)
    if binding or not np.any(np.isfinite(fut)):
        alpha_spent = np.cumsum(reject0)
    else:
        alpha_spent = np.cumsum(crossing_probabilities(upper, np.full(k, -np.inf), t, 0.0)[0])
    if drift is None:
        drift = drift_for_power(upper, lower, t, 1.0 - beta)
    reject1, futile1 = crossing_probabilities(upper, lower, t, drift)
    for name in ("critical_values", "alpha_spent", "beta_spent", "drift"):
        provenance[name] = "derived"
    return GroupSequentialDesign(
        k_max=k, alpha=alpha, beta=beta, information_rates=t, type_of_design=type_of_design,
        gamma_a=gamma_a, user_alpha_spending=None if user_alpha_spending is None else np.asarray(user_alpha_spending, float),
        type_beta_spending=type_beta_spending, gamma_b=gamma_b,
        user_beta_spending=None if user_beta_spending is None else np.asarray(user_beta_spending, float),
        binding_futility=binding, critical_values=upper, futility_bounds=fut, alpha_spent=alpha_spent,
        beta_spent=None if beta_cum is None else _beta_spent(reject1, futile1), drift=float(drift),
        reject_h0=reject0, futility_h0=futile0, reject_h1=reject1, futility_h1=futile1, provenance=provenance)
