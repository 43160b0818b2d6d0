"""The default rules, one by one: equations, directions and invariants."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coprod_sim import params as P
from coprod_sim.names import STAGES
from coprod_sim.params import Parameters
from coprod_sim.rules import defaults as R
from coprod_sim.rules.registry import available, selected
from tests.helpers import make_state

BEHAVIOUR_KEYS = [k for k in P.iter_keys()
                  if k.split(".")[0] in ("citizens", "administration", "policy", "levels")
                  and P.spec(k).kind in (int, float)
                  and not k.startswith("administration.risk_aversion_m")]


@st.composite
def valid_params(draw) -> Parameters:
    """Any valid assignment of behavioural and policy parameters."""
    keys = draw(st.lists(st.sampled_from(BEHAVIOUR_KEYS), max_size=12, unique=True))
    overrides = {}
    for key in keys:
        s = P.spec(key)
        if s.kind is int:
            overrides[key] = draw(st.integers(int(s.low), int(min(s.high, 10_000))))
        else:
            overrides[key] = draw(st.floats(s.low, s.high, allow_nan=False))
    overrides["policy.outreach"] = draw(st.sampled_from(P.OUTREACH_POLICIES))
    return Parameters(overrides)


def test_every_stage_has_its_default_registered():
    chosen = selected(Parameters())
    assert set(chosen) == set(STAGES)
    for stage, fn in chosen.items():
        assert fn in available(stage).values()
        assert "Source" in fn.__doc__ or "source" in fn.__doc__.lower(), f"{stage} rule cites no source"


@given(params=valid_params(), seed=st.integers(0, 2**16))
def test_every_probability_and_state_stays_in_bounds(params, seed):
    state = make_state(params, seed)
    n, k, a = state.n, len(state.neighbourhoods), len(state.administrations)
    state.rng = np.random.default_rng(seed)
    invite = R.outreach_by_policy(state, params)
    probs = R.logistic_choice(state, params)
    screening = R.risk_screening(state, params)
    success = R.competence_collaboration(state, params)
    feedback = R.mastery_vicarious(state, params)
    rho = R.anchored_learning(state, params)
    quality = R.coproduced_output(state, params)
    for arr, shape in [(invite, (n,)), (probs, (n, 3)), (screening.accept, (n,)), (success, (n,)),
                       (feedback.self_efficacy, (n,)), (feedback.trust, (n,)), (rho, (a,)),
                       (quality, (k,))]:
        assert arr.shape == shape
        assert np.all(np.isfinite(arr)) and np.all(arr >= 0) and np.all(arr <= 1)
    assert np.all(probs.sum(axis=1) <= 1 + 1e-12)
    assert np.all(np.isfinite(screening.priority))
    ap = params.administration
    assert np.all(rho >= ap.risk_aversion_min) and np.all(rho <= ap.risk_aversion_max)


@given(params=valid_params(), seed=st.integers(0, 2**16), delta=st.floats(0.0, 1.0))
def test_propensity_never_falls_when_only_self_efficacy_rises(params, seed, delta):
    state = make_state(params, seed)
    before = R.logistic_choice(state, params)
    state.citizens.self_efficacy[:] = np.minimum(1.0, state.citizens.self_efficacy + delta)
    after = R.logistic_choice(state, params)
    # The total propensity to take part never falls; each mode's does not either, except
    # where the overflow cap on a utility binds (documented in the rule).
    assert np.all(after.sum(axis=1) >= before.sum(axis=1) - 1e-12)
    uncapped = R.propensity_utilities(state, params).max(axis=1) < 50.0
    assert np.all(after[uncapped] >= before[uncapped] - 1e-12)


def test_self_efficacy_moves_propensity_most():
    """Per standard deviation, efficacy outweighs competence, trust and peers (F2 by construction)."""
    p = Parameters()
    state = make_state(p, n=2000)
    base = R.logistic_choice(state, p).sum(axis=1).mean()
    effects = {}
    for attr in ("self_efficacy", "civic_competence", "trust"):
        s = make_state(p, n=2000)
        arr = getattr(s.citizens, attr)
        arr[:] = np.clip(arr + arr.std(), 0, 1)
        effects[attr] = R.logistic_choice(s, p).sum(axis=1).mean() - base
    assert effects["self_efficacy"] == max(effects.values()) and effects["self_efficacy"] > 0


def test_levers_push_propensity_the_documented_way():
    p = Parameters()
    s = make_state(p)
    base = R.logistic_choice(s, p)

    def with_(mutate, params=p):
        t = make_state(params)
        mutate(t)
        return R.logistic_choice(t, params)

    invited = with_(lambda t: t.citizens.invited.fill(True))
    assert invited.sum() > base.sum()
    good_service = with_(lambda t: t.neighbourhoods.service_quality.fill(0.95))
    poor_service = with_(lambda t: t.neighbourhoods.service_quality.fill(0.05))
    assert good_service.sum() < poor_service.sum()  # shortfall, F10
    campaign = R.logistic_choice(s, p.replace(policy__information_campaign=1.0))
    rise = campaign.sum() / base.sum() - 1
    assert 0 < rise < 0.2  # small, F8
    hard = R.logistic_choice(s, p.replace(policy__effort_collective=1.0))
    assert hard[:, 2].sum() < base[:, 2].sum()
    # Effort costs more to citizens short of resources.
    lack = 1 - s.citizens.spare_resources
    drop = 1 - hard[:, 2] / base[:, 2]
    assert np.corrcoef(lack, drop)[0, 1] > 0.5


def test_demography_only_in_individual_mode_for_gender():
    p = Parameters()
    s = make_state(p)
    women = R.logistic_choice(s, p)
    s.citizens.female[:] = ~s.citizens.female
    flipped = R.logistic_choice(s, p)
    was_woman = ~s.citizens.female
    assert np.all(women[was_woman, 0] > flipped[was_woman, 0])
    # Group/collective utilities are unchanged, so only the shared denominator moves them.
    ratio_before = women[:, 1] / women[:, 2]
    ratio_after = flipped[:, 1] / flipped[:, 2]
    assert np.allclose(ratio_before, ratio_after)


def test_screening_risk_aversion_and_reliability():
    p = Parameters()
    s = make_state(p, n=2000)
    s.rng = np.random.default_rng(0)
    s.citizens.invited[:] = False
    s.citizens.offered[:] = 2
    s.administrations.risk_aversion[:] = 0.1
    lax = R.risk_screening(s, p).accept
    s.administrations.risk_aversion[:] = 0.9
    s.rng = np.random.default_rng(0)
    strict = R.risk_screening(s, p)
    assert np.all(strict.accept <= lax) and strict.accept.mean() < lax.mean()
    rel = R.reliability(s, p)
    assert np.corrcoef(rel, strict.accept)[0, 1] > 0.99
    assert np.corrcoef(rel, strict.priority)[0, 1] > 0.5
    s.citizens.invited[:5] = True
    assert np.all(R.risk_screening(s, p).accept[:5] == 1.0)


def test_success_rises_with_competence_and_collaboration_quality():
    p = Parameters()
    s = make_state(p, n=2000)
    s.citizens.mode[:] = 0
    base = R.competence_collaboration(s, p)
    order = np.argsort(s.citizens.civic_competence)
    served_by_first = s.citizens.administration[order] == 0
    assert np.all(np.diff(base[order][served_by_first]) >= 0)
    s.administrations.staff_incentives[:] = 1.0
    assert np.all(R.competence_collaboration(s, p) > base)
    s.administrations.staff_incentives[:] = p.administration.staff_incentives
    s.administrations.risk_aversion[:] = 1.0
    assert np.all(R.competence_collaboration(s, p) < base + 1e-12)
    s.citizens.mode[:] = 2
    harder = R.competence_collaboration(s, p)
    s.coparticipant_share[:] = 1.0
    assert np.all(R.competence_collaboration(s, p) > harder)


def test_feedback_mastery_failure_rejection_and_off_switch():
    p = Parameters()
    s = make_state(p, n=1000)
    s.tie_success_share[:] = 0.0
    s.citizens.self_efficacy[:] = s.citizens.efficacy_baseline  # no drift
    e = s.citizens.self_efficacy.copy()
    for result, sign in ((1, 1), (2, -1), (3, -1)):
        s.citizens.result[:] = result
        new = R.mastery_vicarious(s, p).self_efficacy
        assert np.all(sign * (new - e) >= 0) and np.any(new != e)
    s.citizens.result[:] = 0
    s.tie_success_share[:] = 1.0
    assert np.all(R.mastery_vicarious(s, p).self_efficacy >= e)
    off = p.replace(citizens__feedback_strength=0.0)
    s.citizens.result[:] = 1
    assert np.array_equal(R.mastery_vicarious(s, off).self_efficacy, e)


def test_efficacy_drifts_back_to_baseline_without_experience():
    p = Parameters()
    s = make_state(p, n=500)
    s.citizens.result[:] = 0
    s.tie_success_share[:] = 0
    gap = np.abs(s.citizens.self_efficacy - s.citizens.efficacy_baseline)
    new = R.mastery_vicarious(s, p).self_efficacy
    assert np.all(np.abs(new - s.citizens.efficacy_baseline) <= gap + 1e-12)


def test_administrations_learn_from_outcomes_within_bounds():
    p = Parameters()
    s = make_state(p)
    a = s.administrations
    a.risk_aversion[:] = a.culture
    a.successes[:], a.failures[:] = 50, 0
    assert np.all(R.anchored_learning(s, p) < a.risk_aversion)
    a.successes[:], a.failures[:] = 0, 50
    assert np.all(R.anchored_learning(s, p) > a.risk_aversion)
    a.successes[:], a.failures[:] = 0, 0
    assert np.allclose(R.anchored_learning(s, p), a.risk_aversion)
    tight = p.replace(administration__risk_aversion_max=0.3, administration__risk_aversion_min=0.2)
    a.failures[:] = 50
    assert np.all(R.anchored_learning(s, tight) <= 0.3)


def test_service_quality_moves_toward_baseline_plus_output():
    p = Parameters()
    s = make_state(p)
    h = s.neighbourhoods
    h.service_quality[:] = h.quality_baseline
    s.output_per_resident[:] = 0.0
    assert np.allclose(R.coproduced_output(s, p), h.quality_baseline)
    s.output_per_resident[:] = 0.1
    assert np.all(R.coproduced_output(s, p) > h.quality_baseline)


@pytest.mark.parametrize("policy", ["universal", "targeted_efficacy", "targeted_area"])
def test_outreach_budget_is_equal_across_targeting(policy):
    p = Parameters({"policy.outreach": policy, "policy.outreach_rate": 0.05})
    s = make_state(p, n=3000)
    invite = R.outreach_by_policy(s, p)
    assert invite.sum() == pytest.approx(0.05 * 3000, rel=0.01)
    if policy == "targeted_efficacy":
        assert np.corrcoef(invite, s.citizens.self_efficacy)[0, 1] < -0.5
    if policy == "targeted_area":
        adv = s.neighbourhoods.advantage[s.citizens.neighbourhood]
        assert np.corrcoef(invite, adv)[0, 1] < -0.5
    assert R.outreach_by_policy(s, Parameters()).sum() == 0
