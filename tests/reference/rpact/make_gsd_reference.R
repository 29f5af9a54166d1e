# Reference values for mndtrial.design: group-sequential boundaries, spending and stopping probabilities.
# Run from this folder:  Rscript make_gsd_reference.R   (writes gsd_designs.json)
# Software: R with rpact (version recorded in the output files).
suppressMessages(library(rpact))
library(jsonlite)

fractions <- list(
  "2" = list(equal = c(0.5, 1), unequal = c(0.4, 1)),
  "3" = list(equal = c(1, 2, 3) / 3, unequal = c(0.25, 0.6, 1)),
  "4" = list(equal = c(1, 2, 3, 4) / 4, unequal = c(0.2, 0.45, 0.7, 1)),
  "5" = list(equal = c(1, 2, 3, 4, 5) / 5, unequal = c(0.15, 0.35, 0.5, 0.8, 1))
)
efficacy <- list(
  list(typeOfDesign = "asOF"), list(typeOfDesign = "asP"),
  list(typeOfDesign = "asHSD", gammaA = -4), list(typeOfDesign = "asHSD", gammaA = 1),
  list(typeOfDesign = "asKD", gammaA = 3), list(typeOfDesign = "OF"), list(typeOfDesign = "P"),
  list(typeOfDesign = "asUser")
)
futility <- list(
  list(name = "none"),
  list(name = "beta_nonbinding", typeBetaSpending = "bsOF", bindingFutility = FALSE),
  list(name = "beta_binding", typeBetaSpending = "bsP", bindingFutility = TRUE),
  list(name = "beta_hsd_nonbinding", typeBetaSpending = "bsHSD", gammaB = -2, bindingFutility = FALSE),
  list(name = "fixed_nonbinding", bindingFutility = FALSE),
  list(name = "fixed_binding", bindingFutility = TRUE)
)

cases <- list()
for (K in names(fractions)) for (fr in names(fractions[[K]])) for (eff in efficacy) for (fut in futility) {
  t <- fractions[[K]][[fr]]
  k <- length(t)
  if (eff$typeOfDesign %in% c("OF", "P") && grepl("beta", fut$name)) next
  args <- list(kMax = k, alpha = 0.025, beta = 0.2, sided = 1, informationRates = t,
               typeOfDesign = eff$typeOfDesign)
  if (!is.null(eff$gammaA)) args$gammaA <- eff$gammaA
  if (eff$typeOfDesign == "asUser") args$userAlphaSpending <- 0.025 * t^2
  if (grepl("beta", fut$name)) {
    args$typeBetaSpending <- fut$typeBetaSpending
    args$bindingFutility <- fut$bindingFutility
    if (!is.null(fut$gammaB)) args$gammaB <- fut$gammaB
  }
  if (grepl("fixed", fut$name)) {
    args$futilityBounds <- seq(0, 0.5, length.out = k - 1)
    args$bindingFutility <- fut$bindingFutility
  }
  d <- do.call(getDesignGroupSequential, args)
  dc <- getDesignCharacteristics(d)
  h0 <- getPowerAndAverageSampleNumber(d, theta = 0, nMax = 1)
  fb <- d$futilityBounds
  fb[is.na(fb) | fb <= -6] <- NA
  cases[[length(cases) + 1]] <- list(
    id = sprintf("K%s_%s_%s%s_%s", K, fr, eff$typeOfDesign,
                 ifelse(is.null(eff$gammaA), "", paste0("_", eff$gammaA)), fut$name),
    call = args,
    criticalValues = d$criticalValues, stageLevels = d$stageLevels, alphaSpent = d$alphaSpent,
    futilityBounds = fb, betaSpent = if (is.null(d$betaSpent)) NA else d$betaSpent,
    shift = dc$shift, inflationFactor = dc$inflationFactor, power = dc$power,
    rejectionProbabilities = dc$rejectionProbabilities,
    futilityProbabilities = dc$futilityProbabilities,
    averageSampleNumber1 = dc$averageSampleNumber1, averageSampleNumber01 = dc$averageSampleNumber01,
    averageSampleNumber0 = dc$averageSampleNumber0,
    rejectPerStageH0 = as.numeric(h0$rejectPerStage), futilityPerStageH0 = as.numeric(h0$futilityPerStage)
  )
}
write_json(list(software = paste("rpact", packageVersion("rpact"), "on", R.version.string),
                script = "make_gsd_reference.R", cases = cases),
           "gsd_designs.json", digits = NA, auto_unbox = TRUE, pretty = FALSE, na = "null")

