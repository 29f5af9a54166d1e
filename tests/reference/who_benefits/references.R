# References for tests/test_effect_curve_reference.py and tests/test_splines.py. Run in this folder:
#   Rscript references.R
# R 4.2.2 (Debian), survival 3.5-3 (r-cran-survival), lme4 1.1-31 (r-cran-lme4), splines (base R),
# jsonlite (Debian). The trial in trial/ is one simulated MIROCALS trial (mndtrial simulate, seed 14).
suppressMessages({library(splines); library(survival); library(lme4); library(jsonlite)})
out <- list(software = list(R = R.version.string, survival = as.character(packageVersion("survival")),
                            lme4 = as.character(packageVersion("lme4"))))

# 1. ns basis values: default knots (df), explicit knots, points outside the boundary knots
x1 <- c(0.3, 1, 1.7, 2.2, 3.9, 4, 5.5, 6.25, 8.1, 9.99, 10)
b <- ns(x1, df = 4)
out$ns_df4 <- list(x = x1, knots = as.numeric(attr(b, "knots")),
                   boundary = as.numeric(attr(b, "Boundary.knots")), basis = unclass(b)[, ])
xo <- c(-2, 0.5, 1, 4.2, 7, 10, 12.5)
b <- ns(xo, knots = c(3, 5, 8), Boundary.knots = c(1, 10))
out$ns_knots_outside <- list(x = xo, knots = c(3, 5, 8), boundary = c(1, 10), basis = unclass(b)[, ])
b <- ns(x1, df = 1)
out$ns_df1 <- list(x = x1, knots = numeric(0), boundary = range(x1), basis = as.numeric(unclass(b)))

# 2. Cox: treatment x ns(log CSF-pNfH, df = 3), Efron ties
p <- read.csv("trial/participants.csv"); s <- read.csv("trial/survival.csv"); a <- read.csv("trial/alsfrs.csv")
p$treatment <- as.numeric(p$arm == "il2_2miu")
p <- p[!is.na(p$csf_pnfh), ]
p$x <- log(p$csf_pnfh)
B <- ns(p$x, df = 3)
knots <- as.numeric(attr(B, "knots")); boundary <- as.numeric(attr(B, "Boundary.knots"))
for (j in 1:3) p[[paste0("ns", j)]] <- B[, j]
d <- merge(s, p, by = "subject_id")
cf <- coxph(Surv(time_days, event) ~ treatment + ns1 + ns2 + ns3 + treatment:ns1 + treatment:ns2 + treatment:ns3,
            data = d, ties = "efron", control = coxph.control(eps = 1e-12, toler.chol = 1e-15, iter.max = 100))
cr <- coxph(Surv(time_days, event) ~ treatment + ns1 + ns2 + ns3, data = d, ties = "efron",
            control = coxph.control(eps = 1e-12, toler.chol = 1e-15, iter.max = 100))
# the same model written with ns() in the formula: R rebuilds the basis from the knots above
cf2 <- coxph(Surv(time_days, event) ~ treatment * ns(x, knots = knots, Boundary.knots = boundary), data = d,
             control = coxph.control(eps = 1e-12, toler.chol = 1e-15, iter.max = 100))
out$cox <- list(n = cf$n, events = cf$nevent, knots = knots, boundary = boundary,
                coef = as.list(coef(cf)), se = as.list(sqrt(diag(vcov(cf)))),
                loglik = cf$loglik[2], loglik_reduced = cr$loglik[2],
                lr_interaction = 2 * (cf$loglik[2] - cr$loglik[2]),
                formula_coef = as.numeric(coef(cf2)), formula_se = as.numeric(sqrt(diag(vcov(cf2)))))

# 3. lmer (REML): months x active x ns(log CSF-pNfH, df = 3), random intercept and slope
a <- a[a$day >= 0 & a$day <= 640, ]
a <- merge(a, p[, c("subject_id", "treatment", "x")], by = "subject_id")
a$months <- a$day / 30.44
a$active <- a$treatment
pl <- unique(a[, c("subject_id", "x")])
Bl <- ns(pl$x, df = 3)
a <- cbind(a, setNames(as.data.frame(unclass(predict(Bl, a$x))[, ]), c("ns1", "ns2", "ns3")))
m <- lmer(total ~ months * active * (ns1 + ns2 + ns3) + (months | subject_id), data = a, REML = TRUE,
          control = lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5)))
out$lmer <- list(n_visits = nrow(a), n_subjects = length(unique(a$subject_id)),
                 knots = as.numeric(attr(Bl, "knots")), boundary = as.numeric(attr(Bl, "Boundary.knots")),
                 fixef = as.list(fixef(m)), se = as.list(sqrt(diag(as.matrix(vcov(m))))),
                 reml_criterion = as.numeric(REMLcrit(m)))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "references.json")
