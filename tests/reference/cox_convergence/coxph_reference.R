# R coxph reference values for tests/test_cox_convergence.py (issue 18).
# Run from this folder:  Rscript coxph_reference.R   (writes coxph_reference.json)
library(survival)
library(jsonlite)
d <- read.csv("trial.csv")
d$treatment <- as.numeric(d$arm == "il2")
d$x <- log(d$serum_nfl) - mean(log(d$serum_nfl))  # centred log NfL, as mndtrial's continuous interaction

fit_out <- function(f) {
  s <- summary(f)$coefficients
  list(terms = setNames(lapply(rownames(s), function(t)
         list(coef = unname(s[t, "coef"]), se = unname(s[t, "se(coef)"]), p = unname(s[t, "Pr(>|z|)"]))),
         rownames(s)),
       loglik = unname(f$loglik[2]), loglik_null = unname(f$loglik[1]), n = f$n, events = f$nevent)
}
ctl <- coxph.control(eps = 1e-12, toler.chol = 1e-15, iter.max = 100)
unadjusted <- coxph(Surv(time_days, event) ~ treatment, d, ties = "efron", control = ctl)
adjusted <- coxph(Surv(time_days, event) ~ treatment + high_nfl, d, ties = "efron", control = ctl)
stratified <- coxph(Surv(time_days, event) ~ treatment + strata(high_nfl), d, ties = "efron", control = ctl)
low <- coxph(Surv(time_days, event) ~ treatment, subset(d, high_nfl == 0), ties = "efron", control = ctl)
high <- coxph(Surv(time_days, event) ~ treatment, subset(d, high_nfl == 1), ties = "efron", control = ctl)
full <- coxph(Surv(time_days, event) ~ treatment + high_nfl + treatment:high_nfl, d, ties = "efron", control = ctl)
cont_reduced <- coxph(Surv(time_days, event) ~ treatment + x, d, ties = "efron", control = ctl)
cont_full <- coxph(Surv(time_days, event) ~ treatment + x + treatment:x, d, ties = "efron", control = ctl)
lr <- function(f, r, df) {
  chi2 <- 2 * (f$loglik[2] - r$loglik[2])
  list(chi2 = chi2, df = df, p = pchisq(chi2, df, lower.tail = FALSE))
}
out <- list(
  software = paste0(R.version.string, "; survival ", packageVersion("survival")),
  unadjusted = fit_out(unadjusted), adjusted = fit_out(adjusted), stratified = fit_out(stratified),
  subgroup_low = fit_out(low), subgroup_high = fit_out(high),
  interaction_by_subgroup = c(lr(full, adjusted, 1), list(full = fit_out(full))),
  interaction_continuous = c(lr(cont_full, cont_reduced, 1), list(full = fit_out(cont_full)),
                             list(centre = mean(log(d$serum_nfl))))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "coxph_reference.json")
