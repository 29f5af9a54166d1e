# References for tests/test_joint_reference.py. Run from this folder:
#   R_LIBS=/path/to/lib-with-JM Rscript references.R
# lme4 and survival from Debian (r-cran-lme4, r-cran-survival); JM 1.5-2 installed from its public
# source (github drizopoulos/JM) with `R CMD INSTALL` over Debian's r-cran-nlme, -survival, -mass.
suppressMessages({library(lme4); library(survival); library(nlme)})
dpm <- 30.44
p <- read.csv("participants.csv"); s <- read.csv("survival.csv"); a <- read.csv("alsfrs.csv")
p$active <- as.numeric(p$arm == "active")
a <- merge(a, p, by = "subject_id"); a$months <- a$day / dpm
a <- a[order(a$subject_id, a$day), ]
s <- merge(s, p, by = "subject_id"); s$months <- s$time_days / dpm
s <- s[order(s$subject_id), ]
cuts <- c(3, 6, 9, 12)   # months; the tests pass cut_days = cuts * 30.44
out <- list()

# 1. lme4, maximum likelihood (the joint model is ML)
m <- lmer(total ~ months * active + (months | subject_id), data = a, REML = FALSE,
          control = lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5)))
vc <- as.data.frame(VarCorr(m))
out$lme4 <- list(fixef = as.list(fixef(m)), se = as.list(sqrt(diag(as.matrix(vcov(m))))),
                 sd_intercept = vc$sdcor[1], sd_slope = vc$sdcor[2], corr = vc$sdcor[3],
                 sigma = sigma(m), loglik = as.numeric(logLik(m)))

# 2. piecewise-exponential survival as a Poisson GLM with log-exposure offset
sp <- survSplit(Surv(months, event) ~ active + subject_id, data = s, cut = cuts, episode = "piece")
sp$exposure <- sp$months - sp$tstart
g <- glm(event ~ 0 + factor(piece) + active + offset(log(exposure)), family = poisson, data = sp,
         control = glm.control(epsilon = 1e-14, maxit = 100))
out$glm <- list(coef = as.list(coef(g)), se = as.list(sqrt(diag(vcov(g)))),
                loglik_poisson = as.numeric(logLik(g)), sum_event_log_exposure = sum(sp$event * log(sp$exposure)))

# 3. JM: current-value association, piecewise-constant baseline hazard, adaptive GH
if (requireNamespace("JM", quietly = TRUE)) {
  suppressMessages(library(JM))
  lf <- lme(total ~ months * active, random = ~ months | subject_id, data = a, method = "ML",
            control = lmeControl(opt = "optim"))
  cf <- coxph(Surv(months, event) ~ active, data = s, x = TRUE)
  elapsed <- system.time(
    jm <- jointModel(lf, cf, timeVar = "months", method = "piecewise-PH-aGH",
                     control = list(knots = cuts, GHk = 5, iter.EM = 200, tol3 = 1e-10)))["elapsed"]
  co <- jm$coefficients
  se <- sqrt(diag(vcov(jm)))
  out$JM <- list(version = as.character(packageVersion("JM")), elapsed_seconds = as.numeric(elapsed),
                 betas = as.list(co$betas), sigma = co$sigma, gammas = as.list(co$gammas), alpha = co$alpha,
                 xi = as.list(co$xi), D = as.vector(co$D), se = as.list(se), loglik = as.numeric(logLik(jm)),
                 converged = !isTRUE(jm$convergence != 0))
}
out$software <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                     survival = as.character(packageVersion("survival")))
writeLines(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "references.json")
