# The R peer of `mndtrial analyze` with docs/examples/analysis-plan.toml (benchmarks/bench_analyze.py).
# Usage: Rscript analyze_peer.R TRIAL_DIR REPEATS
# Prints one line: "seconds=<best analysis time> cox=<fits> lmer=<fits> logrank=<tests> km=<fits>".
# Same analyses as the plan: KM by arm, log-rank (plain and stratified by country + onset site),
# Cox unadjusted / adjusted (log CSF-pNfH, onset site, age) / stratified, PH check (cox.zph),
# Cox per subgroup level and treatment-by-subgroup interaction for onset site, sex, country,
# age band (65), CSF-pNfH cut 3700, tertiles and the 750-3700 range, the continuous
# log CSF-pNfH interaction, and lmer slope models (overall and per CSF-pNfH group).
suppressPackageStartupMessages({library(survival); library(lme4)})
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]; repeats <- as.integer(args[2])
p <- read.csv(file.path(dir, "participants.csv"))
s <- read.csv(file.path(dir, "survival.csv"))
a <- read.csv(file.path(dir, "alsfrs.csv"))
d <- merge(p, s, by = "subject_id")
d$active <- as.numeric(d$arm == "il2_2miu")
d$logcsf <- log(d$csf_pnfh)
tert <- quantile(d$csf_pnfh, c(1/3, 2/3), na.rm = TRUE)
d$age_band <- ifelse(d$age < 65, "<65", ">=65")
d$csf_cut <- ifelse(d$csf_pnfh <= 3700, "low", "high")
d$csf_tert <- cut(d$csf_pnfh, c(-Inf, tert, Inf))
d$csf_range <- ifelse(d$csf_pnfh >= 750 & d$csf_pnfh <= 3700, "in", "outside")
a <- merge(a, p[, c("subject_id", "arm", "csf_pnfh")], by = "subject_id")
a$months <- a$day / 30.44
a$active <- as.numeric(a$arm == "il2_2miu")

run <- function() {
  n <- c(cox = 0, lmer = 0, logrank = 0, km = 0)
  km <- survfit(Surv(time_days, event) ~ arm, data = d); n["km"] <- n["km"] + 1
  summary(km, times = c(0, 90, 180, 270, 360, 450, 540, 640))
  survdiff(Surv(time_days, event) ~ arm, data = d)
  survdiff(Surv(time_days, event) ~ arm + strata(country, onset_site), data = d); n["logrank"] <- n["logrank"] + 2
  fits <- list(coxph(Surv(time_days, event) ~ active, data = d),
               coxph(Surv(time_days, event) ~ active + logcsf + onset_site + age, data = d),
               coxph(Surv(time_days, event) ~ active + strata(country, onset_site), data = d))
  n["cox"] <- n["cox"] + 3
  cox.zph(fits[[1]])
  for (v in c("onset_site", "sex", "country", "age_band", "csf_cut", "csf_tert", "csf_range")) {
    for (level in unique(na.omit(d[[v]]))) {
      sub <- d[!is.na(d[[v]]) & d[[v]] == level, ]
      if (sum(sub$event) >= 2 && length(unique(sub$active)) == 2) {
        try(coxph(Surv(time_days, event) ~ active, data = sub), silent = TRUE); n["cox"] <- n["cox"] + 1
      }
    }
    dd <- d[!is.na(d[[v]]), ]
    try(coxph(as.formula(paste("Surv(time_days, event) ~ active *", v)), data = dd), silent = TRUE)
    try(coxph(as.formula(paste("Surv(time_days, event) ~ active +", v)), data = dd), silent = TRUE)
    n["cox"] <- n["cox"] + 2
  }
  coxph(Surv(time_days, event) ~ active * logcsf, data = d); n["cox"] <- n["cox"] + 1
  ctrl <- lmerControl(calc.derivs = FALSE)
  lmer(total ~ months * active + (months | subject_id), data = a, REML = TRUE, control = ctrl)
  n["lmer"] <- n["lmer"] + 1
  for (g in list(a$csf_pnfh <= 3700, a$csf_pnfh > 3700)) {
    lmer(total ~ months * active + (months | subject_id), data = a[!is.na(g) & g, ], REML = TRUE, control = ctrl)
    n["lmer"] <- n["lmer"] + 1
  }
  n
}
best <- Inf
for (i in seq_len(repeats)) {
  t0 <- proc.time()[["elapsed"]]
  n <- suppressWarnings(suppressMessages(run()))
  best <- min(best, proc.time()[["elapsed"]] - t0)
}
cat(sprintf("seconds=%.4f cox=%d lmer=%d logrank=%d km=%d\n", best, n["cox"], n["lmer"], n["logrank"], n["km"]))
