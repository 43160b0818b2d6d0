"""The alternative rules beside the defaults: their equations' behaviour, and fact F12 (docs/facts.md)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coprod_sim.names import MODES
from coprod_sim.params import Parameters
from coprod_sim.rules import alternatives as alt
from coprod_sim.rules import defaults
from coprod_sim.rules.contract import cases
from coprod_sim.run import run
from coprod_sim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = Parameters()


def with_citizens(state, **arrays):
    """A copy of ``state`` with some citizens' arrays replaced."""
    return dataclasses.replace(state, citizens=dataclasses.replace(state.citizens, **arrays))


def joins(p: np.ndarray) -> np.ndarray:
    assert np.all((p == 0) | (p == 1)) and np.all(p.sum(axis=1) <= 1)
    return p.sum(axis=1) == 1


# ----------------------------------------------------------------------------- threshold
@given(cases(vary_params=False), st.floats(0.0, 1.0), st.sampled_from(MODES))
def test_threshold_spread_zero_joins_exactly_those_who_see_the_mean(case, mean, mode):
    params = DEFAULTS.replace({"threshold.mean": mean, "threshold.spread": 0.0, "threshold.mode": mode})
    p = alt.granovetter_threshold(case.state, params)
    assert np.array_equal(joins(p), case.state.peer_active_share >= mean)
    others = [m for m in range(3) if MODES[m] != mode]
    assert np.all(p[:, others] == 0)


@given(cases(vary_params=False), st.floats(0.0, 0.5), st.floats(0.0, 0.5))
def test_threshold_more_active_ties_never_make_anyone_leave(case, spread, extra):
    params = DEFAULTS.replace({"threshold.spread": spread})
    before = joins(alt.granovetter_threshold(case.state, params))
    busier = dataclasses.replace(case.state,
                                 peer_active_share=np.minimum(1.0, case.state.peer_active_share + extra))
    after = joins(alt.granovetter_threshold(busier, params))
    assert np.all(after[before])


@given(cases(vary_params=False), st.floats(0.01, 0.5))
def test_threshold_instigators_start_from_nobody(case, spread):
    """With no tie active, exactly the citizens whose threshold mean + spread z is <= 0 join."""
    quiet = dataclasses.replace(case.state, peer_active_share=np.zeros(case.state.n))
    params = DEFAULTS.replace({"threshold.spread": spread})
    z = case.state.citizens.disposition
    assert np.array_equal(joins(alt.granovetter_threshold(quiet, params)), 0.25 + spread * z <= 0)


def test_threshold_spread_sweep_tips_as_granovetter_found():
    """Fact F12 on the shipped scenario: final participation jumps from near 0 to near 1 within
    a narrow band of spread, 0.10-0.14 at mean 0.25 (one replication per spread)."""
    scenario = load_scenario(ROOT / "scenarios" / "threshold_spread.toml")
    assert scenario.base_parameters()["rules.participation"] == "granovetter_threshold"
    final = {}
    for point in range(scenario.n_points):
        chosen = scenario.run_at(point, 0)
        result = run(chosen.params, chosen.seed, replication=chosen.replication,
                     record_neighbourhoods=False)
        final[chosen.params["threshold.spread"]] = result.timeseries["participation"].iloc[-1]
    spreads = sorted(final)
    levels = np.array([final[s] for s in spreads])
    assert spreads[0] == 0.0 and spreads[-1] == pytest.approx(0.3)
    assert all(final[s] < 0.05 for s in spreads if s <= 0.10), final
    assert all(final[s] > 0.95 for s in spreads if s >= 0.14), final
    jumps = np.diff(levels)
    # sharp: most of the rise happens between two neighbouring spreads (0.02 apart)
    assert jumps.max() > 0.35, final
    tip = spreads[int(np.argmax(jumps)) + 1]
    assert 0.10 < tip <= 0.14, final


# ----------------------------------------------------------------------------- legitimacy
@given(cases(vary_params=False), st.floats(0.01, 0.5))
def test_legitimacy_distrust_and_efficacy_move_citizens_to_act(case, delta):
    """Grievance rises as trust (legitimacy) falls; net risk falls as self-efficacy rises."""
    state = case.state
    c = state.citizens
    base = joins(alt.legitimacy_grievance(state, DEFAULTS))
    distrust = with_citizens(state, trust=np.maximum(0.0, c.trust - delta))
    bolder = with_citizens(state, self_efficacy=np.minimum(1.0, c.self_efficacy + delta))
    assert np.all(joins(alt.legitimacy_grievance(distrust, DEFAULTS))[base])
    assert np.all(joins(alt.legitimacy_grievance(bolder, DEFAULTS))[base])
    admins = state.administrations
    vigilant = dataclasses.replace(state, administrations=dataclasses.replace(
        admins, risk_aversion=np.minimum(1.0, admins.risk_aversion + delta)))
    assert not np.any(joins(alt.legitimacy_grievance(vigilant, DEFAULTS))[~base])


@given(cases(vary_params=False))
def test_legitimacy_equation_in_a_town_of_equals(case):
    """Epstein's numbers: G = H (1 - L), N = R (1 - exp(-k C / A)), act when G - N > T."""
    state = case.state
    n = state.n
    one = lambda v: np.full(n, v)  # noqa: E731
    k = len(state.neighbourhoods)
    hoods = dataclasses.replace(state.neighbourhoods, service_quality=np.full(k, 0.2))
    admins = dataclasses.replace(state.administrations,
                                 risk_aversion=np.full(len(state.administrations), 0.5))
    s = dataclasses.replace(state, neighbourhoods=hoods, administrations=admins,
                            peer_active_share=one(0.0), degree=one(4.0))
    s = with_citizens(s, trust=one(0.3), self_efficacy=one(0.6))
    grievance = 0.8 * 0.7
    net_risk = 0.4 * (1 - np.exp(-2.3 * 0.5 / 1.0))
    assert grievance - net_risk > 0.1  # 0.56 - 0.27
    assert np.all(joins(alt.legitimacy_grievance(s, DEFAULTS)))
    assert not np.any(joins(alt.legitimacy_grievance(
        s, DEFAULTS.replace({"legitimacy.threshold": grievance - net_risk + 0.01}))))


# ----------------------------------------------------------------------------- feedback
@given(cases())
def test_mastery_only_is_the_default_without_vicarious_gain(case):
    without = case.params.replace({"citizens.vicarious_gain": 0.0})
    for got, want in zip(alt.mastery_only(case.state, case.params),
                         defaults.mastery_vicarious(case.state, without), strict=True):
        np.testing.assert_array_equal(got, want)


@given(cases())
def test_failure_harmless_leaves_failed_citizens_efficacy_to_drift_alone(case):
    state, params = case.state, case.params
    c = state.citizens
    feedback = alt.failure_harmless(state, params)
    no_loss = defaults.mastery_vicarious(state, params.replace({"citizens.failure_loss": 0.0}))
    np.testing.assert_array_equal(feedback.self_efficacy, no_loss.self_efficacy)
    failed = c.result == 2
    cp = params.citizens
    expected_trust = np.clip(c.trust + cp.trust_drift * (c.trust_baseline - c.trust), 0, 1)
    np.testing.assert_allclose(feedback.trust[failed], expected_trust[failed], rtol=0, atol=1e-12)
    default = defaults.mastery_vicarious(state, params)
    assert np.all(feedback.self_efficacy >= default.self_efficacy - 1e-12)


def _long_run(rule: str, replication: int) -> dict[str, float]:
    params = Parameters({"population.n_citizens": 1000, "simulation.steps": 60,
                         "rules.efficacy_feedback": rule})
    tail = run(params, replication=replication, record_neighbourhoods=False).timeseries.iloc[-15:]
    return {"efficacy": tail["efficacy_mean"].mean(), "participation": tail["participation_year"].mean()}


def test_feedback_alternatives_move_the_virtuous_cycle_as_expected():
    """Paired replications (same draws): without vicarious learning self-efficacy and
    participation end lower; when failure does not hurt, self-efficacy ends higher."""
    for replication in range(3):
        default = _long_run("mastery_vicarious", replication)
        no_vicarious = _long_run("mastery_only", replication)
        harmless = _long_run("failure_harmless", replication)
        assert no_vicarious["efficacy"] < default["efficacy"] - 0.01
        assert no_vicarious["participation"] < default["participation"]
        # A smaller margin than vicarious learning's: by default strong self-efficacy already
        # buffers failures (citizens.failure_buffering), so removing them gains less.
        assert harmless["efficacy"] > default["efficacy"] + 0.005


@pytest.mark.parametrize("overrides", [
    {"rules.participation": "granovetter_threshold"},
    {"rules.participation": "legitimacy_grievance", "legitimacy.mode": "individual"},
    {"rules.efficacy_feedback": "mastery_only"},
    {"rules.efficacy_feedback": "failure_harmless"},
])
def test_alternatives_run_in_the_kernel_and_are_reproducible(overrides):
    params = Parameters({"population.n_citizens": 400, "simulation.steps": 24, **overrides})
    first = run(params, seed=5).timeseries
    assert first.equals(run(params, seed=5).timeseries)
    assert not first.equals(run(params.replace({k: DEFAULTS[k] for k in overrides if k.startswith("rules.")}),
                                seed=5).timeseries)


def test_legitimacy_turns_the_selection_bias_around():
    """Distrust and shortfall, not advantage, move citizens under Epstein's rule: participation
    no longer favours the richest quintile as the default's does (F5)."""
    base = {"population.n_citizens": 2000, "simulation.steps": 36}
    default = run(Parameters(base), seed=2).summary["last_quarter_mean"]
    epstein = run(Parameters({**base, "rules.participation": "legitimacy_grievance",
                              "legitimacy.mode": "individual"}), seed=2).summary["last_quarter_mean"]
    assert default["top_bottom_ratio"] > 1.3
    assert epstein["top_bottom_ratio"] < 1.0
