"""Benchmark the batch estimators and the power engine against their single-trial peers.

Run by hand: `PYTHONPATH=src python benchmarks/bench_power.py [n_trials_end_to_end] [workers]`,
or `... bench_power.py --scaling [TRIALSxN ...]` for the scaling table of docs/power.md.

1. Per-trial kernel costs on 1,000 simulated MIROCALS trials (n = 220): simulation (every table,
   and the tables the power engine asks for; the numpy route it replaced, tests/sim_reference.py,
   and the exponential design's per-trial pandas route, tests/exponential_reference.py), Cox
   (treatment only; the power engine's adjusted + stratified model; compiled kernel and the numpy
   route it replaced), stratified log-rank, the random-slope REML model (compiled kernel on
   visit-pattern groups, and the per-participant numpy route it must equal).
2. Peers in the same run, interleaved with ours: a lifelines CoxPHFitter loop, R `coxph()` and
   `lmer()` loops (benchmarks/r/batch_peer.R; skipped with a message where Rscript is absent),
   a statsmodels MixedLM loop; ratios are reported, not absolute times.
3. End to end: `mndtrial power --design mirocals --n-trials N` (the default three strategies) as
   a subprocess, its wall time and the peak memory of its processes.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from _timing import best_of

ROOT = Path(__file__).resolve().parents[1]
POWER_TABLES = ("participants", "survival", "alsfrs")  # what the default strategies read (Analysis.tables)
LOOP = 30
LMM_LOOP = 5
R_LOOP = 100


def _peer_frames(batch, n):
    """Per-trial survival and ALSFRS-R frames (the peers' input) for the first n trials."""
    import pandas as pd

    surv, alsfrs = [], []
    for i in range(n):
        t = batch.trial(i)
        df = t.survival_by_subject()
        surv.append(df.assign(trial=i, active=(df["arm"] == "il2_2miu").astype(float),
                              stratum=df["country"].astype(str) + "/" + df["onset_site"].astype(str))[
            ["trial", "time_days", "event", "active", "stratum"]])
        a = t.alsfrs.merge(t.participants[["subject_id", "arm"]], on="subject_id")
        alsfrs.append(pd.DataFrame({"trial": i, "subject": a["subject_id"], "months": a["day"] / 30.44,
                                    "total": a["total"], "active": (a["arm"] == "il2_2miu").astype(float)}))
    return surv, alsfrs


def kernels(rounds: int = 2) -> None:
    import pandas as pd
    import statsmodels.formula.api as smf
    from lifelines import CoxPHFitter
    from lifelines.statistics import logrank_test

    from mndtrial.batch import BatchSlopes, cox_batch, logrank_batch
    from mndtrial.power import ExponentialDesign
    from mndtrial.batch._survival_layout import survival_layout
    from mndtrial.sim import mirocals, simulate

    sys.path.insert(0, str(ROOT / "tests"))  # the numpy routes the fast ones replaced (double programming)
    from exponential_reference import reference_chunk
    from sim_reference import reference_simulate

    n = 1000
    strata = ("country", "onset_site")
    batch = simulate(mirocals(), n_trials=n, seed=2026)
    BatchSlopes().fit(simulate(mirocals(), n_trials=8, seed=1))  # compile (or load) the kernels first
    cox_batch(simulate(mirocals(), n_trials=8, seed=1), covariates=("age",))
    from mndtrial.power import family
    covariates = family("mirocals").adjust_covariates
    surv, alsfrs = _peer_frames(batch, max(LOOP, R_LOOP, LMM_LOOP))
    rscript = shutil.which("Rscript")
    work = Path(tempfile.mkdtemp(prefix="bench-power-"))
    if rscript:
        pd.concat(surv).to_csv(work / "surv.csv", index=False)
        pd.concat(alsfrs).to_csv(work / "alsfrs.csv", index=False)
    else:
        print("Rscript not found: the R peers are skipped")
    best: dict[str, float] = {}
    for _ in range(rounds):
        row = {
            "sim": best_of(lambda: simulate(mirocals(), n_trials=n, seed=3)) / n,
            "sim_power": best_of(lambda: simulate(mirocals(), n_trials=n, seed=3, tables=POWER_TABLES)) / n,
            "sim_numpy": best_of(lambda: reference_simulate(mirocals(), n_trials=n, seed=3)) / n,
            "exponential": best_of(lambda: ExponentialDesign().simulate_chunk(0, n, seed=3)) / n,
            "exponential_pandas": best_of(lambda: reference_chunk(ExponentialDesign(), 0, n, seed=3)) / n,
            "cox": best_of(lambda: cox_batch(batch)) / n,
            "cox_adjusted": best_of(lambda: cox_batch(batch, covariates=covariates, strata=strata)) / n,
            "cox_numpy": best_of(lambda: cox_batch(batch, engine="numpy")) / n,
            "cox_adjusted_numpy": best_of(lambda: cox_batch(batch, covariates=covariates, strata=strata,
                                                            engine="numpy")) / n,
            "logrank": best_of(lambda: logrank_batch(batch, strata=strata)) / n,
            "logrank_plain": best_of(lambda: logrank_batch(batch)) / n,
            "logrank_numpy": best_of(lambda: logrank_batch(batch, strata=strata, engine="numpy")) / n,
            # the power engine's way: one sort of the chunk's rows shared by its log-rank and Cox tests
            "layout": best_of(lambda: survival_layout(batch)) / n,
            "shared": best_of(lambda: _shared_chunk(batch, covariates, strata, cox_batch, logrank_batch,
                                                    survival_layout)) / n,
            "lmm": best_of(lambda: BatchSlopes().fit(batch)) / n,
            "lmm_numpy": best_of(lambda: BatchSlopes(engine="numpy").fit(batch)) / n,
            "lifelines": best_of(lambda: [CoxPHFitter().fit(f[["time_days", "event", "active"]], "time_days", "event")
                                          for f in surv[:LOOP]]) / LOOP,
            "lifelines_logrank": best_of(lambda: [logrank_test(f.time_days[f.active == 1], f.time_days[f.active == 0],
                                                               f.event[f.active == 1], f.event[f.active == 0])
                                                  for f in surv[:LOOP]]) / LOOP,
        }

        def sm_loop():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for df in alsfrs[:LMM_LOOP]:
                    smf.mixedlm("total ~ months * active", df, groups="subject", re_formula="~months").fit(reml=True)

        row["statsmodels"] = best_of(sm_loop) / LMM_LOOP
        if rscript:
            out = subprocess.run([rscript, str(ROOT / "benchmarks" / "r" / "batch_peer.R"), str(work / "surv.csv"),
                                  str(work / "alsfrs.csv"), str(R_LOOP), str(R_LOOP)],
                                 check=True, capture_output=True, text=True).stdout.split()
            fields = {k: float(v) for k, v in (kv.split("=") for kv in out)}
            row["r_coxph"], row["r_lmer"] = fields["cox_s_per_fit"], fields["lmer_s_per_fit"]
            row["r_survdiff"] = fields["survdiff_s_per_test"]
        for k, v in row.items():
            best[k] = min(best.get(k, float("inf")), v)
    us = {k: v * 1e6 for k, v in best.items()}
    print(f"per trial, 1,000 simulated MIROCALS trials (n = 220), best of {rounds} interleaved rounds:")
    print(f"  simulation             {us['sim']:8.1f} us/trial (every table; the numpy route {us['sim_numpy']:.0f} us, "
          f"{best['sim_numpy'] / best['sim']:.1f}x); {us['sim_power']:.1f} us/trial with the tables the power "
          f"engine reads ({best['sim_numpy'] / best['sim_power']:.1f}x)")
    print(f"  exponential design     {us['exponential']:8.1f} us/trial (per-trial pandas route {us['exponential_pandas']:.0f} us, "
          f"{best['exponential_pandas'] / best['exponential']:.1f}x)")
    print(f"  Cox, treatment only    {us['cox']:8.1f} us/fit   lifelines {us['lifelines'] / 1e3:.1f} ms "
          f"({best['lifelines'] / best['cox']:,.0f}x)" + (
              f"; R coxph {us['r_coxph'] / 1e3:.2f} ms ({best['r_coxph'] / best['cox']:,.0f}x)" if rscript else ""))
    print(f"  Cox, adjusted + strata {us['cox_adjusted']:8.1f} us/fit")
    print(f"  Cox numpy route        {us['cox_numpy']:8.1f} us/fit (treatment only; compiled "
          f"{best['cox_numpy'] / best['cox']:.1f}x faster), {us['cox_adjusted_numpy']:.1f} us/fit adjusted "
          f"({best['cox_adjusted_numpy'] / best['cox_adjusted']:.1f}x)")
    print(f"  log-rank, stratified   {us['logrank']:8.1f} us/test   numpy route {us['logrank_numpy']:.1f} us "
          f"({best['logrank_numpy'] / best['logrank']:.1f}x)" + (
              f"; R survdiff {us['r_survdiff'] / 1e3:.2f} ms ({best['r_survdiff'] / best['logrank']:,.0f}x)"
              if rscript else ""))
    print(f"  log-rank, unstratified {us['logrank_plain']:8.1f} us/test   lifelines logrank_test "
          f"{us['lifelines_logrank'] / 1e3:.2f} ms ({best['lifelines_logrank'] / best['logrank_plain']:,.0f}x)")
    print(f"  shared sort (engine)   {us['shared']:8.1f} us/trial for log-rank + Cox + Cox adjusted on one sort "
          f"({us['layout']:.1f} us of it the sort)")
    print(f"  slope REML (compiled)  {us['lmm']:8.1f} us/fit   numpy route {us['lmm_numpy']:.0f} us "
          f"({best['lmm_numpy'] / best['lmm']:.1f}x); statsmodels {us['statsmodels'] / 1e3:.0f} ms "
          f"({best['statsmodels'] / best['lmm']:,.0f}x)" + (
              f"; R lmer {us['r_lmer'] / 1e3:.1f} ms ({best['r_lmer'] / best['lmm']:,.0f}x)" if rscript else ""))
    shutil.rmtree(work, ignore_errors=True)


def _shared_chunk(batch, covariates, strata, cox_batch, logrank_batch, survival_layout) -> None:
    layout = survival_layout(batch)
    logrank_batch(batch, strata=strata, layout=layout)
    cox_batch(batch, layout=layout)
    cox_batch(batch, covariates=covariates, strata=strata, layout=layout)


def end_to_end(n_trials: int, workers: int | None) -> None:
    out = Path(tempfile.mkdtemp(prefix="bench-power-e2e-"))
    cmd = [sys.executable, "-m", "mndtrial", "--quiet", "power", "--design", "mirocals", "--n-trials", str(n_trials),
           "--out", str(out)] + (["--workers", str(workers)] if workers else [])
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT / "src")), stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    size = (out / "trials.parquet").stat().st_size / 2**20
    print(f"mndtrial power --design mirocals --n-trials {n_trials:,} (three strategies, workers="
          f"{workers or 'all cores'}): {wall:.1f} s wall; largest process {peak:.0f} MiB; trials.parquet {size:.1f} MiB")
    shutil.rmtree(out, ignore_errors=True)


def scaling(cells=((1000, 200), (1000, 1000), (250, 5000)), workers: int | None = None) -> None:
    """Wall time and peak memory of `power()` (all-comers: log-rank, Cox x2, slope) per (trials, n).

    Chunks hold about 56,000 participants (256 trials at n = 220), so the workers' memory does not
    grow with n; trials stream to Parquet, so the parent's does not grow with the trials."""
    from mndtrial.power import design_points, family, power

    fam = family("mirocals")
    print("| trials | n | wall (s) | ms per trial | ms per trial per 1,000 participants |")
    print("|---|---|---|---|---|")
    for k, n in cells:
        points = design_points(fam, [n], ("all-comers",))
        chunk = max(32, 32 * round(256 * 220 / n / 32))
        start = time.perf_counter()
        power(points, n_trials=k, seed=1, n_workers=workers, chunk_size=chunk,
              trials_path=Path(tempfile.mkdtemp()) / "t.parquet")
        wall = time.perf_counter() - start
        print(f"| {k:,} | {n:,} | {wall:.1f} | {wall / k * 1000:.2f} | {wall / k * 1e6 / n:.2f} |", flush=True)
    peak = max(resource.getrusage(r).ru_maxrss for r in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    print(f"largest process: {peak:.0f} MiB")


if __name__ == "__main__":
    if "--scaling" in sys.argv:
        cells = [tuple(int(v) for v in c.split("x")) for c in sys.argv[sys.argv.index("--scaling") + 1:]]
        scaling(*([cells] if cells else []))  # e.g. --scaling 1000x200 1000x1000 250x5000
    else:
        n_e2e = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
        kernels()
        end_to_end(n_e2e, int(sys.argv[2]) if len(sys.argv) > 2 else None)
