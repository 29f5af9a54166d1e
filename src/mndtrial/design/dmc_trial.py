"""The DMC analysis of a real trial folder at a look: cut the data in calendar time at each look
so far, compute the stage statistics, and hand them to `dmc.analyse_looks` (and, for an
adaptive-enrichment design, `dmc_enrichment.analyse_enrichment`).

Per look: the trial as known on the cut day (`mndtrial.data.cut_by_date`: later participants
removed, survival censored at the cut), the log-rank test of the active arm against control
(stratified as the design's [analysis].strata declares; for enrichment, S alone and F stratified
by S membership as well), its events and Z oriented so that Z > 0 is benefit.

The cut day of each look is given (`cut_days`), or found as the day of the given number of
endpoint events (`events`; overall); looks before the ones given are cut at their planned events
(information rate x maximum events, rounded), as an event-driven trial would have been.

Example:
    >>> from mndtrial.sim import mirocals, simulate
    >>> trial = simulate(mirocals(), n_trials=1, seed=3).trial(0)
    >>> spec = {"design": {"k_max": 2}, "events": {"max_events": 80}}
    >>> interim_analysis(trial, spec, events=[40]).summary["events"].tolist()
    [40.0]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..analysis import BiomarkerRule, population_mask
from ..analysis.frame import survival_frame
from ..analysis.logrank import logrank
from ..data import Trial, cut_by_date, event_cut_day, read_trial
from ..errors import AnalysisError, ParameterError
from .dmc import InterimAnalysis, analyse_looks
from .dmc_enrichment import analyse_enrichment
from .spec import DesignSpec, design_from_dict, load_design

__all__ = ["interim_analysis", "logrank_z", "look_cut_days"]

_IN_S = "_in_population_s"


def logrank_z(trial: Trial, strata: Sequence[str] = (), subset=None, extra_stratum=None,
              analysis: str = "interim log-rank") -> tuple[float, float]:
    """(events, Z) of the (stratified) log-rank test of the active arm against control; Z > 0 when
    the active arm has fewer events than expected (benefit). `subset` and `extra_stratum` are
    boolean masks over participant rows.

    >>> from mndtrial.data.example import example_trial
    >>> d, z = logrank_z(example_trial())
    >>> d > 0 and abs(z) < 10
    True
    """
    frame = survival_frame(trial, (), strata, analysis=analysis)
    if frame.excluded:
        raise AnalysisError(analysis, "stratum missing for " + ", ".join(f"{n} participant(s) in '{c}'"
                                                                         for c, n in frame.excluded.items()))
    data = frame.data
    ids = trial.participants["subject_id"]
    keep = np.ones(len(data), dtype=bool)
    if subset is not None:
        keep = data["subject_id"].map(pd.Series(np.asarray(subset), index=ids)).to_numpy(dtype=bool)
    keys = data[list(frame.strata)].astype(str).agg(" / ".join, axis=1) if frame.strata else pd.Series("", index=data.index)
    if extra_stratum is not None:
        keys = keys + " / " + data["subject_id"].map(pd.Series(np.asarray(extra_stratum), index=ids)).astype(str)
    data, keys = data.loc[keep], keys.loc[keep]
    events = float(data["event"].sum())
    if events == 0 or data["treatment"].nunique() < 2:
        raise AnalysisError(analysis, "no events, or one arm only, at this cut: nothing to test")
    res = logrank(data["time_days"], data["event"], data["treatment"].to_numpy(),
                  None if (not frame.strata and extra_stratum is None) else keys.to_numpy(), analysis=analysis)
    active = res.summary.loc[1.0]
    sign = 1.0 if active["expected"] >= active["observed"] else -1.0
    return events, sign * float(np.sqrt(res.chi2))


def _spec(design) -> DesignSpec:
    if isinstance(design, DesignSpec):
        return design
    if isinstance(design, dict):
        return design_from_dict(design)
    if isinstance(design, (str, Path)):
        return load_design(design)
    raise ParameterError("design", type(design).__name__, "a DesignSpec, a design dict or a design TOML path")


def look_cut_days(trial: Trial, spec: DesignSpec, look: int | None = None, *, cut_days=None, events=None) -> np.ndarray:
    """Calendar cut day of looks 1..look (see the module docstring)."""
    if (cut_days is None) == (events is None):
        raise ParameterError("cut_days/events", (cut_days, events), "give exactly one of them (one value per look, "
                                                                    "or the last looks')")
    given = np.atleast_1d(np.asarray(cut_days if cut_days is not None else events, dtype=float))
    look = given.size if look is None else int(look)
    if not 1 <= look <= spec.design.k_max or given.size > look:
        raise ParameterError("look", look, f"must be 1..{spec.design.k_max} and at least the number of values given "
                                           f"({given.size})")
    planned = np.round(spec.design.information_rates[: look - given.size] * float(spec.events or 0))
    if planned.size and spec.events is None:
        raise ParameterError("design", "no events", "earlier looks are cut at their planned events: the design "
                                                    "needs max_events")
    counts = np.concatenate([planned, given]) if events is not None else planned
    days = [_event_day(trial, int(c)) for c in counts]
    if cut_days is not None:
        days += given.tolist()
    days = np.asarray(days, dtype=float)
    if np.any(np.diff(days) <= 0):
        raise ParameterError("cut_days", days.tolist(), "the looks' cut days must increase")
    return days


def _event_day(trial: Trial, count: int) -> float:
    if count < 1 or count != int(count):
        raise ParameterError("events", count, "must be a whole number >= 1")
    day = event_cut_day(trial, int(count))
    if not np.isfinite(day):
        raise ParameterError("events", count, f"the trial has only {int(trial.survival['event'].sum())} endpoint events")
    return float(day)


def interim_analysis(trial: Trial | str | Path, design: DesignSpec | dict | str | Path, look: int | None = None, *,
                     cut_days=None, events=None, final: bool | None = None,
                     selected: Sequence[str] = ("S", "F")) -> InterimAnalysis:
    """The DMC analysis of `trial` (a `Trial` or a trial folder with participants.entry_day) at
    `look` under `design` (a `DesignSpec`, its dict or a design TOML path).

    cut_days / events: the calendar cut days, or the endpoint-event counts, of the looks (all of
    them, or the last ones: earlier looks are cut at their planned events). final: whether this is
    the final analysis (default: the design's last look). selected: for an adaptive-enrichment
    design, the populations continued after the first look ("S", "F" or both).
    """
    trial = read_trial(trial) if isinstance(trial, (str, Path)) else trial
    spec = _spec(design)
    days = look_cut_days(trial, spec, look, cut_days=cut_days, events=events)
    strata = spec.strata
    if spec.enrichment is None:
        stats = np.array([logrank_z(cut_by_date(trial, day), strata) for day in days])
        return analyse_looks(spec, stats[:, 0], stats[:, 1], final=final, cut_days=days)
    return _enrichment(trial, spec, days, final, tuple(selected))


def _enrichment(trial: Trial, spec: DesignSpec, days: np.ndarray, final: bool | None,
                selected: tuple[str, ...]) -> InterimAnalysis:
    e = spec.enrichment
    if not selected or set(selected) - {"S", "F"}:
        raise ParameterError("selected", selected, "the populations continued: 'S', 'F' or both")
    rule = BiomarkerRule(biomarker=e.biomarker, cutoffs=e.cutoffs)
    s_stats, f_stats = [], []
    for j, day in enumerate(days):
        cut = cut_by_date(trial, day)
        in_s = population_mask(rule, e.group, cut)
        go_on = j == 0 or "S" in selected, j == 0 or "F" in selected
        s_stats.append(logrank_z(cut, spec.strata, subset=in_s) if go_on[0] else (np.nan, np.nan))
        f_stats.append(logrank_z(cut, spec.strata, extra_stratum=in_s) if go_on[1] else (np.nan, np.nan))
    s, f = np.array(s_stats), np.array(f_stats)
    enr = analyse_enrichment(spec.design, s[:, 0], s[:, 1], f[:, 0], f[:, 1], method=e.intersection_test,
                             success_criterion=e.success_criterion, allocation_ratio=spec.allocation_ratio,
                             final=final)
    # The inverse-normal analysis of the population the trial is about after selection (F unless
    # only S went on) gives the bounds, RCIs and conditional power the DMC reads alongside.
    main = f if "F" in selected else s
    base = analyse_looks(spec, main[:, 0], main[:, 1], final=final, cut_days=days)
    extra: dict[str, Any] = {**base.extra, "population_of_summary": "F" if "F" in selected else "S",
                             "selected": list(selected)}
    return InterimAnalysis(test=base.test, look=base.look, final=base.final, decision=enr.decision,
                           summary=base.summary, conditional_power=base.conditional_power,
                           final_inference=base.final_inference, alpha=base.alpha, max_events=base.max_events,
                           allocation_ratio=base.allocation_ratio, notes=base.notes, enrichment=enr, extra=extra)
