"""Screening measurements of the neurofilaments: the biological level seen through an assay.

The cohort model (`CohortModel.draw`) gives each candidate a *true* CSF-pNfH and serum NfL
(jointly log-normal, correlated, E:L65). A screening test reports the true level times an assay
error: a log-normal factor of mean 1 whose coefficient of variation is the assay's CV
(`[measurement] csf_pnfh_assay_cv`, `serum_nfl_assay_cv`; E:L87-90),

    measured = true · exp(σ·z − σ²/2),   σ² = log(1 + CV²),   z ~ N(0, 1),

so E[measured | true] = true and sd(measured | true) = CV · true. With a retest at screening the
laboratory reports the mean of two independent measurements (CV / √2). An enrichment rule sees
the measured value; the drug's effect stays a function of the true level, so an imprecise or
imperfectly correlated marker misclassifies and dilutes the effect in an enriched trial.

The assay errors come from their own random stream (`assay_rng`), not the cohort's: the same
seed gives the same candidates whatever the CVs, the retest or the marker an enrichment uses.

Example:
    >>> import numpy as np
    >>> true = {"csf_pnfh": np.array([1000.0, 4000.0]), "serum_nfl": np.array([40.0, 90.0])}
    >>> z = np.zeros((2, 2, 2))
    >>> m = screening_values(true, z, {"csf_pnfh": 0.0, "serum_nfl": 0.0}, retest=False)
    >>> m["serum_nfl"].tolist()
    [40.0, 90.0]
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..errors import ParameterError

__all__ = ["MARKERS", "ASSAY_STREAM", "REPLICATES", "assay_factor", "assay_rng", "assay_normals",
           "screening_values", "screening_value", "assay_cvs", "measured_log_normal", "matched_level"]

MARKERS = ("csf_pnfh", "serum_nfl")
ASSAY_STREAM = 1  # spawn-key suffix of the assay stream beside a block's own stream
REPLICATES = 2  # draws per marker and candidate, always, so a retest changes no other draw


def assay_rng(seed: int, key: tuple[int, ...]) -> np.random.Generator:
    """The assay-error stream of the block (or pilot) with spawn key `key`."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(*key, ASSAY_STREAM)))


def assay_normals(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normals (marker, replicate, *shape) for `screening_values`."""
    return rng.standard_normal((len(MARKERS), REPLICATES, *shape))


def assay_factor(z: np.ndarray, cv: float) -> np.ndarray:
    """exp(σz − σ²/2) with σ² = log(1 + cv²): a mean-one factor of coefficient of variation `cv`."""
    if not 0 <= cv < 10:
        raise ParameterError("assay_cv", cv, "must be a coefficient of variation in [0, 10)")
    sigma2 = np.log1p(cv ** 2)
    return np.exp(np.sqrt(sigma2) * z - sigma2 / 2)


def assay_cvs(measurement: Mapping[str, float]) -> dict[str, float]:
    """{marker: CV} from the cohort's `[measurement]` parameters."""
    return {m: float(measurement[f"{m}_assay_cv"]) for m in MARKERS}


def screening_values(true: Mapping[str, np.ndarray], z: np.ndarray, cvs: Mapping[str, float],
                     retest: bool) -> dict[str, np.ndarray]:
    """{marker: measured value}: the true level times the assay factor (the mean of two with `retest`).

    `z` holds `assay_normals` of the candidates' shape. With CV 0 the measured value is the true
    one exactly (the factor is 1.0), the case in which the two markers can be compared exactly.
    """
    return {marker: screening_value(true[marker], z, marker, cvs[marker], retest) for marker in MARKERS}


def screening_value(true: np.ndarray, z: np.ndarray, marker: str, cv: float, retest: bool) -> np.ndarray:
    """One marker's measured value (see `screening_values`); `z` holds both markers' normals."""
    i = MARKERS.index(marker)
    f = assay_factor(z[i, 0], cv)
    if retest:
        f = (f + assay_factor(z[i, 1], cv)) / 2
    return true * f


def measured_log_normal(log_mean: float, log_sd: float, cv: float, retest: bool) -> tuple[float, float]:
    """(log-mean, log-sd) of the measured marker: exact for one measurement (the product of two
    log-normals); with a retest, the mean of two factors is matched by its mean (1) and CV (cv/√2)."""
    sigma2 = np.log1p(cv ** 2 / (2 if retest else 1))
    return float(log_mean - sigma2 / 2), float(np.sqrt(log_sd ** 2 + sigma2))


def matched_level(value: float, source: str, target: str, cohort: Mapping[str, float],
                  measurement: Mapping[str, float], retest: bool = False) -> float:
    """The `target` marker's measured level at the cohort quantile of `source`'s measured `value`.

    A cut-off on the CSF-pNfH scale becomes the serum NfL cut-off that selects the same share of
    the (unscreened) cohort: both measured markers are log-normal (`measured_log_normal`), so
    log t = μ_t + σ_t (log v − μ_s) / σ_s. 0 and inf map to themselves.

    Example:
        >>> from mndtrial.sim import load_parameters
        >>> p = load_parameters()
        >>> round(matched_level(3700.0, "csf_pnfh", "serum_nfl", p.section("cohort"), p.section("measurement")))
        94
    """
    for name, marker in (("source", source), ("target", target)):
        if marker not in MARKERS:
            raise ParameterError(name, marker, f"must be one of {MARKERS}")
    if not value >= 0:
        raise ParameterError("value", value, "a level must be >= 0 pg/mL")
    if source == target or value == 0 or np.isinf(value):
        return float(value)
    mu_s, sd_s = measured_log_normal(cohort[f"{source}_log_mean"], cohort[f"{source}_log_sd"],
                                     measurement[f"{source}_assay_cv"], retest)
    mu_t, sd_t = measured_log_normal(cohort[f"{target}_log_mean"], cohort[f"{target}_log_sd"],
                                     measurement[f"{target}_assay_cv"], retest)
    return float(np.exp(mu_t + sd_t * (np.log(value) - mu_s) / sd_s))
