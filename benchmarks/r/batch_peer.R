# R peer of the batch estimators (benchmarks/bench_power.py): coxph, survdiff and lmer trial by trial.
# Usage: Rscript batch_peer.R SURVIVAL.csv ALSFRS.csv N_COX N_LMER
# SURVIVAL.csv: trial, time_days, event, active, stratum; ALSFRS.csv: trial, subject, months, total, active.
# Prints "cox_s_per_fit=<s> lmer_s_per_fit=<s> survdiff_s_per_test=<s>" (time inside R, best of
# 2 passes; survdiff stratified by `stratum`, as the power engine's log-rank).
suppressPackageStartupMessages({library(survival); library(lme4)})
args <- commandArgs(trailingOnly = TRUE)
s <- read.csv(args[1]); a <- read.csv(args[2])
n_cox <- as.integer(args[3]); n_lmer <- as.integer(args[4])
by_s <- split(s, s$trial)[seq_len(n_cox)]
by_a <- split(a, a$trial)[seq_len(n_lmer)]
best <- function(f) min(sapply(1:2, function(i) system.time(f())[["elapsed"]]))
cox <- best(function() for (d in by_s) coxph(Surv(time_days, event) ~ active, data = d, ties = "efron"))
lr <- best(function() for (d in by_s) survdiff(Surv(time_days, event) ~ active + strata(stratum), data = d))
ctrl <- lmerControl(calc.derivs = FALSE)
lm <- best(function() for (d in by_a) suppressMessages(suppressWarnings(
  lmer(total ~ months * active + (months | subject), data = d, REML = TRUE, control = ctrl))))
cat(sprintf("cox_s_per_fit=%.6g lmer_s_per_fit=%.6g survdiff_s_per_test=%.6g\n", cox / n_cox, lm / n_lmer,
            lr / n_cox))
