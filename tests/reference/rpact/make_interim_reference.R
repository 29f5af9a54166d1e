# Reference values for mndtrial.design.interim: conditional power and repeated confidence intervals.
# Run from this folder:  Rscript make_interim_reference.R   (writes interim.json)
suppressMessages(library(rpact))
library(jsonlite)
cases <- list()
designs <- list(
  list(kMax = 3, typeOfDesign = "asOF", informationRates = c(0.3, 0.6, 1)),
  list(kMax = 4, typeOfDesign = "asP", informationRates = c(0.25, 0.5, 0.75, 1)),
  list(kMax = 2, typeOfDesign = "asHSD", gammaA = -4, informationRates = c(0.5, 1))
)
for (dc in designs) {
  d <- do.call(getDesignGroupSequential, dc)
  k <- dc$kMax
  max_events <- 200
  events <- max_events * dc$informationRates[1:(k - 1)]
  logranks <- -seq(1.1, 2.3, length.out = k - 1)
  ds <- getDataset(cumulativeEvents = events, cumulativeLogRanks = logranks,
                   cumulativeAllocationRatios = rep(1, k - 1))
  rci <- suppressMessages(getRepeatedConfidenceIntervals(d, ds, directionUpper = FALSE))
  for (stage in 1:(k - 1)) {
    sr <- getStageResults(d, ds, stage = stage, directionUpper = FALSE)
    remaining <- diff(max_events * dc$informationRates)[stage:(k - 1)]
    cp_h1 <- getConditionalPower(sr, nPlanned = remaining, thetaH1 = 0.7)
    cp_obs <- getConditionalPower(sr, nPlanned = remaining)
    cases[[length(cases) + 1]] <- list(
      design_call = dc, stage = stage, events = events[1:stage], logranks = logranks[1:stage],
      remaining_events = remaining, theta_h1 = 0.7,
      conditional_power_h1 = cp_h1$conditionalPower[k], conditional_power_observed = cp_obs$conditionalPower[k],
      observed_theta = cp_obs$thetaH1, rci_lower = rci[1, stage], rci_upper = rci[2, stage],
      effect_size = sr$effectSizes[stage])
  }
}
write_json(list(software = paste("rpact", packageVersion("rpact"), "on", R.version.string),
                script = "make_interim_reference.R", cases = cases),
           "interim.json", digits = NA, auto_unbox = TRUE, na = "null")
