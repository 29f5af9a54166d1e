"""The explorer's form as a design: checked values, the design points, and the CLI call that reproduces them.

`parse_form` turns the raw values of the form (numbers may be missing, text may be anything) into
an `ExploreSpec`, or raises `FormError` with one message per field, so the page can show each
message beside its input. `ExploreSpec.points()` builds the same `mndtrial.power` design points
that `ExploreSpec.command()` — a `mndtrial power ...` call — builds on the command line, so the
app and the CLI give the same numbers for the same seed (the tests check it).

Example:
    >>> spec = parse_form({"family": "exponential", "n_min": 100, "n_max": 200, "n_step": 100,
    ...                    "hr_low": 0.7, "hr_high": 0.7, "n_trials": 64})
    >>> spec.n_values
    [100, 200]
    >>> " ".join(spec.command(out="OUT")[:6])
    'mndtrial power --design exponential --hazard-ratio 0.7'
"""

from __future__ import annotations

import math
import shlex
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from ..errors import ParameterError
from .confirm import CONFIRMATORY_DEFAULTS, confirmatory_dict, parse_confirmatory

__all__ = ["ExploreSpec", "FormError", "parse_form", "FAMILIES", "DEFAULTS", "family_defaults", "MARKERS", "MODES",
           "form_values_from_toml"]

FAMILIES = {"mirocals": "MIROCALS-calibrated simulator", "exponential": "Exponential survival (known truth)",
            "file": "MIROCALS design on a parameters file"}
STRATEGY_CHOICES = ("all-comers", "enriched", "stratified")
# `mndtrial power --primary`: (test kind, strata; None = the design's strata)
PRIMARY = {"stratified-logrank": ("logrank", None), "logrank": ("logrank", ()), "cox": ("cox", ())}
ALLOCATIONS = {"1:1": 1, "2:1": 2, "3:1": 3}  # active : placebo
# the screening marker of the biomarker rule (`mndtrial power --marker`); the cut-off stays on the CSF-pNfH scale
MARKERS = {"csf_pnfh": "CSF-pNfH", "serum_nfl": "serum NfL (the level selecting the same share)"}
MODES = {"fixed": "Fixed sample: power by sample size", "confirmatory": "Confirmatory: interim looks, adaptive enrichment"}
MAX_POINTS = 25  # sample sizes on the curve: a form, not a batch job
MAX_TRIALS = 100_000
DEFAULTS: dict[str, Any] = {"family": "mirocals", "parameters_path": "", "n_min": 200, "n_max": 400, "n_step": 100,
                            "allocation": "1:1", "strategies": ("all-comers", "enriched"),
                            "primary": "stratified-logrank", "alpha": 0.025, "n_trials": 1000, "seed": 1,
                            "target_power": 0.8, "marker": "csf_pnfh", "mode": "fixed"}


class FormError(Exception):
    """Bad values in the form: `errors` maps each field to what is wrong with it."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


def family_defaults(family: str, parameters_path: str | None = None) -> dict[str, float]:
    """The family's own follow-up, dropout, cut-off and effects, the form's starting values.

    Simulated families read them from the parameter file (the shipped one unless `parameters_path`):
    follow-up is the design's horizon, dropout its attrition at 12 months (deaths included), the
    effects the drug model's hazard ratios below and above its CSF-pNfH cut-off, the biomarker
    rule's cut-off the upper end of MIROCALS's low CSF-pNfH group (`mndtrial.power.LOW_PNFH`).

    Example:
        >>> family_defaults("mirocals")["hr_low"]
        0.52
    """
    if family == "exponential":
        from ..power import ExponentialDesign

        t = ExponentialDesign()
        return {"follow_up_days": t.follow_up_days, "dropout": t.dropout_per_year, "cutoff": t.biomarker_cutoff,
                "hr_low": 0.7, "hr_high": 0.7}
    from ..power import LOW_PNFH
    from ..sim import load_parameters

    p = load_parameters(parameters_path or None)
    drug, design = p.section("drug"), p.section("designs.mirocals")
    return {"follow_up_days": float(design["horizon_days"]), "dropout": p.section("dropout")["attrition_12_months"],
            "cutoff": float(LOW_PNFH.upper), "hr_low": drug["hr_low_pnfh"], "hr_high": drug["hr_high_pnfh"]}


@dataclass(frozen=True)
class ExploreSpec:
    """A checked design of the explorer (see `parse_form`). `dropout` is the exponential design's
    dropout per year, or the simulated design's attrition at 12 months (deaths included)."""

    family: str
    parameters_path: str | None
    n_min: int
    n_max: int
    n_step: int
    allocation: str
    follow_up_days: float
    dropout: float
    cutoff: float
    hr_low: float
    hr_high: float
    strategies: tuple[str, ...]
    primary: str
    alpha: float
    n_trials: int
    seed: int
    target_power: float
    marker: str = "csf_pnfh"
    mode: str = "fixed"
    # confirmatory mode only (None otherwise): see `mndtrial.app.confirm`
    cf_info_rates: tuple[float, ...] | None = None
    cf_spending: str | None = None
    cf_futility: str | None = None
    cf_futility_hr: float | None = None
    cf_n_max: int | None = None
    cf_events: int | None = None
    cf_adaptive: bool | None = None
    cf_interim_events: int | None = None
    cf_selection: str | None = None
    cf_arrivals_per_day: float | None = None
    cf_gamma_a: float | None = None
    cf_user_spending: tuple[float, ...] | None = None
    cf_futility_cp: float | None = None
    cf_futility_z: tuple[float, ...] | None = None
    cf_reestimate: bool | None = None
    cf_re_cp: float | None = None
    cf_re_min: int | None = None
    cf_re_max: int | None = None

    @property
    def n_values(self) -> list[int]:
        return list(range(self.n_min, self.n_max + 1, self.n_step))

    @property
    def simulated(self) -> bool:
        return self.family != "exponential"

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items() if v is not None}

    # -- what differs from the family's own values ------------------------------------------
    def design_changes(self) -> dict[str, float]:
        """Design parameters set with `--vary NAME=VALUE` (those that differ from the family's)."""
        base = family_defaults(self.family, self.parameters_path)
        if self.simulated:
            wanted = {"horizon_days": ("follow_up_days", self.follow_up_days),
                      "attrition_12_months": ("dropout", self.dropout), "cutoff": ("cutoff", self.cutoff)}
        else:
            wanted = {"follow_up_days": ("follow_up_days", self.follow_up_days),
                      "dropout_per_year": ("dropout", self.dropout),
                      "biomarker_cutoff": ("cutoff", self.cutoff)}
            if self.hr_high != self.hr_low:  # equal: the design's own 'same effect above the cut-off'
                wanted["hazard_ratio_high"] = ("hr_high", self.hr_high)
        return {name: value for name, (field, value) in wanted.items() if value != base[field]}

    def parameter_overrides(self) -> dict[str, Any]:
        """Simulated families: drug effects and allocation that need a parameter file of their own."""
        if not self.simulated:
            return {}
        base = family_defaults(self.family, self.parameters_path)
        out: dict[str, Any] = {}
        if self.hr_low != base["hr_low"]:
            out["drug.hr_low_pnfh"] = self.hr_low
        if self.hr_high != base["hr_high"]:
            out["drug.hr_high_pnfh"] = self.hr_high
        active = ALLOCATIONS[self.allocation]
        if active != 1:
            total = 1 + active  # permuted blocks must hold whole allocation cycles
            out["designs.mirocals.allocation"] = [1, active]
            out["designs.mirocals.block_size"] = 4 if 4 % total == 0 else 2 * total
        return out

    def sim_parameters(self):
        """The simulator's parameters (`mndtrial.sim.SimParameters`) with the form's overrides."""
        from ..sim import load_parameters

        return load_parameters(self.parameters_path or None, overrides=self.parameter_overrides() or None)

    # -- the design points, as `mndtrial power` builds them ----------------------------------
    def family_object(self):
        from ..power import family

        try:
            if self.simulated:
                fam = family("mirocals", parameters=self.sim_parameters())
                if self.marker != "csf_pnfh":  # the CLI's --marker: the same band, screened by another assay
                    fam = fam.with_marker(self.marker)
            else:
                fam = family("exponential", hazard_ratio=self.hr_low)
            return fam.with_parameters(**self.design_changes())
        except ParameterError as exc:
            raise FormError({field_of(exc.parameter): f"{exc.value}: {exc.rule}"}) from None

    def screening_cutoff(self) -> float:
        """The cut-off as the screening marker reads it, pg/mL (serum NfL: the matched level)."""
        if not self.simulated or self.marker == "csf_pnfh":
            return self.cutoff
        return float(self.family_object().screening_population.upper)

    @property
    def confirmatory(self) -> bool:
        return self.mode == "confirmatory"

    def confirmatory_design(self) -> dict[str, Any]:
        """The `mndtrial power --confirmatory` design file, as a dictionary (confirmatory mode)."""
        return confirmatory_dict(self)

    def confirmatory_toml(self) -> str:
        import tomli_w

        return ("# mndtrial explore: a confirmatory design from the browser explorer\n# reproduce: "
                + self.command_text() + "\n" + tomli_w.dumps(self.confirmatory_design()))

    def points(self) -> list:
        """`mndtrial.power.DesignPoint`s, strategies side by side for each n (no ALSFRS-R slope)."""
        from ..power import design_points

        test, strata = PRIMARY[self.primary]
        try:
            return design_points(self.family_object(), self.n_values, self.strategies, alpha=self.alpha,
                                 slope=False, primary_test=test, primary_strata=strata)
        except ParameterError as exc:
            raise FormError({field_of(exc.parameter): f"{exc.value}: {exc.rule}"}) from None

    # -- exports --------------------------------------------------------------------------
    def command(self, out: str = "power-out", parameters_file: str = "parameters.toml",
                parameters_name: str | None = None, confirmatory_file: str = "confirmatory.toml") -> list[str]:
        """The `mndtrial power` call giving the same numbers; `parameters_file` is where the
        simulated family's own parameter file is saved when the form changes its drug or allocation,
        `parameters_name` the name the user's parameter file goes by (default: its path),
        `confirmatory_file` where the confirmatory design file is saved (confirmatory mode)."""
        if self.confirmatory:
            return ["mndtrial", "power", "--confirmatory", confirmatory_file, "--n-trials", str(self.n_trials),
                    "--seed", str(self.seed), "--out", out]
        cmd = ["mndtrial", "power", "--design", "mirocals" if self.simulated else "exponential"]
        if self.simulated and self.parameter_overrides():
            cmd += ["--parameters", parameters_file]
        elif self.simulated and self.parameters_path:
            cmd += ["--parameters", parameters_name or self.parameters_path]
        if self.simulated and self.marker != "csf_pnfh":
            cmd += ["--marker", self.marker]
        if not self.simulated:
            cmd += ["--hazard-ratio", repr(self.hr_low)]
        cmd += ["--vary", f"n={self.n_min}:{self.n_max}:{self.n_step}"]
        for name, value in self.design_changes().items():
            cmd += ["--vary", f"{name}={value!r}"]
        cmd += ["--designs", ",".join(self.strategies), "--primary", self.primary, "--alpha", repr(self.alpha),
                "--n-trials", str(self.n_trials), "--seed", str(self.seed), "--no-slope", "--out", out]
        return cmd

    def command_text(self, **kwargs: Any) -> str:
        return shlex.join(self.command(**kwargs))

    def design_toml(self, parameters_file: str = "parameters.toml", parameters_name: str | None = None) -> str:
        """The design as TOML: every field of the form and the command that reproduces it
        (`form_values_from_toml` reads it back into the form)."""
        import tomli_w

        doc = {"explore": {"family_label": FAMILIES[self.family], **self.to_dict(),
                           "design_parameters": {} if self.confirmatory else self.design_changes(),
                           "command": self.command_text(parameters_file=parameters_file,
                                                        parameters_name=parameters_name)}}
        if self.confirmatory:
            doc["explore"]["confirmatory_design"] = self.confirmatory_design()
        overrides = self.parameter_overrides()
        if overrides:
            doc["explore"]["parameter_file_overrides"] = overrides
            doc["explore"]["parameter_file"] = parameters_file
        head = "# mndtrial explore: a design from the browser explorer; `command` reproduces its numbers.\n"
        return head + tomli_w.dumps(doc)

    def parameters_toml(self) -> str | None:
        """The full parameter file the command needs (None when the family's own file will do)."""
        if not self.parameter_overrides():
            return None
        from ..sim.fit_cohort import to_toml

        return to_toml(self.sim_parameters(), "mndtrial explore: the shipped parameters with the form's drug "
                                              "effects and allocation\n(their source reads 'user override').")


FIELD_OF_PARAMETER = {"n": "n_min", "n_randomised": "n_min", "horizon_days": "follow_up_days",
                      "follow_up_days": "follow_up_days", "attrition_12_months": "dropout",
                      "attrition_6_months": "dropout", "dropout_per_year": "dropout", "biomarker_cutoff": "cutoff",
                      "hazard_ratio": "hr_low", "drug.hr_low_pnfh": "hr_low", "hazard_ratio_high": "hr_high",
                      "drug.hr_high_pnfh": "hr_high", "alpha": "alpha", "path": "parameters_path",
                      "block_size": "allocation", "cutoff": "cutoff", "marker": "marker"}
# what design.toml holds beside the form's fields (read back: ignored)
EXPORT_ONLY = ("family_label", "design_parameters", "command", "parameter_file_overrides", "parameter_file",
               "confirmatory_design")


def form_values_from_toml(text: str) -> dict[str, Any]:
    """The form's values from an exported design.toml (its `[explore]` table), for `parse_form`.

    Raises `FormError` (field `design_upload`) when the text is not such a file.

    Example:
        >>> spec = parse_form({"family": "exponential", "hr_low": 0.6, "cutoff": 3000})
        >>> parse_form(form_values_from_toml(spec.design_toml())) == spec
        True
    """
    import tomllib

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FormError({"design_upload": f"not valid TOML: {exc}"}) from None
    table = doc.get("explore")
    if not isinstance(table, dict):
        raise FormError({"design_upload": "no [explore] table: not a design.toml saved by mndtrial explore"})
    fields = {f for f in ExploreSpec.__dataclass_fields__}
    unknown = sorted(k for k in table if k not in fields and k not in EXPORT_ONLY)
    if unknown:
        raise FormError({"design_upload": f"unknown setting(s) {unknown} in [explore]"})
    return {k: v for k, v in table.items() if k in fields}


def field_of(parameter: str) -> str:
    """The form field a `ParameterError`'s parameter belongs to ('general' if none)."""
    return FIELD_OF_PARAMETER.get(str(parameter).split("[")[0], "general")


def parse_form(values: Mapping[str, Any]) -> ExploreSpec:
    """Check the form's raw values; missing fields take `DEFAULTS` / the family's values.

    Raises `FormError` naming every bad field (an empty number is bad, not a default, once sent).

    Example:
        >>> try:
        ...     parse_form({"family": "exponential", "n_min": -10, "alpha": 1.5})
        ... except FormError as exc:
        ...     sorted(exc.errors)
        ['alpha', 'n_min']
    """
    errors: dict[str, str] = {}
    mode = values.get("mode", DEFAULTS["mode"])
    if mode not in MODES:
        errors["mode"] = f"choose one of {list(MODES)}"
    family = values.get("family", DEFAULTS["family"])
    if family not in FAMILIES:
        raise FormError({"family": f"choose one of {list(FAMILIES)}"})
    path = str(values.get("parameters_path") or "").strip() or None
    if mode == "confirmatory" and family == "file":
        raise FormError({"family": "confirmatory mode runs the MIROCALS-calibrated or the exponential family"})
    if family == "file":
        if path is None:
            errors["parameters_path"] = "give the path of a parameter file (e.g. from `mndtrial calibrate`)"
        elif not Path(path).is_file():
            errors["parameters_path"] = f"no such file: {path}"
        else:
            try:
                base = family_defaults(family, path)
            except ParameterError as exc:
                errors["parameters_path"] = f"{exc.parameter}: {exc.rule}"
    if errors:
        raise FormError(errors)
    base = family_defaults(family, path if family == "file" else None)

    def number(name: str, rule: str, ok, whole: bool = False, default: Any = None):
        raw = values.get(name, DEFAULTS.get(name, base.get(name, default)))
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            errors[name] = "required: enter a number"
            return None
        try:
            value = float(raw)
        except (TypeError, ValueError):
            errors[name] = f"{raw!r} is not a number"
            return None
        if not math.isfinite(value) or (whole and value != int(value)) or not ok(value):
            errors[name] = f"{raw:g} {rule}" if isinstance(raw, (int, float)) else f"{raw} {rule}"
            return None
        return int(value) if whole else value

    n_min = number("n_min", "must be a whole number >= 4", lambda v: v >= 4, whole=True)
    n_max = number("n_max", "must be a whole number >= 4", lambda v: v >= 4, whole=True)
    n_step = number("n_step", "must be a whole number >= 1", lambda v: v >= 1, whole=True)
    if n_min is not None and n_max is not None and n_max < n_min:
        errors["n_max"] = f"{n_max} is below the smallest n ({n_min})"
    elif None not in (n_min, n_max, n_step) and (n_max - n_min) // n_step + 1 > MAX_POINTS:
        errors["n_step"] = f"{(n_max - n_min) // n_step + 1} sample sizes; at most {MAX_POINTS} (a larger step)"
    if family == "exponential" and None not in (n_min, n_step) and (n_min % 2 or n_step % 2):
        errors["n_step" if n_min % 2 == 0 else "n_min"] = "the exponential design is 1:1: n and the step must be even"
    allocation = values.get("allocation", DEFAULTS["allocation"])
    if allocation not in ALLOCATIONS:
        errors["allocation"] = f"choose one of {list(ALLOCATIONS)}"
    elif family == "exponential" and allocation != "1:1":
        errors["allocation"] = "the exponential design is randomised 1:1"
    follow_up = number("follow_up_days", "must be > 0 days", lambda v: v > 0)
    if family == "exponential":
        dropout = number("dropout", "must be >= 0 per year", lambda v: v >= 0)
    else:
        dropout = number("dropout", "must be a proportion in [0, 1)", lambda v: 0 <= v < 1)
    cutoff = number("cutoff", "must be > 0 pg/mL", lambda v: v > 0)
    if family != "exponential" and cutoff is not None and cutoff <= LOW_PNFH_LOWER:
        errors["cutoff"] = (f"{cutoff:g} must exceed {LOW_PNFH_LOWER:g} pg/mL, the lower end of the low CSF-pNfH "
                            "group (MIROCALS)")
    marker = values.get("marker", DEFAULTS["marker"]) or DEFAULTS["marker"]
    if marker not in MARKERS:
        errors["marker"] = f"choose one of {list(MARKERS)}"
    elif family == "exponential" and marker != "csf_pnfh":
        errors["marker"] = "the exponential design screens on CSF-pNfH only"
    hr_low = number("hr_low", "must be a hazard ratio > 0", lambda v: v > 0)
    hr_high = number("hr_high", "must be a hazard ratio > 0", lambda v: v > 0)
    strategies = tuple(values.get("strategies", DEFAULTS["strategies"]) or ())
    if not strategies or any(s not in STRATEGY_CHOICES for s in strategies):
        errors["strategies"] = f"tick at least one of {list(STRATEGY_CHOICES)}"
    primary = values.get("primary", DEFAULTS["primary"])
    if primary not in PRIMARY:
        errors["primary"] = f"choose one of {list(PRIMARY)}"
    alpha = number("alpha", "must be in (0, 1): a one-sided significance level", lambda v: 0 < v < 1)
    n_trials = number("n_trials", f"must be a whole number from 1 to {MAX_TRIALS:,}", lambda v: 1 <= v <= MAX_TRIALS,
                      whole=True)
    seed = number("seed", "must be a whole number >= 0", lambda v: v >= 0, whole=True)
    target = number("target_power", "must be in (0, 1)", lambda v: 0 < v < 1)
    confirm: dict[str, Any] = {}
    if mode == "confirmatory":
        confirm = parse_confirmatory(values, errors)
        _confirmatory_rules(family, base, values, errors, strategies, confirm, marker)
    if errors:
        raise FormError(errors)
    return ExploreSpec(family=family, parameters_path=path if family == "file" else None, n_min=n_min, n_max=n_max,
                       n_step=n_step, allocation=allocation, follow_up_days=follow_up, dropout=dropout, cutoff=cutoff,
                       hr_low=hr_low, hr_high=hr_high, strategies=tuple(s for s in STRATEGY_CHOICES if s in strategies),
                       primary=primary, alpha=alpha, n_trials=n_trials, seed=seed, target_power=target, marker=marker,
                       mode=mode, **confirm)


LOW_PNFH_LOWER = 750.0  # mndtrial.power.LOW_PNFH.lower: the simulated family's low group starts here


def _confirmatory_rules(family: str, base: Mapping[str, float], values: Mapping[str, Any], errors: dict[str, str],
                        strategies: tuple[str, ...], confirm: Mapping[str, Any], marker: str) -> None:
    """What the confirmatory design file cannot express, said by the field."""
    if "stratified" in strategies:
        errors["strategies"] = "confirmatory strategies are all-comers and enriched (and adaptive enrichment)"
    elif not strategies and not confirm.get("cf_adaptive"):
        errors["strategies"] = "tick all-comers or enriched, or adaptive enrichment"
    if marker != "csf_pnfh" and "marker" not in errors:
        errors["marker"] = "the confirmatory designs screen on CSF-pNfH here"
    if family == "mirocals":
        why = "the confirmatory MIROCALS pool is the shipped simulator: its own {} (change it in fixed-sample mode)"
        for name, what in (("hr_low", "drug effect"), ("hr_high", "drug effect"), ("dropout", "attrition")):
            if name not in errors and float(values.get(name, base[name])) != base[name]:
                errors[name] = why.format(what)
        if values.get("allocation", "1:1") != "1:1" and "allocation" not in errors:
            errors["allocation"] = "the confirmatory designs randomise 1:1"
