"""Scan (issue 18): Cox fits on trials with a strongly prognostic binary covariate, lifelines vs the batch engine.

Simulates `--n-trials` two-arm trials (n 60-200, a binary "high NfL" group of 10-35% with a
hazard ratio of 6-30, most of which dies; treatment HR 0.75; censoring at 300-540 days) and
fits two models to each: `treatment + high` (adjusted) and `treatment * high` (interaction).
The reference is `mndtrial.batch.cox` (Newton–Raphson with step halving, matches R to 2e-15).

Before the fix: plain lifelines with mndtrial's fit options, counted as non-converged when it
raised, warned of non-convergence, or ended more than 1e-6 from the batch engine's maximum.
After: `mndtrial.analysis.fit_cox`, counted as differing when an estimate it reports is more
than 1e-6 from the batch engine's, or when one of the two says "not estimable" and the other not.

    PYTHONPATH=src python benchmarks/scan_cox_convergence.py [--n-trials 1000] [--seed 18]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError, ConvergenceWarning

from mndtrial.analysis import cox as cox_module
from mndtrial.analysis.cox import fit_cox
from mndtrial.batch.cox import cox_batch
from mndtrial.data import TrialBatch
from mndtrial.data.info import Arm, TrialInfo
from mndtrial.errors import AnalysisError

TOL = 1e-6
MODELS = {"adjusted": ("high_nfl",), "interaction": ("high_nfl", "treatment_x_high")}


def simulate(n_trials: int, seed: int) -> TrialBatch:
    rng = np.random.default_rng(seed)
    parts, surv = [], []
    for t in range(n_trials):
        n = int(rng.choice([60, 120, 200]))
        treatment = np.repeat([0.0, 1.0], n // 2)
        high = (rng.random(n) < rng.uniform(0.10, 0.35)).astype(float)
        log_hr_high = rng.uniform(np.log(6), np.log(30))
        rate = 1 / 3000 * np.exp(log_hr_high * high + np.log(0.75) * treatment)
        death = rng.exponential(1 / rate)
        censor = np.minimum(rng.uniform(300, 720, n), 540)
        subject = np.arange(n)
        parts.append(pd.DataFrame({"trial": t, "subject": subject,
                                   "arm": np.where(treatment == 1, "il2", "placebo"),
                                   "high_nfl": high, "treatment_x_high": treatment * high}))
        surv.append(pd.DataFrame({"trial": t, "subject": subject, "time_days": np.round(np.minimum(death, censor), 1),
                                  "event": (death <= censor).astype(int)}))
    info = TrialInfo(name="strong prognostic covariate", arms=(Arm(name="placebo", control=True), Arm(name="il2")))
    return TrialBatch(info=info, n_trials=n_trials, participants=pd.concat(parts, ignore_index=True),
                      survival=pd.concat(surv, ignore_index=True))


def lifelines_alone(df: pd.DataFrame, terms: list[str]) -> tuple[np.ndarray | None, bool]:
    """(coefficients or None if it raised, whether it warned of non-convergence)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cph = CoxPHFitter().fit(df[["time_days", "event", *terms]], "time_days", "event",
                                    fit_options=cox_module.FIT_OPTIONS)
        except (ConvergenceError, np.linalg.LinAlgError):
            return None, True
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return cph.params_.loc[terms].to_numpy(float), warned


def scan(n_trials: int, seed: int) -> pd.DataFrame:
    batch = simulate(n_trials, seed)
    parts = batch.participants.merge(batch.survival, on=["trial", "subject"])
    parts["treatment"] = (parts["arm"] == "il2").astype(float)
    rows = []
    for model, covariates in MODELS.items():
        ref = cox_batch(batch, covariates=covariates)
        terms = ["treatment", *covariates]
        for t, df in parts.groupby("trial", sort=True):
            status = ref.status[t]
            coef_ref = ref.coef[t]
            before, warned = lifelines_alone(df, terms)
            stopped_short = before is None or warned or (
                status == "converged" and np.max(np.abs(before - coef_ref)) > TOL)
            try:
                after = fit_cox(df, terms, ph_test=False).summary["coef"].to_numpy(float)
                after_reason = None
            except AnalysisError as exc:
                after, after_reason = None, exc.reason
            if status == "converged":
                differs = after is None or np.max(np.abs(after - coef_ref)) > TOL
            else:  # the batch engine found no finite maximum: fit_cox must not report one either
                differs = after is not None
            rows.append({"model": model, "trial": t, "batch_status": status, "lifelines_alone_stopped_short":
                         stopped_short, "lifelines_alone_warned_or_raised": before is None or warned,
                         "after_differs": differs, "after_not_estimable": after_reason is not None,
                         "max_abs_diff_after": (np.nan if after is None or status != "converged"
                                                else float(np.max(np.abs(after - coef_ref))))})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    res = scan(args.n_trials, args.seed)
    summary = res.groupby("model").agg(
        trials=("trial", "size"), batch_converged=("batch_status", lambda s: int((s == "converged").sum())),
        lifelines_alone_stopped_short=("lifelines_alone_stopped_short", "sum"),
        of_which_warned_or_raised=("lifelines_alone_warned_or_raised", "sum"),
        after_differs=("after_differs", "sum"), after_not_estimable=("after_not_estimable", "sum"),
        max_abs_diff_after=("max_abs_diff_after", "max"))
    trials_any = res.groupby("trial")["lifelines_alone_stopped_short"].any().sum()
    print(summary.to_string())
    print(f"trials with a non-converged lifelines fit in either model (before): {trials_any} of {args.n_trials}")
    print(f"estimates differing from the batch engine by > {TOL:g} (after): {int(res['after_differs'].sum())}")


if __name__ == "__main__":
    main()
