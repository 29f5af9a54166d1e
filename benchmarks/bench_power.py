"""Benchmark the batch estimators and the power engine against their single-trial peers.

Run by hand: `PYTHONPATH=src python benchmarks/bench_power.py [n_trials_end_to_end] [workers]`.

1. Batched Cox (unadjusted) on 1,000 simulated MIROCALS trials vs a lifelines CoxPHFitter loop
   over the same trials (the loop timed on `LOOP` trials and scaled).
2. Batched REML slope model on the same 1,000 trials vs a statsmodels MixedLM loop (default
   optimiser settings, timed on `LMM_LOOP` trials and scaled).
3. End to end: N MIROCALS trials simulated and analysed (stratified log-rank, Cox unadjusted,
   Cox adjusted and stratified, slope) with `power()`, and the peak memory of the process.

Ratios are measured in one run on one machine; report them, not the absolute times.
"""

from __future__ import annotations

import resource
import sys
import time
import warnings


from _timing import best_of

LOOP = 50
LMM_LOOP = 10


def main(n_end_to_end: int = 10_000, workers: int | None = None) -> None:
    import statsmodels.formula.api as smf
    from lifelines import CoxPHFitter

    from mndtrial.batch import cox_batch, logrank_batch, slopes_batch
    from mndtrial.power import design_points, family, power
    from mndtrial.sim import mirocals, simulate

    batch = simulate(mirocals(), n_trials=1000, seed=2026)
    trials = [batch.trial(i) for i in range(max(LOOP, LMM_LOOP))]

    cox_s = best_of(lambda: cox_batch(batch), repeat=3)
    frames = []
    for t in trials[:LOOP]:
        df = t.survival_by_subject()
        frames.append(df.assign(il2=(df["arm"] == "il2_2miu").astype(float))[["time_days", "event", "il2"]])
    loop_s = best_of(lambda: [CoxPHFitter().fit(f, "time_days", "event") for f in frames]) / LOOP * 1000
    print(f"Cox, 1,000 MIROCALS trials: batched {cox_s:.3f} s ({1000 / cox_s:,.0f} fits/s); "
          f"lifelines loop {loop_s:.1f} s (scaled from {LOOP}); ratio {loop_s / cox_s:,.0f}x")

    lr_s = best_of(lambda: logrank_batch(batch, strata=("country", "onset_site")), repeat=3)
    print(f"stratified log-rank, 1,000 trials: batched {lr_s:.3f} s")

    lmm_s = best_of(lambda: slopes_batch(batch), repeat=2)
    lmm_frames = []
    for t in trials[:LMM_LOOP]:
        df = t.alsfrs.merge(t.participants[["subject_id", "arm"]], on="subject_id")
        lmm_frames.append(df.assign(months=df["day"] / 30.44, arm=(df["arm"] == "il2_2miu").astype(float)))

    def sm_loop():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for df in lmm_frames:
                smf.mixedlm("total ~ months * arm", df, groups="subject_id", re_formula="~months").fit(reml=True)

    sm_s = best_of(sm_loop) / LMM_LOOP * 1000
    print(f"LMM slope, 1,000 trials: batched {lmm_s:.3f} s; statsmodels loop {sm_s:.0f} s "
          f"(scaled from {LMM_LOOP}); ratio {sm_s / lmm_s:,.0f}x")
    del batch, trials

    fam = family("mirocals")
    points = design_points(fam, [220], strategies=("all-comers",))
    t0 = time.perf_counter()
    res = power(points, n_trials=n_end_to_end, seed=1, n_workers=workers)
    e2e = time.perf_counter() - t0
    sim_only = best_of(lambda: simulate(mirocals(), n_trials=min(n_end_to_end, 1000), seed=3)) \
        * n_end_to_end / min(n_end_to_end, 1000)
    row = res.table.iloc[0]
    print(f"end to end, {n_end_to_end:,} MIROCALS trials simulated + analysed (log-rank, Cox, adjusted Cox, "
          f"slope; workers={workers or 'all cores'}): {e2e:.1f} s (simulation alone, one process: ~{sim_only:.1f} s)")
    print(f"  power {row['power']:.3f} (MC SE {row['power_mcse']:.3f}), HR {row['cox_hr_geometric_mean']:.3f}")
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory (max RSS): this process {peak_self:.0f} MiB, largest worker {peak_children:.0f} MiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000,
         int(sys.argv[2]) if len(sys.argv) > 2 else None)
