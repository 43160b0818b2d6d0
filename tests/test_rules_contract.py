"""The contract suite: every built-in rule keeps it, and it catches each way a rule can break it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from typer.testing import CliRunner

from coprod_sim.cli.app import app
from coprod_sim.names import STAGES
from coprod_sim.params import Parameters
from coprod_sim.rules import RuleError, available, rule
from coprod_sim.rules.base import Feedback, Screening, expected_shape
from coprod_sim.rules.contract import (
    CHECKS,
    ContractViolation,
    assert_contract,
    cases,
    check_rule,
)
from tests import rules_support

custom = rules_support.custom  # the fixture

BUILT_IN = [(stage, name) for stage in STAGES for name in sorted(available(stage))]


@pytest.mark.parametrize(("stage", "name"), BUILT_IN, ids=[n for _, n in BUILT_IN])
def test_every_built_in_rule_keeps_the_contract(stage, name):
    report = check_rule(name, examples=30)
    assert report.stage == stage
    assert report.ok, report.format()


@given(cases())
def test_generated_towns_are_consistent(case):
    """The towns the suite draws respect what the kernel guarantees its rules."""
    s = case.state
    n, k, a = s.n, len(s.neighbourhoods), len(s.administrations)
    assert 1 <= n and np.all(s.neighbourhoods.size >= 1) and s.neighbourhoods.size.sum() == n
    hood_admin = s.neighbourhoods.administration[s.citizens.neighbourhood]
    assert np.array_equal(s.citizens.administration, hood_admin)
    assert (s.network != s.network.T).nnz == 0 and s.network.diagonal().sum() == 0
    assert np.array_equal(s.degree, np.diff(s.network.indptr))
    for share in (s.peer_active_share, s.coparticipant_share, s.tie_success_share):
        assert share.shape == (n,) and np.all((share >= 0) & (share <= 1))
        assert np.all(share[s.degree == 0] == 0)
    accepted = s.citizens.mode >= 0
    assert np.all(s.citizens.offered[accepted] == s.citizens.mode[accepted])
    assert np.all(np.isin(s.citizens.result[accepted], (1, 2)))
    assert expected_shape("participation", s) == (n, 3)
    assert expected_shape("admin_learning", s) == (a,) and expected_shape("service_quality", s) == (k,)


def _outreach(fn):
    fn.__doc__ = "test rule"
    return fn


@_outreach
def wrong_shape(state, params):
    return np.zeros(state.n + 1)


@_outreach
def wrong_dtype(state, params):
    return np.zeros(state.n, dtype=complex)


@_outreach
def out_of_bounds_when_efficacy_high(state, params):
    return np.where(state.citizens.self_efficacy > 0.99, 1.5, 0.5)


@_outreach
def divides_by_isolated(state, params):
    if np.any(state.degree == 0):
        raise ZeroDivisionError("an isolated citizen")
    return np.zeros(state.n)


@_outreach
def flips_writeable_and_writes(state, params):
    trust = state.citizens.trust
    trust.flags.writeable = True
    trust[:] = 0.5
    return np.zeros(state.n)


@_outreach
def draws_from_global_numpy(state, params):
    return np.random.random(state.n)  # noqa: NPY002


@_outreach
def draws_from_state_rng(state, params):
    return state.rng.random(state.n)


@_outreach
def changes_the_network(state, params):
    net = state.network
    net.data.flags.writeable = True
    net.data[:] = 2.0
    return np.zeros(state.n)


@pytest.mark.parametrize(("fn", "check", "fragment"), [
    (wrong_shape, "output", "output has shape"),
    (wrong_dtype, "output", "dtype complex128"),
    (out_of_bounds_when_efficacy_high, "output", "outside [0, 1]"),
    (divides_by_isolated, "output", "it raised ZeroDivisionError: an isolated citizen"),
    (flips_writeable_and_writes, "inputs unchanged", "state.citizens.trust"),
    (changes_the_network, "inputs unchanged", "state.network.data"),
    (draws_from_global_numpy, "deterministic", "Draw random numbers only from state.rng"),
])
def test_each_kind_of_breach_is_found_and_only_that_one(fn, check, fragment):
    report = check_rule(fn, "outreach", examples=25)
    assert not report.ok
    failure = report.failed(check)
    assert failure is not None, report.format()
    assert fragment in failure.message
    assert "citizen" in failure.example  # the minimal town is described
    assert {f.check for f in report.failures} == {check}, report.format()
    assert f"FAIL  {check}" in report.format()


def test_failures_shrink_to_a_small_town():
    report = check_rule(out_of_bounds_when_efficacy_high, "outreach", examples=60)
    assert report.failed("output").example.startswith("1 citizen,"), report.format()


def test_randomness_from_the_state_generator_is_allowed():
    assert check_rule(draws_from_state_rng, "outreach", examples=30).ok


def test_a_rule_declared_for_its_stage_needs_no_stage_and_a_plain_one_does():
    @rule("service_quality", "contract_test_quality")
    def keep_quality(state, params):
        """Quality stays as it is."""
        return state.neighbourhoods.service_quality.copy()

    try:
        report = check_rule(keep_quality, examples=20)
        assert report.ok and report.stage == "service_quality"
        wrong = check_rule(keep_quality, "outcome", examples=20)
        assert "declared with @rule('service_quality')" in wrong.failed("loads").message
    finally:
        from coprod_sim.rules import registry

        registry._REGISTRY["service_quality"].pop("contract_test_quality", None)
    with pytest.raises(RuleError, match="cannot tell which stage"):
        check_rule(wrong_shape)


def test_same_seed_same_report_and_the_report_names_everything():
    first = check_rule(out_of_bounds_when_efficacy_high, "outreach", examples=30, seed=4)
    again = check_rule(out_of_bounds_when_efficacy_high, "outreach", examples=30, seed=4)
    assert first.format() == again.format()
    text = first.format()
    assert "out_of_bounds_when_efficacy_high" in text and "'outreach'" in text
    for check in CHECKS:
        assert check in text


def test_parameters_anywhere_in_their_bounds_are_tried():
    """A rule that breaks only for some allowed parameter values is caught, and the report
    names the parameter, having put the others back to their defaults."""
    def breaks_at_high_feedback(state, params):
        return np.full(state.n, params["citizens.feedback_strength"] / 2.0)

    report = check_rule(breaks_at_high_feedback, "outreach", examples=100)
    failure = report.failed("output")
    assert failure is not None
    assert "citizens.feedback_strength=" in failure.example
    assert failure.example.count("=") == 1, failure.example
    assert check_rule(breaks_at_high_feedback, "outreach", examples=50, vary_params=False).ok


def test_assert_contract_raises_with_the_report():
    with pytest.raises(ContractViolation, match="output has shape"):
        assert_contract(wrong_shape, "outreach", examples=10)
    assert_contract("mastery_only", examples=10)


def test_structured_outputs_are_checked_field_by_field():
    def unbounded_priority(state, params):
        return Screening(np.ones(state.n), np.linspace(-5, 5, state.n))

    def efficacy_above_one(state, params):
        return Feedback(np.full(state.n, 1.2), state.citizens.trust.copy())

    def plain_array(state, params):
        return np.zeros(state.n)

    assert check_rule(unbounded_priority, "screening", examples=20).ok  # priority is only ranked
    bad = check_rule(efficacy_above_one, "efficacy_feedback", examples=20)
    assert "self_efficacy has values in [1.2, 1.2], outside [0, 1]" in bad.failed("output").message
    flat = check_rule(plain_array, "efficacy_feedback", examples=20)
    assert "it must return Feedback(self_efficacy, trust), got ndarray" in flat.failed("output").message


BROKEN = '''
import numpy as np
from coprod_sim.rules import rule

@rule("participation")
def {name}(state, params):
    """Offers with probability 0.6 in each mode: 1.8 in all."""
    return np.full((state.n, 3), 0.6)

def fine(state, params):
    return np.zeros(state.n)
'''


def test_coprod_rules_check_prints_what_fails_and_exits_2(custom):
    mod = custom(BROKEN.format(name="contract_cli_rule"))
    runner = CliRunner()
    bad = runner.invoke(app, ["rules", "check", f"{mod}:contract_cli_rule", "--examples", "20"])
    assert bad.exit_code == 2
    assert "FAIL  output" in bad.output and "sum to more than 1" in bad.output
    assert "Traceback" not in bad.output
    good = runner.invoke(app, ["rules", "check", f"{mod}:fine", "--stage", "outreach", "--examples", "20"])
    assert good.exit_code == 0, good.output
    assert "ok    deterministic" in good.output
    unknown_stage = runner.invoke(app, ["rules", "check", f"{mod}:fine"])
    assert unknown_stage.exit_code == 2 and "cannot tell which stage" in unknown_stage.output
    missing = runner.invoke(app, ["rules", "check", "not_a_module_zz:f", "--stage", "outcome"])
    assert missing.exit_code == 2 and "module 'not_a_module_zz' not found" in missing.output


def test_coprod_rules_lists_every_stage_rule_and_parameter(custom):
    mod = custom(BROKEN.format(name="listed_custom_rule"))
    result = CliRunner().invoke(app, ["rules", "--import", mod], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    defaults = Parameters()
    for stage in STAGES:
        assert f"{stage}:" in out
        for name in available(stage):
            assert name in out
        assert f"{defaults[f'rules.{stage}']} (default)" in out
    assert "threshold.spread = 0.1" in out and "legitimacy.deterrence = 2.3" in out
    assert "listed_custom_rule" in out and "Offers with probability 0.6" in out
    missing = CliRunner().invoke(app, ["rules", "--import", "not_a_module_zz"])
    assert missing.exit_code == 2 and "not_a_module_zz" in missing.output
