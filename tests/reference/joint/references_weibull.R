# Weibull-baseline reference for tests/test_joint_baseline.py. Run from this folder:
#   R_LIBS=/path/to/lib-with-JM Rscript references_weibull.R
# Same data and longitudinal/survival submodels as references.R; JM's `weibull-PH-aGH`:
#   h(t) = sigma.t * t^(sigma.t - 1) * exp(gamma0 + gamma * active + alpha * m(t)).
suppressMessages({library(survival); library(nlme); library(JM)})
dpm <- 30.44
p <- read.csv("participants.csv"); s <- read.csv("survival.csv"); a <- read.csv("alsfrs.csv")
p$active <- as.numeric(p$arm == "active")
a <- merge(a, p, by = "subject_id"); a$months <- a$day / dpm
a <- a[order(a$subject_id, a$day), ]
s <- merge(s, p, by = "subject_id"); s$months <- s$time_days / dpm
s <- s[order(s$subject_id), ]
lf <- lme(total ~ months * active, random = ~ months | subject_id, data = a, method = "ML",
          control = lmeControl(opt = "optim"))
cf <- coxph(Surv(months, event) ~ active, data = s, x = TRUE)
elapsed <- system.time(
  jm <- jointModel(lf, cf, timeVar = "months", method = "weibull-PH-aGH",
                   control = list(GHk = 5, iter.EM = 200, tol3 = 1e-10)))["elapsed"]
co <- jm$coefficients
se <- sqrt(diag(vcov(jm)))
out <- list(version = as.character(packageVersion("JM")), R = R.version.string,
            elapsed_seconds = as.numeric(elapsed), betas = as.list(co$betas), sigma = co$sigma,
            gammas = as.list(co$gammas), alpha = co$alpha, sigma_t = co$sigma.t, D = as.vector(co$D),
            se = as.list(se), loglik = as.numeric(logLik(jm)), converged = !isTRUE(jm$convergence != 0))
writeLines(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "references_weibull.json")
