"""The neurofilament estimates on the true-level scale: the assay error taken out.

A trial records each participant's *measured* baseline CSF-pNfH and serum NfL; the simulator's
`[cohort]` parameters describe the *true* levels, measured through a log-normal assay error of
CV `measurement.<marker>_assay_cv` (`mndtrial.sim.measurement`). One measurement per participant
cannot separate the two, so the CVs are kept from the defaults and the moments are corrected
with them (σ² = log(1 + CV²) the assay's log-variance):

    true log-mean = measured log-mean + σ²/2,     true log-sd² = measured log-sd² − σ²,
    true corr = measured corr × (product of measured log-sds) / (product of true log-sds),

and the later serum NfL samples, compared with a measured baseline, have
E[log(sample/baseline)²] = visit_sd² + σ² + σ⁴/4.

Example:
    >>> from mndtrial.sim.fit_cohort.estimate import Estimate
    >>> e = [Estimate("cohort.serum_nfl_log_sd", 0.5, 0.01, "sd of log serum NfL", 100)]
    >>> round(without_assay_error(e, {"csf_pnfh": 0.0, "serum_nfl": 0.3})[0].value, 4)
    0.4047
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

import numpy as np

from ...errors import AnalysisError
from .estimate import Estimate

__all__ = ["without_assay_error"]


def without_assay_error(estimates: list[Estimate], cvs: Mapping[str, float]) -> list[Estimate]:
    """The estimates with the neurofilament moments moved to the true-level scale (see above)."""
    s2 = {m: float(np.log1p(cv ** 2)) for m, cv in cvs.items()}
    by = {e.parameter: e for e in estimates}
    sd_meas, sd_true, out = {}, {}, {}
    note = lambda m: f"; corrected for the assay CV {cvs[m]:g} (measurement.{m}_assay_cv)"  # noqa: E731
    for m in ("csf_pnfh", "serum_nfl"):
        sd_key, mean_key = f"cohort.{m}_log_sd", f"cohort.{m}_log_mean"
        if sd_key not in by or s2[m] == 0:
            continue
        sd = by[sd_key].value
        if sd ** 2 <= s2[m]:
            raise AnalysisError("calibrate", f"the log-sd of baseline {m} ({sd:.3g}) is no larger than the assay's "
                                             f"({np.sqrt(s2[m]):.3g}); lower measurement.{m}_assay_cv")
        sd_meas[m], sd_true[m] = sd, float(np.sqrt(sd ** 2 - s2[m]))
        out[sd_key] = replace(by[sd_key], value=sd_true[m], estimator=by[sd_key].estimator + note(m))
        if mean_key in by:
            out[mean_key] = replace(by[mean_key], value=by[mean_key].value + s2[m] / 2,
                                    estimator=by[mean_key].estimator + note(m))
    ratio = {m: sd_meas[m] / sd_true[m] for m in sd_meas}
    for key, markers in (("cohort.corr_pnfh_nfl", ("csf_pnfh", "serum_nfl")), ("cohort.corr_pnfh_delta_fs", ("csf_pnfh",))):
        if key not in by or not any(m in ratio for m in markers):
            continue
        r = by[key].value * float(np.prod([ratio.get(m, 1.0) for m in markers]))
        if abs(r) > 1:
            raise AnalysisError("calibrate", f"{key} corrected for the assay error is {r:.3f}, outside [-1, 1]: the "
                                             "assay CVs in [measurement] are too large for these data")
        out[key] = replace(by[key], value=r, estimator=by[key].estimator + " (disattenuated for the assay error)")
    visit = "measurement.serum_nfl_visit_log_sd"
    if visit in by and s2.get("serum_nfl", 0) > 0:
        s = s2["serum_nfl"]
        v2 = by[visit].value ** 2 - s - s ** 2 / 4
        if v2 <= 0:
            raise AnalysisError("calibrate", "the later serum NfL samples vary less around the baseline than the "
                                             "assay alone would make them; lower measurement.serum_nfl_assay_cv")
        out[visit] = replace(by[visit], value=float(np.sqrt(v2)), estimator=by[visit].estimator + note("serum_nfl"))
    return [out.get(e.parameter, e) for e in estimates]
