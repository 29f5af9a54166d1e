"""Events, sample size and timing of a group-sequential survival trial (rpact's getSampleSizeSurvival).

Events: Schoenfeld's (1981) fixed-design number of events times the design's inflation factor,
    d_max = I (z_{1-alpha} + z_{1-beta})^2 (1 + r)^2 / (r log(HR)^2),  r = active:control.
Time: exponential event times (hazard lambda_control and HR x lambda_control), exponential
dropout (hazard -log(1 - rate) / dropout_time per arm, a competing risk), piecewise-constant
accrual. The expected number of events by calendar time T is
    D(T) = sum_arm share_arm * integral_0^{min(T, A)} accrual(e) * lambda/(lambda + gamma) * (1 - exp(-(lambda + gamma)(T - e))) de,
and the analysis of look k is at the time D reaches t_k d_max (Lachin & Foulkes 1986; rpact).
Either the follow-up after the end of accrual is given (the accrual duration is solved), or the
accrual is fully given (an end time with intensities, or an end time with a maximum number of
subjects) and the follow-up is solved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import ndtri

from ..errors import ParameterError
from .boundaries import GroupSequentialDesign, hazard_ratio_at_bound

__all__ = ["SurvivalSampleSize", "sample_size_survival", "schoenfeld_events", "expected_events"]


def schoenfeld_events(hazard_ratio: float, alpha: float, beta: float, allocation_ratio: float = 1.0) -> float:
    """Events of the fixed-sample one-sided log-rank test (Schoenfeld 1981).

    >>> round(schoenfeld_events(0.7, 0.025, 0.1), 4)
    330.3779
    """
    if not 0 < hazard_ratio or hazard_ratio == 1:
        raise ParameterError("hazard_ratio", hazard_ratio, "must be positive and not 1")
    r = allocation_ratio
    return float((ndtri(1 - alpha) + ndtri(1 - beta)) ** 2 * (1 + r) ** 2 / (r * np.log(hazard_ratio) ** 2))


@dataclass(frozen=True)
class _Accrual:
    starts: np.ndarray       # start of each piece (months)
    rates: np.ndarray        # subjects per month in each piece
    end: float               # end of accrual

    def subjects(self, t: float) -> float:
        ends = np.append(self.starts[1:], self.end)
        return float(np.sum(self.rates * np.clip(np.minimum(t, ends) - self.starts, 0, None)))


def expected_events(t: float, accrual: _Accrual, hazards: np.ndarray, dropout: np.ndarray,
                    shares: np.ndarray) -> float:
    """Expected events by calendar time `t` (months) over arms with the given allocation shares."""
    ends = np.append(accrual.starts[1:], accrual.end)
    e0 = np.minimum(accrual.starts, t)
    e1 = np.minimum(ends, t)
    total = 0.0
    for lam, gam, share in zip(hazards, dropout, shares):
        theta = lam + gam
        # integral over [e0, e1] of (1 - exp(-theta (t - e))) de, piece by piece
        integral = (e1 - e0) - (np.exp(-theta * (t - e1)) - np.exp(-theta * (t - e0))) / theta
        total += share * lam / theta * float(np.sum(accrual.rates * integral))
    return total


@dataclass(frozen=True, repr=False)
class SurvivalSampleSize:
    """Events, subjects and analysis times per look (rpact's names in brackets)."""

    design: GroupSequentialDesign
    hazard_ratio: float
    lambda_control: float
    lambda_active: float
    allocation_ratio: float
    events_fixed: float            # [eventsFixed]
    max_events: float              # [maxNumberOfEvents]
    events_per_look: np.ndarray    # cumulative [eventsPerStage]
    analysis_time: np.ndarray      # months [analysisTime]
    subjects_per_look: np.ndarray  # [numberOfSubjects]
    max_subjects: float            # [maxNumberOfSubjects]
    accrual_time: float            # end of accrual [accrualTime, last]
    follow_up_time: float          # [followUpTime]
    expected_events_h0: float
    expected_events_h01: float
    expected_events_h1: float
    expected_subjects_h1: float    # [expectedNumberOfSubjectsH1]
    study_duration_h1: float       # [studyDuration]

    @property
    def hr_efficacy(self) -> np.ndarray:
        """Hazard ratio at each efficacy bound [criticalValuesEffectScale]."""
        return hazard_ratio_at_bound(self.design.critical_values, self.events_per_look, self.allocation_ratio)

    @property
    def hr_futility(self) -> np.ndarray:
        """Hazard ratio at each futility bound, NaN where none [futilityBoundsEffectScale]."""
        fut = self.design.futility_bounds
        hr = hazard_ratio_at_bound(np.where(np.isfinite(fut), fut, 0.0), self.events_per_look[:-1],
                                   self.allocation_ratio)
        return np.where(np.isfinite(fut), hr, np.nan)

    @property
    def summary(self) -> pd.DataFrame:
        table = self.design.table(self.max_events, self.allocation_ratio)
        table.insert(3, "analysis_time_months", self.analysis_time)
        table.insert(4, "subjects", self.subjects_per_look)
        return table

    def __repr__(self) -> str:
        return (f"<SurvivalSampleSize HR={self.hazard_ratio}: {self.max_events:.1f} events, "
                f"{self.max_subjects:.1f} subjects, {self.analysis_time[-1]:.1f} months>")


def _accrual_spec(accrual_time, accrual_intensity, max_subjects, follow_up_time):
    times = np.atleast_1d(np.asarray(accrual_time, dtype=float))
    if times[0] != 0 or np.any(np.diff(times) <= 0):
        raise ParameterError("accrual_time", times.tolist(), "must start at 0 and increase")
    if accrual_intensity is None:
        if max_subjects is None or times.size != 2:
            raise ParameterError("accrual_intensity", None,
                                 "give intensities, or accrual_time = [0, end] with max_subjects")
        return _Accrual(times[:1], np.array([max_subjects / times[1]]), float(times[1])), None
    rates = np.atleast_1d(np.asarray(accrual_intensity, dtype=float))
    if np.any(rates < 0) or not np.any(rates > 0):
        raise ParameterError("accrual_intensity", rates.tolist(), "must be non-negative, some positive (subjects per month)")
    if rates.size == times.size:  # last piece open-ended: the accrual duration is solved
        if follow_up_time is None:
            raise ParameterError("follow_up_time", None, "needed when the end of accrual is open")
        return None, (times, rates)
    if rates.size == times.size - 1:
        return _Accrual(times[:-1], rates, float(times[-1])), None
    raise ParameterError("accrual_intensity", rates.tolist(), "need one intensity per accrual piece")


def sample_size_survival(design: GroupSequentialDesign, *, hazard_ratio: float,
                         median_control_months: float | None = None, lambda_control: float | None = None,
                         accrual_time=(0.0,), accrual_intensity=None, max_subjects: float | None = None,
                         follow_up_time: float | None = None, dropout_rate_active: float = 0.0,
                         dropout_rate_control: float = 0.0, dropout_time: float = 12.0,
                         allocation_ratio: float = 1.0) -> SurvivalSampleSize:
    """Events, subjects and analysis times for a group-sequential log-rank design (rpact's
    getSampleSizeSurvival with the same meaning of each argument; times in months).

    ref: Schoenfeld (1981); Lachin & Foulkes (1986); rpact getSampleSizeSurvival.

    >>> from mndtrial.design import group_sequential_design
    >>> d = group_sequential_design(k_max=2, beta=0.1)
    >>> s = sample_size_survival(d, hazard_ratio=0.7, median_control_months=24, accrual_time=[0],
    ...                          accrual_intensity=20, follow_up_time=12)
    >>> round(s.max_events, 2)
    331.51
    """
    if (median_control_months is None) == (lambda_control is None):
        raise ParameterError("median_control_months", median_control_months, "give the control median or its hazard, one of them")
    lam2 = float(np.log(2) / median_control_months) if lambda_control is None else float(lambda_control)
    if lam2 <= 0 or allocation_ratio <= 0:
        raise ParameterError("lambda_control", lam2, "hazard and allocation ratio must be positive")
    lam1 = hazard_ratio * lam2
    for name, rate in (("dropout_rate_active", dropout_rate_active), ("dropout_rate_control", dropout_rate_control)):
        if not 0 <= rate < 1:
            raise ParameterError(name, rate, "must lie in [0, 1)")
    hazards = np.array([lam1, lam2])
    dropout = -np.log1p(-np.array([dropout_rate_active, dropout_rate_control])) / dropout_time
    shares = np.array([allocation_ratio, 1.0]) / (1.0 + allocation_ratio)
    events_fixed = schoenfeld_events(hazard_ratio, design.alpha, design.beta, allocation_ratio)
    max_events = events_fixed * design.inflation_factor
    accrual, open_spec = _accrual_spec(accrual_time, accrual_intensity, max_subjects, follow_up_time)

    def events(t: float, acc: _Accrual) -> float:
        return expected_events(t, acc, hazards, dropout, shares)

    if open_spec is not None:
        times, rates = open_spec

        def accrual_to(end: float) -> _Accrual:
            keep = times < end
            return _Accrual(times[keep], rates[keep], end)
        end = brentq(lambda a: events(a + follow_up_time, accrual_to(a)) - max_events, 1e-9, 1e5, xtol=1e-12)
        accrual = accrual_to(end)
        total_time = end + follow_up_time
    else:
        plateau = accrual.subjects(accrual.end) * float(np.sum(shares * hazards / (hazards + dropout)))
        if plateau <= max_events:
            raise ParameterError("max_subjects", accrual.subjects(accrual.end),
                                 f"too few subjects to ever observe {max_events:.1f} events")
        total_time = brentq(lambda t: events(t, accrual) - max_events, 1e-9, 1e6, xtol=1e-12)
    events_per_look = design.information_rates * max_events
    analysis_time = np.array([brentq(lambda t, d=d: events(t, accrual) - d, 1e-9, total_time + 1e-9, xtol=1e-12)
                              for d in events_per_look[:-1]] + [total_time])
    subjects = np.array([accrual.subjects(t) for t in analysis_time])

    def stop_probabilities(drift: float) -> np.ndarray:
        up, low = design.stopping_probabilities(drift)
        stop = up + low
        stop[-1] = 1.0 - stop[:-1].sum()
        return stop
    p1 = stop_probabilities(design.drift)
    exp_events = {h: float(np.sum(stop_probabilities(d) * events_per_look))
                  for h, d in (("H0", 0.0), ("H01", design.drift / 2), ("H1", design.drift))}
    return SurvivalSampleSize(
        design=design, hazard_ratio=hazard_ratio, lambda_control=lam2, lambda_active=lam1,
        allocation_ratio=allocation_ratio, events_fixed=events_fixed, max_events=max_events,
        events_per_look=events_per_look, analysis_time=analysis_time, subjects_per_look=subjects,
        max_subjects=accrual.subjects(accrual.end), accrual_time=accrual.end,
        follow_up_time=total_time - accrual.end, expected_events_h0=exp_events["H0"],
        expected_events_h01=exp_events["H01"], expected_events_h1=exp_events["H1"],
        expected_subjects_h1=float(np.sum(p1 * subjects)), study_duration_h1=float(np.sum(p1 * analysis_time)))
