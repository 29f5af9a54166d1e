"""Property: whatever a plan file holds, `AnalysisPlan.from_toml` returns a plan or raises
`ParameterError` (never a pydantic, TOML, Unicode or type error), leaves the file as it was, and
a plan it returns survives the round trip through `to_toml` (what `mndtrial analyze` writes to
OUT/plan.toml). Plans are drawn from the plan's own settings and sections with values of every
TOML type, plus arbitrary text and bytes. A few hundred examples by default, 5,000 when slow.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mndtrial.analysis import AnalysisPlan
from mndtrial.analysis.registry import registered_sections
from mndtrial.errors import ParameterError

SECTIONS = {name: tuple(s.config_model.model_fields) for name, s in registered_sections().items()}
PLAN_KEYS = tuple(k for k in AnalysisPlan.model_fields)
WORDS = ("death", "deth", "csf_pnfh", "log(csf_pnfh)", "sqrt(age)", "log(", "country", "onset_site", "placebo",
         "il2_2miu", "raise", "record", "unadjusted", "adjusted", "stratified", "log", "none", "", " ")

SCALARS = (st.booleans() | st.integers(-10**6, 10**6) | st.integers() | st.floats() | st.sampled_from(WORDS)
           | st.text(max_size=6) | st.datetimes(timezones=st.none()) | st.dates() | st.times()
           | st.sampled_from([0.0, 0.05, 0.5, 1.0, 540.0, 3700.0, float("inf"), -1.0, float("nan")]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(WORDS) | st.text(max_size=4), inner, max_size=3),
                      max_leaves=8)
NUMBER_LISTS = st.lists(st.floats() | st.integers(-10, 5000) | st.sampled_from([0.5, 1 / 3, 3700.0]), max_size=4)


@st.composite
def biomarker_rule(draw) -> dict:
    rule = {}
    for key, values in (("biomarker", st.sampled_from(WORDS) | VALUES), ("name", st.text(max_size=5) | VALUES),
                        ("cutoffs", NUMBER_LISTS | VALUES), ("quantiles", NUMBER_LISTS | VALUES),
                        ("ranges", st.lists(st.lists(st.floats() | st.integers(-5, 5000), min_size=2, max_size=2),
                                            max_size=3) | VALUES), ("colour", VALUES)):
        if draw(st.integers(0, 2)) == 0:
            rule[key] = draw(values)
    return rule


@st.composite
def plan_data(draw) -> dict:
    data: dict = {}
    for key in draw(st.lists(st.sampled_from(PLAN_KEYS + ("colour", "horizon")), max_size=6, unique=True)):
        if key == "biomarker_rules":
            data[key] = draw(st.lists(biomarker_rule(), max_size=3) | VALUES)
        elif key in ("covariates", "strata", "event_types"):
            data[key] = draw(st.lists(st.sampled_from(WORDS) | SCALARS, max_size=3) | VALUES)
        elif key == "at_risk_days":
            data[key] = draw(NUMBER_LISTS | VALUES)
        elif key == "arms":
            data[key] = draw(st.dictionaries(st.sampled_from(["control", "active", "other"]),
                                             st.sampled_from(WORDS) | VALUES, max_size=2) | VALUES)
        elif key == "sections":
            data[key] = draw(st.dictionaries(st.sampled_from(sorted(SECTIONS) + ["nosuch"]), VALUES, max_size=2)
                             | VALUES)
        else:
            data[key] = draw(VALUES)
    for name in draw(st.lists(st.sampled_from(sorted(SECTIONS)), max_size=3, unique=True)):
        fields = SECTIONS[name] + ("nosuch",)
        data[name] = draw(st.dictionaries(st.sampled_from(fields), VALUES | st.lists(st.sampled_from(WORDS), max_size=3),
                                          max_size=3) | VALUES)
    return data


def _toml_bytes(data: dict) -> bytes | None:
    try:
        return tomli_w.dumps(data).encode("utf-8")
    except (TypeError, ValueError):  # e.g. a top-level value TOML cannot hold beside tables
        return None


@st.composite
def plan_files(draw) -> bytes:
    kind = draw(st.sampled_from(["plan", "plan", "plan", "mutated", "text", "bytes"]))
    if kind == "text":
        return draw(st.text(max_size=120)).encode("utf-8", errors="surrogatepass")
    if kind == "bytes":
        return draw(st.binary(max_size=120))
    data = _toml_bytes(draw(plan_data())) or b""
    if kind == "mutated" and data:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\n", b"=", b"[", b"]", b'"', b"\xff", b"inf", b"#"])) + data[at:]
    return data


def check_plan_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.toml"
        path.write_bytes(data)
        before = hashlib.sha256(path.read_bytes()).hexdigest()
        try:
            plan = AnalysisPlan.from_toml(path)
        except ParameterError as exc:
            event("refused")
            assert exc.parameter and "\n" not in str(exc), str(exc)  # the CLI prints it as one line
        else:
            event("accepted")
            assert isinstance(plan, AnalysisPlan)
            again = AnalysisPlan.from_toml_text(plan.to_toml())
            assert again.to_dict() == plan.to_dict() or _has_nan(plan.to_dict())
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def _has_nan(x) -> bool:
    if isinstance(x, float):
        return x != x
    if isinstance(x, dict):
        return any(_has_nan(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return any(_has_nan(v) for v in x)
    return False


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(plan_files())
def test_plan_file_is_a_plan_or_a_parameter_error(data):
    check_plan_file(data)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck))
@given(plan_files())
def test_plan_file_is_a_plan_or_a_parameter_error_5000(data):
    check_plan_file(data)


@pytest.mark.parametrize("text, parameter", [
    ("alpha = 2\n", "alpha"),
    ('sections = "x"\n', "plan"),
    ("sections = [1, 2]\n", "plan"),
    ("horizon_days = nan\n", "horizon_days"),
    ("at_risk_days = [inf]\n", "at_risk_days"),
    ('[[biomarker_rules]]\nbiomarker = "csf_pnfh"\nranges = [[1, nan]]\n', "biomarker_rules.0"),
    ("[survival]\ncox_models = 3\n", "survival.cox_models"),
])
def test_known_bad_plans_are_parameter_errors(text, parameter):
    with pytest.raises(ParameterError) as exc:
        AnalysisPlan.from_toml_text(text)
    assert exc.value.parameter == parameter, str(exc.value)


def test_a_date_where_a_number_belongs_is_a_parameter_error():
    text = tomli_w.dumps({"horizon_days": dt.date(2024, 1, 1)})
    with pytest.raises(ParameterError) as exc:
        AnalysisPlan.from_toml_text(text)
    assert exc.value.parameter == "horizon_days"


def test_a_key_with_a_newline_is_named_on_one_line():
    # found by the 5,000-example property: a TOML key may hold a newline
    with pytest.raises(ParameterError) as exc:
        AnalysisPlan.from_toml_text('[cafs]\n"\\n" = false\n')
    assert "\n" not in str(exc.value) and "[cafs]" in str(exc.value)
