"""The parameter tree: declarations, validation, overrides."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coprod_sim import params as P
from coprod_sim.params import ParameterError, Parameters, parse_assignments, spec


def test_every_parameter_is_fully_declared():
    for key in P.iter_keys():
        s = spec(key)
        assert s.description and s.description[0].isupper(), key
        assert s.unit, key
        # The default itself passes validation: the tree is self-consistent.
        assert s.coerce(key, s.default) == s.default
        if s.kind in (int, float):
            assert s.low is not None and s.high is not None, f"{key} needs bounds"


def test_groups_are_the_documented_ones():
    for group in ("population", "network", "citizens", "administration", "policy", "simulation", "rules"):
        assert group in P.TREE


def test_defaults_and_attribute_access():
    p = Parameters()
    assert p.citizens.efficacy_weight == spec("citizens.efficacy_weight").default
    assert p["policy.outreach"] == "none"
    assert p.changed() == {}


def test_override_and_replace_are_validated_and_immutable():
    p = Parameters({"policy.outreach": "universal"})
    q = p.replace(policy__outreach_rate=0.1)
    assert p.policy.outreach_rate == spec("policy.outreach_rate").default
    assert q.changed() == {"policy.outreach": "universal", "policy.outreach_rate": 0.1}


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("citizens.efficacy_weight", 99, "out of bounds"),
        ("citizens.efficacy_weight", -1, "out of bounds"),
        ("population.n_citizens", 2.5, "wrong type"),
        ("population.n_citizens", "many", "wrong type"),
        ("policy.outreach", "everyone", "not allowed"),
        ("citizens.mastery_gain", float("nan"), "not allowed"),
    ],
)
def test_bad_values_name_key_and_allowed(key, value, fragment):
    with pytest.raises(ParameterError) as err:
        Parameters({key: value})
    msg = str(err.value)
    assert key in msg and fragment in msg
    assert err.value.key == key


def test_unknown_key_suggests_the_closest():
    with pytest.raises(ParameterError, match=r"Did you mean 'citizens\.mastery_gain'"):
        Parameters({"citizens.mastery_gian": 0.1})


def test_inconsistent_bounds_are_rejected():
    with pytest.raises(ParameterError, match="risk_aversion_min"):
        Parameters({"administration.risk_aversion_min": 0.9, "administration.risk_aversion_max": 0.1})


def test_parse_assignments_types_values_like_toml():
    out = parse_assignments(["population.n_citizens=300", "policy.outreach=universal",
                             "citizens.feedback_strength=0"])
    assert out == {"population.n_citizens": 300, "policy.outreach": "universal",
                   "citizens.feedback_strength": 0.0}
    assert isinstance(out["citizens.feedback_strength"], float)
    with pytest.raises(ParameterError, match=r"dotted\.key=value"):
        parse_assignments(["policy.outreach"])


numeric_keys = [k for k in P.iter_keys() if spec(k).kind in (int, float)]


@given(key=st.sampled_from(numeric_keys), x=st.floats(allow_nan=False, allow_infinity=False))
def test_coerce_accepts_exactly_the_declared_range(key, x):
    s = spec(key)
    value = round(x) if s.kind is int else x
    inside = s.low <= value <= s.high
    if key.startswith("administration.risk_aversion_m"):
        return  # tied to its partner by a consistency check
    try:
        got = Parameters({key: value})[key]
    except ParameterError:
        assert not inside
    else:
        assert inside and math.isclose(got, value)


def test_describe_lists_every_key():
    rows = P.describe()
    assert [r["key"] for r in rows] == list(P.iter_keys())


def test_parameter_reference_is_up_to_date():
    """docs/parameters.md is generated from the tree; regenerate it when the tree changes."""
    from pathlib import Path

    from coprod_sim.docgen.paramdocs import parameters_markdown

    doc = Path(__file__).resolve().parents[1] / "docs" / "parameters.md"
    assert doc.read_text() == parameters_markdown(), (
        "docs/parameters.md is stale: run"
        " `.venv/bin/python -m coprod_sim.docgen.paramdocs > docs/parameters.md`")
