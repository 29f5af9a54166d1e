# Reference values for mndtrial.design.samplesize: rpact's getSampleSizeSurvival on group-sequential designs.
# Run from this folder:  Rscript make_samplesize_reference.R   (writes samplesize_survival.json)
suppressMessages(library(rpact))
library(jsonlite)

# Sample size for survival (getSampleSizeSurvival) on a few designs.
ss_cases <- list()
ss_designs <- list(
  list(kMax = 2, typeOfDesign = "asOF", informationRates = c(0.5, 1)),
  list(kMax = 3, typeOfDesign = "asP", informationRates = c(0.3, 0.6, 1)),
  list(kMax = 3, typeOfDesign = "asOF", informationRates = c(1, 2, 3) / 3, typeBetaSpending = "bsOF",
       bindingFutility = FALSE),
  list(kMax = 4, typeOfDesign = "asHSD", gammaA = -4, informationRates = c(0.25, 0.5, 0.75, 1)),
  list(kMax = 5, typeOfDesign = "asOF", informationRates = c(0.15, 0.35, 0.5, 0.8, 1),
       futilityBounds = c(-0.5, 0, 0.25, 0.5), bindingFutility = TRUE)
)
ss_settings <- list(
  list(hazardRatio = 0.7, median2 = 24, accrualTime = 0, accrualIntensity = 20, followUpTime = 12,
       dropoutRate1 = 0.05, dropoutRate2 = 0.05, dropoutTime = 12, allocationRatioPlanned = 1),
  list(hazardRatio = 0.65, median2 = 18, accrualTime = c(0, 18), maxNumberOfSubjects = 600,
       dropoutRate1 = 0.1, dropoutRate2 = 0.08, dropoutTime = 12, allocationRatioPlanned = 2),
  list(hazardRatio = 0.75, median2 = 30, accrualTime = c(0, 12), accrualIntensity = c(10, 25),
       followUpTime = 18, dropoutRate1 = 0, dropoutRate2 = 0, dropoutTime = 12, allocationRatioPlanned = 1)
)
for (i in seq_along(ss_designs)) for (j in seq_along(ss_settings)) {
  dargs <- c(ss_designs[[i]], list(alpha = 0.025, beta = 0.1, sided = 1))
  d <- do.call(getDesignGroupSequential, dargs)
  sargs <- ss_settings[[j]]
  s <- do.call(getSampleSizeSurvival, c(list(design = d), sargs))
  ss_cases[[length(ss_cases) + 1]] <- list(
    id = sprintf("design%d_setting%d", i, j), design_call = dargs, call = sargs,
    maxNumberOfEvents = s$maxNumberOfEvents, cumulativeEventsPerStage = as.numeric(s$eventsPerStage),
    expectedEventsH0 = s$expectedEventsH0, expectedEventsH01 = s$expectedEventsH01,
    expectedEventsH1 = s$expectedEventsH1, maxNumberOfSubjects = s$maxNumberOfSubjects,
    analysisTime = as.numeric(s$analysisTime), studyDuration = s$studyDuration,
    maxStudyDuration = s$maxStudyDuration, followUpTime = s$followUpTime,
    accrualTime = s$accrualTime, expectedNumberOfSubjectsH1 = s$expectedNumberOfSubjectsH1,
    numberOfSubjects = as.numeric(s$numberOfSubjects),
    criticalValuesEffectScale = as.numeric(s$criticalValuesEffectScale),
    futilityBoundsEffectScale = if (is.null(s$futilityBoundsEffectScale)) NA else as.numeric(s$futilityBoundsEffectScale),
    lambda1 = s$lambda1, lambda2 = s$lambda2, eventsFixed = s$eventsFixed
  )
}
write_json(list(software = paste("rpact", packageVersion("rpact"), "on", R.version.string),
                script = "make_gsd_reference.R", cases = ss_cases),
           "samplesize_survival.json", digits = NA, auto_unbox = TRUE, pretty = FALSE, na = "null")
