"""A biomarker cut-off chosen from the data, with inference that accounts for the choice.

For every candidate cut-off c (declared in the plan), "low" = biomarker ≤ c. The statistic per
candidate is a standardised log-rank statistic, signed so that a larger value means more benefit
of the active arm:

- `low_subgroup`: Z_c = −(O − E)/√V of the active arm in the low subgroup;
- `interaction`: Z_c = (b_high − b_low)/√(1/V_low + 1/V_high), b = (O − E)/V the one-step (Peto)
  log HR in each subgroup: a larger benefit below c than above it.

The selected cut-off maximises Z_c over the candidates whose subgroups have at least
`min_events` events in each arm (Lausen & Schumacher 1992, one-sided). Because c is chosen to
make Z large, the naive p and HR at the selected cut-off are biased; this module gives:

- a selection-adjusted p: the maximally selected statistic M = max_c Z_c against its permutation
  distribution — treatment labels permuted (H0: no effect in any subgroup) for `low_subgroup`,
  biomarker values permuted (H0: the effect does not depend on the biomarker) for `interaction`;
- a bootstrap distribution of the selected cut-off (participants resampled; the candidates stay
  fixed) and its percentile interval;
- an optimism-corrected log HR in the selected subgroup (Harrell's bootstrap bias correction):
  in each resample the cut-off is re-selected, its subgroup's log HR is computed in the resample
  (apparent) and in the original data (test); corrected = naive − mean(apparent − test).

References: Lausen & Schumacher (1992), Biometrics 48:73; Contal & O'Quigley (1999), Comput Stat
Data Anal 30:253; Harrell, Lee & Mark (1996), Stat Med 15:361 (optimism); Rosenkranz (2016),
Biom J 58:768 (bootstrap bias correction of subgroup effects).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd

from ..errors import AnalysisError, ParameterError
from .cox_binary import cox_treatment_fits, logrank_statistics, risk_counts
from .frame import jsonable
from .distributions import norm_ppf, norm_sf

__all__ = ["CutoffSearch", "CutoffSearchResult", "candidate_statistics"]

Statistic = Literal["low_subgroup", "interaction"]


def candidate_statistics(marker: np.ndarray, time: np.ndarray, event: np.ndarray, treatment: np.ndarray,
                         cutoffs: np.ndarray, statistic: Statistic, min_events: int,
                         multiplicity: np.ndarray | None = None) -> np.ndarray:
    """Z per candidate (NaN where a subgroup has fewer than `min_events` events in an arm).

    `multiplicity` weights participants (bootstrap resamples: how often each was drawn).

    Example:
        >>> from lifelines.datasets import load_rossi
        >>> r = load_rossi()
        >>> z = candidate_statistics(r.age.to_numpy(float), r.week.to_numpy(float), r.arrest.to_numpy(),
        ...                          r.fin.to_numpy(float), np.array([20.0, 25.0]), "low_subgroup", 5)
        >>> z.round(3).tolist()
        [0.459, 1.294]
    """
    w = np.ones(len(marker)) if multiplicity is None else np.asarray(multiplicity, float)
    low = (marker[None, :] <= cutoffs[:, None]) * w
    ev = np.asarray(event).astype(bool)
    def enough(W):  # noqa: E306
        per_arm = np.stack([(W * ev * treatment).sum(axis=1), (W * ev * (1 - treatment)).sum(axis=1)])
        return per_arm.min(axis=0) >= min_events
    oe_low, v_low = logrank_statistics(risk_counts(time, event, treatment, low))
    ok = enough(low) & (v_low > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if statistic == "low_subgroup":
            z = -oe_low / np.sqrt(v_low)
        else:
            high = (1 - (low > 0)) * w
            oe_high, v_high = logrank_statistics(risk_counts(time, event, treatment, high))
            ok &= enough(high) & (v_high > 0)
            z = (oe_high / v_high - oe_low / v_low) / np.sqrt(1 / v_low + 1 / v_high)
    return np.where(ok, z, np.nan)


def _argmax(z: np.ndarray) -> int | None:
    return None if np.all(np.isnan(z)) else int(np.nanargmax(z))


@dataclass(frozen=True)
class CutoffSearchResult:
    """The candidates' statistics, the selected cut-off, naive and selection-adjusted inference."""

    candidates: pd.DataFrame
    statistic: str
    selected_cutoff: float
    max_statistic: float
    naive: dict[str, Any]
    adjusted: dict[str, Any]
    bootstrap: dict[str, Any]

    @property
    def summary(self) -> pd.DataFrame:
        return self.candidates

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"statistic": self.statistic, "selected_cutoff": self.selected_cutoff,
                         "max_statistic": self.max_statistic,
                         "candidates": self.candidates.to_dict(orient="records"),
                         "naive": self.naive, "selection_adjusted": self.adjusted, "bootstrap": self.bootstrap})


class CutoffSearch:
    """Maximally selected log-rank statistic over candidate cut-offs, with honest inference.

    Example:
        >>> from lifelines.datasets import load_rossi
        >>> r = load_rossi()
        >>> s = CutoffSearch(cutoffs=[19, 21, 23, 25, 30], permutations=50, bootstraps=20, seed=1)
        >>> res = s.fit(r.age.to_numpy(float), r.week.to_numpy(float), r.arrest.to_numpy(), r.fin.to_numpy(float)).result_
        >>> res.selected_cutoff in (19, 21, 23, 25, 30), 0 < res.adjusted["p"] <= 1
        (True, True)
    """

    def __init__(self, cutoffs: Sequence[float], statistic: Statistic = "low_subgroup", min_events: int = 5,
                 permutations: int = 1000, bootstraps: int = 200, seed: int = 1, alpha: float = 0.05):
        cutoffs = np.unique(np.asarray(cutoffs, float))
        if cutoffs.size < 1 or not np.all(np.isfinite(cutoffs)):
            raise ParameterError("cutoff_search.candidates", list(cutoffs), "must be finite numbers")
        if statistic not in ("low_subgroup", "interaction"):
            raise ParameterError("cutoff_search.statistic", statistic, "must be 'low_subgroup' or 'interaction'")
        if permutations < 1 or bootstraps < 1:
            raise ParameterError("cutoff_search.permutations/bootstraps", (permutations, bootstraps), "must be >= 1")
        self.cutoffs, self.statistic, self.min_events = cutoffs, statistic, int(min_events)
        self.permutations, self.bootstraps, self.seed, self.alpha = int(permutations), int(bootstraps), int(seed), alpha

    def _z(self, marker, time, event, treatment, multiplicity=None):
        return candidate_statistics(marker, time, event, treatment, self.cutoffs, self.statistic, self.min_events,
                                    multiplicity)

    def fit(self, marker: np.ndarray, time: np.ndarray, event: np.ndarray, treatment: np.ndarray) -> "CutoffSearch":
        marker, time, treatment = (np.asarray(a, float) for a in (marker, time, treatment))
        event = np.asarray(event).astype(int)
        if np.isnan(marker).any():
            raise ParameterError("marker", "values", "must have no missing values (select complete cases first)")
        n = len(marker)
        z = self._z(marker, time, event, treatment)
        best = _argmax(z)
        if best is None:
            raise AnalysisError("cut-off search", f"no candidate cut-off leaves {self.min_events} events in each arm "
                                                  "of its subgroup(s)")
        cut = float(self.cutoffs[best])
        seeds = np.random.SeedSequence(self.seed).spawn(2)
        adjusted = self._permutation_p(marker, time, event, treatment, float(z[best]), np.random.default_rng(seeds[0]))
        low = (marker <= self.cutoffs[:, None]).astype(float)
        coef, se, ok = cox_treatment_fits(risk_counts(time, event, treatment, low))
        q = norm_ppf(1 - self.alpha / 2)
        naive = {"log_hr": coef[best], "se": se[best], "hr": np.exp(coef[best]),
                 "ci": [np.exp(coef[best] - q * se[best]), np.exp(coef[best] + q * se[best])],
                 "p": float(2 * norm_sf(abs(z[best]))), "n": int(low[best].sum()),
                 "note": "naive: computed as if the cut-off had been fixed in advance; biased toward benefit"}
        boot = self._bootstrap(marker, time, event, treatment, coef, np.random.default_rng(seeds[1]))
        corrected = coef[best] - boot.pop("optimism_log_hr")
        adjusted.update({"log_hr_corrected": corrected, "hr_corrected": np.exp(corrected),
                         "optimism_log_hr": coef[best] - corrected,
                         "hr_note": "optimism-corrected by bootstrap (Harrell): naive log HR minus the mean of "
                                    "(apparent - test) log HR over resamples with the cut-off re-selected"})
        table = pd.DataFrame({"cutoff": self.cutoffs, "z": z, "n_low": low.sum(axis=1).astype(int),
                              "log_hr_low": coef, "se_low": se, "selected_in_bootstrap": boot["selection_frequency"]})
        self.result_ = CutoffSearchResult(candidates=table, statistic=self.statistic, selected_cutoff=cut,
                                          max_statistic=float(z[best]), naive=naive, adjusted=adjusted,
                                          bootstrap={k: v for k, v in boot.items() if k != "selection_frequency"})
        return self

    def _permutation_p(self, marker, time, event, treatment, observed, rng) -> dict[str, Any]:
        exceed = 0
        for _ in range(self.permutations):
            if self.statistic == "low_subgroup":
                zp = self._z(marker, time, event, rng.permutation(treatment))
            else:
                zp = self._z(rng.permutation(marker), time, event, treatment)
            m = np.nanmax(zp) if not np.all(np.isnan(zp)) else -np.inf
            exceed += m >= observed - 1e-12
        null = ("no treatment effect in any subgroup (treatment labels permuted)" if self.statistic == "low_subgroup"
                else "the treatment effect does not depend on the biomarker (biomarker values permuted)")
        return {"p": float((1 + exceed) / (1 + self.permutations)), "permutations": self.permutations, "seed": self.seed,
                "null_hypothesis": null, "one_sided": "larger benefit of the active arm",
                "note": "selection-adjusted: the maximum over all candidates is compared with its permutation "
                        "distribution, so the choice of cut-off is paid for"}

    def _bootstrap(self, marker, time, event, treatment, coef_original, rng) -> dict[str, Any]:
        n = len(marker)
        chosen, optimism = [], []
        failed = 0
        for _ in range(self.bootstraps):
            w = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
            b = _argmax(self._z(marker, time, event, treatment, w))
            if b is None:
                failed += 1
                continue
            chosen.append(b)
            low = (marker <= self.cutoffs[b]) * w
            apparent = cox_treatment_fits(risk_counts(time, event, treatment, low[None, :]))[0][0]
            test = coef_original[b]
            if np.isfinite(apparent) and np.isfinite(test):
                optimism.append(apparent - test)
        if not chosen or not optimism:
            raise AnalysisError("cut-off search", "no bootstrap resample gave a selectable cut-off and an estimable HR")
        chosen_values = self.cutoffs[np.array(chosen)]
        lo, hi = np.quantile(chosen_values, [self.alpha / 2, 1 - self.alpha / 2], method="inverted_cdf")
        freq = np.bincount(np.array(chosen), minlength=len(self.cutoffs)) / len(chosen)
        return {"resamples": self.bootstraps, "resamples_used": len(optimism), "resamples_without_selection": failed,
                "cutoff_ci": [float(lo), float(hi)], "cutoff_ci_level": 1 - self.alpha,
                "cutoff_ci_method": "percentile of the re-selected cut-off over resamples (candidates fixed)",
                "optimism_log_hr": float(np.mean(optimism)), "selection_frequency": freq}
