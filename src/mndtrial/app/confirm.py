"""The explorer's confirmatory mode: interim looks, alpha spending, futility and adaptive enrichment.

`parse_confirmatory` checks the confirmatory fields of the form (`cf_*`); `confirmatory_dict`
turns a checked form into the design file `mndtrial power --confirmatory FILE.toml` reads
(`mndtrial.power.ConfirmatorySpec`): the same dictionary is validated for the page and written as
`confirmatory.toml`, so the app and the command simulate the same design. The pool follows the
family: the exponential family's hazard ratios, dropout and cut-off become an `ExponentialPool`;
the MIROCALS-calibrated family is the shipped simulator (`SimPool(mirocals())`), its effect the
shipped drug model's.

Example:
    >>> values = parse_confirmatory({"cf_info_rates": "0.5, 1", "cf_n_max": 300, "cf_events": 150}, {})
    >>> values["cf_info_rates"], values["cf_adaptive"]
    ((0.5, 1.0), True)
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from ..errors import ParameterError

__all__ = ["CONFIRMATORY_DEFAULTS", "SPENDING", "FUTILITY", "SELECTION", "parse_confirmatory",
           "confirmatory_dict", "confirmatory_field"]

SPENDING = {"asOF": "O'Brien-Fleming type (Lan-DeMets)", "asP": "Pocock type (Lan-DeMets)",
            "asHSD": "Hwang-Shih-DeCani (γ below)", "asKD": "Kim-DeMets power family (ρ below)",
            "asUser": "your own: cumulative α spent at each look (below)", "OF": "O'Brien-Fleming", "P": "Pocock"}
FUTILITY = {"none": "none", "beta_spending": "beta spending (non-binding, β = 1 − target power)",
            "hazard_ratio": "stop when the observed HR ≥ the value below (non-binding)",
            "conditional_power": "stop when the conditional power is below the value below (non-binding)",
            "z": "Z bounds at the interim looks (below, non-binding)"}
SELECTION = {"epsilon": "ε-selection (ε = 0.1 on 1/HR, HR ≥ 1 dropped)", "best": "the better population",
             "all": "keep both"}
EPSILON, THRESHOLD = 0.1, 1.0
CONFIRMATORY_DEFAULTS: dict[str, Any] = {"cf_info_rates": (0.4, 0.7, 1.0), "cf_spending": "asOF",
                                         "cf_futility": "beta_spending", "cf_futility_hr": 1.0, "cf_n_max": 600,
                                         "cf_events": 300, "cf_adaptive": True, "cf_interim_events": 120,
                                         "cf_selection": "epsilon", "cf_arrivals_per_day": 1.0,
                                         # used only with the option that needs them (None otherwise)
                                         "cf_gamma_a": 1.0, "cf_user_spending": (0.0025, 0.01, 0.025),
                                         "cf_futility_cp": 0.2, "cf_futility_z": (0.0, 0.0), "cf_reestimate": False,
                                         "cf_re_cp": 0.8, "cf_re_min": 90, "cf_re_max": 360}
# the option each of those fields belongs to: (field deciding, its values that use the field)
USED_WHEN = {"cf_gamma_a": ("cf_spending", ("asHSD", "asKD")), "cf_user_spending": ("cf_spending", ("asUser",)),
             "cf_futility_cp": ("cf_futility", ("conditional_power",)), "cf_futility_z": ("cf_futility", ("z",)),
             "cf_re_cp": ("cf_reestimate", (True,)), "cf_re_min": ("cf_reestimate", (True,)),
             "cf_re_max": ("cf_reestimate", (True,))}
# where a ConfirmatorySpec key's error is shown on the form
FIELD_OF_KEY = {"[design].information_rates": "cf_info_rates", "[design].k_max": "cf_info_rates",
                "[design].alpha": "alpha", "[design].beta": "target_power", "[futility].hazard_ratio": "cf_futility_hr",
                "[futility]": "cf_futility", "[trial].n_randomised_max": "cf_n_max", "[trial].max_events": "cf_events",
                "[trial]": "cf_events", "[trial].strategies": "strategies", "[enriched].max_events": "cf_events",
                "[adaptive_enrichment].interim_events": "cf_interim_events",
                "[adaptive_enrichment]": "cf_interim_events", "[pool].hazard_ratio_s": "hr_low",
                "[pool].hazard_ratio_r": "hr_high", "[pool].dropout_per_year": "dropout",
                "[pool].arrivals_per_day": "cf_arrivals_per_day", "[population]": "cutoff",
                "[design].gamma_a": "cf_gamma_a", "[design].gamma": "cf_gamma_a",
                "[design].user_alpha_spending": "cf_user_spending", "[design].user_spending": "cf_user_spending",
                "[futility].conditional_power": "cf_futility_cp", "[futility].bounds": "cf_futility_z",
                "[futility].futility_bounds": "cf_futility_z",
                "[adaptive_enrichment].reestimation": "cf_re_cp",
                "[adaptive_enrichment].reestimation.conditional_power": "cf_re_cp",
                "[adaptive_enrichment].reestimation.min_events": "cf_re_min",
                "[adaptive_enrichment].reestimation.max_events": "cf_re_max"}


def confirmatory_field(parameter: str) -> str:
    """The form field of a confirmatory design error's key ('general' if none)."""
    key = str(parameter)
    while key:
        if key in FIELD_OF_KEY:
            return FIELD_OF_KEY[key]
        key = key.rsplit(".", 1)[0] if "." in key else ""
    return "general"


def _rates(raw: Any) -> tuple[float, ...]:
    parts = raw if isinstance(raw, (list, tuple)) else str(raw).replace(";", ",").split(",")
    return tuple(float(p) for p in parts if str(p).strip())


def parse_confirmatory(values: Mapping[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The checked `cf_*` fields (missing ones take `CONFIRMATORY_DEFAULTS`); bad ones go into `errors`."""
    out: dict[str, Any] = {}
    raw = values.get("cf_info_rates", CONFIRMATORY_DEFAULTS["cf_info_rates"])
    try:
        rates = _rates(raw)
    except (TypeError, ValueError):
        errors["cf_info_rates"] = f"{raw!r}: information fractions, comma-separated (e.g. 0.4, 0.7, 1)"
        rates = None
    if rates is not None:
        if len(rates) < 2 or len(rates) > 10:
            errors["cf_info_rates"] = "give 2 to 10 looks, e.g. 0.4, 0.7, 1"
        elif any(not math.isfinite(r) for r in rates) or any(b <= a for a, b in zip(rates, rates[1:])) \
                or rates[0] <= 0 or rates[-1] != 1:
            errors["cf_info_rates"] = "fractions must increase from above 0 to 1 (the last look)"
        out["cf_info_rates"] = rates
    for name, choices in (("cf_spending", SPENDING), ("cf_futility", FUTILITY), ("cf_selection", SELECTION)):
        v = values.get(name, CONFIRMATORY_DEFAULTS[name])
        if v not in choices:
            errors[name] = f"choose one of {list(choices)}"
        out[name] = v
    out["cf_adaptive"] = bool(values.get("cf_adaptive", CONFIRMATORY_DEFAULTS["cf_adaptive"]))

    def number(name: str, rule: str, ok, whole: bool = False) -> None:
        raw = values.get(name, CONFIRMATORY_DEFAULTS[name])
        try:
            v = float(raw)
        except (TypeError, ValueError):
            errors[name] = "required: enter a number" if raw in (None, "") else f"{raw!r} is not a number"
            return
        if not math.isfinite(v) or (whole and v != int(v)) or not ok(v):
            errors[name] = f"{raw} {rule}"
            return
        out[name] = int(v) if whole else v

    number("cf_futility_hr", "must be a hazard ratio > 0", lambda v: v > 0)
    number("cf_n_max", "must be a whole number >= 4", lambda v: v >= 4, whole=True)
    number("cf_events", "must be a whole number >= 2", lambda v: v >= 2, whole=True)
    number("cf_interim_events", "must be a whole number >= 1", lambda v: v >= 1, whole=True)
    number("cf_arrivals_per_day", "must be > 0 candidates a day", lambda v: v > 0)
    out["cf_reestimate"] = bool(values.get("cf_reestimate", CONFIRMATORY_DEFAULTS["cf_reestimate"])) \
        and out["cf_adaptive"]
    used = {name for name, (by, when) in USED_WHEN.items() if out.get(by) in when}
    if "cf_gamma_a" in used:
        number("cf_gamma_a", "must be a number (ρ of asKD > 0)",
               lambda v: v > 0 or out.get("cf_spending") == "asHSD")
    for name, rule in (("cf_user_spending", "cumulative α at each look, comma-separated (e.g. 0.0025, 0.01, "
                                            "0.025)"),
                       ("cf_futility_z", "a Z value at each interim look, comma-separated (e.g. 0, 0.5)")):
        if name in used:
            raw = values.get(name, CONFIRMATORY_DEFAULTS[name])
            try:
                listed = _rates(raw)
            except (TypeError, ValueError):
                errors[name] = f"{raw!r}: {rule}"
                continue
            if not listed or not all(math.isfinite(v) for v in listed):
                errors[name] = f"{raw!r}: {rule}"
                continue
            out[name] = listed
    looks = len(out.get("cf_info_rates") or ())
    if "cf_user_spending" in out and looks and len(out["cf_user_spending"]) != looks:
        errors["cf_user_spending"] = f"give one cumulative α per look ({looks})"
    if "cf_futility_z" in out and looks and len(out["cf_futility_z"]) != looks - 1:
        errors["cf_futility_z"] = f"give one Z bound per interim look ({looks - 1})"
    if "cf_futility_cp" in used:
        number("cf_futility_cp", "must be a conditional power in (0, 1)", lambda v: 0 < v < 1)
    if out["cf_reestimate"]:
        number("cf_re_cp", "must be a conditional power in (0, 1)", lambda v: 0 < v < 1)
        number("cf_re_min", "must be a whole number >= 1", lambda v: v >= 1, whole=True)
        number("cf_re_max", "must be a whole number >= 1", lambda v: v >= 1, whole=True)
        if out.get("cf_re_min", 0) > out.get("cf_re_max", math.inf):
            errors["cf_re_max"] = f"{out['cf_re_max']} is below the least stage-2 events ({out['cf_re_min']})"
    if "cf_events" in out and "cf_n_max" in out and out["cf_events"] > out["cf_n_max"]:
        errors["cf_events"] = f"{out['cf_events']} events cannot exceed the {out['cf_n_max']} randomised"
    if out["cf_adaptive"] and "cf_events" in out and out.get("cf_interim_events", 0) >= out["cf_events"]:
        errors["cf_interim_events"] = f"the interim must come before the final {out['cf_events']} events"
    return out


def confirmatory_dict(spec: Any) -> dict[str, Any]:
    """The `mndtrial power --confirmatory` design file of a checked confirmatory `ExploreSpec`."""
    design: dict[str, Any] = {"information_rates": list(spec.cf_info_rates), "type_of_design": spec.cf_spending,
                              "alpha": spec.alpha}
    if spec.cf_spending in ("asHSD", "asKD"):
        design["gamma_a"] = spec.cf_gamma_a
    elif spec.cf_spending == "asUser":
        design["user_alpha_spending"] = list(spec.cf_user_spending)
    if spec.cf_futility == "beta_spending":
        design["beta"] = round(1 - spec.target_power, 12)
        futility = {"rule": "beta_spending", "binding": False,
                    "type_beta_spending": "bsP" if spec.cf_spending in ("asP", "P") else "bsOF"}
    elif spec.cf_futility == "hazard_ratio":
        futility = {"rule": "hazard_ratio", "hazard_ratio": spec.cf_futility_hr, "binding": False}
    elif spec.cf_futility == "conditional_power":
        futility = {"rule": "conditional_power", "conditional_power": spec.cf_futility_cp, "binding": False}
    elif spec.cf_futility == "z":
        futility = {"rule": "z", "bounds": list(spec.cf_futility_z), "binding": False}
    else:
        futility = {"rule": "none"}
    if spec.family == "exponential":
        pool = {"kind": "exponential", "arrivals_per_day": spec.cf_arrivals_per_day, "hazard_ratio_s": spec.hr_low,
                "hazard_ratio_r": spec.hr_high, "dropout_per_year": spec.dropout}
    else:
        pool = {"kind": "mirocals", "arrivals_per_day": spec.cf_arrivals_per_day}
    strategies = [s for s in ("all-comers", "enriched") if s in spec.strategies]
    if spec.cf_adaptive:
        strategies.append("adaptive-enrichment")
    doc = {"design": design, "futility": futility,
           "population": {"biomarker": "csf_pnfh", "cutoffs": [spec.cutoff]}, "pool": pool,
           "trial": {"strategies": strategies, "n_randomised_max": spec.cf_n_max, "max_events": spec.cf_events}}
    if spec.cf_adaptive:
        doc["adaptive_enrichment"] = {"interim_events": spec.cf_interim_events, "selection": spec.cf_selection,
                                      **({"epsilon": EPSILON} if spec.cf_selection == "epsilon" else {}),
                                      "threshold": THRESHOLD}
        if spec.cf_reestimate:
            doc["adaptive_enrichment"]["reestimation"] = {"conditional_power": spec.cf_re_cp,
                                                          "min_events": spec.cf_re_min, "max_events": spec.cf_re_max}
    return doc


def checked_spec(spec: Any):
    """The validated `ConfirmatorySpec`, its strategies built once (bounds computed) so that every
    problem is found before a run; errors name the form field (`FormError`)."""
    from ..power import ConfirmatorySpec, build_strategies
    from .spec import FormError

    try:
        cspec = ConfirmatorySpec.from_dict(confirmatory_dict(spec))
        build_strategies(cspec)
    except ParameterError as exc:
        raise FormError({confirmatory_field(exc.parameter): f"{exc.value}: {exc.rule}"}) from None
    return cspec
