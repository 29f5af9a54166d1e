"""Confirmatory strategies side by side, simulated patient by patient from one declared design.

`build_strategies(spec)` turns a `ConfirmatorySpec` (TOML, see `confirmatory_spec`) into the
simulations: a group-sequential all-comers trial and a fixed enriched trial (S only), both
`GroupSequentialTrial` with K >= 2 looks, and a two-stage `AdaptiveEnrichmentDesign`. Every
critical value comes from `mndtrial.design.group_sequential_design`; futility bounds from beta
spending, a hazard-ratio rule or a conditional-power rule (`mndtrial.design.interim`).
`run_confirmatory` simulates them on the same seed and tabulates power (H0 rejected; for
adaptive enrichment, H_S or H_F), early stops, selection, expected events, randomised, screened
and duration, each with its Monte Carlo SE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import BiomarkerRule
from ..analysis.population import population_groups
from ..batch._result import json_safe
from ..design import GroupSequentialDesign, group_sequential_design
from ..design.interim import futility_bounds_from_conditional_power, futility_bounds_from_hazard_ratio
from ..design.selection import SelectionRule
from ..errors import ParameterError
from .confirmatory_spec import ConfirmatorySpec
from .enrichment import AdaptiveEnrichmentDesign, EventReestimation, simulate_enrichment
from .enrichment_pool import ExponentialPool, SimPool
from .group_sequential import GroupSequentialTrial, simulate_group_sequential
from .group_sequential_summary import rate

__all__ = ["boundaries", "build_pool", "build_strategies", "run_confirmatory", "ConfirmatoryResult", "with_pool"]

SIDE_BY_SIDE = ("strategy", "looks", "power", "power_mcse", "reject_s", "reject_f", "stop_efficacy_early",
                "stop_futility", "events_mean", "events_mcse", "events_all_mean", "n_randomised_mean",
                "n_randomised_mcse", "n_screened_mean", "n_screened_mcse", "duration_days_mean",
                "duration_days_mcse", "power_analytic")


def boundaries(spec: ConfirmatorySpec, events_per_look=None, information_rates=None) -> GroupSequentialDesign:
    """The group-sequential design of `spec` (its looks, or `information_rates` for a two-stage
    adaptive design), futility from the declared rule; `events_per_look` for a hazard-ratio rule."""
    kw = spec.design.given()
    if information_rates is not None:
        if kw.get("type_of_design") == "asUser" and len(information_rates) != len(kw.get("user_alpha_spending", [])):
            raise ParameterError("[design].user_alpha_spending", kw.get("user_alpha_spending"),
                                 f"asUser needs one value per look of the adaptive design ({len(information_rates)})")
        kw.pop("k_max", None)
        kw["information_rates"] = list(information_rates)
    f = spec.futility
    if f.rule != "none":
        kw["binding_futility"] = f.binding
    try:
        k = len(kw["information_rates"]) if "information_rates" in kw else int(kw["k_max"])
        if f.rule == "beta_spending":
            kw.update({key: v for key, v in (("type_beta_spending", f.type_beta_spending), ("gamma_b", f.gamma_b),
                                             ("user_beta_spending", f.user_beta_spending)) if v is not None})
        elif f.rule == "z":
            if len(f.bounds) < k - 1:
                raise ParameterError("[futility].bounds", f.bounds, f"need a Z bound at each of the {k - 1} interim looks")
            kw["futility_bounds"] = list(f.bounds[:k - 1])
        elif f.rule == "hazard_ratio":
            events = np.asarray(events_per_look, dtype=float)[:-1]
            kw["futility_bounds"] = (futility_bounds_from_hazard_ratio(f.hazard_ratio, events) + 0.0).tolist()  # no -0.0
        elif f.rule == "conditional_power":
            plain = group_sequential_design(**{key: v for key, v in kw.items() if key != "binding_futility"})
            kw["futility_bounds"] = futility_bounds_from_conditional_power(plain, f.conditional_power).tolist()
        return group_sequential_design(**kw)
    except ParameterError as exc:
        if exc.parameter.startswith("["):
            raise
        table = "futility" if "futility" in exc.parameter or "beta" in exc.parameter else "design"
        raise ParameterError(f"[{table}].{exc.parameter}", exc.value, exc.rule) from None


def _information_rates(spec: ConfirmatorySpec) -> np.ndarray:
    kw = spec.design.given()
    if "information_rates" in kw:
        return np.asarray(kw["information_rates"], dtype=float)
    return np.arange(1, kw["k_max"] + 1) / kw["k_max"]


def _rule(spec: ConfirmatorySpec) -> tuple[BiomarkerRule, str]:
    p = spec.population
    rule = BiomarkerRule(biomarker=p.biomarker, cutoffs=tuple(p.cutoffs) if p.cutoffs else None,
                         ranges=tuple(map(tuple, p.ranges)) if p.ranges else None) \
        if (p.cutoffs or p.ranges) else BiomarkerRule(biomarker=p.biomarker, cutoffs=(3700.0,))
    groups = list(population_groups(rule))
    group = p.group or groups[0]
    if group not in groups:
        raise ParameterError("[population].group", group, f"must be one of {groups}")
    return rule, group


def build_pool(spec: ConfirmatorySpec, null: bool = False) -> ExponentialPool | SimPool:
    """The candidates' pool; `null` removes the treatment effect (type I error)."""
    cfg = spec.pool
    if cfg.kind == "mirocals":
        from ..sim import DrugModel, mirocals, no_effect

        design = mirocals(horizon_days=cfg.horizon_days)
        if null:
            design = design.replace(drug=DrugModel(effect=no_effect))
        return SimPool(design, arrivals_per_day=cfg.arrivals_per_day)
    rule, group = _rule(spec)
    if rule.biomarker != "csf_pnfh" or rule.cutoffs is None or len(rule.cutoffs) != 1 or not group.startswith("<="):
        raise ParameterError("[population]", spec.population.model_dump(),
                             "the exponential pool's S is CSF-pNfH at or below one cut-off (group '<= cutoff')")
    kw = {k: v for k, v in cfg.given().items() if k not in ("kind", "horizon_days")}
    if null:
        kw.update(hazard_ratio_s=1.0, hazard_ratio_r=1.0)
    return ExponentialPool(biomarker_cutoff=float(rule.cutoffs[0]), **kw)


def build_strategies(spec: ConfirmatorySpec, null: bool = False) -> dict[str, Any]:
    """{strategy: simulation} for the strategies the spec asks for (see the module docstring).

    Building them computes every boundary, so a design that cannot be built fails here, before any
    trial is simulated (the explorer checks its form this way).

    Example:
        >>> spec = ConfirmatorySpec.from_dict({"design": {"k_max": 2}, "pool": {"hazard_ratio_s": 0.6},
        ...                                    "trial": {"n_randomised_max": 400, "max_events": 200}})
        >>> sorted(build_strategies(spec))
        ['adaptive-enrichment', 'all-comers', 'enriched']
    """
    pool = build_pool(spec, null)
    rule, group = _rule(spec)
    t = spec.trial
    out: dict[str, Any] = {}
    rates = _information_rates(spec)
    for name, enriched, n_max, max_events in (
            ("all-comers", False, t.n_randomised_max, t.max_events),
            ("enriched", True, spec.enriched.n_randomised_max or t.n_randomised_max,
             spec.enriched.max_events or t.max_events)):
        if name in t.strategies:
            table = "trial" if name == "all-comers" else "enriched"
            d = boundaries(spec, events_per_look=np.ceil(rates * max_events - 1e-9))
            try:
                out[name] = GroupSequentialTrial(pool, d, max_events=max_events, n_randomised_max=n_max,
                                                 enriched=enriched, population=rule, population_group=group,
                                                 stratified=t.stratified, label=name)
            except ParameterError as exc:
                raise ParameterError(f"[{table}].{exc.parameter}", exc.value, exc.rule) from None
    if "adaptive-enrichment" in t.strategies:
        out["adaptive-enrichment"] = _adaptive(spec, pool, rule, group, rates)
    return out


def _adaptive(spec: ConfirmatorySpec, pool, rule: BiomarkerRule, group: str, rates: np.ndarray) -> AdaptiveEnrichmentDesign:
    a, t = spec.adaptive_enrichment, spec.trial
    final = a.final_events or t.max_events
    interim = a.interim_events or int(np.ceil(rates[0] * final - 1e-9))
    if not 0 < interim < final:
        raise ParameterError("[adaptive_enrichment].interim_events", interim, f"must lie between 0 and final_events ({final})")
    t1 = a.weights_information_rate or interim / final
    d = boundaries(spec, events_per_look=[interim, final], information_rates=[t1, 1.0])
    futility = float(d.futility_bounds[0]) if np.isfinite(d.futility_bounds[0]) else -np.inf
    selection = SelectionRule(kind=a.selection, measure=a.measure, epsilon=a.epsilon, threshold=a.threshold)
    re = a.reestimation
    try:
        return AdaptiveEnrichmentDesign(
            pool, n_randomised_max=a.n_randomised_max or t.n_randomised_max, events=(interim, final),
            critical_z=tuple(float(c) for c in d.critical_values), futility_z=futility,
            information_rates=(t1, 1.0), population=rule, population_group=group,
            intersection_test=a.intersection_test, selection=selection, success_criterion=a.success_criterion,
            stratified_f=t.stratified,
            reestimation=None if re is None else EventReestimation(**re.model_dump()))
    except ParameterError as exc:
        raise ParameterError(f"[adaptive_enrichment].{exc.parameter}", exc.value, exc.rule) from None


def _adaptive_summary(res, design: AdaptiveEnrichmentDesign, gsd: GroupSequentialDesign) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    row = res.table.iloc[0].to_dict()
    trials = res.trials
    side = {"strategy": "adaptive-enrichment", "n_trials": res.n_trials, "looks": 2,
            "power": row["reject_any"], "power_mcse": row["reject_any_mcse"], "reject_s": row["reject_s"],
            "reject_f": row["reject_f"], "stop_efficacy_early": row["decision_stop_efficacy"],
            "stop_efficacy_early_mcse": row["decision_stop_efficacy_mcse"],
            "stop_futility": row["decision_stop_futility"], "stop_futility_mcse": row["decision_stop_futility_mcse"],
            "events_mean": row["events_selected_mean"], "events_mcse": row["events_selected_mcse"],
            "max_events": design.events[1], "n_randomised_max": design.n_randomised_max}
    for name in ("events_all", "n_randomised", "n_screened", "duration_days"):
        side[f"{name}_mean"], side[f"{name}_mcse"] = row[f"{name}_mean"], row[f"{name}_mcse"]
    decision = trials["decision"].to_numpy()
    stage2 = trials["reject_any"].to_numpy() & (decision != "stop efficacy")
    looks = []
    for k, (eff, fut) in enumerate(((decision == "stop efficacy", decision == "stop futility"),
                                    (stage2, np.zeros(len(trials), bool)))):
        p, se = rate(eff)
        q, qse = rate(fut)
        day = trials["interim_day" if k == 0 else "final_day"].to_numpy()
        goes_on = decision != "stop efficacy"
        looks.append({"strategy": "adaptive-enrichment", "look": k + 1,
                      "information_rate": float(gsd.information_rates[k]), "event_target": design.events[k],
                      "events_mean": float(trials["interim_events_f"].mean()) if k == 0 else row["events_selected_mean"],
                      "day_mean": float(np.mean(day if k == 0 else day[goes_on])) if (k == 0 or goes_on.any()) else np.nan,
                      "z_efficacy": float(gsd.critical_values[k]),
                      "z_futility": design.futility_z if k == 0 and np.isfinite(design.futility_z) else np.nan,
                      "p_efficacy": p, "p_efficacy_mcse": se, "p_futility": q, "p_futility_mcse": qse})
    selection = pd.DataFrame([{"decision": d, "probability": rate(decision == d)[0], "mcse": rate(decision == d)[1]}
                              for d in ("both", "S only", "F only", "stop efficacy", "stop futility")])
    return side, pd.DataFrame(looks), selection


@dataclass(frozen=True, repr=False)
class ConfirmatoryResult:
    """Strategies side by side (`table`), stopping per look (`looks`), the adaptive design's interim
    decisions (`selection`), each strategy's trials, and the designs with their provenance."""

    table: pd.DataFrame
    looks: pd.DataFrame
    selection: pd.DataFrame | None
    trials: dict[str, pd.DataFrame]
    designs: dict[str, dict]
    spec: ConfirmatorySpec
    n_trials: int
    seed: int
    null: bool = False

    @property
    def summary(self) -> pd.DataFrame:
        return self.table[[c for c in SIDE_BY_SIDE if c in self.table.columns]]

    def to_dict(self) -> dict:
        return json_safe({"n_trials": self.n_trials, "seed": self.seed, "under_null": self.null,
                          "power_column": "family-wise type I error" if self.null else "power",
                          "strategies": self.table.to_dict(orient="records"),
                          "looks": self.looks.to_dict(orient="records"),
                          "selection": None if self.selection is None else self.selection.to_dict(orient="records"),
                          "designs": self.designs, "spec": self.spec.model_dump(mode="json"),
                          "spec_provenance": self.spec.provenance()})

    def write(self, out_dir: str | Path, extra: dict | None = None) -> dict[str, Path]:
        """power.csv (side by side), looks.csv, trials-<strategy>.parquet, power.json (with `extra`)."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = {"csv": out_dir / "power.csv", "looks": out_dir / "looks.csv", "json": out_dir / "power.json"}
        self.table.to_csv(paths["csv"], index=False)
        self.looks.to_csv(paths["looks"], index=False)
        for name, trials in self.trials.items():
            paths[f"trials_{name}"] = out_dir / f"trials-{name}.parquet"
            trials.to_parquet(paths[f"trials_{name}"], index=False)
        paths["json"].write_text(json.dumps({**self.to_dict(), **(extra or {})}, indent=2) + "\n", encoding="utf-8")
        return paths

    def __repr__(self) -> str:
        return f"<ConfirmatoryResult {list(self.table['strategy'])} over {self.n_trials} trials each>"


def _design_record(sim, gsd: GroupSequentialDesign, events: list[int], spec: ConfirmatorySpec) -> dict:
    rec = gsd.to_dict()
    rule = spec.futility.rule
    rec["futility_rule"] = spec.futility.model_dump(exclude_none=True)
    if rule in ("hazard_ratio", "conditional_power"):
        # given to rpact as futilityBounds (so its call reproduces them), but derived from the rule
        rec["provenance"]["futility_bounds"] = f"derived ([futility] rule '{rule}')"
    rec["event_targets"] = [int(e) for e in events]
    rec["event_targets_provenance"] = "derived"
    rec["boundaries"] = gsd.table(float(events[-1])).to_dict(orient="records")
    if isinstance(sim, AdaptiveEnrichmentDesign):
        rec.update(critical_z=list(sim.critical_z), futility_z=sim.futility_z, weights=sim.weights.tolist(),
                   intersection_test=sim.intersection_test, success_criterion=sim.success_criterion,
                   selection={"kind": sim.selection.kind, "measure": sim.selection.measure,
                              "epsilon": sim.selection.epsilon, "threshold": sim.selection.threshold})
    return rec


def run_confirmatory(spec: ConfirmatorySpec, n_trials: int = 1000, seed: int = 1, *, null: bool = False,
                     chunk_size: int = 256, n_workers: int | None = 1, backend: str = "local",
                     progress: bool = False, executor: Any = None) -> ConfirmatoryResult:
    """Simulate every strategy of `spec` on the same seed (see the module docstring). `executor`:
    worker processes kept between runs (`mndtrial.power.backends.WorkerPool` or a scope of it),
    used in place of `n_workers`."""
    rows, looks, trials, designs = [], [], {}, {}
    selection = None
    for name, sim in build_strategies(spec, null).items():
        kw = dict(n_trials=n_trials, seed=seed, chunk_size=chunk_size, n_workers=n_workers, backend=backend,
                  progress=progress, executor=executor)
        if isinstance(sim, GroupSequentialTrial):
            res = simulate_group_sequential(sim, **kw)
            row = res.table.iloc[0].to_dict()
            row.update(reject_f=np.nan if sim.enriched else row["power"], reject_s=row["power"] if sim.enriched else np.nan)
            rows.append(row)
            looks.append(res.looks)
            designs[name] = _design_record(sim, sim.design, sim.event_targets.tolist(), spec)
        else:
            res = simulate_enrichment(sim, **kw)
            gsd = boundaries(spec, events_per_look=list(sim.events), information_rates=[sim.weights[0] ** 2, 1.0])
            row, look, selection = _adaptive_summary(res, sim, gsd)
            rows.append(row)
            looks.append(look)
            designs[name] = _design_record(sim, gsd, list(sim.events), spec)
        trials[name] = res.trials
    table = pd.DataFrame(rows)
    return ConfirmatoryResult(table=table, looks=pd.concat(looks, ignore_index=True), selection=selection,
                              trials=trials, designs=designs, spec=spec, n_trials=n_trials, seed=seed, null=null)


def with_pool(spec: ConfirmatorySpec, **changes: Any) -> ConfirmatorySpec:
    """The spec with some [pool] settings changed (validated again)."""
    data = spec.model_dump(exclude_unset=True)
    data["pool"] = {**data.get("pool", {}), **changes}
    return ConfirmatorySpec.from_dict(data)

