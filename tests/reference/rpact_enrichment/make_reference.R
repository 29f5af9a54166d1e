# Reference operating characteristics of two-stage adaptive enrichment (S and F = S + R) from
# rpact's getSimulationEnrichmentSurvival, for tests/test_power_enrichment_rpact.py.
# Run from this folder: Rscript make_reference.R   (writes rpact_enrichment.csv)
library(rpact)
design <- getDesignInverseNormal(kMax = 2, alpha = 0.025, typeOfDesign = "OF", informationRates = c(0.5, 1))
configs <- list(
  list(name = "simes_best", intersectionTest = "Simes", typeOfSelection = "best", epsilonValue = NA_real_,
       threshold = -Inf, successCriterion = "all"),
  list(name = "spiessens_epsilon", intersectionTest = "SpiessensDebois", typeOfSelection = "epsilon",
       epsilonValue = 0.1, threshold = 1, successCriterion = "atLeastOne"),
  list(name = "bonferroni_all", intersectionTest = "Bonferroni", typeOfSelection = "all", epsilonValue = NA_real_,
       threshold = -Inf, successCriterion = "all"),
  # stage-2 events re-estimated for conditional power 0.8 at the observed effect, 100 to 400
  list(name = "simes_best_cp", intersectionTest = "Simes", typeOfSelection = "best", epsilonValue = NA_real_,
       threshold = -Inf, successCriterion = "all", conditionalPower = 0.8,
       minNumberOfEventsPerStage = c(150, 100), maxNumberOfEventsPerStage = c(150, 400))
)
hazard_ratios <- c(1, 0.75)  # the same in S and in R
iterations <- 10000
rows <- list()
for (cfg in configs) {
  sim <- getSimulationEnrichmentSurvival(
    design = design,
    effectList = list(subGroups = c("S", "R"), prevalences = c(0.5, 0.5),
                      hazardRatios = matrix(rep(hazard_ratios, each = 2), ncol = 2, byrow = TRUE)),
    plannedEvents = c(150, 300), directionUpper = FALSE, stratifiedAnalysis = TRUE,
    typeOfSelection = cfg$typeOfSelection, epsilonValue = cfg$epsilonValue, threshold = cfg$threshold,
    intersectionTest = cfg$intersectionTest, successCriterion = cfg$successCriterion,
    conditionalPower = if (is.null(cfg$conditionalPower)) NA_real_ else cfg$conditionalPower,
    minNumberOfEventsPerStage = if (is.null(cfg$minNumberOfEventsPerStage)) NA_real_ else cfg$minNumberOfEventsPerStage,
    maxNumberOfEventsPerStage = if (is.null(cfg$maxNumberOfEventsPerStage)) NA_real_ else cfg$maxNumberOfEventsPerStage,
    maxNumberOfIterations = iterations, seed = 20261203)
  for (i in seq_along(hazard_ratios)) {
    rej <- sim$rejectedPopulationsPerStage[, i, ]  # stage x population (S, F)
    rows[[length(rows) + 1]] <- data.frame(
      config = cfg$name, hazard_ratio = hazard_ratios[i], iterations = iterations,
      reject_any = sim$rejectAtLeastOne[i], reject_s = sum(rej[, 1]), reject_f = sum(rej[, 2]),
      reject_s_at_interim = rej[1, 1], reject_f_at_interim = rej[1, 2],
      selected_s = sim$selectedPopulations[2, i, 1], selected_f = sim$selectedPopulations[2, i, 2],
      success_stop_1 = sim$successPerStage[1, i], futility_stop_1 = sim$futilityPerStage[1, i],
      expected_events = sim$expectedNumberOfEvents[i],
      critical_z_1 = design$criticalValues[1], critical_z_2 = design$criticalValues[2])
  }
}
out <- do.call(rbind, rows)
write.csv(out, "rpact_enrichment.csv", row.names = FALSE)
cat("rpact", as.character(packageVersion("rpact")), "R", R.version$major, R.version$minor, "\n")
