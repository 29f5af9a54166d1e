"""CAFS, the combined assessment of function and survival (Berry et al. 2013), and the
Finkelstein–Schoenfeld test.

Every participant is compared with every other in the same stratum (and the same two-arm
comparison). For a pair (i, j) with follow-up truncated at the horizon H — times t = min(time, H),
deaths d = event and time ≤ H — and shared follow-up s = min(t_i, t_j):

1. survival first (Gehan's rule): i wins if j died and i was known alive longer
   (t_i > t_j, or t_i = t_j with i censored); j wins symmetrically; two deaths on the same day tie;
2. otherwise (nobody's death is observed within the shared follow-up) function decides: each
   one's change in ALSFRS-R from baseline to their last visit at or before s; the smaller decline
   wins, equal changes tie; a pair where either has no post-baseline visit by s ties.

The score is U_i = Σ_j (+1 win, −1 loss, 0 tie). Berry's CAFS compares arms on the ranks of U
(mean rank per arm; Wilcoxon–Mann–Whitney with tie correction, scipy's asymptotic test with
continuity correction as R's `wilcox.test(exact = FALSE)`). Finkelstein & Schoenfeld (1999):
T = Σ_{i in active} U_i, Var(T) = n1·n0 / (N(N−1)) · Σ_i U_i², Z = T / √Var(T); stratified by
summing T and Var(T) over strata. With strata the Mann–Whitney test stays one rank test pooled over
the within-stratum scores (not a stratified Wilcoxon); the stratified rank test is van Elteren's
(van Elteren P, Bull Int Stat Inst 1960;37:351–361), reported beside it. Rules for loss to follow-up: docs/cafs.md.

References: Berry JD et al., Amyotroph Lateral Scler Frontotemporal Degener 2013;14:162–168;
Finkelstein DM, Schoenfeld DA, Stat Med 1999;18:1341–1354; Gehan EA, Biometrika 1965;52:203–223.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..data import Trial
from ..errors import AnalysisError, ParameterError
from ._common import control_and_active, html_table, json_safe
from .estimator import FittedEstimator
from .frame import endpoint_events, joined_labels, reused
from .distributions import mann_whitney, norm_sf, rankdata

__all__ = ["CAFS", "CAFSResult", "pairwise_scores", "finkelstein_schoenfeld", "cafs_inputs", "mann_whitney_scope",
           "van_elteren"]

ANALYSIS = "CAFS"
BLOCK_PAIRS = 2_000_000  # pairs held in memory at once (~16 bytes each per array)
# Up to this many cells (participants × distinct follow-up times, 8 bytes each) the change of
# every participant at every follow-up time is tabulated once and pairs gather from it; beyond
# it each pair's change is found by binary search (slower, constant memory).
MAX_TABLE_CELLS = 20_000_000


def pairwise_scores(time_days: np.ndarray, died: np.ndarray, visit_owner: np.ndarray, visit_day: np.ndarray,
                    visit_change: np.ndarray) -> np.ndarray:
    """U_i = Σ_j score(i, j) for the rules in the module docstring, numpy-pairwise in blocks.

    `time_days`/`died` are per participant, already truncated at the horizon; the visits are
    post-baseline visits (day > 0) with `visit_owner` the participant's position, `visit_day` and
    `visit_change` (ALSFRS-R change from baseline). Participants without a baseline have no visits.

    Example:
        >>> pairwise_scores(np.array([100., 200.]), np.array([True, False]),
        ...                 np.array([], int), np.array([]), np.array([])).tolist()
        [-1, 1]
    """
    t = np.asarray(time_days, float)
    d = np.asarray(died, bool)
    n = len(t)
    order = np.lexsort((visit_day, visit_owner))
    owner, day, change = (np.asarray(a)[order] for a in (visit_owner, visit_day, visit_change))
    scores = _survival_scores(t, d)
    # Only a pair whose earlier follow-up ends censored goes to function: for each censored i,
    # the j still followed at t_i (t_j > t_i, or t_j = t_i and j censored, counted once).
    times = np.unique(t)
    censored = np.flatnonzero(~d)
    if n * len(times) <= MAX_TABLE_CELLS:
        table = _change_table(n, times, owner, day, change)  # participants × times

        def changes_at(time_index: np.ndarray) -> np.ndarray:
            return table[:, time_index].T
        time_index = np.searchsorted(times, t)
    else:  # too many cells for the table: binary search per pair instead (constant memory)
        span = float(max(t.max(initial=0.0), day.max(initial=0.0))) + 1.0
        visit_key = owner * span + day
        everyone = np.arange(n)[None, :]

        def changes_at(when: np.ndarray) -> np.ndarray:
            return _change_at(everyone, when[:, None], visit_key, owner, change, span)
        time_index = t
    rows_per_block = max(1, BLOCK_PAIRS // max(n, 1))
    columns = np.arange(n)[None, :]
    for start in range(0, len(censored), rows_per_block):
        rows = censored[start:start + rows_per_block]
        others = changes_at(time_index[rows])                       # c_j(t_i), block × n
        own = others[np.arange(len(rows)), rows][:, None]           # c_i(t_i)
        ti, tj = t[rows, None], t[None, :]
        followed = (tj > ti) | ((tj == ti) & ~d[None, :] & (columns > rows[:, None]))
        sign = np.sign(own - others)
        sign[~followed | np.isnan(sign)] = 0
        scores[rows] += sign.sum(axis=1).astype(np.int64)
        scores -= sign.sum(axis=0).astype(np.int64)
    return scores


def _survival_scores(t: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Gehan's survival part of U_i by sorting: wins over earlier deaths minus losses when dying."""
    deaths = np.sort(t[d])
    alive_at = np.sort(t)
    censored = np.sort(t[~d])
    wins = np.where(d, np.searchsorted(deaths, t, side="left"), np.searchsorted(deaths, t, side="right"))
    censored_same_day = np.searchsorted(censored, t, side="right") - np.searchsorted(censored, t, side="left")
    losses = np.where(d, len(t) - np.searchsorted(alive_at, t, side="right") + censored_same_day, 0)
    return (wins - losses).astype(np.int64)


def _change_table(n: int, times: np.ndarray, owner: np.ndarray, day: np.ndarray,
                  change: np.ndarray) -> np.ndarray:
    """table[p, q] = change of participant p at their last visit at or before times[q] (NaN: none).

    Visits must be sorted by (owner, day). Each row is piecewise constant — NaN until the first
    visit, then each visit's change until the next — so it is written with one `np.repeat` of
    segments: a visit's segment starts at the first follow-up time ≥ its day.
    """
    column = np.searchsorted(times, day, side="left")
    inside = column < len(times)
    segment_owner = np.concatenate([np.arange(n), owner[inside]])
    segment_start = np.concatenate([np.zeros(n, dtype=np.int64), column[inside]])
    segment_value = np.concatenate([np.full(n, np.nan), change[inside]])
    # the leading NaN segment sorts first; later visits landing in the same cell follow and win
    sequence = np.concatenate([np.full(n, -1), np.arange(int(inside.sum()))])
    order = np.lexsort((sequence, segment_start, segment_owner))
    segment_owner, segment_start, segment_value = segment_owner[order], segment_start[order], segment_value[order]
    segment_end = np.append(segment_start[1:], len(times))
    last_of_owner = np.append(segment_owner[1:] != segment_owner[:-1], True)
    segment_end[last_of_owner] = len(times)
    return np.repeat(segment_value, segment_end - segment_start).reshape(n, len(times))


def _change_at(who: np.ndarray, when: np.ndarray, visit_key: np.ndarray, owner: np.ndarray,
               change: np.ndarray, span: float) -> np.ndarray:
    """Change at each participant's last visit at or before `when` (NaN if none): one searchsorted."""
    who, when = np.broadcast_arrays(who, when)
    position = np.searchsorted(visit_key, who * span + when, side="right") - 1
    safe = np.clip(position, 0, max(len(owner) - 1, 0))
    found = (position >= 0) & (len(owner) > 0)
    if len(owner):
        found &= owner[safe] == who
    return np.where(found, change[safe] if len(owner) else np.nan, np.nan)


def finkelstein_schoenfeld(scores: np.ndarray, active: np.ndarray, strata: np.ndarray | None = None) -> dict:
    """T, Var(T), Z and two-sided p from scores computed within strata (Finkelstein & Schoenfeld 1999)."""
    scores = np.asarray(scores, float)
    active = np.asarray(active, bool)
    strata = np.zeros(len(scores), int) if strata is None else np.asarray(strata)
    T = var = 0.0
    for s in np.unique(strata):
        m = strata == s
        n, n1 = int(m.sum()), int(active[m].sum())
        T += float(scores[m & active].sum())
        if n > 1:
            var += n1 * (n - n1) / (n * (n - 1)) * float((scores[m] ** 2).sum())
    z = T / np.sqrt(var) if var > 0 else float("nan")
    return {"T": T, "var_T": var, "z": float(z), "p": float(2 * norm_sf(abs(z)))}


def van_elteren(scores: np.ndarray, active: np.ndarray, strata: np.ndarray) -> dict:
    """Van Elteren's stratified Wilcoxon test: Z and two-sided p (van Elteren 1960; Lehmann 1975, §3.3).

    Within stratum s (n_s participants): W_s = Σ_{i active} midrank_i; T = Σ_s W_s / (n_s + 1), its
    mean Σ_s n1_s / 2 and permutation variance Σ_s n1_s n0_s / (n_s (n_s − 1)) Σ_i (R_i − (n_s + 1)/2)²
    / (n_s + 1)² (exact with ties); Z = (T − E) / √Var, no continuity correction. Positive Z: the
    active arm ranks higher. With one stratum it is scipy's Mann–Whitney without continuity correction.
    """
    scores = np.asarray(scores, float)
    active = np.asarray(active, bool)
    strata = np.asarray(strata)
    T = mean = var = 0.0
    for s in np.unique(strata):
        m = strata == s
        n, n1 = int(m.sum()), int(active[m].sum())
        if n < 2 or n1 in (0, n):
            continue  # a stratum with one arm only carries no comparison
        ranks = rankdata(scores[m])
        weight = 1.0 / (n + 1)
        T += weight * float(ranks[active[m]].sum())
        mean += weight * n1 * (n + 1) / 2
        var += weight ** 2 * n1 * (n - n1) / (n * (n - 1)) * float(((ranks - (n + 1) / 2) ** 2).sum())
    z = (T - mean) / np.sqrt(var) if var > 0 else float("nan")
    return {"z": float(z), "p": float(2 * norm_sf(abs(z)))}


def cafs_inputs(trial: Trial, horizon_days: float,
                event_types: Sequence[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-participant (time and death truncated at the horizon, baseline) and post-baseline visits.

    `event_types`: only these `survival.event_type` values count as deaths (others are censored at
    their time), as the plan's `event_types` does for the survival analyses; None: every event.
    """
    alsfrs = trial.alsfrs
    if alsfrs is None or alsfrs.empty:
        raise AnalysisError(ANALYSIS, "the trial has no alsfrs table: CAFS needs ALSFRS-R")
    people = endpoint_events(trial, event_types)
    people["died"] = (people["event"] == 1) & (people["time_days"] <= horizon_days)
    people["t"] = np.minimum(people["time_days"], horizon_days)
    at_or_before_0 = alsfrs[alsfrs["day"] <= 0].sort_values(["subject_id", "day"])
    baseline = at_or_before_0.groupby("subject_id")["total"].last()
    people["baseline"] = people["subject_id"].map(baseline)
    if "alsfrs_r_baseline" in people.columns:
        people["baseline"] = people["baseline"].fillna(people["alsfrs_r_baseline"])
    visits = alsfrs[(alsfrs["day"] > 0) & (alsfrs["day"] <= horizon_days)]
    visits = visits.merge(people[["subject_id", "baseline"]], on="subject_id")
    visits = visits[visits["baseline"].notna()]
    visits = visits.assign(change=visits["total"] - visits["baseline"])[["subject_id", "day", "change"]]
    if visits.empty:
        if people["died"].all():
            raise AnalysisError(ANALYSIS, "all participants died before the first follow-up visit: no ALSFRS-R "
                                          "change exists, so CAFS reduces to a survival comparison")
        raise AnalysisError(ANALYSIS, "only one visit (baseline): no ALSFRS-R after baseline, and CAFS needs a "
                                      "change from baseline")
    return people, visits


def mann_whitney_scope(strata: Sequence[str]) -> str:
    """The honest label of `mann_whitney_p`: one pooled rank test, also when the scores are stratified."""
    if not strata:
        return "all participants of the comparison"
    return ("pooled over within-stratum scores (one rank test on all participants; not a stratified "
            "test: van_elteren_p and the Finkelstein-Schoenfeld fs_p are the stratified ones)")


@dataclass(frozen=True)
class CAFSResult:
    """CAFS scores, mean ranks and tests, one comparison per active arm against the control."""

    horizon_days: float
    strata: tuple[str, ...]
    control_arm: str
    comparisons: pd.DataFrame    # one row per active arm
    scores: pd.DataFrame         # subject_id, comparison, arm, stratum, score, rank
    n_without_baseline: int

    @property
    def summary(self) -> pd.DataFrame:
        return self.comparisons

    @property
    def mann_whitney_scope(self) -> str:
        """What the Mann–Whitney p tests: with strata it is *not* a stratified test (only FS is)."""
        return mann_whitney_scope(self.strata)

    def to_dict(self) -> dict:
        return json_safe({"horizon_days": self.horizon_days, "strata": list(self.strata),
                          "control_arm": self.control_arm, "n_without_baseline": self.n_without_baseline,
                          "mann_whitney_scope": self.mann_whitney_scope,
                          "comparisons": self.comparisons.to_dict(orient="index")})

    def _repr_html_(self) -> str:
        return html_table(f"CAFS (horizon {self.horizon_days:g} days)", self.comparisons)


class CAFS(FittedEstimator):
    """Combined assessment of function and survival with the Finkelstein–Schoenfeld test.

    `horizon_days` defaults to the trial's horizon (else the longest follow-up); `strata` are
    participants columns (scores are computed within strata, and T and Var(T) summed);
    `event_types` restricts the events that count as deaths (default: every event).

    Example:
        >>> from mndtrial.data.example import example_trial
        >>> res = CAFS().fit(example_trial()).result_
        >>> list(res.comparisons.index)
        ['il2_2miu']
    """

    def __init__(self, horizon_days: float | None = None, strata: Sequence[str] = (),
                 event_types: Sequence[str] | None = None):
        if horizon_days is not None and not horizon_days > 0:
            raise ParameterError("horizon_days", horizon_days, "must be positive")
        self.horizon_days = horizon_days
        self.strata = tuple(strata)
        self.event_types = None if event_types is None else tuple(event_types)

    def fit(self, trial: Trial) -> "CAFS":
        control, active_arms = control_and_active(trial, ANALYSIS)
        horizon = self.horizon_days or trial.info.horizon_days or float(trial.survival["time_days"].max())
        # the plan's unstratified and stratified CAFS read the same inputs: built once in a plan run
        people, visits = reused(("cafs inputs", id(trial), float(horizon), self.event_types),
                                lambda: cafs_inputs(trial, horizon, self.event_types), trial)
        missing = [c for c in self.strata if c not in people.columns]
        if missing:
            raise ParameterError("strata", missing, "must be columns of the participants table")
        if self.strata and people[list(self.strata)].isna().any().any():
            raise AnalysisError(ANALYSIS, f"some participants have no value of the strata {list(self.strata)}")
        rows, score_tables = [], []
        for arm in active_arms:
            pair = people[people["arm"].isin([control, arm])].reset_index(drop=True)
            stratum = (pd.Series(joined_labels(pair, list(self.strata), "|"), index=pair.index) if self.strata
                       else pd.Series("all", index=pair.index))
            scores = np.zeros(len(pair), dtype=np.int64)
            for _, idx in pair.groupby(stratum).groups.items():
                idx = np.asarray(idx)
                scores[idx] = _scores_for(pair.loc[idx].reset_index(drop=True), visits)
            is_active = (pair["arm"] == arm).to_numpy()
            if not scores.any():
                raise AnalysisError(ANALYSIS, f"every pair of {control} and {arm} participants ties (no death "
                                              "and no ALSFRS-R change tells any two apart): nothing to rank")
            ranks = rankdata(scores)
            mw = mann_whitney(scores[is_active], scores[~is_active])
            fs = finkelstein_schoenfeld(scores, is_active, stratum.to_numpy())
            # with strata the pooled Mann-Whitney is not a stratified test; van Elteren's is
            ve = van_elteren(scores, is_active, stratum.to_numpy()) if self.strata else {"z": None, "p": None}
            rows.append({"arm": arm, "n_active": int(is_active.sum()), "n_control": int((~is_active).sum()),
                         "mean_rank_active": float(ranks[is_active].mean()),
                         "mean_rank_control": float(ranks[~is_active].mean()),
                         "mann_whitney_u": float(mw.statistic), "mann_whitney_p": float(mw.pvalue),
                         "fs_T": fs["T"], "fs_var_T": fs["var_T"], "fs_z": fs["z"], "fs_p": fs["p"],
                         "van_elteren_z": ve["z"], "van_elteren_p": ve["p"],
                         "deaths_active": int(pair.loc[is_active, "died"].sum()),
                         "deaths_control": int(pair.loc[~is_active, "died"].sum())})
            score_tables.append(pd.DataFrame({"subject_id": pair["subject_id"], "comparison": arm,
                                              "arm": pair["arm"], "stratum": stratum, "score": scores,
                                              "rank": ranks}))
        comparisons = pd.DataFrame(rows).set_index("arm")
        self.result_ = CAFSResult(horizon_days=float(horizon), strata=self.strata, control_arm=control,
                                  comparisons=comparisons, scores=pd.concat(score_tables, ignore_index=True),
                                  n_without_baseline=int(people["baseline"].isna().sum()))
        return self


def _scores_for(people: pd.DataFrame, visits: pd.DataFrame) -> np.ndarray:
    position = pd.Series(np.arange(len(people)), index=people["subject_id"])
    mine = visits[visits["subject_id"].isin(position.index)]
    return pairwise_scores(people["t"].to_numpy(float), people["died"].to_numpy(bool),
                           position[mine["subject_id"]].to_numpy(), mine["day"].to_numpy(float),
                           mine["change"].to_numpy(float))
