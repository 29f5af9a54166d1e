"""Group-sequential survival sample size against rpact's getSampleSizeSurvival (stored references)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mndtrial.design import group_sequential_design
from mndtrial.design.samplesize import sample_size_survival, schoenfeld_events
from mndtrial.errors import ParameterError

REFERENCE = Path(__file__).parent / "reference" / "rpact"
CASES = json.loads((REFERENCE / "samplesize_survival.json").read_text())["cases"]
_PY = {"kMax": "k_max", "alpha": "alpha", "beta": "beta", "informationRates": "information_rates",
       "typeOfDesign": "type_of_design", "gammaA": "gamma_a", "typeBetaSpending": "type_beta_spending",
       "futilityBounds": "futility_bounds", "bindingFutility": "binding_futility"}
# rpact solves times with its own tolerance (its follow-up of a given 12 months comes back as
# 11.9999959): quantities that pass through that solve are compared at 1e-5 relative.
TIME_RTOL = 1e-5
# Events scale with rpact's shift, which it solves to ~1e-8 relative: 1e-7 relative on events.
EVENTS_RTOL = 1e-7


def _sample_size(case):
    dcall = {_PY[k]: (np.atleast_1d(v).tolist() if k in ("informationRates", "futilityBounds") else v)
             for k, v in case["design_call"].items() if k != "sided"}
    c = case["call"]
    return sample_size_survival(
        group_sequential_design(**dcall), hazard_ratio=c["hazardRatio"], median_control_months=c["median2"],
        accrual_time=np.atleast_1d(c["accrualTime"]).tolist(), accrual_intensity=c.get("accrualIntensity"),
        max_subjects=c.get("maxNumberOfSubjects"), follow_up_time=c.get("followUpTime"),
        dropout_rate_active=c["dropoutRate1"], dropout_rate_control=c["dropoutRate2"],
        dropout_time=c["dropoutTime"], allocation_ratio=c["allocationRatioPlanned"])


# ref: rpact getSampleSizeSurvival (tests/reference/rpact/make_samplesize_reference.R);
# Schoenfeld (1981) events; Lachin & Foulkes (1986) expected events under accrual and dropout.
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_sample_size_equals_rpact(case):
    s = _sample_size(case)
    assert s.events_fixed == pytest.approx(case["eventsFixed"], abs=1e-6)
    assert s.lambda_control == pytest.approx(case["lambda2"], abs=1e-12)
    assert s.max_events == pytest.approx(case["maxNumberOfEvents"], rel=EVENTS_RTOL)
    np.testing.assert_allclose(s.events_per_look, case["cumulativeEventsPerStage"], rtol=EVENTS_RTOL)
    for mine, theirs in (("expected_events_h0", "expectedEventsH0"), ("expected_events_h01", "expectedEventsH01"),
                         ("expected_events_h1", "expectedEventsH1")):
        assert getattr(s, mine) == pytest.approx(case[theirs], rel=EVENTS_RTOL)
    np.testing.assert_allclose(s.hr_efficacy, case["criticalValuesEffectScale"], atol=1e-6, rtol=0)
    if case["futilityBoundsEffectScale"]:
        np.testing.assert_allclose(s.hr_futility, case["futilityBoundsEffectScale"], atol=1e-6, rtol=0)
    assert s.max_subjects == pytest.approx(case["maxNumberOfSubjects"], rel=TIME_RTOL)
    np.testing.assert_allclose(s.analysis_time, case["analysisTime"], rtol=TIME_RTOL)
    np.testing.assert_allclose(s.subjects_per_look, case["numberOfSubjects"], rtol=TIME_RTOL)
    assert s.follow_up_time == pytest.approx(case["followUpTime"], rel=TIME_RTOL)
    assert s.accrual_time == pytest.approx(np.atleast_1d(case["accrualTime"])[-1], rel=TIME_RTOL)
    assert s.expected_subjects_h1 == pytest.approx(case["expectedNumberOfSubjectsH1"], rel=TIME_RTOL)
    assert s.study_duration_h1 == pytest.approx(case["studyDuration"], rel=TIME_RTOL)


def test_schoenfeld_closed_form_and_refusals():
    # ref: Schoenfeld (1981), 4 (z_a + z_b)^2 / log(HR)^2 for 1:1
    z = 1.959963984540054 + 1.2815515655446004
    assert schoenfeld_events(0.7, 0.025, 0.1) == pytest.approx(4 * z**2 / np.log(0.7) ** 2, rel=1e-12)
    d = group_sequential_design(k_max=2)
    with pytest.raises(ParameterError, match="median_control_months"):
        sample_size_survival(d, hazard_ratio=0.7, accrual_intensity=10, follow_up_time=12)
    with pytest.raises(ParameterError, match="max_subjects"):
        sample_size_survival(d, hazard_ratio=0.7, median_control_months=24, accrual_time=[0, 12], max_subjects=50)
