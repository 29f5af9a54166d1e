# Reproduces the R values stored in tests/reference/ (r-outputs.md, follow-up medians).
# Run from the repository root:  Rscript tests/reference/reference.R > tests/reference/reference.Rout
# The tests read the stored values; they never need R.
suppressMessages({library(survival); library(lme4)})
cat(R.version.string, "\n")
cat("survival", format(packageVersion("survival")), "| lme4", format(packageVersion("lme4")), "\n\n")

cat("## lme4 sleepstudy: lmer(Reaction ~ Days + (Days | Subject)), REML\n")
ss <- read.csv("tests/reference/data/sleepstudy.csv")
ss$Subject <- factor(ss$Subject)
cat("data/sleepstudy.csv equals lme4::sleepstudy:", isTRUE(all.equal(ss$Reaction, lme4::sleepstudy$Reaction)), "\n")
fm <- lmer(Reaction ~ Days + (Days | Subject), ss)
print(summary(fm)$coefficients, digits = 10)
print(VarCorr(fm), comp = c("Variance", "Std.Dev."))
cat("REML criterion:", format(REMLcrit(fm), digits = 10), "\n\n")

cat("## survival lung: coxph(Surv(time, status) ~ age + sex)\n")
fit <- coxph(Surv(time, status) ~ age + sex, data = lung)
print(summary(fit)$coefficients, digits = 10)
cat("\n## survival rossi: coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio)\n")
print(summary(coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio,
                    data = carData::Rossi))$coefficients, digits = 7)

cat("\n## Median follow-up of lung by the reverse Kaplan-Meier (censoring is the event)\n")
cat("survfit(Surv(time, 2 - status) ~ sex, data = lung) (status 2 = dead, so 2 - status = 1 when censored)\n")
print(summary(survfit(Surv(time, 2 - status) ~ sex, data = lung))$table[, c("records", "events", "median")])
print(summary(survfit(Surv(time, 2 - status) ~ 1, data = lung))$table[c("records", "events", "median")])
cat("observed-time medians tapply(time, sex, median):\n")
print(tapply(lung$time, lung$sex, median))
cat("overall:", median(lung$time), "\n")
