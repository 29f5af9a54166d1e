# Reference values for mndtrial.design.stagewise / design.dmc: what a DMC statistician computes
# with rpact at an interim and at the final analysis of a group-sequential or inverse-normal
# survival trial, and the closed test of an adaptive-enrichment survival trial (S1 and F).
# Run from this folder:  Rscript make_dmc_reference.R   (writes dmc_analysis.json)
suppressMessages(library(rpact))
library(jsonlite)
na <- function(x) if (is.null(x)) NA else x
gs_cases <- list()
designs <- list(
  list(typeOfDesign = "asOF"),
  list(typeOfDesign = "asP"),
  list(typeOfDesign = "asOF", typeBetaSpending = "bsOF", bindingFutility = TRUE, beta = 0.2),
  list(typeOfDesign = "asOF", typeBetaSpending = "bsP", bindingFutility = FALSE, beta = 0.1)
)
# cumulative events and log-rank statistics (directionUpper = FALSE: negative = benefit)
scenarios <- list(
  list(name = "stop_look2", events = c(110, 205), logranks = c(-1.9, -3.4), final = FALSE),
  list(name = "final_reject", events = c(95, 190, 301), logranks = c(-1.2, -1.7, -2.35), final = TRUE),
  list(name = "final_no_reject", events = c(102, 198, 296), logranks = c(-0.8, -1.1, -1.5), final = TRUE),
  list(name = "final_4looks", events = c(70, 150, 222, 310), logranks = c(-0.9, -1.6, -2.1, -2.6), final = TRUE),
  list(name = "stop_look1", events = c(100), logranks = c(-3.9), final = FALSE),
  list(name = "interim_continue", events = c(100, 205), logranks = c(-1.3, -1.6), final = FALSE)
)
max_events <- 300
for (kind in c("groupSequential", "inverseNormal")) {
for (dc in designs) for (sc in scenarios) {
  k <- length(sc$events)
  kmax <- if (sc$name == "final_4looks") 4 else 3
  if (sc$final) {
    rates <- sc$events / sc$events[k]
  } else {
    rates <- c(sc$events / max_events, if (k < kmax) seq(k + 1, kmax) / kmax)
    rates[rates > 1] <- 1
  }
  args <- c(dc, list(kMax = kmax, informationRates = rates))
  if (!is.null(dc$typeBetaSpending) && kind == "inverseNormal") next
  d <- if (kind == "groupSequential") do.call(getDesignGroupSequential, args) else do.call(getDesignInverseNormal, args)
  if (kind == "groupSequential") {
    ds <- getDataset(cumulativeEvents = sc$events, cumulativeLogRanks = sc$logranks,
                     cumulativeAllocationRatios = rep(1, k))
  } else {
    # stage-wise statistics from the cumulative ones (independent increments)
    stage_events <- diff(c(0, sc$events))
    stage_lr <- (sqrt(sc$events) * sc$logranks - sqrt(c(0, sc$events[-k])) * c(0, sc$logranks[-k])) / sqrt(stage_events)
    ds <- getDataset(events = stage_events, logRanks = stage_lr, allocationRatios = rep(1, k))
  }
  n_planned <- if (k < kmax) diff(max_events * rates)[k:(kmax - 1)] else NA_real_
  if (k < kmax) n_planned <- diff(c(sc$events[k], max_events * (seq(k + 1, kmax) / kmax)))
  sr <- suppressMessages(getStageResults(d, ds, directionUpper = FALSE))
  cp_h1 <- if (k < kmax) suppressMessages(getConditionalPower(sr, nPlanned = n_planned, thetaH1 = 0.7)) else NULL
  res_obs <- if (k < kmax) suppressMessages(getConditionalPower(sr, nPlanned = n_planned)) else NULL
  # getAnalysisResults (slow: repeated p-values) once per kind, to show it gives the same numbers
  full <- sc$name == "final_reject" && identical(dc$typeOfDesign, "asOF") && is.null(dc$typeBetaSpending)
  res <- if (full) suppressMessages(suppressWarnings(getAnalysisResults(d, ds, directionUpper = FALSE))) else NULL
  rci <- if (kind == "inverseNormal") suppressMessages(getRepeatedConfidenceIntervals(d, ds, directionUpper = FALSE)) else NULL
  fci <- suppressMessages(getFinalConfidenceInterval(d, ds, directionUpper = FALSE, tolerance = 1e-12))
  fp <- suppressMessages(getFinalPValue(sr))
  gs_cases[[length(gs_cases) + 1]] <- list(
    kind = kind, scenario = sc$name, design_call = args, events = sc$events, logranks = sc$logranks,
    stage_events = if (kind == "inverseNormal") stage_events else NULL,
    stage_logranks = if (kind == "inverseNormal") stage_lr else NULL,
    critical_values = d$criticalValues, futility_bounds = d$futilityBounds,
    final_stage = na(fp$finalStage), final_p_value = na(fp$pFinal),
    final_p_value_analysis = if (full) res$finalPValues[k] else NULL,
    median_unbiased_analysis = if (full) res$medianUnbiasedEstimates[k] else NULL,
    rci_lower_analysis = if (full) res$repeatedConfidenceIntervalLowerBounds[1:k] else NULL,
    rci_upper_analysis = if (full) res$repeatedConfidenceIntervalUpperBounds[1:k] else NULL,
    median_unbiased = na(fci$medianUnbiased), final_ci_lower = na(fci$finalConfidenceInterval[1]),
    final_ci_upper = na(fci$finalConfidenceInterval[2]),
    rci_lower = if (!is.null(rci)) rci[1, 1:k] else NULL,
    rci_upper = if (!is.null(rci)) rci[2, 1:k] else NULL,
    n_planned = if (k < kmax) n_planned else NULL,
    conditional_power_h1 = if (k < kmax) cp_h1$conditionalPower[kmax] else NULL,
    conditional_power_observed = if (k < kmax) res_obs$conditionalPower[kmax] else NULL,
    observed_theta = if (k < kmax) res_obs$thetaH1 else NULL)
}}

# Beta-spending futility bounds recomputed at the observed information: the design at
# informationRates = observed events / maximum events for the looks done, planned ones after.
fut_cases <- list()
for (fc in list(list(typeBetaSpending = "bsOF", binding = FALSE, planned = c(0.3, 0.6, 1), observed = c(100)),
                list(typeBetaSpending = "bsOF", binding = FALSE, planned = c(0.3, 0.6, 1), observed = c(100, 168)),
                list(typeBetaSpending = "bsP", binding = TRUE, planned = c(0.3, 0.6, 1), observed = c(80, 195)),
                list(typeBetaSpending = "bsHSD", gammaB = -2, binding = FALSE, planned = c(0.25, 0.5, 0.75, 1), observed = c(70, 160)),
                list(typeBetaSpending = "bsOF", binding = TRUE, planned = c(0.5, 1), observed = c(163)))) {
  k <- length(fc$observed)
  rates <- c(fc$observed / 320, fc$planned[(k + 1):length(fc$planned)])
  args <- list(kMax = length(rates), typeOfDesign = "asOF", informationRates = rates, beta = 0.1,
               typeBetaSpending = fc$typeBetaSpending, bindingFutility = fc$binding)
  if (!is.null(fc$gammaB)) args$gammaB <- fc$gammaB
  d <- do.call(getDesignGroupSequential, args)
  fut_cases[[length(fut_cases) + 1]] <- list(design_call = args, planned_rates = fc$planned,
    observed_events = fc$observed, max_events = 320, critical_values = d$criticalValues,
    futility_bounds = d$futilityBounds)
}

# Adaptive enrichment (S1 within F), inverse-normal design, stage-wise stratified log-ranks.
enr_cases <- list()
dn <- getDesignInverseNormal(kMax = 2, typeOfDesign = "asOF", informationRates = c(0.5, 1))
for (test in c("Simes", "Bonferroni", "Sidak", "SpiessensDebois")) {
  for (sc in list(list(name = "both", es = c(40, 36), ls = c(-1.6, -1.4), ef = c(130, 112), lf = c(-1.1, -0.9)),
                  list(name = "both_reject", es = c(42, 45), ls = c(-2.2, -2.4), ef = c(128, 120), lf = c(-2.0, -2.1)),
                  list(name = "s_only", es = c(44, 70), ls = c(-2.1, -2.5), ef = c(131, NA), lf = c(-0.6, NA)),
                  list(name = "interim", es = c(44), ls = c(-2.1), ef = c(131), lf = c(-1.7)))) {
    S1 <- getDataset(events = sc$es, logRanks = sc$ls, allocationRatios = rep(1, length(sc$es)))
    Fd <- getDataset(events = sc$ef, logRanks = sc$lf, allocationRatios = ifelse(is.na(sc$ef), NA, 1))
    ds <- getDataset(S1 = S1, F = Fd)
    sr <- suppressMessages(getStageResults(dn, ds, intersectionTest = test, directionUpper = FALSE,
                                           stratifiedAnalysis = TRUE))
    ct <- suppressMessages(getClosedCombinationTestResults(sr))
    k <- length(sc$es)
    enr_cases[[length(enr_cases) + 1]] <- list(
      intersection_test = test, scenario = sc$name, events_s = sc$es, logranks_s = sc$ls,
      events_f = sc$ef, logranks_f = sc$lf, critical_values = dn$criticalValues,
      weights = dn$informationRates,
      separate_p = ct$separatePValues[, 1:k, drop = FALSE],
      adjusted_stage_p = ct$adjustedStageWisePValues[, 1:k, drop = FALSE],
      overall_adjusted_z = ct$overallAdjustedTestStatistics[, 1:k, drop = FALSE],
      rejected = ct$rejected[, 1:k, drop = FALSE],
      rejected_intersections = ct$rejectedIntersections[, 1:k, drop = FALSE],
      hypotheses = apply(ct$indices, 1, paste, collapse = ""))
  }
}
write_json(list(software = paste("rpact", packageVersion("rpact"), "on", R.version.string),
                script = "make_dmc_reference.R", group_sequential = gs_cases, futility = fut_cases,
                enrichment = enr_cases),
           "dmc_analysis.json", digits = NA, auto_unbox = TRUE, na = "null", matrix = "rowmajor")
